"""Pectoral-muscle masks as a reader would check them: a montage of MLO working images with
the mask's outline drawn, to look at and count the wrong ones (on demand, needs the data).
With --weights, also the marks at --threshold: those the suppression keeps in yellow, those it
removes (on the muscle, outside the breast) in magenta.

    python tests/benchmarks/review_pectoral.py minimias:PATH/mini-mias --count 36 --out pectoral.png
    python tests/benchmarks/review_pectoral.py minimias:PATH --weights runs/ab/recipe/fold-0/last.safetensors \
        --fold 0 --out marks.png     # that fold's validation films only: marks on patients the model never saw
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from skimage import segmentation

from hds_core.data import load_datasets, prepare
from hds_core.io.anatomy import pectoral_mask


def tile(prepared, size: int = 192, model=None, threshold: float = 0.4) -> Image.Image:
    image = prepared.working.image
    grey = np.clip((image - image.min()) / (np.ptp(image) + 1e-6) * 255, 0, 255).astype(np.uint8)
    rgb = np.stack([grey] * 3, axis=-1)
    mask = pectoral_mask(image, prepared.working.breast)
    if model is not None:
        import torch

        from hds_core.infer.forward import predict_working
        from hds_core.infer.suppression import excluded_region

        marks = predict_working(model, image, torch.device("cpu"))[-1].probability >= threshold
        removed = excluded_region(image, prepared.working.breast, prepared.case.view, ["breast", "pectoral"])
        rgb[segmentation.find_boundaries(marks & ~removed, mode="inner")] = (255, 230, 0)
        rgb[segmentation.find_boundaries(marks & removed, mode="inner")] = (255, 0, 255)
    rgb[segmentation.find_boundaries(mask, mode="outer")] = (255, 60, 60)
    rgb[segmentation.find_boundaries(prepared.mask, mode="outer")] = (60, 220, 60)
    out = Image.fromarray(rgb)
    out.thumbnail((size, size))
    canvas = Image.new("RGB", (size, size + 14))
    canvas.paste(out)
    ImageDraw.Draw(canvas).text(
        (2, size), f"{prepared.case.case_id} {'found' if mask.any() else 'none'}", fill=(255, 255, 0)
    )
    return canvas


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dataset")
    p.add_argument("--count", type=int, default=36)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--spacing", type=float, default=0.8)
    p.add_argument("--weights", type=Path, help="also draw these weights' marks, kept and suppressed")
    p.add_argument("--threshold", type=float, default=0.4)
    p.add_argument("--fold", type=int, help="only the validation films of this fold of the weights' training")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    cases = [c for c in load_datasets([args.dataset]) if (c.view or "MLO") == "MLO"]
    model = None
    if args.weights:
        from hds_core.data import validation_cases_of
        from hds_core.nn import load_weights

        model, metadata = load_weights(args.weights)
        if args.fold is not None:
            cases = validation_cases_of(cases, {**metadata.get("train_config", {}), "fold": args.fold})
    cases = cases[args.start : args.start + args.count]
    tiles = [tile(prepare(c, args.spacing), model=model, threshold=args.threshold) for c in cases]
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
