"""The app and the commands never touch the network: every Python socket connection is
refused while the CLIs run and the viewer opens, analyses and exports a study."""

import socket

import pytest
from PySide6.QtCore import QSettings

import resources
from hds_core.eval.cli import main as eval_main
from hds_core.infer.cli import main as predict_main
from mammo_viewer.main_window import MainWindow


@pytest.fixture
def no_network(monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[1:] or args)
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def test_commands_and_viewer_make_no_connection(no_network, phantom_model, phantom_dataset, qtbot, tmp_path):
    weights = phantom_model
    with pytest.raises(OSError):  # the guard is live: a connection attempt is seen and refused
        socket.create_connection(("example.org", 80))
    assert len(no_network) == 1
    no_network.clear()
    out = tmp_path / "out"
    assert predict_main([str(resources.demo_study()), "--weights", str(weights), "--out", str(out / "json"),
                         "--pdf", str(out / "r.pdf"), "--seg-dir", str(out / "seg"), "--sr-dir", str(out / "sr")]) == 0
    assert eval_main(["--dataset", f"folder:{phantom_dataset}", "--weights", str(weights), "--val-split"]) == 0
    window = MainWindow(weights=str(weights), device="cpu",
                        settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.study_settled, timeout=60000):
        window.open_path(str(resources.demo_study()))
    with qtbot.waitSignal(window.export_finished, timeout=60000):
        window.export_report_to(str(out / "viewer.pdf"))
    window.close()
    assert no_network == []
