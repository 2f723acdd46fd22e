# PyTorch 2.10.0, torchvision 0.25.0, torchaudio 2.10.0 for every Python package set
# (a pythonPackagesExtensions entry, so everything that depends on torch gets this one).
# nixpkgs at the pin (nix/nixpkgs.json, 2026-02-23) still has torch 2.9.1: its 2.10.0 update
# (NixOS/nixpkgs#484881) reached master only later (on 2026-02-25 NixOS/nixpkgs#493879 says
# torchaudio 2.10.0 "does not build against torch 2.9.1"). So the megapak builds 2.10.0 from
# pinned sources with nixpkgs' own expressions; where a later pin already has the release, its
# own package is used unchanged.
{ lib, pins }:
pyfinal: pyprev:
let
  release = name: want: pin: extra:
    let old = pyprev.${name}; in
    if lib.versions.majorMinor old.version == lib.versions.majorMinor want then old
    else old.overridePythonAttrs (_: { version = want; src = pins.src pin; } // extra);
in
{
  # The 2.9.1 expression sets PYTORCH_BUILD_VERSION from its own `version` (a `rec`), which an
  # override does not reach: without this the wheel would call itself 2.9.1.
  torch = release "torch" "2.10.0" "pytorch" { PYTORCH_BUILD_VERSION = "2.10.0"; };
  torchvision = release "torchvision" "0.25.0" "torchvision" { };
  torchaudio = release "torchaudio" "2.10.0" "torchaudio" { };
}
