"""Privacy: no patient name, ID, birth date or accession number in logs, terminal output or
error messages; with patient details hidden, screenshots and reports do not depend on them
at all. (No pickle: tests/nn_train/test_weights.py; no network: tests/project/test_no_network.py.)"""

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from synthetic import phantom, write_dicom

from mammo_viewer.headless import main as predict_main

# Writing the test files with an invalid birth date makes pydicom warn here, on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR DA:UserWarning")

# An invalid birth date (DA is YYYYMMDD) makes pydicom's validation warn with the value in
# the message: the entry points must keep such messages out of logs and terminals.
PATIENTS = {
    "A": {
        "PatientName": "Leakname^Secret",
        "PatientID": "LEAKID12345",
        "PatientBirthDate": "1960-01-02",
        "AccessionNumber": "LEAKACC99",
    },
    "B": {
        "PatientName": "Otherperson^Wholly",
        "PatientID": "OTHERID777",
        "PatientBirthDate": "1971-05-06",
        "AccessionNumber": "OTHERACC11",
    },
}
UIDS = {"StudyInstanceUID": "1.2.826.0.1.3680043.8.498.71", "SeriesInstanceUID": "1.2.826.0.1.3680043.8.498.72"}


def phi_words(who: str) -> list[str]:
    tags = PATIENTS[who]
    return [
        *tags["PatientName"].split("^"),
        tags["PatientID"],
        tags["PatientBirthDate"],
        "19600102",
        tags["AccessionNumber"],
    ]


def study_of(who: str, folder: Path) -> Path:
    """Two films and one cut-off file of patient ``who``; file names carry no PHI. The pixels,
    UIDs and file names are the same for both patients: only the identity differs."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, side in enumerate("RL"):
        pixels, _ = phantom((256, 192), seed=400 + i, chest_wall="left" if side == "R" else "right")
        write_dicom(
            folder / f"{side}_MLO.dcm",
            pixels,
            ImageLaterality=side,
            ViewPosition="MLO",
            ImagerPixelSpacing=[0.4, 0.4],
            PatientOrientation=["A", "R"] if side == "R" else ["P", "L"],
            SOPInstanceUID=f"1.2.826.0.1.3680043.8.498.8{i}",
            **UIDS,
            **PATIENTS[who],
        )
    data = (folder / "R_MLO.dcm").read_bytes()
    (folder / "cut.dcm").write_bytes(data[: len(data) // 2])
    return folder


def assert_no_phi(text: str, who: str = "A") -> None:
    leaked = [word for word in phi_words(who) if word.lower() in text.lower()]
    assert not leaked, f"patient details in the output: {leaked}"


def test_hds_predict_output_and_logs_carry_no_patient_details(phantom_model, tmp_path, capsys):
    study = study_of("A", tmp_path / "study")
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Keep(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    logging.captureWarnings(True)
    try:
        code = predict_main(
            [
                str(study),
                "--out",
                str(tmp_path / "out"),
                "--weights",
                str(phantom_model),
                "--pdf",
                str(tmp_path / "report.pdf"),
            ]
        )
    finally:
        logging.captureWarnings(False)
        root.removeHandler(handler)
    output = capsys.readouterr()
    assert code == 1 and "cut.dcm" in output.err and (tmp_path / "report.pdf").exists()
    assert_no_phi(output.out + output.err + "\n".join(records))
    # The identity stays where it belongs: in the (not anonymised) report.
    assert "LEAKID12345" in pdf_text(tmp_path / "report.pdf")


def pdf_text(path: Path) -> str:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(path))
    try:
        return "".join(page.get_textpage().get_text_range() for page in document) + str(document.get_metadata_dict())
    finally:
        document.close()


def screenshot(weights: Path, study: Path, out: Path, data_home: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_DATA_HOME": str(data_home)}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mammo_viewer.app",
            str(study),
            "--screenshot",
            str(out),
            "--weights",
            str(weights),
            "--device",
            "cpu",
            "--threshold",
            "0.5",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0 and out.exists(), run.stderr[-2000:]
    return run


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_hidden_patient_details_change_no_pixel_of_a_screenshot_and_reach_no_log(phantom_model, tmp_path):
    weights = phantom_model
    shots = {}
    for who in "AB":
        study = study_of(who, tmp_path / "study")  # same paths and pixels for both: B's files replace A's
        for mode in ("hidden", "shown"):
            out = tmp_path / f"{who}-{mode}.png"
            run = screenshot(weights, study, out, tmp_path / "data", *(["--hide-phi"] if mode == "hidden" else []))
            shots[who, mode] = pixels(out)
            assert_no_phi(run.stdout + run.stderr, who)
    # Shown, the name is on screen (the test can tell); hidden, not one pixel depends on it.
    assert not np.array_equal(shots["A", "shown"], shots["B", "shown"])
    assert np.array_equal(shots["A", "hidden"], shots["B", "hidden"])
    logs = list((tmp_path / "data").rglob("mammo-viewer.log"))
    assert logs and "cut.dcm" in logs[0].read_text()  # the log holds the failure ...
    for who in "AB":
        assert_no_phi(logs[0].read_text(), who)  # ... and no patient's details


@pytest.mark.usefixtures("qtbot")
def test_reports_exported_with_details_hidden_carry_none(phantom_model, qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from mammo_viewer.main_window import MainWindow

    window = MainWindow(
        weights=str(phantom_model),
        device="cpu",
        settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
    )
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.study_settled, timeout=60000):
        window.open_path(str(study_of("A", tmp_path / "study")))
    window.phi_action.setChecked(True)
    assert_no_phi(window.patient_text_on_screen())
    out = tmp_path / "report.pdf"
    with qtbot.waitSignal(window.export_finished, timeout=60000) as blocker:
        window.export_report_to(str(out))
    assert "Report written" in blocker.args[0]
    assert_no_phi(pdf_text(out))
    assert_no_phi(out.read_bytes().decode("latin-1"))  # nothing hidden in the file's bytes either
    window.close()
