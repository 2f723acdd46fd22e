{ pkgs }: [ pkgs.megapak.python3Packages.cupy ]
