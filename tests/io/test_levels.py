"""Reduced resolution levels (hds_core.io.levels, progressive.py): every level read straight
from a JPEG 2000 codestream is, bit for bit, the 5/3 LL band of the full decode; other
syntaxes give the same values from their full decode; and the network's input is the same
whichever level the file was read at."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000, ExplicitVRLittleEndian, JPEG2000Lossless, JPEGLSLossless, RLELossless
from synthetic import mg_dataset, phantom, write_dicom, write_png

import hds_core.io.dicom as dicom_module
from hds_core.eval.metrics import dice
from hds_core.io import read_image, read_preview
from hds_core.io.levels import level_shape, lowpass_levels, preview_level, screen_level, stored_range
from hds_core.network_input import Geometry, NetworkInput, input_level

ODD_SHAPE = (517, 389)  # sizes where Pillow's rounding of a reduced size differs from the codestream's


def stored_values(bits: int, signed: bool, shape=ODD_SHAPE, seed=0) -> np.ndarray:
    """A phantom over the whole range ``bits`` can store (the extremes included, so that the
    levels' overshoot is clipped), as the dtype a decoder returns."""
    film, _ = phantom(shape, seed=seed, bits=bits)
    values = film.astype(np.int64)
    values[:3, :] = (1 << bits) - 1  # a saturated edge: the 5/3 filter overshoots next to it
    values[3:6, :] = 0
    if signed:
        values -= 1 << (bits - 1)
    dtype = {(8, False): np.uint8, (8, True): np.int8}.get((bits, signed), np.int16 if signed else np.uint16)
    return values.astype(dtype)


CASES = [
    (8, False, "MONOCHROME2"),
    (8, True, "MONOCHROME1"),
    (12, False, "MONOCHROME2"),
    (12, False, "MONOCHROME1"),
    (16, False, "MONOCHROME2"),
    (12, True, "MONOCHROME2"),
    (16, True, "MONOCHROME1"),
]


@pytest.mark.parametrize("bits,signed,photometric", CASES)
def test_every_jpeg2000_level_is_the_full_decodes_lowpass_band(tmp_path, monkeypatch, bits, signed, photometric):
    pixels = stored_values(bits, signed)
    path = write_dicom(
        tmp_path / "film.dcm",
        pixels,
        syntax=JPEG2000Lossless,
        BitsStored=bits,
        HighBit=bits - 1,
        PhotometricInterpretation=photometric,
        ImagerPixelSpacing=[0.1, 0.1],
    )
    full = read_image(path)
    np.testing.assert_array_equal(full.pixels, pixels)
    assert read_image(path, level=0).pixels.dtype == full.pixels.dtype

    def no_full_decode(*args):
        raise AssertionError("a reduced level of a JPEG 2000 file must not decode the full image")

    monkeypatch.setattr(dicom_module, "_decode_full", no_full_decode)
    levels = 5  # pydicom's encoder writes 5 decomposition levels
    for level in range(1, levels + 1):
        image = read_image(path, level=level)
        expected = lowpass_levels(full.pixels, level, stored_range(bits, signed))
        assert image.pixels.dtype == full.pixels.dtype
        assert image.pixels.shape == level_shape(ODD_SHAPE, level) == expected.shape
        np.testing.assert_array_equal(image.pixels, expected, err_msg=f"level {level}")
        # The file's description is the file's; the level says what the pixels are.
        assert image.level == level and image.reduction == 2**level
        assert image.full_shape == ODD_SHAPE
        assert (image.metadata.rows, image.metadata.columns) == ODD_SHAPE
        assert image.metadata.photometric == photometric
        assert image.pixel_spacing_mm == pytest.approx((0.1 * 2**level,) * 2)
        assert image.metadata.pixel_spacing_mm == pytest.approx((0.1, 0.1))


def test_the_levels_clip_to_the_stored_range_like_the_decoder():
    pixels = stored_values(12, False)
    unclipped = lowpass_levels(pixels.astype(np.int32), 1, (-(1 << 30), 1 << 30))
    assert unclipped.max() > 4095 or unclipped.min() < 0  # the filter does overshoot here
    clipped = lowpass_levels(pixels, 1, stored_range(12, False))
    assert clipped.min() >= 0 and clipped.max() <= 4095


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, JPEGLSLossless, RLELossless])
def test_other_syntaxes_give_the_same_levels_from_their_full_decode(tmp_path, syntax):
    pixels = stored_values(12, False, shape=(130, 97))
    reference = write_dicom(tmp_path / "j2k.dcm", pixels, syntax=JPEG2000Lossless, BitsStored=12)
    other = write_dicom(tmp_path / "other.dcm", pixels, syntax=syntax, BitsStored=12)
    for level in (1, 2, 3):
        np.testing.assert_array_equal(read_image(other, level=level).pixels, read_image(reference, level=level).pixels)


