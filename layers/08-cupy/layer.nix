{ pkgs }: [ pkgs.megapak.cupy ] # nixpkgs' cupy, built against CUDA 13.0 and cuDNN 9 (see nix/overlay.nix)
