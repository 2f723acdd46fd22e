{ pkgs }: pkgs.layers.l10
