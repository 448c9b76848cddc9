"""Handing results on: DICOM Segmentation and TID 1500 structured reports (Qt-free), and
the one export of them all (export.py). The PDF report is drawn by the viewer's Qt code,
handed to the export as a writer, and shares the report content (content.py).

Names are imported on first use (PEP 562): highdicom takes 0.6 s to import, which the
viewer's window and a command's --help must not wait for."""

from importlib import import_module

_HOME = {
    "AnalysedImage": "dicom_objects",
    "DicomExportError": "dicom_objects",
    "write_segmentation": "dicom_objects",
    "write_structured_report": "dicom_objects",
}

__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value
    return value
