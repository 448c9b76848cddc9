"""The PDF report as a DICOM Encapsulated PDF in the analysed study, so that it can go back to
the PACS with the SEG and SRs (``hds-predict --send-to NODE --send-pdf``, the viewer's DICOM
export and send). Patient and study come from one of the study's films; the series and the
instance UIDs derive from what the report is made of, so the same report sent again is one
object."""

from __future__ import annotations

import datetime
from pathlib import Path

from .. import __version__
from ..safe_write import atomic_write
from .dicom_objects import MANUFACTURER, DicomExportError, _check_target, _source, derived_uid

ENCAPSULATED_PDF_STORAGE = "1.2.840.10008.5.1.4.1.1.104.1"
_PATIENT_AND_STUDY = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
)


def write_encapsulated_pdf(pdf: Path, film: Path, out: Path, *, made_of: tuple = (), force: bool = False) -> Path:
    """``pdf`` wrapped as an Encapsulated PDF in the study of ``film`` (a DICOM file), at ``out``.
    ``made_of``: what the report was made of (images, weights, threshold, reading version), for
    its UIDs; without it, the document's own bytes."""
    import hashlib

    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    _check_target(Path(out), force, [Path(film)])
    # The film's header through the reader's own parser: damaged elements are left out, and
    # the identifiers an object made from it needs are checked (a message naming the fault).
    source = _source(Path(film), Path(out))
    try:
        document = Path(pdf).read_bytes()
    except OSError as exc:
        raise DicomExportError(f"{out}: Encapsulated PDF not written: {exc.strerror or exc}") from None
    now = datetime.datetime.now()
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"  # the values are pydicom's decoded text: written as UTF-8
    for keyword in _PATIENT_AND_STUDY:
        try:
            setattr(ds, keyword, source.get(keyword, ""))
        except Exception:  # noqa: BLE001 - a value that does not convert is left empty (Type 2)
            setattr(ds, keyword, "")
    ds.SOPClassUID = ENCAPSULATED_PDF_STORAGE
    made_of = (str(source.get("StudyInstanceUID", "")), *(made_of or (hashlib.sha256(document).hexdigest(),)))
    ds.SOPInstanceUID = derived_uid("report pdf", *made_of)
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = derived_uid(
        "report pdf series", str(source.get("StudyInstanceUID", "")), str(source.get("PatientID", ""))
    )
    ds.SeriesNumber = 9003
    ds.SeriesDescription = "AI mass detection report (PDF)"
    ds.Manufacturer = MANUFACTURER
    ds.SoftwareVersions = __version__
    ds.ConversionType = "WSD"  # workstation
    ds.InstanceNumber = 1
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    ds.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    ds.BurnedInAnnotation = "YES"  # the report prints patient and study
    ds.DocumentTitle = "AI mass detection report"
    ds.ConceptNameCodeSequence = []
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = document + (b"\0" if len(document) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(document)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    try:
        atomic_write(out, lambda tmp: ds.save_as(tmp, enforce_file_format=True))
    except OSError as exc:
        raise DicomExportError(f"{out}: Encapsulated PDF not written: {exc.strerror or exc}") from None
    return out
