#!/usr/bin/env bash
# Build the one-folder desktop app into dist/mammo-viewer/ from a clean virtual environment
# (PyInstaller bundles whatever the environment holds, so never build from a dev venv).
#   bash packaging/build.sh            # torch CPU build (default)
# For CUDA, set TORCH_SPEC to a CUDA build of torch, e.g. TORCH_SPEC="torch==2.13.0" with
# pip's CUDA index; the bundle then grows by the CUDA libraries (several GB).
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
VENV=build/bundle-venv
rm -rf "$VENV" build/pyinstaller dist/mammo-viewer
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q "$TORCH_SPEC"
"$VENV/bin/pip" install -q . "pyinstaller==6.22.3"
"$VENV/bin/pyinstaller" --noconfirm --log-level WARN --workpath build/pyinstaller --distpath dist packaging/mammo-viewer.spec
echo "built dist/mammo-viewer ($(du -sh dist/mammo-viewer | cut -f1))"
