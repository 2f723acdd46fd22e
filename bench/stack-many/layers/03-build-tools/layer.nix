{ pkgs }: pkgs.layers.l03
