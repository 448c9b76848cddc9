"""hds-batch's throughput as its workers grow (1, 2 on this machine), beside hds-predict in one
process, on the same synthetic archive with the shipped weights.

    python tests/benchmarks/bench_batch.py [--studies 24] [--workers 1 2]

Each run starts from an empty results folder, and counts from the command's start (Ray's own
start, about 5 s, included: that is what a user waits for) to its exit. Each command runs on a
third of the archive and on all of it: the difference gives its rate once started (studies per
second, start-up costs left out), which is what an archive of thousands sees. The archive:
studies of two 1600 x 1280 films (right and left CC, 0.1 mm), written once into a temporary
folder."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/: the synthetic films

from record import Row, write_rows  # noqa: E402


def archive(root: Path, studies: int) -> Path:
    from pydicom.uid import generate_uid
    from synthetic import phantom, write_dicom

    for number in range(studies):
        folder = root / f"study{number:03d}"
        folder.mkdir(parents=True)
        uid = generate_uid()
        for side in ("R", "L"):
            pixels, _ = phantom((1600, 1280), seed=number, chest_wall="left" if side == "R" else "right")
            write_dicom(
                folder / f"{side}_CC.dcm",
                pixels,
                StudyInstanceUID=uid,
                PatientID=f"B{number:03d}",
                ImageLaterality=side,
                ViewPosition="CC",
                ImagerPixelSpacing=[0.1, 0.1],
            )
    return root


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        raise SystemExit(f"{command[:3]} failed ({run.returncode}): {run.stderr[-2000:]}")
    return seconds


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--studies", type=int, default=60)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--json")
    args = p.parse_args()
    bench = "hds-batch vs hds-predict, studies of 2 films 1600x1280, shipped weights, CPU"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = archive(tmp / "archive", args.studies)
        studies = sorted(folder.iterdir())
        third = studies[: args.studies // 3]
        small, large = len(third), len(studies)

        def measure(name: str, command) -> None:
            few = timed(command([str(p) for p in third], tmp / f"{name}-few"))
            all_ = timed(command([str(p) for p in studies], tmp / f"{name}-all"))
            total, steady = large / all_, (large - small) / (all_ - few)
            rows.append(Row(bench, f"{name}: {large} studies, start to exit", total, "studies/s"))
            rows.append(Row(bench, f"{name}: once started ({small} -> {large} studies)", steady, "studies/s"))
            print(f"{name}: {all_:.1f} s for {large} ({total:.2f}/s), {few:.1f} s for {small}; then {steady:.2f}/s")

        measure(
            "hds-predict, one process",
            lambda paths, out: [sys.executable, "-m", "mammo_viewer.headless", *paths, "--out", str(out)],
        )
        for workers in args.workers:
            measure(
                f"hds-batch, {workers} worker(s)",
                lambda paths, out, w=workers: [
                    sys.executable,
                    "-m",
                    "hds_core.batch.cli",
                    *paths,
                    "--out",
                    str(out),
                    "--workers",
                    str(w),
                ],
            )
    write_rows(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
