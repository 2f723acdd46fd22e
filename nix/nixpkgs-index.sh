#!/usr/bin/env bash
# Regenerates nix/nixpkgs-index.json from a nixpkgs checkout at the revision of nix/nixpkgs.json:
# `nix eval` of every name the index lists (nix/nixpkgs-index.nix). Exits 1, naming them, when
# that nixpkgs lacks some; the index is rewritten either way, with those names under `missing`.
set -euo pipefail
nixpkgs=$(realpath "${1:?usage: nix/nixpkgs-index.sh /path/to/nixpkgs}")
here=$(cd "$(dirname "$0")" && pwd)
rev=$(git -C "$nixpkgs" rev-parse HEAD 2>/dev/null || echo unknown)
want=$(node -p "require('$here/nixpkgs.json').rev")
[ "$rev" = "$want" ] || echo "nixpkgs-index: $nixpkgs is at $rev, nix/nixpkgs.json pins $want" >&2
tmp=$(mktemp)
nix-instantiate --eval --strict --json --arg nixpkgs "$nixpkgs" --argstr rev "$rev" "$here/nixpkgs-index.nix" > "$tmp"
node -e "const fs=require('fs');const j=JSON.parse(fs.readFileSync('$tmp','utf8'));fs.writeFileSync('$here/nixpkgs-index.json',JSON.stringify(j,null,2)+'\n');if(j.missing.length){console.error('nixpkgs-index: missing at '+j.nixpkgs.rev+': '+j.missing.join(', '));process.exit(1)}"
rm -f "$tmp"
