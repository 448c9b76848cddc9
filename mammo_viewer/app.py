"""mammo-viewer entry point. For now a window that opens a file or folder and reports what
the engine's reader found; the reading workstation replaces it."""

from __future__ import annotations

import argparse
import sys

from . import __version__


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mammo-viewer", description="Mammography reading workstation with the HDS engine.")
    p.add_argument("path", nargs="?", help="a DICOM folder or a mammogram file (default: the bundled demo study)")
    p.add_argument("--version", action="version", version=f"mammo-viewer {__version__}")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow()
    from resources import demo_study

    path = args.path or demo_study()
    if path:
        window.open_path(str(path))
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
