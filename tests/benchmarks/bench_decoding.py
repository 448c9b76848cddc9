"""Why the viewer decodes films in a separate process, and how it renders them, measured on
3328x4096 16-bit JPEG 2000 lossless films:

1. the longest stall of a thread that wants to run (the UI thread) while one film decodes
   in a background thread of the same process, and while it decodes in a decoder process;
2. one film decoded alone in a decoder process, and two side by side in two processes;
3. one screen rendering of a film (lookup table in bands of rows) against one np.take over
   the whole film.

    .venv/bin/python tests/benchmarks/bench_decoding.py [--json OUT]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_viewer import make_study
from record import Row, write_rows


def longest_stall(work) -> float:
    """Run ``work(done)`` while this thread wakes every millisecond; the longest gap (s)."""
    done = threading.Event()
    started = time.perf_counter()
    work(done)
    gaps, last = [], started
    while not done.is_set():
        time.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    return max(gaps)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--json", help="also write the figures as rows for run_all.py")
    args = p.parse_args()
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from mammo_viewer.memory import return_large_blocks_to_the_system

    return_large_blocks_to_the_system()  # as mammo-viewer and its decoder processes do
    from mammo_viewer.pictures.display import ScreenRenderer
    from mammo_viewer.work.decoding import DecoderPool, collect_shared, decode, decode_shared

    rows: list[Row] = []
    bench = "decoding, 3328x4096 J2K film"
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_study(Path(tmp))

        def in_thread(done):
            threading.Thread(target=lambda: (decode(paths[0]), done.set())).start()

        pool = DecoderPool()
        pool.result(pool.submit(paths[1], 96), paths[1])  # warm: the process has started and imported

        def in_process(done):
            pool.submit(paths[0], 96).add_done_callback(lambda _future: done.set())

        thread_stall, process_stall = longest_stall(in_thread), longest_stall(in_process)
        pool.shutdown()
        print(
            f"longest stall of the waiting thread: decoding on a thread {thread_stall * 1000:.0f} ms, "
            f"in a decoder process {process_stall * 1000:.0f} ms"
        )
        rows += [
            Row(
                bench, "longest stall of the UI thread, film decoding on a background thread", thread_stall * 1000, "ms"
            ),
            Row(
                bench, "longest stall of the UI thread, film decoding in a decoder process", process_stall * 1000, "ms"
            ),
        ]

        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as two:
            [
                collect_shared(*r) for r in two.map(decode_shared, [decode, decode], paths[:2], [96, 96])
            ]  # warm both processes
            start = time.perf_counter()
            collect_shared(*two.submit(decode_shared, decode, paths[2], 96).result())
            alone = time.perf_counter() - start
            start = time.perf_counter()
            [collect_shared(*r) for r in two.map(decode_shared, [decode, decode], paths[2:4], [96, 96])]
            side_by_side = time.perf_counter() - start
        print(
            f"one film alone in a decoder process {alone:.2f} s; two side by side in two processes {side_by_side:.2f} s"
        )
        rows += [
            Row(bench, "one film alone in a decoder process", alone, "s"),
            Row(bench, "two films side by side in two decoder processes (both done)", side_by_side, "s"),
        ]

        image = decode(paths[0]).image
        renderer = ScreenRenderer(image)
        table = np.arange(65536, dtype=np.uint16).astype(np.uint8)
        banded, whole = [], []
        for _ in range(5):
            renderer._last = None  # not cached: time the rendering itself
            start = time.perf_counter()
            renderer.render(image.default_preset)
            banded.append(time.perf_counter() - start)
            start = time.perf_counter()
            np.take(table, image.pixels)
            whole.append(time.perf_counter() - start)
        print(
            f"screen rendering of a film: {statistics.median(banded) * 1000:.0f} ms in bands of rows, "
            f"one np.take over the whole film {statistics.median(whole) * 1000:.0f} ms"
        )
        rows += [
            Row(
                bench,
                "screen rendering of a film, table in bands of rows (median of 5)",
                statistics.median(banded) * 1000,
                "ms",
            ),
            Row(
                bench,
                "one np.take over the whole film, for comparison (median of 5)",
                statistics.median(whole) * 1000,
                "ms",
            ),
        ]

        # A film's reduced level read straight from its codestream, against the full decode
        # (hds_core.io.levels; one thread, this process).
        from hds_core.io import read_image

        for level, name in ((0, "full resolution"), (3, "its 1/8 level (416x512)")):
            times = []
            for _ in range(3):
                start = time.perf_counter()
                read_image(paths[0], level=level)
                times.append(time.perf_counter() - start)
            print(f"read_image of a film, {name}: {statistics.median(times):.3f} s")
            rows.append(Row(bench, f"read_image of a film, {name} (median of 3)", statistics.median(times), "s"))
    write_rows(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
