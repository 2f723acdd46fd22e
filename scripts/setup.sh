#!/usr/bin/env bash
# Installs everything megapak's builds and tests need on a Debian machine (as root), then the
# workspace's npm packages. Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
# docker.io (daemon + its own client) and podman: the tests pull and run the images with them.
# g++, make and python3: zstd-napi (zstd:chunked's frames) compiles its libzstd binding at install.
for pair in nix-build:nix-bin busybox:busybox-static skopeo:skopeo umoci:umoci zstd:zstd docker-registry:docker-registry chromium:chromium git:git openssl:openssl dockerd:docker.io podman:podman g++:g++ make:make python3:python3; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
# Debian's python3: test/image-smoke.test.ts runs scripts/image-smoke.py with it and copies it into
# a fixture image (an interpreter under /root, e.g. pyenv's, is unreadable to Nix's build users).
[ -x /usr/bin/python3 ] || need+=(python3)
# GNU time (not the shell keyword) measures peak memory in `pnpm bench`.
[ -x /usr/bin/time ] || need+=(time)
# The fixture stacks copy a *static* busybox into the Nix store (it must run inside a chroot).
if command -v busybox >/dev/null 2>&1 && ! file -L "$(command -v busybox)" 2>/dev/null | grep -q 'statically linked'; then
  need+=(busybox-static)
fi
if ((${#need[@]})); then
  echo "setup: apt-get install ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" file >/dev/null
fi

if [ "$(pnpm --version 2>/dev/null)" != "10.34.9" ]; then
  echo "setup: npm install -g pnpm@10.34.9" >&2
  npm install -g --silent pnpm@10.34.9
fi
pnpm install --frozen-lockfile --reporter=silent
# The bundled CLI starts in ~0.15 s instead of ~0.4 s through tsx (one process per layer task).
pnpm -s -F @megapak/tools bundle
