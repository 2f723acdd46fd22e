#!/usr/bin/env bash
# Copies the store paths of a stack's built layers (each dist/layer.json: roots and shipped
# paths) that this machine's Nix store holds into a Nix binary cache, so that the next machine
# substitutes them instead of building them. Paths this machine never had (their layer was a
# Turborepo cache hit) are left out: the cache already has them.
#
#   bash scripts/nix-cache-push.sh DEST [STACK]
#   DEST: any `nix copy --to` store URL, e.g. 's3://bucket?region=eu-west-1',
#         'file:///srv/nix-cache?compression=none', 'ssh-ng://builder'
#   STACK: the stack folder (default: the repository root)
#   NIX_SIGNING_KEY: a secret key (`nix-store --generate-binary-cache-key`) to sign them with;
#         the cache's users trust its public key (trusted-public-keys)
set -euo pipefail
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: nix-cache-push.sh DEST [STACK]" >&2; exit 2; }
dest=$1
stack=${2:-"$(dirname "$0")/.."}
nixc=(nix --extra-experimental-features nix-command)

mapfile -t paths < <(node -e '
  const { readdirSync, readFileSync, existsSync } = require("node:fs");
  const { join } = require("node:path");
  const layers = join(process.argv[1], "layers");
  const out = new Set();
  for (const d of readdirSync(layers).sort()) {
    const f = join(layers, d, "dist", "layer.json");
    if (!existsSync(f)) continue;
    const r = JSON.parse(readFileSync(f, "utf8"));
    for (const p of [...r.roots, ...r.paths.map((x) => x.path)]) if (existsSync(p)) out.add(p);
  }
  console.log([...out].join("\n"));
' "$stack")
if [ ${#paths[@]} -eq 0 ] || [ -z "${paths[0]}" ]; then
  echo "nix-cache-push: no built store path of $stack is in this machine's store; nothing to push"
  exit 0
fi
if [ -n "${NIX_SIGNING_KEY:-}" ]; then
  key=$(mktemp)
  trap 'rm -f "$key"' EXIT
  printf '%s\n' "$NIX_SIGNING_KEY" >"$key"
  "${nixc[@]}" store sign --recursive --key-file "$key" "${paths[@]}"
fi
echo "nix-cache-push: copying ${#paths[@]} store paths (and their closure) to ${dest%%\?*}"
"${nixc[@]}" copy --to "$dest" "${paths[@]}"
