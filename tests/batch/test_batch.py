"""hds-batch on a local two-worker Ray (issue 42): a 30-study synthetic archive with a corrupt
file, a drawing that is not a mammogram and two studies sharing a folder. Every study is in the
table exactly once, failures are rows with their reasons, the JSON is hds-predict's to the last
byte, and a run killed (the driver, or a worker) and started again ends the same as a clean run.

Skipped where Ray is not installed (``pip install -e ".[scale]"``); CI installs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import generate_uid
from synthetic import phantom, write_dicom

pytest.importorskip("ray", reason='Ray is not installed: pip install -e ".[scale]"')

from hds_core.batch.records import NOT_A_MAMMOGRAM, OK, read_table, state_folder

STUDIES = 30
RUN_S = 600


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """30 studies of one film each (two of them sharing a folder), plus a corrupt file and a
    drawing: 32 files, 30 + 2 rows."""
    from PIL import Image, ImageDraw

    root = tmp_path_factory.mktemp("archive")
    for number in range(STUDIES):
        folder = root / ("shared" if number in (0, 1) else f"study{number:02d}")
        folder.mkdir(exist_ok=True)
        side = "R" if number % 2 else "L"
        pixels, _ = phantom((160, 128), seed=number, crisp=True, chest_wall="left" if side == "R" else "right")
        write_dicom(
            folder / f"{side}_CC_{number}.dcm",
            pixels,
            StudyInstanceUID=generate_uid(),
            PatientID=f"P{number:03d}",
            ImageLaterality=side,
            ViewPosition="CC",
            ImagerPixelSpacing=[0.4, 0.4],
        )
    (root / "study05" / "corrupt.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\xff\xff" + b"x" * 40)
    drawing = Image.new("L", (600, 750), 128)
    pen = ImageDraw.Draw(drawing)
    for x in range(0, 600, 30):
        pen.line([(x, 0), (x, 750)], fill=90, width=3)
    pen.ellipse([150, 220, 450, 520], outline=220, width=6)
    write_dicom(
        root / "study06" / "drawing.dcm",
        np.asarray(drawing),
        StudyInstanceUID=generate_uid(),
        PatientID="P-DRAWING",
        ImageLaterality="L",
    )
    return root


INSTALLED = "import sys; from mammo_viewer.headless import batch_main; sys.exit(batch_main(sys.argv[1:]))"


def _batch(archive: Path, out: Path, weights: Path, *more: str, installed: bool = False) -> subprocess.Popen:
    """hds-batch in a process of its own (``installed``: as installed, with the viewer's PDF writer)."""
    program = ["-c", INSTALLED] if installed else ["-m", "hds_core.batch.cli"]
    command = [sys.executable, *program, str(archive), "--out", str(out)]
    command += ["--weights", str(weights), "--device", "cpu", "--workers", "2", *more]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "QT_QPA_PLATFORM": "offscreen"}
    # Its own session: the local Ray it starts can be killed with it.
    return subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, start_new_session=True
    )


def _finish(process: subprocess.Popen) -> tuple[int, str]:
    try:
        _, err = process.communicate(timeout=RUN_S)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode, err


def _records(out: Path) -> int:
    folder = state_folder(out) / "studies"
    return len([p for p in folder.glob("*.json") if not p.name.startswith("_")]) if folder.is_dir() else 0


def _outputs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.json"))}


def _table(out: Path) -> list[dict]:
    """The table, in its own order, without the timings (the only column a rerun may change)."""
    return [
        {key: value for key, value in row.items() if key != "seconds"} for row in read_table(out / "results.parquet")
    ]


@pytest.fixture(scope="module")
def clean(archive, tmp_path_factory, phantom_model) -> Path:
    out = tmp_path_factory.mktemp("clean") / "out"
    code, err = _finish(_batch(archive, out, phantom_model))
    assert code == 1, err  # the corrupt file and the drawing are rows that failed
    assert "Traceback" not in err, err
    return out


def test_every_study_once_failures_as_rows_and_hds_predicts_json(clean, archive, phantom_model, tmp_path):
    from hds_core.commands.predict import main as predict

    rows = read_table(clean / "results.parquet")
    assert len(rows) == STUDIES + 2
    good = [row for row in rows if row["status"] == OK]
    assert len(good) == STUDIES and len({row["study_uid"] for row in good}) == STUDIES
    assert len({row["path"] for row in rows if row["path"]}) == len([row for row in rows if row["path"]])
    (drawing,) = [row for row in rows if row["status"] == NOT_A_MAMMOGRAM]
    assert drawing["path"].endswith("drawing.dcm") and "not a mammogram" in drawing["reason"]
    (corrupt,) = [row for row in rows if row["status"] not in (OK, NOT_A_MAMMOGRAM)]
    assert "corrupt.dcm" in corrupt["reason"]
    # The two studies in one folder are two studies, each with its own row and result.
    shared = [row for row in good if "/shared/" in row["path"]]
    assert len(shared) == 2 and shared[0]["study_label"] != shared[1]["study_label"]
    assert all(row["model"] == "intensity-oracle" and row["lesions"] >= 1 for row in good)
    # hds-predict on the same files writes the same JSON, byte for byte.
    single = tmp_path / "single"
    assert predict([str(archive), "--out", str(single), "--weights", str(phantom_model), "--device", "cpu"]) == 1
    assert _outputs(single) == _outputs(clean) and len(_outputs(clean)) == STUDIES


