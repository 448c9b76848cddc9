"""What the node stores and in which encodings: mammograms and the objects that travel with
them in a study (our own results among them). Anything else is refused at negotiation."""

from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

DIGITAL_MAMMOGRAPHY_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
DIGITAL_MAMMOGRAPHY_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.2.1"
BREAST_TOMOSYNTHESIS = "1.2.840.10008.5.1.4.1.1.13.1.3"
BREAST_PROJECTION_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.13.1.4"
BREAST_PROJECTION_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.13.1.5"
SEGMENTATION = "1.2.840.10008.5.1.4.1.1.66.4"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
ENHANCED_SR = "1.2.840.10008.5.1.4.1.1.88.22"
MAMMOGRAPHY_CAD_SR = "1.2.840.10008.5.1.4.1.1.88.50"
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
GRAYSCALE_PRESENTATION_STATE = "1.2.840.10008.5.1.4.1.1.11.1"
KEY_OBJECT_SELECTION = "1.2.840.10008.5.1.4.1.1.88.59"

IMAGES = (
    DIGITAL_MAMMOGRAPHY_FOR_PRESENTATION,
    DIGITAL_MAMMOGRAPHY_FOR_PROCESSING,
    BREAST_TOMOSYNTHESIS,
    BREAST_PROJECTION_FOR_PRESENTATION,
    BREAST_PROJECTION_FOR_PROCESSING,
)
STORED_CLASSES = (
    *IMAGES,
    SEGMENTATION,
    COMPREHENSIVE_SR,
    ENHANCED_SR,
    MAMMOGRAPHY_CAD_SR,
    ENCAPSULATED_PDF,
    GRAYSCALE_PRESENTATION_STATE,
    KEY_OBJECT_SELECTION,
)
# Each offered as a context of its own, so a sender never has to transcode (a JPEG 2000
# mammogram arrives as it was acquired).
TRANSFER_SYNTAXES = (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEG2000,
    JPEGLSLossless,
    JPEGLSNearLossless,
    JPEGLosslessSV1,
    JPEGBaseline8Bit,
    RLELossless,
    HTJ2KLossless,
    DeflatedExplicitVRLittleEndian,
)
# Objects without pixel data (reports, presentation states, PDFs) travel uncompressed: offering
# them every image syntax only used up presentation contexts (a C-GET may propose 128 at most,
# and the images with the DBT classes need 55 of them).
PLAIN_SYNTAXES = (ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian)


def syntaxes_for(sop_class: str) -> tuple:
    """The transfer syntaxes offered or accepted for ``sop_class``."""
    return TRANSFER_SYNTAXES if sop_class in (*IMAGES, SEGMENTATION) else PLAIN_SYNTAXES
