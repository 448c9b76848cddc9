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
from ..io import breast_mask, chest_wall_on_right, read_image
from .minimias import FILM_SIZE, SPACING_MM, load_minimias

MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
# Patients kept out of all training and validation for the demo study: two with a
# malignant mass (one circumscribed, one spiculated) and one with two normal films.
DEMO_PATIENTS = ("mias-014", "mias-091", "mias-017")
DEMO_STUDY_DATE = "20260101"


def _uid(*parts: str) -> str:
    return generate_uid(entropy_srcs=["mammo-hds demo study", *parts])


# The digital demo patient: CDD-CESM patient P126 (left breast, CC and MLO, a high-density
# mass with microlobulated margin), kept out of all training and validation.
DIGITAL_DEMO_PATIENT = "cdd-P126"
CDD_SPACING_MM = 0.4  # the dataset's own estimate (its README): the true spacing was lost in the resize
VIEW_CODES = {"MLO": ("399368009", "medio-lateral oblique"), "CC": ("399162004", "cranio-caudal")}


def patient_orientation(pixels: np.ndarray, laterality: str, view: str = "MLO") -> list[str]:
    """Row direction from the pixels (P: chest wall on the right); column direction by the
    view: an MLO's is F plus the breast's side, a CC's the other side (lateral at the top)."""
    right_wall = chest_wall_on_right(breast_mask(pixels.astype(np.float32) / max(float(pixels.max()), 1.0)))
    if view == "CC":
        return ["P" if right_wall else "A", "L" if laterality == "R" else "R"]
    return ["P" if right_wall else "A", "FL" if laterality == "R" else "FR"]


def film_dataset(
    pixels: np.ndarray,
    *,
    refnum: str,
    patient_id: str,
    laterality: str,
    instance: int,
    spacing_mm: float = SPACING_MM,
    view: str = "MLO",
    digital: bool = False,
) -> Dataset:
    """An MG For Presentation file of a mini-MIAS film, or (``digital``) of a CDD-CESM
    low-energy image."""
    if pixels.dtype != np.uint8:
        raise ValueError(f"{refnum}: expected an 8-bit image, got {pixels.dtype}")
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
    ds.Manufacturer = "mammo-hds demo (digital, CDD-CESM)" if digital else "mammo-hds demo (scanned film)"
    ds.SoftwareVersions = f"mammo-hds {__version__}"
    ds.PatientName = f"Demo^{'CDD' if digital else 'MIAS'} {patient_id.split('-')[-1]}"
    ds.PatientID = demo_id
    ds.PatientBirthDate = ""
    ds.PatientSex = "F"
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = (
        "CDD-CESM (TCIA, CC BY 4.0); demo names and UIDs"
        if digital
        else "mini-MIAS research database; demo names and UIDs"
    )
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = DEMO_STUDY_DATE
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "090000"
    ds.StudyID = demo_id
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "Demo mammogram (CDD-CESM, digital)" if digital else "Demo mammogram (mini-MIAS)"
    ds.SeriesDescription = view
    ds.SeriesNumber = 1
    ds.InstanceNumber = instance
    ds.BodyPartExamined = "BREAST"
    # What the Digital Mammography X-Ray Image IOD requires of a film (dciodvfy checks it in CI).
    breast = Dataset()
    breast.CodeValue, breast.CodingSchemeDesignator, breast.CodeMeaning = "76752008", "SCT", "Breast"
    ds.AnatomicRegionSequence = Sequence([breast])
    ds.OrganExposed = "BREAST"
    ds.PositionerType = "MAMMOGRAPHIC"
    ds.DetectorType = "" if digital else "FILM"  # the digital detector's type is not known
    ds.AcquisitionContextSequence = Sequence([])
    # Higher stored values are denser tissue (less X-ray intensity), shown brighter.
    ds.PixelIntensityRelationship = "LOG"
    ds.PixelIntensityRelationshipSign = -1
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
    ds.PresentationLUTShape = "IDENTITY"
    ds.ImageLaterality = laterality
    ds.ViewPosition = view
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = VIEW_CODES[view][0], "SCT", VIEW_CODES[view][1]
    code.ViewModifierCodeSequence = Sequence([])
    ds.ViewCodeSequence = Sequence([code])
    ds.PatientOrientation = patient_orientation(pixels, laterality, view)
    ds.ImagerPixelSpacing = [spacing_mm, spacing_mm]
    ds.BreastImplantPresent = "NO"
    if digital:
        # The published images are 8-bit JPEGs resized to 512 x 512: lossy before they reached us.
        ds.BurnedInAnnotation = "NO"
        ds.LossyImageCompression = "01"
        ds.LossyImageCompressionMethod = "ISO_10918_1"
        ds.ImageComments = (
            f"Low-energy image {refnum} of the CDD-CESM collection (TCIA, CC BY 4.0; resized to 512 x 512, "
            f"spacing estimated), for demonstration only"
        )
    else:
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
    ds.WindowCenterWidthExplanation = ["FULL RANGE" if digital else "FILM", "BREAST"]
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
        ds = film_dataset(
            pixels, refnum=case.case_id, patient_id=case.patient_id, laterality=case.laterality, instance=instance
        )
        target = out / ds.PatientID / f"{case.laterality}_MLO.dcm"
        target.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(target, enforce_file_format=True)
        records.append(
            {
                "file": str(target.relative_to(out)),
                "mias_film": case.case_id,
                "patient": ds.PatientID,
                "laterality": case.laterality,
                "view": "MLO",
                "patient_orientation": list(ds.PatientOrientation),
                "has_mass": case.has_mass,
                "classes": case.extra["classes"],
                "mass_circles_xy_radius": [[col, row, radius] for row, col, radius in case.circles],
            }
        )
    (out / "annotations.json").write_text(
        json.dumps({"source": "mini-MIAS Info.txt (circles, origin moved to the top left)", "films": records}, indent=1)
        + "\n"
    )
    return records


