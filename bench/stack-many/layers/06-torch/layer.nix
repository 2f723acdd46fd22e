{ pkgs }: pkgs.layers.l06
