# What the megapak adds to nixpkgs. Everything the layers use beyond plain nixpkgs attributes
# lives under `megapak`, so a layer.nix reads `pkgs.megapak.python` rather than guessing.
final: prev: {
  cudaPackages = final.cudaPackages_13_0;
  megapak = {
    # Python 3.14; layers 04-11 all build against this one interpreter.
    python = final.python314;
    python3Packages = final.python314.pkgs;
    gcc = final.gcc15;
    # A layer's pip list (one name a line) as derivations, through nix/pypi.nix.
    fromList = import ./read-pip-list.nix { pkgs = final; };
  };
}
