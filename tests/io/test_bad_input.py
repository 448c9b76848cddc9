"""The broken-file corpus (tests/bad_files.py) through every layer: the reader raises the
typed error naming the file, the folder scan lists it, hds-predict reports it per file and
exits non-zero, the viewer lists it — and the good files beside them are still read,
predicted and shown. Input files stay byte-identical throughout."""

import hashlib
import io
import json
import os

import pytest
from bad_files import NON_UTF8_NAME, deny, write_corpus

from hds_core.io import errors, read_image, scan_folder
from hds_core.text import printable
from mammo_viewer.headless import main as predict_main


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    corpus = write_corpus(tmp_path / "archive")
    deny(monkeypatch, [corpus.path(corpus.unreadable)])
    return corpus


def fingerprint(root):
    """Name, size and hash of every regular file below root (links and pipes by name only)."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if os.path.islink(path) or not os.path.isfile(path):
                found[path] = "special"
            elif not os.access(path, os.R_OK):
                found[path] = (os.stat(path).st_size, os.stat(path).st_mtime_ns)  # unreadable to us (not root)
            else:
                with io.FileIO(path, "r") as handle:  # not open(): the test denies that for one file
                    found[path] = hashlib.sha256(handle.read()).hexdigest()
    return found


def test_each_broken_file_raises_its_typed_error_naming_the_file(corpus):
    for name, expected in corpus.broken.items():
        with pytest.raises(errors.MammoReadError) as info:
            read_image(corpus.path(name))
        error = info.value
        assert type(error) is expected, f"{name}: {type(error).__name__}: {error}"
        assert error.path == corpus.path(name) and printable(name) in str(error) and error.reason, name
    for name in corpus.skipped:
        with pytest.raises(errors.NonImageObjectError, match=corpus.skipped[name]):
            read_image(corpus.path(name))
    for name in corpus.good:
        assert read_image(corpus.path(name)).pixels.shape == (128, 96)
    assert read_image(corpus.path("damaged_description_L_MLO.dcm")).metadata.study_description is None


def test_the_scan_lists_every_failure_skips_non_images_and_keeps_the_good_files(corpus):
    before = fingerprint(corpus.root)
    scan = scan_folder(corpus.root)
    failed = {error.path.name: type(error) for error in scan.failures}
    # Damaged compressed data is only found when it is decoded, not from the header.
    at_decode = corpus.at_decode
    assert failed == {name: error for name, error in corpus.broken.items() if name not in at_decode}
    assert sorted(image.path.name for image in scan.images) == sorted(corpus.good + list(at_decode))
    assert sum(scan.skipped.values()) == len(corpus.skipped)  # the folder loop sub/loop -> .. was cut
    assert set(scan.skipped) == set(corpus.skipped.values())
    assert fingerprint(corpus.root) == before


def test_hds_predict_reports_each_file_exits_non_zero_and_predicts_the_good_ones(
    corpus, phantom_model, tmp_path, capsys
):
    weights = phantom_model
    before = fingerprint(corpus.root)
    out = tmp_path / "results"
    code = predict_main(
        [
            str(corpus.root),
            "--out",
            str(out),
            "--weights",
            str(weights),
            "--pdf",
            str(tmp_path / "report.pdf"),
            "--seg-dir",
            str(tmp_path / "seg"),
            "--sr-dir",
            str(tmp_path / "sr"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    failure_lines = [line for line in err.splitlines() if line.startswith("hds-predict: failed: ")]
    assert len(failure_lines) == len(corpus.broken)  # within a screenful: every one on the terminal
    for name in corpus.broken:
        assert sum(f"/{printable(name)}:" in line for line in failure_lines) == 1, name
    assert f"{len(corpus.broken)} failure(s)" in err and "wrote 3 result(s)" in err
    assert "Traceback" not in err and "ERROR" not in err  # decoder plugins' tracebacks go to the log file
    assert "skipped 1 file(s) that are not images (structured report)" in err
    results = sorted(p.name for p in out.iterdir())
    assert results == sorted(
        ["archive_good_R_CC.json", "archive_caf__L_CC.json", "archive_damaged_description_L_MLO.json"]
    )
    document = json.loads((out / "archive_caf__L_CC.json").read_text())
    assert document["laterality"] == "L" and document["file"].endswith("_L_CC.dcm")
    assert (tmp_path / "report.pdf").stat().st_size > 0 and len(list((tmp_path / "seg").iterdir())) == 3
    assert fingerprint(corpus.root) == before


def test_viewer_lists_each_broken_file_and_shows_the_good_ones(qtbot, corpus, phantom_model, tmp_path):
    from PySide6.QtCore import QSettings

    from mammo_viewer.main_window import MainWindow

    weights = phantom_model
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(weights=str(weights), device="cpu", settings=settings)
    qtbot.addWidget(window)
    window.show()
    before = fingerprint(corpus.root)
    with qtbot.waitSignal(window.study_settled, timeout=60000):
        window.open_path(str(corpus.root))
    problems = [window.problems.item(i).text() for i in range(window.problems.count())]
    for name in corpus.broken:  # every one listed, whole (Qt would cut a raw non-UTF-8 name short)
        assert sum(f"/{printable(name)}: " in line for line in problems) == 1, (name, problems)
    assert any("skipped" in line and "structured report" in line for line in problems)
    assert window.problems_dock.isVisible()
    titles = sorted(v.title for v in window.views if v.isVisible() and v.key)
    assert titles == ["L CC", "L MLO", "R CC"]
    # The slot of a film that could not be decoded says why, on screen (it used to stay black).
    failed_view = next(v for v in window.views if v.isVisible() and v.title == "R MLO")
    assert "cannot decode" in failed_view.subtitle
    top_left = failed_view.grab().toImage().copy(0, 0, 300, 40)
    assert any(top_left.pixelColor(x, y).lightness() > 200 for x in range(0, 300, 2) for y in range(0, 40, 2))
    readable = [image for image in window.study.images.values() if image.error is None]
    assert len(readable) == 3 and all(image.prediction is not None for image in readable)
    assert any(key.endswith(NON_UTF8_NAME) for key in window.study.images)
    # Exports from the viewer read the inputs again; they stay untouched too. (DICOM: three SEGs,
    # the TID 1500 SR, the CAD SR and the report as an Encapsulated PDF.)
    with qtbot.waitSignal(window.export_finished, timeout=60000) as report:
        window.export_report_to(str(tmp_path / "report.pdf"))
    with qtbot.waitSignal(window.export_finished, timeout=60000) as dicom:
        window.export_dicom_to(str(tmp_path / "dicom"))
    assert report.args[0].startswith("Report written") and dicom.args[0].startswith("Wrote 6 DICOM file(s)"), (
        report.args,
        dicom.args,
    )
    window.close()
    assert fingerprint(corpus.root) == before


def test_the_viewers_terminal_shows_no_decoder_output_on_the_corpus(tmp_path, phantom_model):
    """Run as a user runs it (its own process, its decoder process spawned): pydicom's decoder
    tracebacks and the C decoders' own lines go to the log file, not the terminal."""
    import subprocess
    import sys

    corpus = write_corpus(tmp_path / "archive")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_DATA_HOME": str(tmp_path / "data")}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mammo_viewer.app",
            str(corpus.root),
            "--screenshot",
            str(tmp_path / "shot.png"),
            "--weights",
            str(phantom_model),
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    # (Qt's offscreen platform plugin prints one notice of its own, not ours to silence.)
    others = [
        line
        for line in run.stderr.splitlines()
        if not line.startswith("mammo-viewer:") and "does not support propagateSizeHints" not in line
    ]
    assert others == [], others
    logs = list((tmp_path / "data").rglob("mammo-viewer.log"))
    assert logs and "Error with SIZ marker" in logs[0].read_text(errors="replace")  # openjpeg's words, kept in the log
