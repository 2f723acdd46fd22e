# Regenerates nix/nixpkgs-index.json from a real nixpkgs (run through nix/nixpkgs-index.sh):
# every name the current index lists is looked up in that nixpkgs, configured as nix/pkgs.nix
# configures it but without the megapak overlay, and recorded with the file that defines it
# (meta.position), the revision and the version found. Names nixpkgs lacks land in `missing`.
{ nixpkgs, rev, index ? ./nixpkgs-index.json }:
let
  old = builtins.fromJSON (builtins.readFile index);
  pkgs = import nixpkgs { system = "x86_64-linux"; config = { allowUnfree = true; cudaSupport = true; }; };
  ps = pkgs.python314FreeThreading.pkgs;
  prefix = toString nixpkgs + "/";
  fileOf = v:
    let pos = v.meta.position or null; in
    if pos == null then null
    else builtins.head (builtins.match "([^:]*)(:[0-9]+)?" (builtins.replaceStrings [ prefix ] [ "" ] pos));
  entry = set: name: _:
    let r = builtins.tryEval (set ? ${name} && (builtins.tryEval set.${name}).success); in
    if !(r.success && r.value) then null
    else let v = set.${name}; in {
      file = if builtins.isAttrs v then fileOf v else null;
      commit = rev;
      version = if builtins.isAttrs v then v.version or null else null;
    };
  # The old entry's other fields (notes, `after`, what the stand-in models: passthru, brokenConditions)
  # are kept; file, commit and version are the checkout's.
  look = set: names:
    let found = builtins.mapAttrs (n: e: let f = entry set n e; in if f == null then null else e // f) names; in {
      present = builtins.removeAttrs found (builtins.filter (n: found.${n} == null) (builtins.attrNames found));
      missing = builtins.filter (n: found.${n} == null) (builtins.attrNames found);
    };
  python = look ps old.python;
  top = look pkgs old.top;
  cuda = builtins.filter (n: !(pkgs.cudaPackages_13_0 ? ${n})) old.cudaPackages.members;
in
old // {
  nixpkgs = { inherit rev; evidence = [ "regenerated with nix/nixpkgs-index.sh from a checkout of this revision" ]; };
  python = python.present;
  top = top.present;
  missing = python.missing ++ top.missing ++ map (n: "cudaPackages_13_0.${n}") cuda;
}
