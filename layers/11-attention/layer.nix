{ pkgs }:
let inherit (pkgs.megapak) python3Packages custom; in
[
  python3Packages.flash-attn
  custom.sageattention
  custom.nunchaku
]
