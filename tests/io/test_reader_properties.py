"""Property-based tests of the reader: whatever the header fields and the pixel bytes, a file
is either read into an image that the grayscale pipeline can show and the engine can take,
or refused with a MammoReadError naming it. Nothing else escapes, and each file is done
within the per-example deadline."""

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, event, find, given, settings
from hypothesis import strategies as st
from pydicom.config import IGNORE
from synthetic import mg_dataset, phantom

from hds_core.io import MammoReadError, read_image

# Damaged files are what these tests feed the reader: pydicom warns about them as it parses
# (the entry points silence those warnings; the reader's typed errors are what is tested).
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:pydicom.*")

BOUNDED = settings(
    max_examples=int(os.environ.get("HDS_PROPERTY_EXAMPLES", 150)),
    deadline=3000,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)

numbers = st.one_of(
    st.integers(-70000, 70000).map(str),
    st.sampled_from(["", "abc", "nan", "inf", "-inf", "1e400", "0", "-0"]),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda f: f"{f:.6g}"),
)


@contextmanager
def lenient_writing():
    """Let pydicom write the invalid values the tests want to feed the reader."""
    old = pydicom.config.settings.writing_validation_mode
    pydicom.config.settings.writing_validation_mode = IGNORE
    try:
        yield
    finally:
        pydicom.config.settings.writing_validation_mode = old


def check(path: Path) -> None:
    try:
        image = read_image(path)
    except MammoReadError as error:
        assert error.path == path and error.reason
        event(f"refused: {error.kind}")
        return
    event("read")
    rows, columns = image.metadata.rows, image.metadata.columns
    assert image.pixels.shape == (rows, columns)
    for preset in [None, *image.presets]:
        shown = image.render(preset)
        assert shown.shape == (rows, columns) and np.isfinite(shown).all() and 0 <= shown.min() <= shown.max() <= 1
    model_input = image.model_input()
    assert model_input.shape == (rows, columns) and np.isfinite(model_input).all()


# Odd values per field. A case perturbs a few fields of an otherwise valid header: every
# field at random would make nearly every file unreadable, leaving the readable path untested.
ODD = {
    "Rows": [0, 65535],
    "Columns": [0],
    "BitsAllocated": [1, 8, 32, 12, 0, 64],
    "BitsStored": [0, 13, 17, 40],
    "HighBit": [0, 40],
    "PixelRepresentation": [1, 2],
    "SamplesPerPixel": [3, 0],
    "PhotometricInterpretation": ["MONOCHROME1", "RGB", "PALETTE COLOR", "", "junk"],
    "RescaleSlope": ["", "abc", "nan", "inf", "1e400", "0", "-1", "1e-30"],
    "RescaleIntercept": ["", "abc", "nan", "-inf", "1e400", "-70000"],
    "WindowCenter": ["", "abc", "nan", "1e400", "-5", "1\\2\\3"],
    "WindowWidth": ["", "0", "-5", "nan", "inf", "0.5", "1\\x"],
    "VOILUTFunction": ["SIGMOID", "LINEAR_EXACT", "", "junk"],
    "PresentationLUTShape": ["INVERSE", "", "junk"],
    "PixelPaddingValue": [0, 4095, 32767],  # fits US and SS alike
    "PatientOrientation": [["X"], "", ["A", "R", "F"]],
    "ImagerPixelSpacing": [[0, 0], ["abc", "1"], [-1, 1], [1e30, 1e30], [0.1]],
    "NumberOfFrames": [1, 2, 0, "abc", "-1"],
}


