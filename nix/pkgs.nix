# The package set every layers/NN-*/layer.nix receives: nixpkgs pinned to one revision
# (nix/nixpkgs.json), unfree + CUDA enabled, CUDA 13.0 as the default CUDA package set, and
# the megapak overlay (Python 3.14, GCC 15, the pip-name mapping, custom packages).
let
  pin = builtins.fromJSON (builtins.readFile ./nixpkgs.json);
  nixpkgs = builtins.fetchTarball {
    url = "https://github.com/${pin.owner}/${pin.repo}/archive/${pin.rev}.tar.gz";
    sha256 = pin.narHash;
  };
in
import nixpkgs {
  system = "x86_64-linux";
  config = {
    allowUnfree = true;
    cudaSupport = true;
  };
  overlays = [ (import ./overlay.nix) ];
}
