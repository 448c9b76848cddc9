"""DICOM reading: transfer syntaxes, metadata, VOI presets, bad files, read-only input."""

import builtins
import hashlib
import os

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)
from synthetic import mg_dataset, phantom, write_dicom

from hds_core.io import errors, read_image

SYNTAXES = [
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    ExplicitVRBigEndian,
    DeflatedExplicitVRLittleEndian,
    RLELossless,
    JPEGLSLossless,
    JPEG2000Lossless,
    JPEGLosslessSV1,
]


@pytest.mark.parametrize("syntax", SYNTAXES, ids=lambda s: s.name)
def test_each_transfer_syntax_round_trips_exactly(tmp_path, syntax):
    pixels, _ = phantom((96, 64), seed=1)
    path = write_dicom(tmp_path / "x.dcm", pixels, syntax=syntax)
    assert pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID == syntax
    image = read_image(path)
    assert image.pixels.dtype == np.uint16
    np.testing.assert_array_equal(image.pixels, pixels)
    assert image.metadata.transfer_syntax == syntax


def test_jpeg_ls_uses_pyjpegls(tmp_path, monkeypatch):
    pixels, _ = phantom((64, 64), seed=2)
    path = write_dicom(tmp_path / "ls.dcm", pixels, syntax=JPEGLSLossless)
    seen = []
    original = Dataset.pixel_array_options

    def spy(self, **kwargs):
        seen.append(kwargs.get("decoding_plugin"))
        return original(self, **kwargs)

    monkeypatch.setattr(Dataset, "pixel_array_options", spy)
    read_image(path)
    assert seen == ["pyjpegls"]


def test_metadata_from_tags(tmp_path):
    pixels, _ = phantom((64, 64))
    path = write_dicom(
        tmp_path / "m.dcm",
        pixels,
        ImageLaterality="L",
        Laterality="R",
        ViewPosition="MLO",
        PatientOrientation=["A", "FR"],
        ImagerPixelSpacing=[0.1, 0.1],
        EstimatedRadiographicMagnificationFactor=1.25,
        PixelSpacing=[0.3, 0.3],
        BreastImplantPresent="YES",
        AccessionNumber="ACC1",
    )
    meta = read_image(path).metadata
    assert meta.laterality == "L" and meta.laterality_source == "ImageLaterality"
    assert meta.view == "MLO" and meta.patient_orientation == ("A", "FR")
    assert meta.pixel_spacing_mm == pytest.approx((0.08, 0.08))
    assert meta.spacing_source.startswith("ImagerPixelSpacing /")
    assert meta.breast_implant_present is True
    assert meta.presentation_intent == "FOR PRESENTATION"
    assert meta.patient_name == "Phantom^Test" and meta.accession_number == "ACC1"
    assert any("implant" in w for w in meta.warnings())


def test_fallbacks_laterality_view_code_pixel_spacing(tmp_path):
    pixels, _ = phantom((64, 64))
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "399162004", "SCT", "cranio-caudal"
    path = write_dicom(
        tmp_path / "f.dcm", pixels, Laterality="R", ViewCodeSequence=Sequence([code]), PixelSpacing=[0.07, 0.07]
    )
    meta = read_image(path).metadata
    assert (meta.laterality, meta.laterality_source) == ("R", "Laterality")
    assert (meta.view, meta.view_source) == ("CC", "ViewCodeSequence")
    assert meta.pixel_spacing_mm == (0.07, 0.07) and meta.spacing_source == "PixelSpacing"


def test_unknown_spacing_laterality_view(tmp_path):
    pixels, _ = phantom((64, 64))
    meta = read_image(write_dicom(tmp_path / "u.dcm", pixels)).metadata
    assert meta.pixel_spacing_mm is None and meta.laterality is None and meta.view is None
    notes = " ".join(meta.warnings())
    assert "spacing unknown" in notes and "laterality unknown" in notes


