{ pkgs }: pkgs.layers.l12
