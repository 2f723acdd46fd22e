#!/usr/bin/env bash
# Runs scripts/image-smoke.py in IMAGE with the image's own Python (no GPU needed): every
# distribution's modules import, none re-enables the GIL, torch accepts layer 02's cuDNN, triton
# finds libcuda's directory without ldconfig; versions printed. Exits 1 naming every failure.
# The image must be local to docker (or podman: MEGAPAK_ENGINE=podman); extra arguments go to the
# script (e.g. --skip MODULE, --json FILE under /out, which is the working directory mounted).
set -euo pipefail
image=${1:?usage: scripts/image-smoke.sh IMAGE [image-smoke.py options]}
shift
engine=${MEGAPAK_ENGINE:-$(command -v docker || command -v podman || true)}
[ -n "$engine" ] || { echo "image-smoke: neither docker nor podman is on PATH" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
# python from the image's PATH (its profile); the image's own entrypoint would start ComfyUI.
exec "$engine" run --rm --network none --entrypoint python \
  -v "$here/image-smoke.py:/megapak-smoke.py:ro" -v "$PWD:/out" \
  "$image" /megapak-smoke.py --require-free-threading "$@"
