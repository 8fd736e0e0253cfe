#!/usr/bin/env bash
# attuned's icon in the hicolor theme's PNG sizes, rendered from its SVG with rsvg-convert
# (Debian: librsvg2-bin). After changing attuned/data/icons/attuned.svg, run it and commit
# the PNGs. `--check` renders into a temporary directory instead and fails, naming them,
# when the committed PNGs are not what the SVG gives (the test suite runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
icons=attuned/data/icons
sizes=(16 32 48 64 128 256)
if ! command -v rsvg-convert >/dev/null; then
  echo "render-icons: rsvg-convert is missing (apt-get install librsvg2-bin)" >&2
  exit 2
fi
check=${1:-}
out=$icons
if [[ $check == --check ]]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
for s in "${sizes[@]}"; do
  rsvg-convert --width "$s" --height "$s" --keep-aspect-ratio "$icons/attuned.svg" \
    --output "$out/attuned-$s.png"
done
if [[ $check == --check ]]; then
  stale=()
  for s in "${sizes[@]}"; do
    cmp -s "$out/attuned-$s.png" "$icons/attuned-$s.png" || stale+=("$icons/attuned-$s.png")
  done
  if ((${#stale[@]})); then
    echo "render-icons: not rendered from the SVG as it is: ${stale[*]};" \
      "run scripts/render-icons.sh and commit them" >&2
    exit 1
  fi
fi
