{
  description = "megapak: the ComfyUI megapak (CUDA 13.0, Python 3.14) as twelve Nix layers in which every store path ships once";

  # The same revision as nix/nixpkgs.json (test/real-stack.test.ts checks it), handed to
  # nix/pkgs.nix: one package set, so `nix build .#layer-09` and `pnpm megapak build` build the
  # same store paths.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/2fc6539b481e1d2569f25f8799236694180c0993";

  outputs = { self, nixpkgs }:
    let
      system = "x86_64-linux";
      pkgs = import ./nix/pkgs.nix { inherit nixpkgs; };
      layerDirs = builtins.filter (d: builtins.match "[0-9][0-9]-.*" d != null) (builtins.attrNames (builtins.readDir ./layers));
      # packages.<system>.layer-NN: a folder of links to the layer's roots.
      layer = dir:
        let nn = builtins.substring 0 2 dir; in {
          name = "layer-${nn}";
          value = pkgs.linkFarmFromDrvs "layer-${nn}" (import (./layers + "/${dir}/layer.nix") { inherit pkgs; });
        };
      # The megapak CLI from this checkout (Node.js + pnpm), as `nix run .#build` users expect.
      app = name: text: {
        type = "app";
        program = "${pkgs.writeShellApplication {
          name = "megapak-${name}";
          runtimeInputs = [ pkgs.nodejs_22 pkgs.pnpm pkgs.nix pkgs.zstd pkgs.git ];
          inherit text;
        }}/bin/megapak-${name}";
      };
    in
    {
      packages.${system} = builtins.listToAttrs (map layer layerDirs) // {
        comfyui = pkgs.megapak.entrypoint;
        default = pkgs.megapak.entrypoint;
      };
      apps.${system} = {
        build = app "build" ''
          pnpm install --frozen-lockfile
          pnpm megapak build "$@"
        '';
        push-ghcr = app "push-ghcr" ''
          : "''${GITHUB_TOKEN:?set GITHUB_TOKEN to a token with write:packages}"
          owner="''${GITHUB_REPOSITORY_OWNER:-''${USER:?set GITHUB_REPOSITORY_OWNER}}"
          pnpm install --frozen-lockfile
          pnpm megapak push "ghcr.io/$owner/comfyui-boot:cu130-megapak-py314-nix" "$@"
        '';
      };
    };
}
