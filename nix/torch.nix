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
    else old.overridePythonAttrs (args: { version = want; src = pins.src pin; } // extra args);
  # `args`: the expression's arguments to buildPythonPackage, as overridePythonAttrs hands them over.
  cuda13Allowed = args:
    let conds = builtins.removeAttrs (args.passthru.brokenConditions or { }) [ "Unsupported CUDA version" ]; in
    lib.optionalAttrs (args ? passthru.brokenConditions) {
      passthru = args.passthru // { brokenConditions = conds; };
      meta = (args.meta or { }) // { broken = builtins.any (c: c) (builtins.attrValues conds); };
    };
in
{
  # The 2.9.1 expression sets PYTORCH_BUILD_VERSION from its own `version` (a `rec`), which an
  # override does not reach: without this the wheel would call itself 2.9.1.
  # It also marks itself broken for CUDA 13 (torch/source/default.nix at 6b516b42, brokenConditions
  # "Unsupported CUDA version" unless cudaMajorVersion is 11 or 12), which is 2.9.1's limit, not
  # 2.10.0's (PyTorch publishes cu130 builds of 2.10.0: nix/pins.json `torch-wheel`). meta.broken is
  # computed from brokenConditions in that expression's own scope, so the override recomputes it from
  # the passthru copy with that one condition left out; every other condition still counts.
  torch = release "torch" "2.10.0" "pytorch" (args: { PYTORCH_BUILD_VERSION = "2.10.0"; } // cuda13Allowed args);
  torchvision = release "torchvision" "0.25.0" "torchvision" (_: { });
  torchaudio = release "torchaudio" "2.10.0" "torchaudio" (_: { });
}
