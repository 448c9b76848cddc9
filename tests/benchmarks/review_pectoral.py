"""Pectoral-muscle masks as a reader would check them: a montage of MLO working images with
the mask's outline drawn, to look at and count the wrong ones (on demand, needs the data).

    python tests/benchmarks/review_pectoral.py minimias:PATH/mini-mias --count 36 --out pectoral.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from hds_core.data import load_datasets, prepare
from hds_core.io.anatomy import pectoral_mask
from skimage import segmentation


def tile(prepared, size: int = 192) -> Image.Image:
    image = prepared.working.image
    grey = np.clip((image - image.min()) / (np.ptp(image) + 1e-6) * 255, 0, 255).astype(np.uint8)
    rgb = np.stack([grey] * 3, axis=-1)
    mask = pectoral_mask(image, prepared.working.breast)
    rgb[segmentation.find_boundaries(mask, mode="outer")] = (255, 60, 60)
    rgb[segmentation.find_boundaries(prepared.mask, mode="outer")] = (60, 220, 60)
    out = Image.fromarray(rgb)
    out.thumbnail((size, size))
    canvas = Image.new("RGB", (size, size + 14))
    canvas.paste(out)
    ImageDraw.Draw(canvas).text((2, size), f"{prepared.case.case_id} {'found' if mask.any() else 'none'}", fill=(255, 255, 0))
    return canvas


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dataset")
    p.add_argument("--count", type=int, default=36)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--spacing", type=float, default=0.8)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    cases = [c for c in load_datasets([args.dataset]) if (c.view or "MLO") == "MLO"][args.start:args.start + args.count]
    tiles = [tile(prepare(c, args.spacing)) for c in cases]
    columns = 6
    rows = (len(tiles) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * tiles[0].width, rows * tiles[0].height))
    for i, t in enumerate(tiles):
        sheet.paste(t, ((i % columns) * t.width, (i // columns) * t.height))
    sheet.save(args.out)
    print(f"wrote {args.out}: {len(tiles)} films")
    return 0


if __name__ == "__main__":
    sys.exit(main())
