"""Tomosynthesis in the viewer (issue 40), offscreen, on a 4-view DBT study of 60 slices of
2000 x 2500 pixels, JPEG 2000 lossless frame by frame (dbt_study.py; written once, ~2 min):

1. opening to the first slice of every view on screen (target <= 1.5 s);
2. stepping all four stacks a slice at a time with contours on, each step painted (every view's
   paint event) before the next (target >= 30 steps a second), once every slice is kept in
   memory, and how long until they are;
3. opening to the analysis of the four stacks finished (target <= 60 s on the 2-core CPU);
4. peak resident memory of the viewer and its decoder process together (target <= 2.5 GB).

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/benchmarks/bench_dbt.py [--study FOLDER] [--weights W]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench_viewer import peak_of
from dbt_study import make_dbt_study
from record import Row, describe, machine, write_rows

BENCH = "viewer, 4-view DBT, 60 slices 2000x2500 J2K"


def run(folder: Path, weights: str | None, passes: int) -> dict:
    from mammo_viewer.memory import return_large_blocks_to_the_system

    return_large_blocks_to_the_system()  # as mammo-viewer does at start
    from PySide6.QtCore import QEventLoop, QSettings
    from PySide6.QtWidgets import QApplication

    from mammo_viewer.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(
            weights=weights, device="cpu", settings=QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat)
        )
    window.resize(1600, 1000)
    window.show()

    def wait_until(condition) -> None:
        while not condition():  # in the event loop, as the application waits: never a busy loop
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)

    wait_until(lambda: not window.engine.loading)
    shown, settled = [], []
    window.loader.decoded.connect(lambda key, _decoded: shown.append(time.perf_counter()))
    window.study_settled.connect(lambda: settled.append(time.perf_counter()))
    start = time.perf_counter()
    window.open_path(str(folder))
    wait_until(lambda: len(shown) >= 4)
    figures = {"first_view": shown[0] - start, "every_view": shown[-1] - start}
    items = list(window.study.images.values())
    wait_until(lambda: all(len(item.slices) == item.metadata.frames for item in items))
    figures["slices_kept"] = time.perf_counter() - start
    wait_until(lambda: bool(settled))
    figures["analysed"] = settled[0] - start
    figures["findings"] = len(window.findings.rows)

    # Every stack a slice at a time from its first slice to its last and back, contours on (a
    # finding's slices show their outlines), each step painted by the event loop as the
    # application paints (every view's paint event counted) before the next.
    from PySide6.QtCore import QEvent, QObject

    class Paints(QObject):
        count = 0

        def eventFilter(self, watched, event):  # noqa: N802 - Qt API
            if event.type() == QEvent.Type.Paint:
                Paints.count += 1
            return False

    window.state.contours = True
    window.state.selected = None  # the keyboard's step moves every stack on screen
    grid, views = window.grid, [view for view in window.views if view.isVisible() and view.key]
    paints = Paints()
    for view in views:
        view.viewport().installEventFilter(paints)
    grid.step_slices(-1000)
    app.processEvents()
    frames = items[0].metadata.frames
    steps, outlined = 0, 0
    began = time.perf_counter()
    for _ in range(passes):
        for step in (1, -1):
            for _ in range(frames - 1):
                painted = Paints.count
                grid.step_slices(step)
                while Paints.count < painted + len(views):
                    app.processEvents()
                outlined += sum(bool(view.lesion_labels) for view in views)
                steps += 1
    figures["steps_per_s"] = steps / (time.perf_counter() - began)
    figures["steps"], figures["outlined_views"] = steps, outlined
    figures["viewer_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["decoder_mb"] = sum(peak_of(child.pid) for child in multiprocessing.active_children())
    window.close()
    return figures


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--study", type=Path, default=Path(tempfile.gettempdir()) / "mammo-hds-bench-dbt")
    p.add_argument("--weights", help="default: the shipped weights")
    p.add_argument("--passes", type=int, default=2, help="times through every stack and back")
    p.add_argument("--json", help="also write the figures as rows for run_all.py")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(run(args.study, args.weights, args.passes)))
        return 0
    print(f"machine: {describe(machine())}")
    print(f"the study in {args.study} (written once; about 2 minutes)…", flush=True)
    make_dbt_study(args.study)
    import subprocess

    command = [sys.executable, __file__, "--child", "--study", str(args.study), "--passes", str(args.passes)]
    if args.weights:
        command += ["--weights", args.weights]
    done = subprocess.run(command, capture_output=True, text=True, check=True)  # its own process: its own peak
    r = json.loads(done.stdout.strip().splitlines()[-1])
    memory = r["viewer_mb"] + r["decoder_mb"]
    print(
        f"first slice on screen: first view {r['first_view']:.2f} s, every view {r['every_view']:.2f} s; every slice "
        f"kept {r['slices_kept']:.1f} s; analysis of the four stacks {r['analysed']:.1f} s ({r['findings']} "
        f"finding(s)); stepping {r['steps_per_s']:.1f} steps/s ({r['steps']} steps of all four views, "
        f"{r['outlined_views']} views outlined); peak memory {r['viewer_mb']:.0f} + {r['decoder_mb']:.0f} MB"
    )
    rows = [
        Row(BENCH, "opening to the first slice of every view on screen", r["every_view"], "s", "≤ 1.5 s",
            r["every_view"] <= 1.5),
        Row(BENCH, "opening to every slice of the four stacks kept in memory", r["slices_kept"], "s"),
        Row(BENCH, "stepping the four stacks, contours on, each step painted", r["steps_per_s"], "steps/s", "≥ 30",
            r["steps_per_s"] >= 30, note=f"{r['steps']} steps, {r['outlined_views']} views outlined"),
        Row(BENCH, "opening to the analysis of the four stacks finished", r["analysed"], "s", "≤ 60 s",
            r["analysed"] <= 60, note=f"{r['findings']} finding(s)"),
        Row(BENCH, "peak memory, viewer + decoder process", memory, "MB", "≤ 2500 MB", memory <= 2500),
    ]  # fmt: skip
    write_rows(args.json, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
