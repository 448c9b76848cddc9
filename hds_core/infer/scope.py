"""What the model may be run on: mammograms only.

The network was trained on mammograms; on a CT slice it still returns a map and a score
(pydicom's CT_small.dcm scored 0.976 with one "lesion"), which would be a mark without
meaning. DICOM files are analysed when their Modality is MG, or is missing and their SOP class
is a mammography (or breast projection) class; a Modality that names anything else is
refused whatever the class. Anything else is displayed but not analysed. Raster files
(PNG, PGM, TIFF) carry no modality: opening one is the user's statement that it is a
mammogram, as with the research datasets, and the pixels must then show a breast
(``check_breast``), as they must for any file."""

from __future__ import annotations

from pathlib import Path

from pydicom import uid as dicom_uid

from ..io import MammoMetadata
from ..io.appearance import Appearance, no_breast
from ..io.tomo import projection_kind
from ..text import printable

MAMMOGRAPHY_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.1.2",  # Digital Mammography X-Ray Image, For Presentation
    "1.2.840.10008.5.1.4.1.1.1.2.1",  # Digital Mammography X-Ray Image, For Processing
    "1.2.840.10008.5.1.4.1.1.13.1.4",  # Breast Projection X-Ray Image, For Presentation
    "1.2.840.10008.5.1.4.1.1.13.1.5",  # Breast Projection X-Ray Image, For Processing
    "1.2.840.10008.5.1.4.1.1.13.1.3",  # Breast Tomosynthesis Image (analysed slab by slab: infer/stack.py)
}


class NotAMammogramError(Exception):
    """The image reads, but is not a mammogram: the AI is not run on it."""

    def __init__(self, path: str | Path | None, reason: str):
        self.path = Path(path) if path else None
        self.reason = reason
        super().__init__(f"{printable(self.path) if self.path else 'image'}: not a mammogram ({reason}): AI not run")


# The smallest side a mammogram can have: a film at 1 mm per pixel is still 180 pixels
# across; below this the network would score a handful of pixels as a breast.
MIN_SIDE_PX = 32


def not_a_mammogram(metadata: MammoMetadata) -> str | None:
    """Why the AI must not run on this image, or None when it may."""
    modality = (metadata.modality or "").strip().upper()
    mammography_class = (metadata.sop_class_uid or "") in MAMMOGRAPHY_SOP_CLASSES
    # A Modality that says otherwise wins over the class: a CT slice relabelled with the
    # mammography class (Modality still CT) scored 0.91 with a 1,632 mm² "lesion".
    if metadata.file_format == "DICOM" and (modality not in ("MG", "") or (not modality and not mammography_class)):
        sop = dicom_uid.UID(metadata.sop_class_uid) if metadata.sop_class_uid else None
        kind = sop.name if sop is not None and sop.name != str(sop) else "unknown SOP class"
        return f"Modality {printable(modality) or 'missing'}, {kind}"
    projection = projection_kind(metadata.sop_class_uid)
    if projection:  # the acquisition's raw projections: the reconstructed stack is what is read
        return f"{projection}: listed, not analysed"
    if min(metadata.rows, metadata.columns) < MIN_SIDE_PX:
        return f"{metadata.columns}×{metadata.rows} pixels, too small for a mammogram (at least {MIN_SIDE_PX} per side)"
    return None


def check_mammogram(metadata: MammoMetadata) -> None:
    reason = not_a_mammogram(metadata)
    if reason:
        raise NotAMammogramError(metadata.path, reason)


def check_breast(metadata: MammoMetadata, appearance: Appearance) -> None:
    """The pixels' own check (``io.appearance.no_breast``): a raster carries no modality, and a
    drawing of grey lines and a circle scored 0.549 with a "lesion" before it existed."""
    reason = no_breast(appearance)
    if reason:
        raise NotAMammogramError(metadata.path, reason)
