{ pkgs }: pkgs.layers.l07
