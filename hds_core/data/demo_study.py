"""Turn mini-MIAS films into a demo study that looks like a real MG export.

Each held-out patient becomes one study of MG "For Presentation" DICOM files, compressed
losslessly (JPEG 2000), with what a real export carries: ImageLaterality (odd film numbers
are right breasts), ViewPosition and ViewCodeSequence (MLO), PatientOrientation,
ImagerPixelSpacing (0.2 mm), window presets, de-identified demo names and UIDs.

PatientOrientation is read from the pixels rather than assumed from laterality, so a film
scanned mirrored would still be described correctly: the row direction is P when the chest
wall is at the right edge, A when it is at the left; the column direction of an MLO is F
plus the breast's side (R: FL, L: FR), which a left-right mirror does not change. (Burned-in
film labels are not trusted: mdb028, a left breast by the database and by its anatomy,
carries a mirrored "R OBL" label.)

UIDs are derived from the patient and film names, so rebuilding gives identical files.

    python -m hds_core.data.demo_study --mias PATH/mini-mias --out resources/demo
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, generate_uid

from .. import __version__
from ..io import read_image
from .minimias import FILM_SIZE, SPACING_MM, load_minimias
from .preprocess import breast_mask, chest_wall_on_right

MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
# Patients kept out of all training and validation for the demo study: two with a
# malignant mass (one circumscribed, one spiculated) and one with two normal films.
DEMO_PATIENTS = ("mias-014", "mias-091", "mias-017")
DEMO_STUDY_DATE = "20260101"


def _uid(*parts: str) -> str:
    return generate_uid(entropy_srcs=["mammo-hds demo study", *parts])


def patient_orientation(pixels: np.ndarray, laterality: str) -> list[str]:
    right_wall = chest_wall_on_right(breast_mask(pixels.astype(np.float32) / max(float(pixels.max()), 1.0)))
    return ["P" if right_wall else "A", "FL" if laterality == "R" else "FR"]


def film_dataset(pixels: np.ndarray, *, refnum: str, patient_id: str, laterality: str, instance: int,
                 spacing_mm: float = SPACING_MM) -> Dataset:
    if pixels.dtype != np.uint8:
        raise ValueError(f"{refnum}: expected an 8-bit film, got {pixels.dtype}")
    demo_id = f"DEMO-{patient_id.split('-')[-1]}"
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = MG_FOR_PRESENTATION
    ds.SOPClassUID = MG_FOR_PRESENTATION
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = _uid(patient_id, refnum, "instance")
    ds.StudyInstanceUID = _uid(patient_id, "study")
    ds.SeriesInstanceUID = _uid(patient_id, "series")
    ds.FrameOfReferenceUID = _uid(patient_id, refnum, "frame")
    ds.PositionReferenceIndicator = ""
    ds.Modality = "MG"
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.Manufacturer = "mammo-hds demo (scanned film)"
    ds.SoftwareVersions = f"mammo-hds {__version__}"
    ds.PatientName = f"Demo^MIAS {patient_id.split('-')[-1]}"
    ds.PatientID = demo_id
    ds.PatientBirthDate = ""
    ds.PatientSex = "F"
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "mini-MIAS research database; demo names and UIDs"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = DEMO_STUDY_DATE
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "090000"
    ds.StudyID = demo_id
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "Demo mammogram (mini-MIAS)"
    ds.SeriesDescription = "MLO"
    ds.SeriesNumber = 1
    ds.InstanceNumber = instance
    ds.BodyPartExamined = "BREAST"
    # What the Digital Mammography X-Ray Image IOD requires of a film (dciodvfy checks it in CI).
    breast = Dataset()
    breast.CodeValue, breast.CodingSchemeDesignator, breast.CodeMeaning = "76752008", "SCT", "Breast"
    ds.AnatomicRegionSequence = Sequence([breast])
    ds.OrganExposed = "BREAST"
    ds.PositionerType = "MAMMOGRAPHIC"
    ds.DetectorType = "FILM"
    ds.AcquisitionContextSequence = Sequence([])
    # Higher stored values are denser tissue (less X-ray intensity), shown brighter.
    ds.PixelIntensityRelationship = "LOG"
    ds.PixelIntensityRelationshipSign = -1
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
    ds.PresentationLUTShape = "IDENTITY"
    ds.ImageLaterality = laterality
    ds.ViewPosition = "MLO"
    view = Dataset()
    view.CodeValue, view.CodingSchemeDesignator, view.CodeMeaning = "399368009", "SCT", "medio-lateral oblique"
    view.ViewModifierCodeSequence = Sequence([])
    ds.ViewCodeSequence = Sequence([view])
    ds.PatientOrientation = patient_orientation(pixels, laterality)
    ds.ImagerPixelSpacing = [spacing_mm, spacing_mm]
    ds.BreastImplantPresent = "NO"
    ds.BurnedInAnnotation = "YES"  # the film labels ("R OBL", "L ML") are part of the scan
    ds.LossyImageCompression = "00"
    ds.ImageComments = f"Scanned film {refnum} of the mini-MIAS database (200 micron), for demonstration only"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    breast = breast_mask(pixels.astype(np.float32) / 255.0)
    low, high = np.percentile(pixels[breast], [1, 99.5]) if breast.any() else (0, 255)
    ds.WindowCenter = [127.5, round(float(low + high) / 2, 1)]
    ds.WindowWidth = [256.0, round(max(float(high - low), 16.0), 1)]
    ds.WindowCenterWidthExplanation = ["FILM", "BREAST"]
    ds.VOILUTFunction = "LINEAR"
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg", generate_instance_uid=False)
    return ds


def write_demo_study(mias_root: str | Path, out: str | Path, patients=DEMO_PATIENTS) -> list[dict]:
    """Write ``out/<DEMO-ID>/<R|L>_MLO.dcm`` per film and ``out/annotations.json`` (the
    database's mass circles in each file's pixel coordinates: x, y from the top left)."""
    out = Path(out)
    cases = [c for c in load_minimias(mias_root) if c.patient_id in set(patients)]
    missing = set(patients) - {c.patient_id for c in cases}
    if missing:
        raise ValueError(f"{mias_root}: no films for {sorted(missing)}")
    records = []
    for instance, case in enumerate(sorted(cases, key=lambda c: c.case_id), 1):
        pixels = read_image(case.image_path).pixels
        if pixels.shape != (FILM_SIZE, FILM_SIZE):
            raise ValueError(f"{case.image_path}: expected a {FILM_SIZE}x{FILM_SIZE} film, got {pixels.shape}")
        ds = film_dataset(pixels, refnum=case.case_id, patient_id=case.patient_id, laterality=case.laterality, instance=instance)
        target = out / ds.PatientID / f"{case.laterality}_MLO.dcm"
        target.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(target, enforce_file_format=True)
        records.append({
            "file": str(target.relative_to(out)), "mias_film": case.case_id, "patient": ds.PatientID,
            "laterality": case.laterality, "view": "MLO", "patient_orientation": list(ds.PatientOrientation),
            "has_mass": case.has_mass, "classes": case.extra["classes"],
            "mass_circles_xy_radius": [[col, row, radius] for row, col, radius in case.circles],
        })
    (out / "annotations.json").write_text(json.dumps({"source": "mini-MIAS Info.txt (circles, origin moved to the top left)",
                                                       "films": records}, indent=1) + "\n")
    return records


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Build the demo study from mini-MIAS films.")
    p.add_argument("--mias", required=True, help="the mini-MIAS folder (Info.txt + films)")
    p.add_argument("--out", required=True)
    p.add_argument("--patients", nargs="+", default=list(DEMO_PATIENTS))
    args = p.parse_args(argv)
    for record in write_demo_study(args.mias, args.out, args.patients):
        print(f"{record['file']}: {record['mias_film']} {record['laterality']} MLO {'/'.join(record['patient_orientation'])}"
              f"{' mass' if record['has_mass'] else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
