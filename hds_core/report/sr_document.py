"""The document around a structured report's content tree: patient and study copied from the
analysed images, the series and instance, the evidence (every image the report is about), the
equipment, completion and verification. Shared by the CAD SR and the reader's report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from .. import __version__
from ..text import printable
from .dicom_objects import COPIED_TYPE2, DicomExportError, _check_target, _save, _source
from .sr_tree import person_name

_PATIENT_AND_STUDY = (*COPIED_TYPE2, "StudyInstanceUID", "IssuerOfPatientID")


def write_sr(items, out: Path, *, force: bool, kind: str, wrong_study, build) -> Path:
    """One SR at ``out`` from the analysed ``items``: the target checked (never over an input
    or an existing file without ``force``), the sources' headers read, ``wrong_study(study UIDs)``
    asked why they cannot go in one report (None: they can), ``build(sources)`` made into the
    dataset (whatever it raises becomes a failure naming ``out`` and ``kind``), saved atomically."""
    _check_target(out, force, [item.path for item in items])
    sources = [_source(item.path, out) for item in items]
    refused = wrong_study({str(s.get("StudyInstanceUID", "")) for s in sources})
    if refused:
        raise DicomExportError(f"{out}: {refused}")
    try:
        dataset = build(sources)
    except DicomExportError:
        raise
    except Exception as exc:  # noqa: BLE001 - a source header built to break a writer: named, not raised
        raise DicomExportError(f"{printable(out)}: cannot build the {kind}: {exc}") from None
    _save(dataset, out)
    return out


def character_set(ds: Dataset) -> str:
    """Latin-1 where every text holds in it, else UTF-8: readers that check values (DCMTK's
    dsrdump) do not check UTF-8 text and warn that they cannot."""
    for element in ds.iterall():
        values = element.value if isinstance(element.value, (list, tuple)) else [element.value]
        for value in values:
            if isinstance(value, str) or element.VR == "PN":
                try:
                    str(value).encode("latin-1")
                except UnicodeEncodeError:
                    return "ISO_IR 192"
    return "ISO_IR 100"


def evidence(sources: Sequence[Dataset]) -> list[Dataset]:
    """Current Requested Procedure Evidence: the images, grouped by study and series."""
    studies: dict[str, dict[str, list[Dataset]]] = {}
    for source in sources:
        series = studies.setdefault(str(source.StudyInstanceUID), {}).setdefault(str(source.SeriesInstanceUID), [])
        reference = Dataset()
        reference.ReferencedSOPClassUID = str(source.SOPClassUID)
        reference.ReferencedSOPInstanceUID = str(source.SOPInstanceUID)
        if all(str(r.ReferencedSOPInstanceUID) != reference.ReferencedSOPInstanceUID for r in series):
            series.append(reference)
    items = []
    for study, series_of in studies.items():
        item = Dataset()
        item.StudyInstanceUID = study
        item.ReferencedSeriesSequence = []
        for series, references in series_of.items():
            entry = Dataset()
            entry.SeriesInstanceUID = series
            entry.ReferencedSOPSequence = references
            item.ReferencedSeriesSequence.append(entry)
        items.append(item)
    return items


def document(
    sources: Sequence[Dataset],
    root: Dataset,
    *,
    sop_class: str,
    series_uid: str,
    sop_uid: str,
    series_number: int,
    series_description: str,
    manufacturer: str,
    model_name: str,
    when: dt.datetime,
    verified_by: tuple[str, dt.datetime] | None = None,
    completion: str = "COMPLETE",
    completion_note: str | None = None,
    predecessor: Dataset | None = None,
) -> Dataset:
    """A Part 10 SR dataset holding ``root`` (a CONTAINER item with no relationship).
    ``verified_by``: (observer's name, when signed) for a signed report; ``predecessor``: the
    earlier version this one amends (its Predecessor Documents Sequence item)."""
    first = sources[0]
    ds = Dataset()
    for keyword in _PATIENT_AND_STUDY:
        if keyword in first:
            try:
                setattr(ds, keyword, first.get(keyword))
            except Exception:  # noqa: BLE001 - a damaged value is left empty (Type 2), never a crash
                setattr(ds, keyword, "")
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.Modality = "SR"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.SeriesDescription = series_description[:64]
    ds.ReferencedPerformedProcedureStepSequence = []
    ds.Manufacturer = manufacturer
    ds.ManufacturerModelName = model_name[:64]
    ds.SoftwareVersions = __version__
    ds.InstanceNumber = 1
    ds.ContentDate = when.strftime("%Y%m%d")
    ds.ContentTime = when.strftime("%H%M%S")
    ds.InstanceCreationDate = ds.ContentDate
    ds.InstanceCreationTime = ds.ContentTime
    ds.CompletionFlag = completion
    if completion_note:
        ds.CompletionFlagDescription = completion_note[:64]
    if verified_by is None:
        ds.VerificationFlag = "UNVERIFIED"
    else:
        name, signed = verified_by
        ds.VerificationFlag = "VERIFIED"
        observer = Dataset()
        observer.VerifyingObserverName = person_name(name)
        observer.VerifyingOrganization = "-"
        observer.VerificationDateTime = signed.strftime("%Y%m%d%H%M%S")
        observer.VerifyingObserverIdentificationCodeSequence = []
        ds.VerifyingObserverSequence = [observer]
    if predecessor is not None:
        ds.PredecessorDocumentsSequence = [predecessor]
    ds.PerformedProcedureCodeSequence = []
    ds.CurrentRequestedProcedureEvidenceSequence = evidence(sources)
    for keyword in ("ValueType", "ConceptNameCodeSequence", "ContinuityOfContent", "ContentTemplateSequence"):
        if keyword in root:
            setattr(ds, keyword, root.get(keyword))
    ds.ContentSequence = root.ContentSequence
    ds.SpecificCharacterSet = character_set(ds)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds
