"""Ray is hds-batch's alone (issue 42): opening the viewer's window and running hds-predict
never import it (the import contract in pyproject.toml checks the code; this, what runs)."""

import subprocess
import sys


def test_the_viewer_and_hds_predict_never_import_ray(tmp_path):
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from mammo_viewer.main_window import MainWindow\n"
        "from mammo_viewer.headless import main\n"
        "window = MainWindow(weights=None, device='cpu')\n"
        f"main([{str(tmp_path)!r}, '--out', {str(tmp_path / 'out')!r}])\n"
        "loaded = sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.'))\n"
        "print('RAY', loaded)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert "RAY []" in run.stdout, run.stdout + run.stderr
