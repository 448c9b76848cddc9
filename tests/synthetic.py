"""Synthetic test data: breast-shaped textured phantoms with masses, MG DICOM files in any
transfer syntax pydicom (or gdcm) can encode, and tiny datasets in each native layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from scipy import ndimage

MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"


def phantom(shape=(256, 192), *, seed=0, mass=True, chest_wall="left", bits=12, mass_radius=None, crisp=False):
    """A breast-shaped (half-ellipse from the chest wall), textured phantom with an optional
    brighter mass. Returns (uint16 stored values, bool mass mask).

    ``crisp``: the mass is a uniform disc brighter than any tissue (0.95 of full scale
    against 0.35-0.60), so its outline is the mask itself, for tests with the hand-set
    intensity model (``fixed_model.py``)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    rows, cols = np.mgrid[0:h, 0:w]
    depth = cols if chest_wall == "left" else (w - 1 - cols)
    breast = ((rows - h / 2) / (h * 0.45)) ** 2 + (depth / (w * 0.8)) ** 2 <= 1.0
    texture = ndimage.gaussian_filter(rng.normal(size=shape), 3)
    texture = (texture - texture.min()) / (np.ptp(texture) + 1e-9)
    top = 2**bits - 1
    values = np.where(breast, 0.35 + 0.25 * texture, 0.02) * top
    mask = np.zeros(shape, dtype=bool)
    if mass:
        radius = mass_radius or rng.uniform(0.08, 0.12) * min(h, w)
        inside = np.argwhere(breast & (depth > radius * 1.5) & (depth < w * 0.6))
        center = inside[rng.integers(len(inside))]
        dist = np.hypot(rows - center[0], cols - center[1])
        mask = dist <= radius
        if crisp:
            values = np.where(mask, 0.95 * top, values)
        else:
            values = values + np.clip(1.2 - dist / radius, 0, 1) * 0.35 * top
    values = values + rng.normal(scale=0.01 * top, size=shape)
    return np.clip(values, 0, top).astype(np.uint16), mask


def mg_dataset(pixels: np.ndarray, **tags) -> Dataset:
    """A minimal valid MG FOR PRESENTATION dataset (explicit VR little endian)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = MG_FOR_PRESENTATION
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = MG_FOR_PRESENTATION
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = tags.pop("StudyInstanceUID", None) or generate_uid()
    ds.SeriesInstanceUID = tags.pop("SeriesInstanceUID", None) or generate_uid()
    ds.Modality = "MG"
    ds.PatientID = "PHANTOM-1"
    ds.PatientName = "Phantom^Test"
    ds.PatientBirthDate = "19600101"
    ds.StudyDate = "20260101"
    ds.StudyTime = "101500"
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    signed = pixels.dtype.kind == "i"
    ds.BitsAllocated = 8 if pixels.dtype.itemsize == 1 else 16
    ds.BitsStored = tags.pop("BitsStored", ds.BitsAllocated if ds.BitsAllocated == 8 else 12)
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.PixelData = pixels.tobytes()
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    return ds


def write_dicom(path: Path, pixels: np.ndarray, *, syntax=ExplicitVRLittleEndian, **tags) -> Path:
    """Write an MG file in ``syntax``: native ones directly, RLE/JPEG-LS/JPEG 2000 through
    pydicom's encoders, JPEG Lossless through gdcm."""
    ds = mg_dataset(pixels, **tags)
    path = Path(path)
    syntax = pydicom.uid.UID(syntax)
    if syntax == pydicom.uid.JPEGLosslessSV1:
        return _gdcm_transcode(ds, path, "JPEGLosslessProcess14_1")
    if syntax.is_compressed:
        ds.compress(syntax, encoding_plugin="pylibjpeg" if "4.9" in syntax else "")
        ds.save_as(path, enforce_file_format=True)
    elif syntax == pydicom.uid.ImplicitVRLittleEndian:
        ds.file_meta.TransferSyntaxUID = syntax
        ds.save_as(path, implicit_vr=True, little_endian=True, enforce_file_format=True)
    elif syntax == pydicom.uid.ExplicitVRBigEndian:
        ds.file_meta.TransferSyntaxUID = syntax
        ds.PixelData = pixels.astype(pixels.dtype.newbyteorder(">")).tobytes()
        ds.save_as(path, implicit_vr=False, little_endian=False, enforce_file_format=True)
    else:
        ds.file_meta.TransferSyntaxUID = syntax
        ds.save_as(path, enforce_file_format=True)
    return path


def _gdcm_transcode(ds: Dataset, path: Path, syntax_name: str) -> Path:
    import gdcm

    plain = path.with_suffix(".plain.dcm")
    ds.save_as(plain, enforce_file_format=True)
    reader = gdcm.ImageReader()
    reader.SetFileName(str(plain))
    if not reader.Read():
        raise RuntimeError("gdcm could not read the plain file")
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(getattr(gdcm.TransferSyntax, syntax_name)))
    change.SetInput(reader.GetImage())
    if not change.Change():
        raise RuntimeError(f"gdcm could not encode {syntax_name}")
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(path))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    if not writer.Write():
        raise RuntimeError("gdcm could not write")
    plain.unlink()
    return path


