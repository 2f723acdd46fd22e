{ pkgs }: pkgs.layers.l05
