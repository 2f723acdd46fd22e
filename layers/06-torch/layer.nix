{ pkgs }:
with pkgs.megapak.python3Packages; [
  torch
  torchvision
  torchaudio
]
