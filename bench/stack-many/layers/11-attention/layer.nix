{ pkgs }: pkgs.layers.l11
