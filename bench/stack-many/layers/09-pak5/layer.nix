{ pkgs }: pkgs.layers.l09
