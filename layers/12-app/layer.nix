{ pkgs }:
with pkgs; [
  aria2
  vim
  fish
  megapak.entrypoint
  megapak.profile
]
