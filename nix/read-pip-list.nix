# A layer's pip list file -> derivations, through nix/pypi.nix. Lines as pip writes them:
# `name`, `name[extra]>=1.0`, `git+https://host/org/repo.git`, `git+…#egg=name`; `#` comments.
# A name with no package is an evaluation error naming it and the list it came from. `overrides`
# replaces a nixpkgs attribute by the megapak's own build of it (cupy for CUDA 13).
{ ps, custom, lib, overrides ? { } }:
file:
let
  lines = builtins.filter builtins.isString (builtins.split "\n" (builtins.readFile file));
  stripComment = l: builtins.head (builtins.match "([^#]*).*" l);
  trimmed = l: let m = builtins.match "[[:space:]]*([^[:space:]]*).*" (stripComment l); in if m == null then "" else builtins.head m;
  nameOf = l:
    let
      egg = builtins.match "git\\+.*#egg=([A-Za-z0-9._-]+).*" l;
      repo = builtins.match "git\\+[^#@]*/([A-Za-z0-9_-]+)(\\.git)?(@[^#]*)?(#.*)?" l;
      plain = builtins.match "([A-Za-z0-9._-]+).*" l;
    in
    if egg != null then builtins.head egg
    else if repo != null then builtins.head repo
    else if plain != null then builtins.head plain
    else throw "megapak: cannot read the line '${l}' in ${toString file}";
  normalise = n: lib.toLower (builtins.replaceStrings [ "_" "." ] [ "-" "-" ] n);
  mapping = import ./pypi.nix;
  resolve = n:
    let
      key = normalise n;
      target = mapping.${key} or (throw "megapak: pip name '${n}' in ${toString file} has no Nix package: add it to nix/pypi.nix (and nix/custom.nix if nixpkgs lacks it)");
      customName = builtins.match "megapak:(.*)" target;
    in
    if customName != null then custom.${builtins.head customName}
    else overrides.${target} or ps.${target} or (throw "megapak: pip name '${n}' in ${toString file} maps to python3Packages.${target}, which this nixpkgs does not have");
in
map resolve (map nameOf (builtins.filter (l: l != "") (map trimmed lines)))
