"""The viewer stub opens a folder through the engine's scanner (offscreen)."""

from mammo_viewer.app import parser
from mammo_viewer.main_window import MainWindow
from synthetic import phantom, write_dicom


def test_window_summarises_a_folder(qtbot, tmp_path):
    pixels, _ = phantom((64, 64))
    write_dicom(tmp_path / "a.dcm", pixels)
    (tmp_path / "bad.dcm").write_bytes(b"")
    window = MainWindow()
    qtbot.addWidget(window)
    window.open_path(str(tmp_path))
    text = window.summary.text()
    assert "1 image(s)" in text and "bad.dcm" in text and "empty" in text


def test_version_flag(capsys):
    import pytest

    with pytest.raises(SystemExit) as info:
        parser().parse_args(["--version"])
    assert info.value.code == 0 and "mammo-viewer" in capsys.readouterr().out
