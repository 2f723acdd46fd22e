{ pkgs }:
# The CUDA 13.0 toolkit, cuDNN 9 and every CUDA library the PyTorch wheels (or source builds) link
# (nix/cuda.nix): each ships here once, never beside a wheel in a higher layer.
let inherit (pkgs.cudaPackages) cudatoolkit cudnn; in
[ cudatoolkit cudnn ] ++ builtins.filter (l: l != cudnn) pkgs.megapak.cudaLibraries
