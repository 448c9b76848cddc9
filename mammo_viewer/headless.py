"""``hds-predict`` and ``hds-batch`` as installed: the engine's headless command (``hds_core.commands.predict``)
with the viewer's PDF writer, which draws the same pages as the viewer's Export with Qt
(offscreen; imported only when ``--pdf`` is given). The engine itself knows nothing of the
viewer: the viewer hands it the writer."""

from __future__ import annotations

import sys
from pathlib import Path


def write_pdf_report(*args, **kwargs) -> Path:
    from .reporting.report_pdf import write_report

    return write_report(*args, **kwargs)


def main(argv: list[str] | None = None) -> int:
    from hds_core.commands.predict import main as predict

    return predict(argv, pdf_writer=write_pdf_report)


def batch_main(argv: list[str] | None = None) -> int:
    """``hds-batch`` as installed: its workers draw PDFs with the same writer."""
    from hds_core.batch.cli import main as batch

    return batch(argv, pdf_writer=write_pdf_report)


if __name__ == "__main__":
    sys.exit(main())
