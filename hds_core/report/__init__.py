"""Handing results on: DICOM Segmentation and TID 1500 structured reports (Qt-free), and
the one export of them all (export.py). The PDF report is drawn by the viewer's Qt code,
handed to the export as a writer, and shares the report content (content.py)."""

from .dicom_objects import AnalysedImage, DicomExportError, write_segmentation, write_structured_report

__all__ = ["AnalysedImage", "DicomExportError", "write_segmentation", "write_structured_report"]