def test_window_presets_with_explanations_and_function(tmp_path):
    pixels, _ = phantom((64, 64))
    path = write_dicom(
        tmp_path / "w.dcm",
        pixels,
        WindowCenter=[2000, 1500],
        WindowWidth=[1000, 3000],
        WindowCenterWidthExplanation=["NORMAL", "WIDE"],
        VOILUTFunction="SIGMOID",
    )
    image = read_image(path)
    names = [p.name for p in image.presets]
    assert names[:2] == ["NORMAL", "WIDE"] and "Auto" in names and "Full range" in names
    assert image.default_preset.function == "SIGMOID" and image.default_preset.center == 2000
    shown = image.render()
    assert 0 <= shown.min() and shown.max() <= 1


def test_voi_lut_sequence_becomes_a_preset(tmp_path):
    pixels = np.arange(16, dtype=np.uint16).reshape(4, 4)
    item = Dataset()
    item.LUTDescriptor = [4, 6, 8]
    item.LUTData = np.array([0, 100, 200, 255], dtype="<u2").tobytes()
    item.LUTExplanation = "CURVE"
    path = write_dicom(tmp_path / "lut.dcm", pixels, VOILUTSequence=Sequence([item]))
    image = read_image(path)
    assert image.default_preset.name == "CURVE" and image.default_preset.is_table
    shown = image.render()
    # pixel 0 is below the first mapped value (6), pixel 7 is entry 1, pixels >= 9 clamp to the last entry
    assert (
        shown[0, 0] == 0
        and shown[1, 3] == pytest.approx(100 / 255)
        and shown[2, 1] == shown[3, 3] == pytest.approx(1.0)
    )


def test_monochrome1_file_is_inverted_on_display(tmp_path):
    pixels = np.array([[0, 4095]], dtype=np.uint16)
    path = write_dicom(
        tmp_path / "m1.dcm", pixels, PhotometricInterpretation="MONOCHROME1", WindowCenter=2048, WindowWidth=4096
    )
    shown = read_image(path).render()
    assert shown[0, 0] > 0.99 and shown[0, 1] < 0.01


def test_pixel_padding_value_is_masked(tmp_path):
    pixels, _ = phantom((64, 64))
    pixels[:, :8] = 4095
    image = read_image(write_dicom(tmp_path / "p.dcm", pixels, PixelPaddingValue=4095))
    assert image.padding is not None and image.padding[:, :8].all()
    assert (image.model_input()[:, :8] == 0).all()


def test_input_file_is_never_modified(tmp_path):
    pixels, _ = phantom((64, 64))
    path = write_dicom(tmp_path / "ro.dcm", pixels, syntax=JPEG2000Lossless)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    mtime = os.stat(path).st_mtime_ns
    image = read_image(path)
    image.render()
    image.model_input()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before and os.stat(path).st_mtime_ns == mtime


# --- bad files: each a typed error naming the file -------------------------------------------


def _good(tmp_path, **tags):
    pixels, _ = phantom((64, 64))
    return write_dicom(tmp_path / "good.dcm", pixels, **tags)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.dcm"
    path.write_bytes(b"")
    with pytest.raises(errors.EmptyFileError) as info:
        read_image(path)
    assert info.value.path == path and "empty" in str(info.value)


def test_not_dicom(tmp_path):
    path = tmp_path / "notes.dcm"
    path.write_bytes(b"hello, this is not an image" * 10)
    with pytest.raises(errors.NotAnImageError) as info:
        read_image(path)
    assert str(path) in str(info.value)


def test_truncated_pixel_data(tmp_path):
    path = _good(tmp_path)
    data = path.read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[: len(data) - 2000])
    with pytest.raises((errors.PixelSizeMismatchError, errors.TruncatedFileError)) as info:
        read_image(cut)
    assert info.value.path == cut


def test_truncated_header(tmp_path):
    path = _good(tmp_path)
    cut = tmp_path / "cut_header.dcm"
    cut.write_bytes(path.read_bytes()[:200])
    with pytest.raises(errors.MammoReadError) as info:
        read_image(cut)
    assert info.value.path == cut


