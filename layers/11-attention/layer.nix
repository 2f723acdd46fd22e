{ pkgs }:
with pkgs.megapak.custom; [
  flash-attn
  sageattention
  nunchaku
]