def write_digital_patient(
    cdd_root: str | Path, out: str | Path, patient: str = DIGITAL_DEMO_PATIENT, first_instance: int = 1
) -> list[dict]:
    """``out/<DEMO-ID>/<L|R>_<CC|MLO>.dcm`` for each image of a CDD-CESM patient (the generic
    folder layout), with the outline's bounding box and area (pixels) from its mask."""
    from .cases import read_mask
    from .folder import load_folder

    out = Path(out)
    cases = sorted(
        (c for c in load_folder(cdd_root) if c.patient_id == patient), key=lambda c: (c.laterality or "", c.view or "")
    )
    if not cases:
        raise ValueError(f"{cdd_root}: no images of {patient}")
    records = []
    for instance, case in enumerate(cases, first_instance):
        pixels = read_image(case.image_path).pixels
        ds = film_dataset(
            pixels,
            refnum=case.case_id,
            patient_id=patient,
            laterality=case.laterality,
            instance=instance,
            spacing_mm=CDD_SPACING_MM,
            view=case.view,
            digital=True,
        )
        target = out / ds.PatientID / f"{case.laterality}_{case.view}.dcm"
        target.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(target, enforce_file_format=True)
        mask = read_mask(case.mask_path) if case.mask_path else np.zeros(pixels.shape, bool)
        rows, cols = np.nonzero(mask)
        records.append(
            {
                "file": str(target.relative_to(out)),
                "cdd_image": case.case_id,
                "patient": ds.PatientID,
                "laterality": case.laterality,
                "view": case.view,
                "patient_orientation": list(ds.PatientOrientation),
                "has_mass": bool(mask.any()),
                "findings": (case.extra.get("annotations") or {}).get("findings"),
                "lesion_bbox_xywh": [
                    int(cols.min()),
                    int(rows.min()),
                    int(cols.max() - cols.min() + 1),
                    int(rows.max() - rows.min() + 1),
                ]
                if mask.any()
                else None,
                "lesion_area_px": int(mask.sum()),
            }
        )
    return records


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Build the demo study from mini-MIAS films.")
    p.add_argument("--mias", required=True, help="the mini-MIAS folder (Info.txt + films)")
    p.add_argument("--out", required=True)
    p.add_argument("--patients", nargs="+", default=list(DEMO_PATIENTS))
    p.add_argument("--cdd", help="the CDD-CESM folder: adds its digital demo patient (CC and MLO)")
    args = p.parse_args(argv)
    records = write_demo_study(args.mias, args.out, args.patients)
    if args.cdd:
        records += write_digital_patient(args.cdd, args.out, first_instance=len(records) + 1)
        (Path(args.out) / "annotations.json").write_text(
            json.dumps(
                {
                    "source": "mini-MIAS Info.txt (circles, origin moved to the top left); CDD-CESM outline "
                    "masks (bounding boxes)",
                    "films": records,
                },
                indent=1,
            )
            + "\n"
        )
    for record in records:
        print(
            f"{record['file']}: {record.get('mias_film') or record.get('cdd_image')} {record['laterality']} "
            f"{record['view']} "
            f"{'/'.join(record['patient_orientation'])}{' mass' if record['has_mass'] else ''}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
