"""The app and the commands never touch the network: every Python socket connection is
refused while the CLIs run and the viewer opens, analyses and exports a study."""

import socket

import pytest
from PySide6.QtCore import QSettings

import resources
from hds_core.eval.cli import main as eval_main
from mammo_viewer.headless import main as predict_main
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
    assert (
        predict_main(
            [
                str(resources.demo_study()),
                "--weights",
                str(weights),
                "--out",
                str(out / "json"),
                "--pdf",
                str(out / "r.pdf"),
                "--seg-dir",
                str(out / "seg"),
                "--sr-dir",
                str(out / "sr"),
            ]
        )
        == 0
    )
    assert eval_main(["--dataset", f"folder:{phantom_dataset}", "--weights", str(weights), "--val-split"]) == 0
    window = MainWindow(
        weights=str(weights), device="cpu", settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    )
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.study_settled, timeout=60000):
        window.open_path(str(resources.demo_study()))
    with qtbot.waitSignal(window.export_finished, timeout=60000):
        window.export_report_to(str(out / "viewer.pdf"))
    window.close()
    assert no_network == []


GUARD = r"""
# Loaded by every Python process of the test (PYTHONPATH), the viewer's spawned decoder
# process too: record this process, refuse and record every connection attempt.
import os, socket
_LOG = os.environ["HDS_NETWORK_GUARD_LOG"]
with open(_LOG, "a") as _handle:
    _handle.write(f"guard {os.getpid()}\n")
def _refuse(*args, **kwargs):
    with open(_LOG, "a") as handle:
        handle.write(f"attempt {os.getpid()} {args[1:] or args}\n")
    raise OSError("network access attempted")
socket.socket.connect = socket.socket.connect_ex = _refuse
socket.create_connection = socket.getaddrinfo = _refuse
"""


def test_no_process_of_the_viewer_connects_its_decoder_process_included(phantom_model, tmp_path):
    import os
    import subprocess
    import sys

    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD)
    log = tmp_path / "network.log"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "HDS_NETWORK_GUARD_LOG": str(log),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(guard), os.environ.get("PYTHONPATH")])),
    }
    # The guard is live in a process started this way: an attempt is seen and refused.
    probe = subprocess.run(
        [sys.executable, "-c", "import socket; socket.create_connection(('example.org', 80))"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode != 0 and "network access attempted" in probe.stderr
    assert sum(line.startswith("attempt") for line in log.read_text().splitlines()) == 1
    log.write_text("")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mammo_viewer.app",
            str(resources.demo_study()),
            "--screenshot",
            str(tmp_path / "shot.png"),
            "--weights",
            str(phantom_model),
            "--device",
            "cpu",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    lines = log.read_text().splitlines()
    guarded = {line.split()[1] for line in lines if line.startswith("guard")}
    assert len(guarded) >= 2, lines  # the viewer and its decoder process
    assert not [line for line in lines if line.startswith("attempt")], lines
