"""Content items of a DICOM structured report, built by hand with pydicom: the templates we
write (TID 4000 Mammography CAD, TID 4200 Breast Imaging Report) are not among those
highdicom builds (it writes the TID 1500 family only). Each function returns one item; its
children are passed in, in the order the template lists them. ``dciodvfy`` and DCMTK's
``dsrdump`` check what these make (tests/reports/test_cad_sr.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from pydicom.dataset import Dataset
from pydicom.sr.coding import Code

from ..text import printable

# The longest a UT/TEXT value may be is far beyond anything we write; a Code Meaning (LO) is 64.
MEANING_MAX = 64


def code(value: Code | tuple[str, str, str]) -> Dataset:
    """A code sequence item from a pydicom Code (or a (value, scheme, meaning) triple)."""
    value, scheme, meaning = (value.value, value.scheme_designator, value.meaning) if isinstance(value, Code) else value
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    # pydicom's meanings carry a zero-width space where the standard breaks a line ("Impression/​Recommendation").
    item.CodeMeaning = meaning.replace("\u200b", "")[:MEANING_MAX]
    return item


def _item(relationship: str | None, value_type: str, concept, children: Iterable[Dataset] = ()) -> Dataset:
    item = Dataset()
    if relationship is not None:
        item.RelationshipType = relationship
    item.ValueType = value_type
    if concept is not None:
        item.ConceptNameCodeSequence = [code(concept)]
    kids = [child for child in children if child is not None]
    if kids:
        item.ContentSequence = kids
    return item


def container(relationship: str | None, concept, children: Iterable[Dataset] = (), template: str | None = None):
    item = _item(relationship, "CONTAINER", concept, children)
    item.ContinuityOfContent = "SEPARATE"
    if template is not None:
        identifier = Dataset()
        identifier.MappingResource = "DCMR"
        identifier.TemplateIdentifier = template
        item.ContentTemplateSequence = [identifier]
    return item


def coded(relationship: str, concept, value, children: Iterable[Dataset] = ()) -> Dataset:
    item = _item(relationship, "CODE", concept, children)
    item.ConceptCodeSequence = [code(value)]
    return item


def text(relationship: str, concept, value: str, children: Iterable[Dataset] = ()) -> Dataset:
    item = _item(relationship, "TEXT", concept, children)
    item.TextValue = printable(value) or "-"
    return item


def number(relationship: str, concept, value: float, unit, children: Iterable[Dataset] = ()) -> Dataset:
    item = _item(relationship, "NUM", concept, children)
    measured = Dataset()
    measured.NumericValue = f"{float(value):.6g}"[:16]
    measured.MeasurementUnitsCodeSequence = [code(unit)]
    item.MeasuredValueSequence = [measured]
    return item


def date(relationship: str, concept, value: str) -> Dataset:
    item = _item(relationship, "DATE", concept)
    item.Date = value
    return item


def datetime(relationship: str, concept, value: dt.datetime) -> Dataset:
    item = _item(relationship, "DATETIME", concept)
    item.DateTime = value.strftime("%Y%m%d%H%M%S")
    return item


def person_name(name: str) -> str:
    """A name as typed ("Ada Example") in DICOM's form ("Example^Ada"): the last word the
    family name, the rest given names; a name already in DICOM's form is kept."""
    name = printable(name).strip()
    if "^" in name or not name:
        return name[:64] or "unknown"
    words = name.split()
    prefix = words.pop(0) if len(words) > 1 and words[0].rstrip(".").lower() in _TITLES else ""
    *given, family = words
    return f"{family}^{' '.join(given)}^^{prefix}".rstrip("^")[:64]


_TITLES = {"dr", "prof", "mr", "mrs", "ms", "mx"}


def person(relationship: str, concept, name: str) -> Dataset:
    item = _item(relationship, "PNAME", concept)
    item.PersonName = person_name(name)
    return item


def uid(relationship: str, concept, value: str) -> Dataset:
    item = _item(relationship, "UIDREF", concept)
    item.UID = value
    return item


def image(
    relationship: str, concept, sop_class: str, sop_instance: str, frames: Sequence[int] = (), children=()
) -> Dataset:
    """A reference to an image (``frames``: 1-based frame numbers of a multi-frame image)."""
    item = _item(relationship, "IMAGE", concept, children)
    reference = Dataset()
    reference.ReferencedSOPClassUID = sop_class
    reference.ReferencedSOPInstanceUID = sop_instance
    if frames:
        reference.ReferencedFrameNumber = [int(frame) for frame in frames] if len(frames) > 1 else int(frames[0])
    item.ReferencedSOPSequence = [reference]
    return item


def region(relationship: str, concept, points_xy, children: Iterable[Dataset] = ()) -> Dataset:
    """A closed outline in an image's pixels (POLYLINE, first point repeated last), the image
    given as its child (SELECTED FROM)."""
    item = _item(relationship, "SCOORD", concept, children)
    item.GraphicType = "POLYLINE"
    # DICOM's pixel coordinates put the centre of the first pixel at (0.5, 0.5).
    flat = [round(float(v) + 0.5, 2) for xy in points_xy for v in xy]
    item.GraphicData = flat
    return item


def point(relationship: str, concept, xy, children: Iterable[Dataset] = ()) -> Dataset:
    item = _item(relationship, "SCOORD", concept, children)
    item.GraphicType = "POINT"
    item.GraphicData = [round(float(xy[0]) + 0.5, 2), round(float(xy[1]) + 0.5, 2)]
    return item
