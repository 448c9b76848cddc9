"""Synthetic digital breast tomosynthesis objects (Breast Tomosynthesis Image Storage) as a
DBT system writes them: multi-frame, shared and per-frame functional groups (pixel measures,
plane position and orientation, a VOI window per frame, pixel value transformation, frame
anatomy with the laterality), the view in the Breast View module's View Code Sequence, and
frames that may be stored out of spatial order. The breast is the same phantom on every
slice, with a lesion sharp on one slice only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from synthetic import phantom

BREAST_TOMOSYNTHESIS = "1.2.840.10008.5.1.4.1.1.13.1.3"
VIEW_CODE = {"CC": ("399162004", "cranio-caudal"), "MLO": ("399368009", "medio-lateral oblique")}
LATERALITY_CODE = {"R": ("T-04030", "Right breast"), "L": ("T-04020", "Left breast")}


def _code(value: str, meaning: str, scheme: str = "SCT") -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def dbt_volume(slices=12, shape=(160, 120), *, lesion_slice=None, seed=0, chest_wall="left"):
    """(stored values per slice, in spatial order; the lesion's centre (row, col) or None). The
    lesion is a crisp bright disc on ``lesion_slice`` alone (its neighbours see nothing)."""
    base, _ = phantom(shape, seed=seed, mass=False, chest_wall=chest_wall)
    rng = np.random.default_rng(seed + 1)
    volume = []
    for _ in range(slices):
        noise = rng.normal(scale=20, size=shape)
        volume.append(np.clip(base.astype(np.float64) + noise, 0, 4095).astype(np.uint16))
    centre = None
    if lesion_slice is not None:
        rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
        centre = (shape[0] * 0.45, shape[1] * (0.35 if chest_wall == "left" else 0.65))
        disc = np.hypot(rows - centre[0], cols - centre[1]) <= 0.08 * min(shape)
        volume[lesion_slice] = np.where(disc, np.uint16(0.95 * 4095), volume[lesion_slice])
    return volume, centre


def write_dbt(
    path: Path,
    volume: list[np.ndarray],
    *,
    side: str = "R",
    view: str = "CC",
    order: list[int] | None = None,
    spacing_mm: float = 0.1,
    slice_mm: float = 1.0,
    windows: list[tuple[float, float]] | None = None,
    image_laterality: bool = False,
    syntax=ExplicitVRLittleEndian,
    study_uid: str | None = None,
    frames_claimed: int | None = None,
    **tags,
) -> Path:
    """Write ``volume`` (slices in spatial order, the first nearest the detector) as a Breast
    Tomosynthesis object. ``order``: the spatial slice stored as each frame (default: in
    order); ``windows``: (centre, width) per frame; ``image_laterality``: also the top-level
    Image Laterality (DBT systems often leave it out: Frame Laterality is the required one);
    ``frames_claimed``: a Number of Frames other than the frames written (a lying header)."""
    order = list(range(len(volume))) if order is None else list(order)
    rows, columns = volume[0].shape
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = BREAST_TOMOSYNTHESIS
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = BREAST_TOMOSYNTHESIS
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.PositionReferenceIndicator = ""
    ds.Modality = "MG"
    ds.PatientID, ds.PatientName, ds.PatientBirthDate, ds.PatientSex = "DBT-1", "Tomo^Test", "19650101", "F"
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = (
        "20260101",
        "101500",
        "1",
        "",
        "",
    )
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.Manufacturer, ds.ManufacturerModelName, ds.DeviceSerialNumber, ds.SoftwareVersions = (
        "HDS synthetic",
        "phantom",
        "1",
        "1",
    )
    ds.ContentDate, ds.ContentTime = "20260101", "101500"
    ds.AcquisitionDateTime = "20260101101500"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "TOMOSYNTHESIS", "NONE"]
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.BurnedInAnnotation = "NO"
    ds.RecognizableVisualFeatures = "NO"
    ds.LossyImageCompression = "00"
    ds.PatientOrientation = ""
    ds.BodyPartExamined = "BREAST"
    ds.PositionerType = "MAMMOGRAPHIC"
    ds.BreastImplantPresent = "NO"
    ds.PartialView = "NO"
    ds.ContentQualification = "PRODUCT"
    ds.AnatomicRegionSequence = Sequence([_code("76752008", "Breast")])
    ds.AcquisitionContextSequence = Sequence([])
    ds.ViewCodeSequence = Sequence([_code(*VIEW_CODE[view])])
    ds.ViewCodeSequence[0].ViewModifierCodeSequence = Sequence([])
    if image_laterality:
        ds.ImageLaterality = side
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.NumberOfFrames = frames_claimed or len(order)
    ds.ContentDescription = ""
    ds.PixelPaddingValue = 0
    ds.ImageComments = ""
    ds.QualityControlImage = "NO"
    acquisition = Dataset()
    acquisition.FieldOfViewShape = "RECTANGLE"
    acquisition.FieldOfViewDimensions = [rows * spacing_mm, columns * spacing_mm]
    acquisition.XRayReceptorType = "DIGITAL_DETECTOR"
    acquisition.KVP = 30
    acquisition.XRayTubeCurrentInmA = 100.0
    acquisition.ExposureTimeInms = 1000.0
    acquisition.ExposureInmAs = 100.0
    acquisition.AnodeTargetMaterial = "TUNGSTEN"
    acquisition.BodyPartThickness = 50
    acquisition.CompressionForce = 100
    acquisition.FieldOfViewOrigin = [0, 0]
    acquisition.DistanceSourceToDetector = 650
    acquisition.DistanceSourceToPatient = 600
    acquisition.EstimatedRadiographicMagnificationFactor = round(650 / 600, 4)
    acquisition.ExposureControlMode = "MANUAL"
    acquisition.ExposureControlModeDescription = "synthetic"
    acquisition.HalfValueLayer = 0.5
    acquisition.FocalSpots = [0.3]
    acquisition.DetectorTemperature = 20
    acquisition.FilterType = "FLAT"
    acquisition.FilterMaterial = ["ALUMINUM"]
    acquisition.PaddleDescription = "synthetic"
    projection = Dataset()
    projection.KVP = 30
    projection.XRayTubeCurrentInuA = 100000.0
    projection.FrameAcquisitionDuration = 10.0
    projection.PositionerPrimaryAngle = 0
    projection.PositionerSecondaryAngle = 0
    projection.ExposureTimeInms = 10.0
    projection.ExposureInmAs = 1.0
    projection.RelativeXRayExposure = 1000
    acquisition.PerProjectionAcquisitionSequence = Sequence([projection])
    acquisition.NumberOfFrames = len(order)
    ds.XRay3DAcquisitionSequence = Sequence([acquisition])
    ds.PresentationLUTShape = "IDENTITY"
    ds.PixelPresentation, ds.VolumetricProperties, ds.VolumeBasedCalculationTechnique = "MONOCHROME", "VOLUME", "NONE"
    ds.XRay3DReconstructionSequence = Sequence([Dataset()])
    ds.XRay3DReconstructionSequence[0].ReconstructionDescription = "synthetic"
    ds.XRay3DReconstructionSequence[0].ApplicationName = "hds tests"
    ds.XRay3DReconstructionSequence[0].ApplicationVersion = "1"
    ds.XRay3DReconstructionSequence[0].ApplicationManufacturer = "HDS"
    ds.XRay3DReconstructionSequence[0].AlgorithmType = "FILTER_BACK_PROJ"
    ds.XRay3DReconstructionSequence[0].AcquisitionIndex = [1]
    ds.DimensionOrganizationSequence = Sequence([Dataset()])
    ds.DimensionOrganizationSequence[0].DimensionOrganizationUID = generate_uid()
    ds.DimensionOrganizationType = "3D"
    index_item = Dataset()
    index_item.DimensionOrganizationUID = ds.DimensionOrganizationSequence[0].DimensionOrganizationUID
    index_item.DimensionIndexPointer = 0x00200032  # Image Position (Patient)
    index_item.FunctionalGroupPointer = 0x00209113  # Plane Position Sequence
    index_item.DimensionDescriptionLabel = "Slice position"
    ds.DimensionIndexSequence = Sequence([index_item])

    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = [spacing_mm, spacing_mm]
    measures.SliceThickness = slice_mm
    shared.PixelMeasuresSequence = Sequence([measures])
    plane = Dataset()
    plane.ImageOrientationPatient = [0, 1, 0, 0, 0, -1] if view == "CC" else [0, 1, 0, 0, 0.7071, -0.7071]
    shared.PlaneOrientationSequence = Sequence([plane])
    anatomy = Dataset()
    anatomy.FrameLaterality = side
    anatomy.AnatomicRegionSequence = Sequence([_code("76752008", "Breast")])
    shared.FrameAnatomySequence = Sequence([anatomy])
    transform = Dataset()
    transform.RescaleIntercept, transform.RescaleSlope, transform.RescaleType = 0, 1, "US"
    shared.PixelValueTransformationSequence = Sequence([transform])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])

    per_frame = []
    normal = np.cross([0, 1, 0], [0, 0, -1] if view == "CC" else [0, 0.7071, -0.7071])
    for frame, spatial in enumerate(order):
        group = Dataset()
        content = Dataset()
        content.FrameAcquisitionDateTime = "20260101101500"
        content.FrameReferenceDateTime = "20260101101500"
        content.FrameAcquisitionDuration = 10.0
        content.DimensionIndexValues = [spatial + 1]
        content.StackID = "1"
        content.InStackPositionNumber = spatial + 1
        group.FrameContentSequence = Sequence([content])
        frame_type = Dataset()
        frame_type.FrameType = ["ORIGINAL", "PRIMARY", "TOMOSYNTHESIS", "NONE"]
        frame_type.PixelPresentation, frame_type.VolumetricProperties = "MONOCHROME", "VOLUME"
        frame_type.VolumeBasedCalculationTechnique = "NONE"
        frame_type.ReconstructionIndex = 1
        group.XRay3DFrameTypeSequence = Sequence([frame_type])
        position = Dataset()
        position.ImagePositionPatient = [float(v) for v in (normal * slice_mm * spatial).round(4)]
        group.PlanePositionSequence = Sequence([position])
        voi = Dataset()
        centre, width = windows[frame] if windows else (2048.0, 4096.0)
        voi.WindowCenter, voi.WindowWidth = centre, width
        voi.WindowCenterWidthExplanation = f"frame {frame + 1}"
        group.FrameVOILUTSequence = Sequence([voi])
        per_frame.append(group)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    ds.PixelData = np.stack([volume[spatial] for spatial in order]).astype(np.uint16).tobytes()
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    path = Path(path)
    syntax = pydicom.uid.UID(syntax)
    if syntax.is_compressed:
        ds.compress(syntax, encoding_plugin="pylibjpeg" if "4.9" in syntax else "")
    ds.save_as(path, enforce_file_format=True)
    return path
