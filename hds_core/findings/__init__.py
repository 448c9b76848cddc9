"""The results the engine produces and the reports consume, below both: one image's
:class:`Prediction`, its lesions at any threshold, and which view of which breast it is."""

from .lesions import MIN_LESION_AREA_MM2, Lesion, find_lesions, lesion_mask, min_region_pixels
from .prediction import Prediction
from .views import BOTH_BREASTS, THIS_IMAGE, ViewKey

__all__ = [
    "BOTH_BREASTS",
    "MIN_LESION_AREA_MM2",
    "THIS_IMAGE",
    "Lesion",
    "Prediction",
    "ViewKey",
    "find_lesions",
    "lesion_mask",
    "min_region_pixels",
]
