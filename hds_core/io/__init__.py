"""Reading mammograms: one call for DICOM, PGM, PNG and TIFF; the DICOM grayscale pipeline
as pure functions; folder scanning into patient -> study -> series."""

from .errors import MammoReadError
from .grayscale import VoiPreset
from .image import ASSUMED_SPACING_MM, MammoImage, MammoMetadata
from .orientation import breast_mask, chest_wall_on_right
from .reader import read_image, read_preview, sniff_format
from .scan import ScanResult, scan_folder

__all__ = [
    "ASSUMED_SPACING_MM",
    "MammoImage",
    "MammoMetadata",
    "MammoReadError",
    "ScanResult",
    "VoiPreset",
    "breast_mask",
    "chest_wall_on_right",
    "read_image",
    "read_preview",
    "scan_folder",
    "sniff_format",
]
