"""End to end, headless: a 4-view study of 3328x4096 16-bit JPEG 2000 lossless films from
the folder to four predictions (scan, decode, grayscale pipeline, network, lesions), as
``hds-predict`` does it (each film read at the network's level) and with every film decoded
in full (as with --pdf): on the CPU, and on CUDA when this machine has it. Also the folder
scan alone over many uncompressed films (headers only: pixels must not be read).

    .venv/bin/python tests/benchmarks/bench_end_to_end.py [--weights W] [--repeats 2] [--json OUT]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_viewer import make_study
from record import Row, write_rows
from synthetic import phantom, write_dicom

from hds_core.infer import DomainModels, Predictor
from hds_core.io import read_image, read_preview, scan_folder


def study_time(predictor: DomainModels | Predictor, folder: Path, levels: bool) -> tuple[float, float, float]:
    """(total, decoding, inference) seconds for the whole study; ``levels``: each film read at
    the network's level as hds-predict does, else decoded in full (hds-predict --pdf)."""
    start = time.perf_counter()
    decode = infer = 0.0
    for entry in scan_folder(folder).images:
        t0 = time.perf_counter()
        image = read_preview(entry.path, network=predictor.input) if levels else read_image(entry.path)
        t1 = time.perf_counter()
        prediction = predictor.predict(image)
        prediction.lesions(predictor.spec.default_threshold)
        if predictor.device.type == "cuda":
            torch.cuda.synchronize()
        decode += t1 - t0
        infer += time.perf_counter() - t1
    return time.perf_counter() - start, decode, infer


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--weights", help="default: the shipped weights")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--scan-files", type=int, default=100)
    p.add_argument("--json", help="also write the figures as rows for run_all.py")
    args = p.parse_args()
    rows: list[Row] = []
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "study"
        folder.mkdir()
        print("writing a 4-view 3328x4096 16-bit JPEG 2000 lossless study…", flush=True)
        make_study(folder)
        for device in devices:
            start = time.perf_counter()
            predictor = DomainModels(args.weights, device=device)  # one model per domain, as hds-predict
            loaded = time.perf_counter() - start
            for levels, how in (
                (False, "films decoded in full (hds-predict --pdf; all of it before issue 15)"),
                (True, "films read at the network's level (hds-predict)"),
            ):
                cold, _, _ = study_time(predictor, folder, levels)
                warm = [study_time(predictor, folder, levels) for _ in range(args.repeats)]
                total = statistics.median(w[0] for w in warm)
                decode = statistics.median(w[1] for w in warm)
                infer = statistics.median(w[2] for w in warm)
                name = f"{predictor.device_name} {predictor.precision}"
                print(
                    f"{name}, {how}: weights loaded in {loaded:.2f} s; first study {cold:.2f} s; then {total:.2f} s "
                    f"(decoding {decode:.2f} s, inference and lesions {infer:.2f} s)"
                )
                bench = f"end to end, 4-view 3328x4096 J2K study, {name}"
                if not levels:
                    rows += [
                        Row(bench, "weights loaded", loaded, "s"),
                        Row(bench, f"{how}: first study after loading (folder to 4 predictions)", cold, "s"),
                    ]
                rows += [
                    Row(bench, f"{how}: study, warm (median of {args.repeats})", total, "s"),
                    Row(bench, f"{how}: of which decoding", decode, "s"),
                    Row(bench, f"{how}: of which inference and lesions", infer, "s"),
                ]
        if "cuda" not in devices:
            rows.append(Row("end to end, CUDA", "not measured", None, "", note="no CUDA device on this machine"))

        many = Path(tmp) / "many"
        many.mkdir()
        pixels = np.kron(phantom((512, 416), seed=3)[0], np.ones((8, 8), np.uint16))  # 4096x3328, 27 MB uncompressed
        for i in range(args.scan_files):
            write_dicom(many / f"{i:04d}.dcm", pixels, ImageLaterality="RL"[i % 2], ViewPosition="CC")
        start = time.perf_counter()
        scan = scan_folder(many)
        scanned = time.perf_counter() - start
        assert len(scan.images) == args.scan_files
        print(f"folder scan of {args.scan_files} uncompressed 3328x4096 films (headers only): {scanned:.2f} s")
        rows.append(
            Row(
                "folder scan",
                f"{args.scan_files} uncompressed 3328x4096 films, headers only",
                scanned,
                "s",
                note="file cache warm (just written)",
            )
        )
    write_rows(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
