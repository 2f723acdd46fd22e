{ pkgs }: pkgs.layers.l04