def test_a_raster_file_reads_at_any_level_from_its_full_decode(tmp_path):
    pixels = (stored_values(8, False, shape=(100, 75))).astype(np.uint8)
    path = write_png(tmp_path / "film.png", pixels)
    image = read_image(path, level=2)
    np.testing.assert_array_equal(image.pixels, lowpass_levels(pixels, 2))
    assert image.level == 2 and image.full_shape == (100, 75)


def test_lossy_jpeg2000_levels_come_from_the_full_decode(tmp_path):
    """A 9/7 codestream's own levels are not the 5/3 band of the decoded film: a lossy film's
    levels are reduced from its full decode, so the network's input is the full decode's."""
    pixels = stored_values(12, False, shape=(256, 192))
    ds = mg_dataset(pixels, BitsStored=12, LossyImageCompression="01")
    ds.compress(JPEG2000, encoding_plugin="pylibjpeg", j2k_cr=[10])
    path = tmp_path / "lossy.dcm"
    ds.save_as(path, enforce_file_format=True)
    full = read_image(path)
    for level in (1, 2, 3):
        np.testing.assert_array_equal(
            read_image(path, level=level).pixels, lowpass_levels(full.pixels, level, stored_range(12, False))
        )
    assert read_preview(path, screen_shape=(64, 48), network=NetworkInput(0.8)).level == 0  # read in full


def test_a_codestream_that_disagrees_with_the_header_is_reduced_from_pydicoms_full_decode():
    """pydicom's test file whose codestream is unsigned while the header says signed: the
    level comes from pydicom's (corrected) full decode, never from our own reading of it."""
    from pydicom.data import get_testdata_file

    path = get_testdata_file("J2K_pixelrep_mismatch.dcm", download=False)
    if path is None:
        pytest.skip("pydicom's test file is not installed")
    ds = pydicom.dcmread(path)
    if ds.get("Modality") is None or int(ds.get("SamplesPerPixel", 1)) != 1:
        pytest.skip("not a single-channel image")
    full = read_image(path)
    bits = full.metadata.bits_stored
    image = read_image(path, level=1)
    np.testing.assert_array_equal(
        image.pixels, lowpass_levels(full.pixels, 1, stored_range(bits, full.pixels.dtype.kind == "i"))
    )


def test_level_choices():
    # 0.07 mm films at a 0.8 mm working spacing: 0.56 mm is the coarsest level not coarser.
    assert input_level((0.07, 0.07), 0.8) == 3
    assert input_level((0.1, 0.1), 0.8) == 3
    assert input_level((0.2, 0.2), 0.8) == 2
    assert input_level((0.2, 0.25), 0.8) == 1  # the coarser axis decides
    assert input_level(None, 0.8) == 3  # the assumed 0.1 mm
    assert input_level((0.8, 0.8), 0.8) == 0 and input_level((1.0, 1.0), 0.8) == 0
    # A 4096x3328 film in a 450x700 view: at fit one screen pixel covers 9.1 film pixels.
    assert screen_level((4096, 3328), (450, 700)) == 3
    assert screen_level((512, 512), (1000, 1000)) == 0
    film = input_level((0.07, 0.07), 0.8)  # 3: a 0.07 mm film for a 0.8 mm network
    assert preview_level((4096, 3328), screen_shape=(450, 700), network_level=film, available=5) == 3
    assert preview_level((4096, 3328), screen_shape=(1000, 1400), network_level=film, available=5) == 2
    assert preview_level((4096, 3328), screen_shape=(450, 700), network_level=film, available=2) == 2
    assert preview_level((4096, 3328), screen_shape=None, network_level=None, available=0) == 0


