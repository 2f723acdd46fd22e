{ pkgs }:
with pkgs.cudaPackages; [
  cudatoolkit
  cudnn
]