@st.composite
def headers(draw):
    rows, columns = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    tags = {
        "Rows": rows,
        "Columns": columns,
        "BitsAllocated": 16,
        "BitsStored": 12,
        "HighBit": 11,
        "PixelRepresentation": 0,
        "SamplesPerPixel": 1,
        "PhotometricInterpretation": "MONOCHROME2",
        "RescaleSlope": "1",
        "RescaleIntercept": "0",
        "WindowCenter": draw(numbers),
        "WindowWidth": draw(numbers),
        "VOILUTFunction": "LINEAR",
        "PresentationLUTShape": "IDENTITY",
        "PatientOrientation": ["A", "R"],
        "ImagerPixelSpacing": [0.1, 0.1],
    }
    for field in draw(st.lists(st.sampled_from(sorted(ODD)), max_size=3, unique=True)):
        tags[field] = draw(st.sampled_from(ODD[field]))
    bits = tags["BitsAllocated"]
    nominal = tags["Rows"] * tags["Columns"] * max(bits, 8) // 8 if tags["Rows"] < 1000 else 16
    length = draw(st.sampled_from([nominal, nominal, nominal, 0, nominal // 2, nominal + 2, 2 * nominal]))
    return tags, draw(st.binary(min_size=length, max_size=length))


TEXT_FIELDS = {
    "RescaleSlope",
    "RescaleIntercept",
    "WindowCenter",
    "WindowWidth",
    "ImagerPixelSpacing",
    "NumberOfFrames",
}


def write_case(case, implicit: bool, folder: str) -> Path:
    tags, pixel_bytes = case
    ds = mg_dataset(np.zeros((1, 1), np.uint16))
    with lenient_writing():
        for keyword, value in tags.items():
            if keyword in TEXT_FIELDS:
                # Written as text so that any string reaches the file; an implicit-VR file is then
                # read back with the dictionary VR (DS, IS), an explicit one as LO.
                text = "\\".join(str(v) for v in value) if isinstance(value, list) else value
                ds.add_new(pydicom.datadict.tag_for_keyword(keyword), "LO", str(text))
            else:
                setattr(ds, keyword, value)
        ds.PixelData = pixel_bytes
        path = Path(folder) / "case.dcm"
        if implicit:
            ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
        ds.save_as(path, enforce_file_format=True, implicit_vr=implicit, little_endian=True)
    return path


@BOUNDED
@given(headers(), st.booleans())
def test_any_header_and_pixel_bytes_give_an_image_or_a_typed_error(case, implicit):
    with tempfile.TemporaryDirectory() as folder:
        check(write_case(case, implicit, folder))


def test_the_header_strategy_reaches_both_outcomes():
    """A strategy that only ever produced refusals (or only images) would test half the reader."""

    def outcome(case) -> str:
        with tempfile.TemporaryDirectory() as folder:
            try:
                read_image(write_case(case, False, folder))
                return "read"
            except MammoReadError:
                return "refused"

    for wanted in ("read", "refused"):
        find(
            headers(),
            lambda case, wanted=wanted: outcome(case) == wanted,
            settings=settings(max_examples=200, database=None),
        )


@BOUNDED
@given(st.data())
def test_damaged_bytes_of_a_good_file_give_an_image_or_a_typed_error(data):
    syntax = data.draw(
        st.sampled_from(
            [
                pydicom.uid.ExplicitVRLittleEndian,
                pydicom.uid.ImplicitVRLittleEndian,
                pydicom.uid.RLELossless,
                pydicom.uid.JPEG2000Lossless,
            ]
        )
    )
    original = _good_file_bytes(syntax)
    damaged = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(damaged) - 1))
        damaged[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.one_of(st.just(len(damaged)), st.integers(0, len(damaged))))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "damaged.dcm"
        path.write_bytes(bytes(damaged[:cut]))
        check(path)


_GOOD: dict[str, bytes] = {}


def _good_file_bytes(syntax) -> bytes:
    if syntax not in _GOOD:
        from synthetic import write_dicom

        with tempfile.TemporaryDirectory() as folder:
            path = write_dicom(
                Path(folder) / "good.dcm",
                phantom((64, 48), seed=5)[0],
                syntax=syntax,
                ImageLaterality="L",
                ViewPosition="CC",
                WindowCenter=2000,
                WindowWidth=4000,
            )
            _GOOD[syntax] = path.read_bytes()
    return _GOOD[syntax]
