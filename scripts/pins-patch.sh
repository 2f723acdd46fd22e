#!/usr/bin/env bash
# Prints, as Markdown, the change `pnpm pins update` made to nix/pins.json in this workspace: a
# patch for a maintainer to commit (CI commits nothing). The pull-request workflow appends it
# to the job summary ($GITHUB_STEP_SUMMARY).
#
#   bash scripts/pins-patch.sh [PINS_FILE]     (default: nix/pins.json of this repository)
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:-nix/pins.json}
open=$(node -e '
  const pins = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8")).pins;
  const open = Object.entries(pins).filter(([, p]) => !p.hash || (["github", "git"].includes(p.type) && !p.rev)).map(([n]) => n);
  console.log(open.length ? open.join(", ") : "none");
' "$file")
echo "### \`$file\` filled on this runner"
echo
if git diff --quiet -- "$file"; then
  echo "No pin changed here."
else
  echo "\`pnpm pins update\` filled these pins with Nix's own prefetch on this runner. Commit the patch (save it as \`pins.patch\`, then \`git apply pins.patch\`):"
  echo
  echo '```diff'
  git diff -- "$file"
  echo '```'
fi
echo
echo "Still without a hash: $open"
