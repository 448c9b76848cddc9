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


def test_no_path_opens_the_demo_study(qtbot, monkeypatch):
    from PySide6.QtWidgets import QApplication

    from mammo_viewer import app

    shown = []
    monkeypatch.setattr(QApplication, "exec", lambda self: 0)
    import mammo_viewer.main_window as main_window

    original = main_window.MainWindow.open_path
    monkeypatch.setattr(main_window.MainWindow, "open_path", lambda self, path: (shown.append(path), original(self, path)))
    assert app.main([]) == 0
    assert shown and shown[0].endswith("demo")
