# Sources from nix/pins.json. `src name` is the pinned source, or an evaluation error that
# names the pin and tells the maintainer how to fill it: no placeholder hash ever reaches a fetcher.
# `file name` is a `wheel` or `url` pin (one file: its url and SRI hash) under the same rule.
{ fetchFromGitHub, fetchgit, fetchurl }:
let
  pins = (builtins.fromJSON (builtins.readFile ./pins.json)).pins;
  get = name: pins.${name} or (throw "megapak: no pin '${name}' in nix/pins.json");
  isFile = p: p.type == "url" || p.type == "wheel";
  missing = name: p:
    throw "megapak: pin '${name}' in nix/pins.json has no ${if p.rev == null then "rev" else "hash"} yet (ref '${p.ref}'); run `pnpm pins update ${name}` on a machine with network (or `pnpm pins update ${name} --from-git DIR` with a local mirror) and commit nix/pins.json";
  file = name:
    let p = get name; in
    if !(isFile p) then throw "megapak: pin '${name}' in nix/pins.json is a ${p.type} pin, not a wheel or url pin"
    else if p.hash == null then throw "megapak: pin '${name}' in nix/pins.json has no hash yet (${p.url}); run `pnpm pins update ${name}` on a machine with network and commit nix/pins.json"
    else { inherit (p) url hash; };
in
{
  inherit file;
  src = name:
    let p = get name; in
    if isFile p then let f = file name; in fetchurl (f // { name = builtins.replaceStrings [ "%2B" "%2b" ] [ "+" "+" ] (baseNameOf f.url); })
    else if p.rev == null || p.hash == null then missing name p
    else if p.type == "github" then fetchFromGitHub { inherit (p) owner repo rev hash; }
    else fetchgit { inherit (p) url rev hash; fetchSubmodules = p.submodules or false; };
  # A tag `v1.2.3` is version 1.2.3; a branch is unstable-<rev>.
  version = name:
    let p = pins.${name}; tag = builtins.match "v?([0-9].*)" p.ref; in
    if tag != null then builtins.head tag else "unstable-${builtins.substring 0 8 (toString p.rev)}";
}
