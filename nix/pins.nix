# Sources from nix/pins.json. `src name` is the pinned source, or an evaluation error that
# names the pin and tells the maintainer how to fill it: no placeholder hash ever reaches a fetcher.
{ fetchFromGitHub, fetchgit, fetchurl }:
let
  pins = (builtins.fromJSON (builtins.readFile ./pins.json)).pins;
  missing = name: p:
    throw "megapak: pin '${name}' in nix/pins.json has no ${if p.rev == null then "rev" else "hash"} yet (ref '${p.ref}'); run `pnpm pins update ${name}` on a machine with network (or `pnpm pins update ${name} --from-git DIR` with a local mirror) and commit nix/pins.json";
in
{
  src = name:
    let p = pins.${name} or (throw "megapak: no pin '${name}' in nix/pins.json"); in
    if p.rev == null || p.hash == null then missing name p
    else if p.type == "github" then fetchFromGitHub { inherit (p) owner repo rev hash; }
    else if p.type == "url" then fetchurl { inherit (p) url hash; }
    else fetchgit { inherit (p) url rev hash; fetchSubmodules = p.submodules or false; };
  # A tag `v1.2.3` is version 1.2.3; a branch is unstable-<rev>.
  version = name:
    let p = pins.${name}; tag = builtins.match "v?([0-9].*)" p.ref; in
    if tag != null then builtins.head tag else "unstable-${builtins.substring 0 8 (toString p.rev)}";
}
