{ pkgs }: pkgs.layers.l08
