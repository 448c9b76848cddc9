"""The viewer retrieving the demo study from a local Orthanc (Debian's package, on loopback):
from the reader's "Retrieve and open" to the first film on screen and to the study analysed.

    python tests/benchmarks/bench_pacs.py [--repeats 3] [--screenshot panel.png]

The engine is loaded first (the window has been open a while); each repeat retrieves into an
empty cache. ``--screenshot`` saves the window with the PACS panel's search results."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the Orthanc fixture's helper
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from record import Row, write_rows

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json")
    p.add_argument("--screenshot")
    args = p.parse_args()
    from node.orthanc import AE_TITLE, Orthanc, free_port
    from PySide6.QtCore import QEventLoop, QSettings
    from PySide6.QtWidgets import QApplication

    from hds_core.node import Node, NodeBook, StudyCache, save_book
    from mammo_viewer.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "orthanc").mkdir()
        orthanc = Orthanc(tmp / "orthanc", {"hds": ("HDS_MAMMO", free_port())})
        try:
            for path in sorted(DEMO.glob("*/*.dcm")):
                orthanc.upload(path)
            book = NodeBook().with_node(Node("Local Orthanc", AE_TITLE, "127.0.0.1", orthanc.dicom_port))
            save_book(book, tmp / "nodes.json")
            window = MainWindow(
                device="cpu",
                settings=QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat),
                node_book=tmp / "nodes.json",
            )
            window.resize(1600, 1000)
            window.show()
            panel = window.pacs.panel

            def wait_until(condition, timeout=300) -> None:
                deadline = time.monotonic() + timeout
                while not condition():
                    if time.monotonic() > deadline:
                        raise TimeoutError
                    app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)

            window.engine.start()
            wait_until(lambda: not window.engine.loading)
            window.pacs.show()
            panel.patient_id.setText("DEMO-014")
            panel.search()
            wait_until(lambda: panel.records and panel.search_button.isEnabled())
            first, analysed = [], []
            for repeat in range(args.repeats):
                panel._cache = StudyCache(tmp / f"cache{repeat}")
                shown = []
                on_shown = window.loader.decoded.connect(lambda *_, s=shown: s.append(time.perf_counter()))
                start = time.perf_counter()
                panel.retrieve(0)
                # Analysed: the retrieve over and every film of the study analysed (the window
                # shows the study from its first film, so it may settle before the last arrives).
                wait_until(
                    lambda: (
                        panel.retrieve_button.isEnabled()
                        and window.study is not None
                        and len(window.study.predicted()) == 2
                    )
                )
                done = time.perf_counter()
                window.loader.decoded.disconnect(on_shown)
                first.append(shown[0] - start)
                analysed.append(done - start)
                print(f"retrieve -> first film {first[-1]:.2f} s, -> analysed {analysed[-1]:.2f} s", flush=True)
            if args.screenshot:
                panel.patient_id.setText("")
                panel.search()
                wait_until(lambda: len(panel.records) == 4 and panel.search_button.isEnabled())
                app.processEvents()
                window.pacs.show()
                app.processEvents()
                window.grab().save(args.screenshot)
                print(f"saved {args.screenshot}")
            window.close()
        finally:
            orthanc.stop()
    bench = "viewer and a local Orthanc, demo study DEMO-014 (2 films, C-GET)"
    # The first retrieval after the engine loaded also pays the network's first run (kernels
    # set up); the later ones are what a reader gets study after study.
    rows = [
        Row(bench, "retrieve -> first film on screen, first study after the engine loaded", first[0], "s"),
        Row(bench, "retrieve -> study analysed, first study after the engine loaded", analysed[0], "s"),
    ]
    if len(first) > 1:
        rows += [
            Row(bench, f"retrieve -> first film on screen, later studies (median of {len(first) - 1})",
                statistics.median(first[1:]), "s"),
            Row(bench, f"retrieve -> study analysed, later studies (median of {len(first) - 1})",
                statistics.median(analysed[1:]), "s"),
        ]  # fmt: skip
    write_rows(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
