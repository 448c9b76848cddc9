"""The engine never imports Qt (the viewer imports the engine, never the reverse)."""

import subprocess
import sys


def test_importing_hds_core_loads_no_qt():
    code = ("import sys, hds_core, hds_core.io, hds_core.nn, hds_core.losses, hds_core.data, hds_core.infer, "
            "hds_core.eval.evaluate, hds_core.train.loop, hds_core.infer.cli, hds_core.eval.cli, hds_core.train.cli, hds_core.train.export, hds_core.train.cv_export, hds_core.train.model_card, "
            "hds_core.infer.bilateral, hds_core.report, resources; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'PyQt5', 'PyQt6', 'mammo_viewer')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_viewer_logic_modules_are_qt_free():
    # Hanging, study state and screen rendering are tested (and reusable) without Qt.
    code = ("import sys, mammo_viewer.hanging, mammo_viewer.study, mammo_viewer.display; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6')]; print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
