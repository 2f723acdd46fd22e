{ pkgs }: pkgs.layers.l02