def write_png(path: Path, pixels: np.ndarray) -> Path:
    from PIL import Image

    Image.fromarray(pixels).save(path)
    return path


def phantom_folder_dataset(root: Path, n_images=8, shape=(128, 128), spacing_mm=0.4, seed=0) -> Path:
    """The generic layout: images/ + masks/ (same stem), patients.csv (two images a patient),
    spacing.csv. Half the images have a mass; chest walls alternate sides."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    patients, spacings = ["image,patient"], ["image,spacing_mm"]
    for i in range(n_images):
        pixels, mask = phantom(shape, seed=seed + i, mass=i % 2 == 0, chest_wall="left" if i % 4 < 2 else "right")
        stem = f"ph{i:03d}"
        write_png(root / "images" / f"{stem}.png", pixels)
        if mask.any():
            write_png(root / "masks" / f"{stem}.png", (mask * 255).astype(np.uint8))
        patients.append(f"{stem},p{i // 2}")
        spacings.append(f"{stem},{spacing_mm}")
    (root / "patients.csv").write_text("\n".join(patients) + "\n")
    (root / "spacing.csv").write_text("\n".join(spacings) + "\n")
    return root


def write_deflate_bomb(path: Path, pixels: np.ndarray, *, inflated_bytes: int, **tags) -> Path:
    """A valid-looking Deflated Explicit VR Little Endian MG file whose dataset holds a
    private element of ``inflated_bytes`` zeros: a few hundred KB on disk per GiB inflated.
    Written as a stream (the element is never in memory)."""
    import struct
    import zlib

    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset, write_file_meta_info
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    ds = mg_dataset(pixels, **tags)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian

    def encoded(elements) -> bytes:
        buffer = DicomBytesIO()
        buffer.is_little_endian, buffer.is_implicit_VR = True, False
        part = Dataset()
        for element in elements:
            part.add(element)
        write_dataset(buffer, part)
        return buffer.getvalue()

    before = encoded(e for e in ds if e.tag.group < 0x0009)
    after = encoded(e for e in ds if e.tag.group > 0x0009)
    creator = b"\x09\x00\x10\x00LO\x08\x00HDS BOMB"
    bomb_header = b"\x09\x00\x01\x10OB\x00\x00" + struct.pack("<I", inflated_bytes)
    compressor = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
    path = Path(path)
    with open(path, "wb") as handle:
        meta = DicomBytesIO()
        write_file_meta_info(meta, ds.file_meta, enforce_standard=True)
        handle.write(b"\0" * 128 + b"DICM" + meta.getvalue())
        handle.write(compressor.compress(before + creator + bomb_header))
        zeros = bytes(16 * 2**20)
        left = inflated_bytes
        while left:
            step = min(left, len(zeros))
            handle.write(compressor.compress(zeros[:step]))
            left -= step
        handle.write(compressor.compress(after))
        handle.write(compressor.flush())
    return path


def write_codestream_size_bomb(path: Path, pixels: np.ndarray, *, declared=(65000, 65000), **tags) -> Path:
    """A JPEG 2000 MG file whose header says the image's own size but whose codestream's SIZ
    marker declares ``declared`` (rows, columns): decoders allocate what the codestream says."""
    import struct

    from pydicom.encaps import encapsulate, generate_frames
    from pydicom.uid import JPEG2000Lossless

    ds = mg_dataset(pixels, **tags)
    ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    frame = bytearray(next(generate_frames(ds.PixelData, number_of_frames=1)))
    at = frame.find(b"\xff\x4f\xff\x51")
    rows, columns = declared
    # Xsiz, Ysiz (offsets stay 0), then one tile as large as the image.
    struct.pack_into(">II", frame, at + 8, columns, rows)
    struct.pack_into(">II", frame, at + 24, columns, rows)
    ds.PixelData = encapsulate([bytes(frame)])
    ds.save_as(path, enforce_file_format=True)
    return Path(path)


SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def write_cbis_like(path, pixels: np.ndarray, patient_id: str, *, orientation: str, side: str):
    """What CBIS-DDSM's archive holds: a 16-bit Secondary Capture in RLE Lossless, the view in
    Patient Orientation, the breast in Laterality (0020,0060), no spacing, no View Position
    or Image Laterality, one patient ID and study per image."""
    from pydicom.uid import RLELossless

    path = write_dicom(
        path,
        pixels.astype(np.uint16),
        syntax=RLELossless,
        BitsStored=16,
        PatientID=patient_id,
        PatientOrientation=orientation,
        Laterality=side,
        StudyInstanceUID=generate_uid(),
    )
    ds = pydicom.dcmread(path)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = SECONDARY_CAPTURE
    del ds.PresentationIntentType
    ds.save_as(path, enforce_file_format=True)
    return path
