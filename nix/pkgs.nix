# The package set every layers/NN-*/layer.nix receives: nixpkgs pinned to one revision
# (nix/nixpkgs.json), unfree + CUDA enabled, CUDA 13.0 as the default CUDA package set, and
# the megapak overlay (Python 3.14, GCC 15, PyTorch 2.10, the pip-name mapping, custom packages).
# flake.nix passes its own input (locked to the same revision, which a test checks) as `nixpkgs`.
# `settings` overrides nix/settings.json for one evaluation (e.g. { fromSource = true; }).
{ nixpkgs ? (
    let pin = builtins.fromJSON (builtins.readFile ./nixpkgs.json); in
    builtins.fetchTarball {
      url = "https://github.com/${pin.owner}/${pin.repo}/archive/${pin.rev}.tar.gz";
      sha256 = pin.narHash;
    })
, settings ? { }
}:
import nixpkgs {
  system = "x86_64-linux";
  config = {
    allowUnfree = true;
    cudaSupport = true;
  };
  overlays = [ (_: _: { megapak-settings = settings; }) (import ./overlay.nix) ];
}
