{ pkgs }:
# PyTorch 2.10 (torchvision 0.25, torchaudio 2.10): nix/overlay.nix stops evaluation if the pin has another release.
with pkgs.megapak; [
  torch
  torchvision
  torchaudio
]
