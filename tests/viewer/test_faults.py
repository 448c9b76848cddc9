"""Faults while working: closing during inference, cancelling mid-study, a CUDA failure,
exporting to a read-only place or a full disk. The app keeps running, says what happened,
and nothing finished is lost."""

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import gpu_that_fails
from PySide6.QtCore import QSettings
from synthetic import phantom, write_dicom

from hds_core.infer import predictor as predictor_module
from mammo_viewer.headless import main as predict_main
from mammo_viewer.main_window import MainWindow

SETTLE_MS = 60000
READ_ONLY = Path("/sys")  # sysfs refuses new files, even to root (CI runs as root)


def four_view_study(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ids = {"StudyInstanceUID": "1.2.826.0.1.3680043.8.498.1", "SeriesInstanceUID": "1.2.826.0.1.3680043.8.498.2"}
    for i, (side, view) in enumerate([("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO")]):
        pixels, _ = phantom((256, 192), seed=300 + i, chest_wall="right" if side == "L" else "left")
        write_dicom(
            folder / f"{side}_{view}.dcm",
            pixels,
            ImageLaterality=side,
            ViewPosition=view,
            ImagerPixelSpacing=[0.4, 0.4],
            PatientOrientation=["A", "R"] if side == "R" else ["P", "L"],
            **ids,
        )
    return folder


@pytest.fixture
def window(qtbot, phantom_model, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(weights=str(phantom_model), device="cpu", settings=settings)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def slow_inference(monkeypatch, seconds_per_image: float):
    """Make each image take a while, as on a slow CPU, with the network still checking for
    cancellation inside (the real forward pass runs repeatedly)."""
    real = predictor_module.predict_working

    def slow(model, image, device, **kwargs):
        end = time.monotonic() + seconds_per_image
        result = real(model, image, device, **kwargs)
        while time.monotonic() < end:
            result = real(model, image, device, **kwargs)
        return result

    monkeypatch.setattr(predictor_module, "predict_working", slow)


def test_cancelling_mid_study_keeps_the_finished_results_usable(qtbot, window, monkeypatch, tmp_path):
    slow_inference(monkeypatch, 0.4)
    study = four_view_study(tmp_path / "study")
    with qtbot.waitSignal(window.engine.predicted, timeout=SETTLE_MS):
        window.open_path(str(study))
    window.cancel_analysis()
    qtbot.wait(200)
    finished = [key for key, image in window.study.images.items() if image.prediction is not None]
    assert 1 <= len(finished) < 4
    # The finished ones are still drawn, scored, thresholded and exported.
    window.state.threshold = 0.01
    assert window.findings.exam_score.text() != "—"
    out = tmp_path / "partial.pdf"
    with qtbot.waitSignal(window.export_finished, timeout=SETTLE_MS) as blocker:
        window.export_report_to(str(out))
    assert "Report written" in blocker.args[0] and out.stat().st_size > 0
    # Analysing again runs only the rest.
    ran = []
    original = window.engine.add
    monkeypatch.setattr(window.engine, "add", lambda key, image, *rest: (ran.append(key), original(key, image, *rest)))
    with qtbot.waitSignal(window.study_settled, timeout=SETTLE_MS):
        window.reanalyse()
    assert all(image.prediction is not None for image in window.study.images.values())
    assert not set(ran) & set(finished)


def test_a_cuda_failure_falls_back_to_the_cpu_with_a_visible_notice(qtbot, window, monkeypatch, tmp_path):
    with qtbot.waitSignal(window.engine.ready, timeout=SETTLE_MS):
        pass
    gpu_that_fails(monkeypatch, window.engine.predictor)
    with pytest.warns(RuntimeWarning, match="CUDA failed"), qtbot.waitSignal(window.study_settled, timeout=SETTLE_MS):
        window.open_path(str(four_view_study(tmp_path / "study")))
    assert all(image.prediction is not None for image in window.study.images.values())
    assert window.device_label.text() == "AI: CPU (CUDA failed)"
    problems = [window.problems.item(i).text() for i in range(window.problems.count())]
    assert sum("CUDA failed" in line for line in problems) == 1 and window.problems_dock.isVisible()


@contextlib.contextmanager
def full_disk(limit_bytes: int = 4096):
    """Writes past ``limit_bytes`` fail as on a full disk (EFBIG from RLIMIT_FSIZE: the OS
    refuses the write itself, whatever library does it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /sys and RLIMIT_FSIZE")
def test_exports_to_a_read_only_place_or_a_full_disk_fail_cleanly(qtbot, window, tmp_path):
    with qtbot.waitSignal(window.study_settled, timeout=SETTLE_MS):
        window.open_path(str(four_view_study(tmp_path / "study")))
    targets = tmp_path / "exports"
    targets.mkdir()
    cases = [
        ("read-only", READ_ONLY / "report.pdf", READ_ONLY, contextlib.nullcontext, "Permission denied"),
        ("full disk", targets / "report.pdf", targets, full_disk, "File too large"),
    ]
    for label, pdf, folder, condition, reason in cases:
        with condition(), qtbot.waitSignal(window.export_finished, timeout=SETTLE_MS) as blocker:
            window.export_report_to(str(pdf))
        assert blocker.args[0].startswith("Not written") and reason in blocker.args[0], (label, blocker.args[0])
        with condition(), qtbot.waitSignal(window.export_finished, timeout=SETTLE_MS) as blocker:
            window.export_dicom_to(str(folder))
        assert blocker.args[0].startswith("Not written") and reason in blocker.args[0], (label, blocker.args[0])
        assert listing(targets) == []  # no partial PDF or DICOM file, no temporary file left behind
    problems = [window.problems.item(i).text() for i in range(window.problems.count())]
    assert sum(line.startswith("Not written") for line in problems) == 4
    # The window still works: a good place takes the report.
    with qtbot.waitSignal(window.export_finished, timeout=SETTLE_MS) as blocker:
        window.export_report_to(str(targets / "report.pdf"))
    assert "Report written" in blocker.args[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /sys and RLIMIT_FSIZE")
def test_hds_predict_reports_unwritable_outputs_and_keeps_the_results(phantom_model, tmp_path, capsys):
    weights = phantom_model
    study = four_view_study(tmp_path / "study")
    out = tmp_path / "results"
    code = predict_main(
        [
            str(study),
            "--out",
            str(out),
            "--weights",
            str(weights),
            "--pdf",
            str(READ_ONLY / "r.pdf"),
            "--sr-dir",
            str(READ_ONLY),
        ]
    )
    err = capsys.readouterr().err
    assert (
        code == 1
        and err.count(f"{READ_ONLY}/") == 3  # the PDF, the TID 1500 SR, the CAD SR
        and err.count("Permission denied") == 3
        and "wrote 4 result(s)" in err
    )
    assert len(listing(out)) == 4 and json.loads((out / "study_R_CC.json").read_text())["laterality"] == "R"
    with full_disk(2048):
        code = predict_main([str(study), "--out", str(tmp_path / "full"), "--weights", str(weights)])
    err = capsys.readouterr().err
    assert code == 2 and "File too large" in err and listing(tmp_path / "full") == []


CLOSE_SCRIPT = r"""
import sys, time
sys.path.insert(0, sys.argv[3])
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from hds_core.infer import predictor as predictor_module
real = predictor_module.predict_working
def slow(model, image, device, **kwargs):  # a slow CPU: the network runs for 30 s per image
    end = time.monotonic() + 30
    while time.monotonic() < end:
        result = real(model, image, device, **kwargs)
    return result
predictor_module.predict_working = slow
from mammo_viewer.main_window import MainWindow
settings = QSettings(sys.argv[2] + "/s.ini", QSettings.Format.IniFormat)
window = MainWindow(weights=sys.argv[1], device="cpu", settings=settings)
window.show()
def close_when_busy(done, total):
    if total and window.engine.busy and not getattr(window, "closing", False):
        window.closing = True
        def close():
            start = time.monotonic()
            window.close()
            print(f"close took {time.monotonic() - start:.3f} s, engine busy before: True", flush=True)
            app.quit()
        QTimer.singleShot(300, close)  # well inside the first image's 30 s
window.engine.progress.connect(close_when_busy)
window.open_path(sys.argv[2] + "/study")
app.exec()
print("event loop left", flush=True)
"""


def test_closing_the_window_during_inference_exits_within_two_seconds(phantom_model, tmp_path):
    four_view_study(tmp_path / "study")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-c", CLOSE_SCRIPT, str(phantom_model), str(tmp_path), str(Path(__file__).parents[1])],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "engine busy before: True" in run.stdout and "event loop left" in run.stdout, run.stdout + run.stderr[-2000:]
    took = float(run.stdout.split("close took ")[1].split(" s")[0])
    assert took < 2.0, run.stdout  # the network stops inside its forward pass, not after 30 s
    assert time.monotonic() - started < 60
