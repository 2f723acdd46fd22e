{ pkgs }: pkgs.layers.l01
