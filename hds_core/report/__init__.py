"""Handing results on: DICOM Segmentation and TID 1500 structured reports (Qt-free), and
the one export of them all (export.py). The PDF report is drawn by the viewer's Qt code,
handed to the export as a writer, and shares the report content (content.py).

Names are imported on first use (PEP 562): highdicom takes 0.6 s to import, which the
viewer's window and a command's --help must not wait for."""

from ..lazy import lazy_names

_HOME = {
    "AnalysedImage": "dicom_objects",
    "DicomExportError": "dicom_objects",
    "write_segmentation": "dicom_objects",
    "write_structured_report": "dicom_objects",
}

__all__ = sorted(_HOME)
__getattr__ = lazy_names(__name__, _HOME)
