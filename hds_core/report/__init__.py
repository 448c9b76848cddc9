"""Handing results on: DICOM Segmentation and TID 1500 structured reports (Qt-free).
The PDF report is drawn by the viewer's Qt code and shares the report content."""

from .dicom_objects import AnalysedImage, DicomExportError, write_segmentation, write_structured_report

__all__ = ["AnalysedImage", "DicomExportError", "write_segmentation", "write_structured_report"]