def test_no_pixel_data(tmp_path):
    ds = mg_dataset(np.zeros((4, 4), np.uint16))
    del ds.PixelData
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.33"
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    path = tmp_path / "sr.dcm"
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(errors.NoPixelDataError) as info:
        read_image(path)
    assert "structured report" in str(info.value)


def test_pixel_data_longer_than_header_says(tmp_path):
    ds = mg_dataset(np.zeros((8, 8), np.uint16))
    ds.PixelData = np.zeros((8, 10), np.uint16).tobytes()
    path = tmp_path / "long.dcm"
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(errors.PixelSizeMismatchError):
        read_image(path)


def test_huge_claimed_size_is_refused_before_allocating(tmp_path):
    ds = mg_dataset(np.zeros((8, 8), np.uint16))
    ds.Rows, ds.Columns = 65535, 65535
    path = tmp_path / "huge.dcm"
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(errors.ImageTooLargeError):
        read_image(path)


def test_unsupported_transfer_syntax(tmp_path):
    path = _good(tmp_path)
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2: no decoder
    ds.PixelData = pydicom.encaps.encapsulate([b"\x00" * 64])
    out = tmp_path / "mpeg.dcm"
    ds.save_as(out)
    with pytest.raises(errors.UnsupportedTransferSyntaxError) as info:
        read_image(out)
    assert "MPEG" in str(info.value) or "no installed decoder" in str(info.value)


def test_bits_stored_beyond_bits_allocated(tmp_path):
    with pytest.raises(errors.InvalidHeaderError):
        read_image(_good(tmp_path, BitsStored=20))


def test_missing_photometric_interpretation(tmp_path):
    path = _good(tmp_path)
    ds = pydicom.dcmread(path)
    del ds.PhotometricInterpretation
    ds.save_as(path)
    with pytest.raises(errors.InvalidHeaderError) as info:
        read_image(path)
    assert "Photometric" in info.value.reason


def test_multi_frame_refused(tmp_path):
    ds = mg_dataset(np.zeros((3, 8, 8), np.uint16).reshape(24, 8)[:8])
    ds.NumberOfFrames = 3
    ds.PixelData = np.zeros((3, 8, 8), np.uint16).tobytes()
    path = tmp_path / "mf.dcm"
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(errors.UnsupportedImageError) as info:
        read_image(path)
    assert "frames" in info.value.reason


def test_unreadable_file(tmp_path, monkeypatch):
    # CI runs as root, which reads any file: simulate the denial the OS gives other users.
    path = _good(tmp_path)
    real_open = builtins.open

    def guarded(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    with pytest.raises(errors.UnreadableFileError) as info:
        read_image(path)
    assert "permission denied" in info.value.reason


def test_errors_carry_path_reason_and_kind(tmp_path):
    path = tmp_path / "x.dcm"
    path.write_bytes(b"")
    with pytest.raises(errors.EmptyFileError) as info:
        read_image(path)
    exc = info.value
    assert exc.path == path and exc.reason == "file is empty (0 bytes)" and exc.kind == "empty file"
    assert str(exc) == f"{path}: file is empty (0 bytes)"
    missing = tmp_path / "gone.dcm"
    with pytest.raises(errors.UnreadableFileError) as info:
        read_image(missing)
    assert info.value.path == missing and info.value.kind == "cannot open" and "No such file" in info.value.reason


def test_htj2k_transfer_syntax_is_decoded(tmp_path):
    """No HTJ2K encoder is available here, so this checks the HTJ2K Lossless path with a
    Part-1 JPEG 2000 codestream (which that syntax admits); the HT block coder itself is
    exercised only by the decoder's own tests."""
    pixels, _ = phantom((64, 48), seed=3)
    path = write_dicom(tmp_path / "j2k.dcm", pixels, syntax=JPEG2000Lossless)
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = HTJ2KLossless
    ds.save_as(tmp_path / "htj2k.dcm")
    image = read_image(tmp_path / "htj2k.dcm")
    assert image.metadata.transfer_syntax == HTJ2KLossless
    np.testing.assert_array_equal(image.pixels, pixels)
