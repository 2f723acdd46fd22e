# Reads a layer's pip list file and maps each name to a Python package through nix/pypi.nix.
# A name with no package is an evaluation error that names it and the list it came from.
{ pkgs }:
file:
let
  lines = builtins.filter builtins.isString (builtins.split "\n" (builtins.readFile file));
  # "name[extra]>=1.2 ; marker  # comment" -> "name"
  nameOf = l: builtins.head (builtins.match "[[:space:]]*([A-Za-z0-9._-]*).*" l);
  names = builtins.filter (n: n != "") (map nameOf lines);
  mapping = import ./pypi.nix { inherit pkgs; };
  normalise = n: pkgs.lib.toLower (builtins.replaceStrings [ "_" "." ] [ "-" "-" ] n);
  lookup = n:
    let key = normalise n; in
    if mapping ? ${key} then mapping.${key}
    else throw "megapak: pip name '${n}' in ${toString file} has no Nix package: add it to nix/pypi.nix";
in
map lookup names
