#!/usr/bin/env bash
# Build the bundle, then use it as a user would, offscreen: --version, a screenshot of the
# demo study with contours, and the headless engine on the demo (JSON and PDF). Fails when
# the bundle cannot start or has lost a resource.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${SKIP_BUILD:-0}" = 1 ] || bash packaging/build.sh
APP=dist/mammo-viewer/mammo-viewer
OUT=$(mktemp -d)
export QT_QPA_PLATFORM=offscreen

for resource in weights/hds_mammo.safetensors weights/hds_mammo.json weights/hds_mammo_cv.json weights/MODEL_CARD.md \
                weights/hds_mammo_film.safetensors weights/hds_mammo_film.json weights/MODEL_CARD_film.md \
                weights/domain_classifier.json weights/density.json \
                icons/mammo-viewer.png demo/annotations.json demo/DEMO-014/L_MLO.dcm demo/DEMO-P126/L_CC.dcm; do
  test -s "dist/mammo-viewer/_internal/resources/$resource" || { echo "bundle lost resources/$resource"; exit 1; }
done
# Pillow's OpenJPEG reads reduced JPEG 2000 levels; without it every film decodes in full (slowly, not visibly).
find dist/mammo-viewer/_internal -name "libopenjp2-*" | grep -q . || { echo "bundle lost Pillow's libopenjp2"; exit 1; }

start=$(date +%s.%N)
"$APP" --version | grep -q "mammo-viewer"
echo "--version: $(python3 -c "print(round($(date +%s.%N) - $start, 2))") s"

start=$(date +%s.%N)
XDG_DATA_HOME="$OUT/data" "$APP" --screenshot "$OUT/demo.png" --layout 4 2> "$OUT/stderr.txt" || { cat "$OUT/stderr.txt"; exit 1; }
echo "--screenshot of the demo (start, load weights, decode, analyse, save): $(python3 -c "print(round($(date +%s.%N) - $start, 1))") s"
# Films decode in a decoder process started from the frozen executable; it must have run
# (no fallback into the app's own process) and left nothing for the resource tracker.
if grep -E "Traceback|leaked|Error" "$OUT/stderr.txt"; then echo "the bundle wrote errors"; exit 1; fi
if grep -rq "decoder processes unavailable" "$OUT/data"; then echo "the bundle could not start its decoder process"; exit 1; fi
"$APP" --screenshot "$OUT/no-contours.png" --layout 4 --threshold 0.999
build/bundle-venv/bin/python - "$OUT/demo.png" "$OUT/no-contours.png" <<'PY'
import sys

import numpy as np
from PIL import Image



def amber(path):
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return image.shape, int(((image[..., 0] > 200) & (image[..., 1] > 150) & (image[..., 1] < 230) & (image[..., 2] < 60)).sum())


# A picture of the whole window; at the default threshold the demo's mass film is outlined,
# so it has many more contour-coloured pixels than at 0.999 (score badges are amber too).
(height, width, _), marked = amber(sys.argv[1])
_, unmarked = amber(sys.argv[2])
assert width >= 1000 and height >= 600, (width, height)
assert marked > unmarked + 300, f"no contours drawn ({marked} vs {unmarked} amber pixels)"
print(f"screenshot {width}x{height}: {marked} contour-coloured pixels, {unmarked} without contours")
PY

(cd "$OUT" && "$OLDPWD/$APP" predict "$OLDPWD/dist/mammo-viewer/_internal/resources/demo" --pdf "$OUT/report.pdf")
test "$(ls "$OUT/hds-results" | wc -l)" -eq 8
# One PDF per demo study, named after its folder and its fingerprint. Each check on its own
# line: under set -e a failure inside an && list does not stop the script.
for study in DEMO-014 DEMO-017 DEMO-091 DEMO-P126; do
  found=$(find "$OUT" -maxdepth 1 -name "report-$study-*.pdf" -size +10k | wc -l)
  [ "$found" -eq 1 ] || { echo "bundled hds-predict wrote $found PDF report(s) for $study"; exit 1; }
done
echo "bundled hds-predict: 8 results and the PDF reports written"
# The bundled DICOM node (pynetdicom inside): its listener answers the bundle's own C-ECHO.
export HDS_NODES="$OUT/nodes.json"
PORT=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
"$APP" node listen --port "$PORT" --store "$OUT/cache" --allow HDS_MAMMO 2>"$OUT/listen.log" &
LISTENER=$!
for _ in $(seq 100); do grep -q "listening on" "$OUT/listen.log" && break; sleep 0.2; done
"$APP" node echo "HDS_MAMMO@127.0.0.1:$PORT"
kill "$LISTENER"
wait "$LISTENER" || true
echo "bundled hds-node: its listener answers C-ECHO"
du -sh dist/mammo-viewer | awk '{print "bundle size: " $1}'
rm -rf "$OUT"
