{ pkgs }: [ pkgs.megapak.gcc ]
