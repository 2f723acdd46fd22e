{ pkgs }: [ pkgs.megapak.python ]