def test_a_killed_driver_then_a_rerun_ends_as_a_clean_run(clean, archive, phantom_model, tmp_path):
    out = tmp_path / "out"
    process = _batch(archive, out, phantom_model)
    deadline = time.monotonic() + RUN_S
    while _records(out) < 8 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert process.poll() is None, "the run ended before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)  # the driver and the Ray it started, all at once
    process.wait()
    # A Ray worker in its own process group may still finish the study it holds: wait until
    # the records stop changing.
    halfway, settled = _records(out), time.monotonic()
    while time.monotonic() - settled < 3:
        time.sleep(0.2)
        if _records(out) != halfway:
            halfway, settled = _records(out), time.monotonic()
    assert 8 <= halfway < STUDIES
    code, err = _finish(_batch(archive, out, phantom_model))
    assert code == 1 and f"{halfway} done already" in err, err
    assert _table(out) == _table(clean)
    assert _outputs(out) == _outputs(clean)


def test_a_worker_killed_mid_run_loses_no_study(clean, archive, phantom_model, tmp_path):
    out = tmp_path / "out"
    process = _batch(archive, out, phantom_model)
    marks = state_folder(out) / "workers"
    deadline = time.monotonic() + RUN_S
    while _records(out) < 4 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    victims = [int(p.name) for p in marks.iterdir()] if marks.is_dir() else []
    assert victims and process.poll() is None
    os.kill(victims[0], signal.SIGKILL)
    code, err = _finish(process)
    assert code == 1, err
    assert _table(out) == _table(clean)
    assert _outputs(out) == _outputs(clean)


def test_dry_run_and_limit(archive, phantom_model, tmp_path):
    out = tmp_path / "out"
    code, err = _finish(_batch(archive, out, phantom_model, "--dry-run"))
    assert code == 0 and err.count("would analyse") == STUDIES + 1 and not (out / "results.parquet").exists()
    code, err = _finish(_batch(archive, out, phantom_model, "--limit", "3"))
    assert "3 to analyse" in err and _records(out) == 3


def test_a_csv_manifest_and_the_studies_reports(archive, phantom_model, tmp_path):
    """A CSV of paths (relative to it) as the manifest, and per study the reports hds-predict
    writes, drawn in the workers: a PDF each (named as hds-predict names them), and the SRs and
    the PDF as DICOM, grouped by study, dciodvfy-clean."""
    import shutil

    import pydicom

    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path\n" + "".join(f"{archive}/study{n:02d}\n" for n in (10, 11, 12)))
    out, sr = tmp_path / "out", tmp_path / "sr"
    pdf = ["--pdf", str(tmp_path / "report.pdf")]
    code, err = _finish(_batch(manifest, out, phantom_model, "--sr-dir", str(sr), *pdf, installed=True))
    assert code == 0, err
    assert len(read_table(out / "results.parquet")) == 3
    pdfs = sorted(tmp_path.glob("report-study1[012]-*.pdf"))
    assert len(pdfs) == 3 and all(p.read_bytes().startswith(b"%PDF") for p in pdfs)
    reports = sorted(sr.glob("*.dcm"))
    assert len(reports) == 9  # per study, the TID 1500 SR, the CAD SR and the PDF as DICOM
    studies = {str(pydicom.dcmread(p, stop_before_pixels=True).StudyInstanceUID) for p in reports}
    assert len(studies) == 3
    if shutil.which("dciodvfy"):
        for path in reports:
            checked = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
            assert not [line for line in checked.stderr.splitlines() if line.startswith("Error")], path


def test_what_is_new_since_the_womans_prior_is_flagged_as_the_viewer_flags_it(phantom_model, tmp_path):
    """The synthetic woman screened three times (tests/woman.py): the mass she gained in her
    last study is new since the study before it, on the right CC only, as the viewer says
    (tests/viewer/test_priors.py); her earlier studies flag nothing."""
    from woman import DATES, write_woman

    woman = write_woman(tmp_path / "woman")
    out = tmp_path / "out"
    code, err = _finish(_batch(woman, out, phantom_model))
    assert code == 0, err
    rows = read_table(out / "results.parquet")
    assert len(rows) == 12
    assert [(r["laterality"], r["view"], r["new_since"]) for r in rows if r["new_since"]] == [("R", "CC", DATES[1])]