def test_a_preview_reads_jpeg2000_reduced_and_everything_else_in_full(tmp_path):
    pixels = stored_values(12, False, shape=(1024, 768))
    j2k = write_dicom(
        tmp_path / "j2k.dcm", pixels, syntax=JPEG2000Lossless, BitsStored=12, ImagerPixelSpacing=[0.1, 0.1]
    )
    plain = write_dicom(tmp_path / "plain.dcm", pixels, BitsStored=12, ImagerPixelSpacing=[0.1, 0.1])
    assert read_preview(j2k, screen_shape=(256, 256), network=NetworkInput(0.8)).level == 2  # 1024 rows into 256
    assert read_preview(j2k, screen_shape=(256, 256), network=NetworkInput(0.2)).level == 1  # the network needs 0.2 mm
    assert read_preview(plain, screen_shape=(256, 256), network=NetworkInput(0.8)).level == 0


def test_a_geometry_found_on_a_level_maps_to_full_pixels():
    on_level = Geometry(
        original_shape=(48, 38),
        crop=(10, 48, 4, 38),
        scale=(0.5, 0.5),
        flipped=True,
        working_shape=(19, 17),
        working_spacing_mm=0.8,
        spacing_assumed=False,
    )
    full = on_level.in_full_pixels(4, (190, 150))
    assert full.original_shape == (190, 150)
    assert full.crop == (40, 190, 16, 150)  # the level's last pixels overhang the image: cut at its edge
    assert full.scale == pytest.approx((19 / 150, 17 / 134))
    assert full.flipped and full.working_shape == (19, 17)
    corners = full.working_to_original(np.array([[-0.5, -0.5], [18.5, 16.5]]))
    np.testing.assert_allclose(corners, [[40 - 0.5, 150 - 0.5], [190 - 0.5, 16 - 0.5]], atol=1e-9)


@pytest.fixture(scope="module")
def shipped():
    from hds_core.infer import Predictor

    return Predictor(device="cpu")


def _agreement_paths(tmp_path) -> list:
    from resources import demo_study

    synthetic_study = []
    for i, side in enumerate(("R", "L")):
        film, _ = phantom((2048, 1664), seed=40 + i, mass=True, chest_wall="right" if side == "R" else "left")
        synthetic_study.append(
            write_dicom(
                tmp_path / f"{side}_CC.dcm",
                film,
                syntax=JPEG2000Lossless,
                ImageLaterality=side,
                ViewPosition="CC",
                ImagerPixelSpacing=[0.07, 0.07],
            )
        )
    return sorted(demo_study().rglob("*.dcm")) + synthetic_study


def test_the_network_sees_the_same_from_its_level_as_from_the_full_decode(tmp_path, shipped):
    """The issue's agreement (mask Dice >= 0.99, score within 0.01) on the demo study and a
    synthetic 0.07 mm J2K study; it holds because the input itself is the same array."""
    threshold = shipped.spec.default_threshold
    for path in _agreement_paths(tmp_path):
        full = read_image(path)
        level = shipped.input.level(full.metadata.pixel_spacing_mm)
        reduced = read_image(path, level=level)
        assert reduced.level == level
        a, b = shipped.model_input(full), shipped.model_input(reduced)
        np.testing.assert_array_equal(a.image, b.image, err_msg=str(path))
        assert a.geometry == b.geometry and a.geometry.original_shape == full.pixels.shape
        p, q = shipped.predict(full), shipped.predict(reduced)
        assert dice(q.lesion_mask(threshold), p.lesion_mask(threshold)) >= 0.99, path
        assert abs(p.score - q.score) <= 0.01, path
        assert [lesion.to_dict() for lesion in p.lesions(threshold)] == [
            lesion.to_dict() for lesion in q.lesions(threshold)
        ]
