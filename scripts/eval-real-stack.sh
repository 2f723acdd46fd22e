#!/usr/bin/env bash
# Evaluates the real stack against nixpkgs at the revision nix/nixpkgs.json pins: all twelve
# layers (test/real-stack.test.ts with MEGAPAK_NIXPKGS, which instantiates each layer's roots)
# in both modes of nix/settings.json, and nix/config.nix (the image config megapak evaluates). Nothing is built. Needs Nix and
# network (the pinned nixpkgs tarball), unless MEGAPAK_NIXPKGS already names a checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${MEGAPAK_NIXPKGS:-}" ]; then
  MEGAPAK_NIXPKGS=$(nix-instantiate --eval --json -E '
    let pin = builtins.fromJSON (builtins.readFile ./nix/nixpkgs.json); in
    builtins.fetchTarball {
      url = "https://github.com/${pin.owner}/${pin.repo}/archive/${pin.rev}.tar.gz";
      sha256 = pin.narHash;
    }' | tr -d '"')
fi
export MEGAPAK_NIXPKGS
echo "eval-real-stack: nixpkgs at $MEGAPAK_NIXPKGS"
pnpm vitest run test/real-stack.test.ts
# nix/pkgs.nix fetches the same pinned tarball (already in the store) with its own config.
nix-instantiate --eval --strict --json -E 'import ./nix/config.nix { pkgs = import ./nix/pkgs.nix { }; }' >/dev/null
echo "eval-real-stack: twelve layers and nix/config.nix evaluate"
