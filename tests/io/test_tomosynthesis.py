"""Digital breast tomosynthesis (issue 40, reading and the engine): Breast Tomosynthesis
objects written by tests/synthetic_dbt.py, valid under dciodvfy, read a frame at a time in
spatial order with each frame's own window and laterality; a damaged frame named by its
number; a header claiming more than its file holds refused; a lesion sharp on one slice
found on that slice by hds-predict."""

import json
import shutil
import subprocess

import numpy as np
import pydicom
import pytest
from synthetic_dbt import dbt_volume, write_dbt

from hds_core.infer import not_a_mammogram
from hds_core.io import MammoReadError, read_image, scan_folder
from hds_core.io.dicom import StackReader
from hds_core.io.errors import DecodeError, ImageTooLargeError
from hds_core.io.scan import read_header
from hds_core.io.tomo import slab_around, slab_count

SHUFFLED = [3, 1, 0, 2, 4, 7, 6, 5]  # the spatial slice each frame holds


@pytest.fixture
def stack(tmp_path):
    volume, centre = dbt_volume(8, lesion_slice=5)
    windows = [(1000.0 + 10 * frame, 3000.0) for frame in range(8)]
    path = write_dbt(tmp_path / "rcc.dcm", volume, order=SHUFFLED, windows=windows)
    return path, volume, centre


def test_a_stack_is_valid_under_dciodvfy(stack):
    if not shutil.which("dciodvfy"):
        pytest.skip("dciodvfy (dicom3tools) is not installed")
    said = subprocess.run(["dciodvfy", str(stack[0])], capture_output=True, text=True).stderr
    assert [line for line in said.splitlines() if line.startswith("Error")] == []


def test_slices_come_in_spatial_order_each_with_its_frames_window_and_laterality(stack):
    path, volume, _ = stack
    meta = read_header(path)
    assert (meta.frames, meta.is_stack) == (8, True)
    assert meta.frame_order == tuple(SHUFFLED.index(s) for s in range(8))
    assert meta.slice_depths_mm == tuple(float(s) for s in range(8))
    # Laterality only in Frame Anatomy, the view only in the View Code Sequence.
    assert "ImageLaterality" not in pydicom.dcmread(path, stop_before_pixels=True)
    assert (meta.laterality, meta.laterality_source, meta.view, meta.view_source) == (
        "R",
        "FrameLaterality",
        "CC",
        "ViewCodeSequence",
    )
    assert meta.pixel_spacing_mm == (0.1, 0.1) and not_a_mammogram(meta) is None
    reader = StackReader(path)
    for spatial in range(8):
        image = reader.slice(spatial)
        frame = SHUFFLED.index(spatial)
        assert image.metadata.frame_number == frame + 1
        assert (image.pixels == volume[spatial]).all()
        (preset,) = image.file_presets
        assert (preset.center, preset.width) == (1000.0 + 10 * frame, 3000.0)
    assert read_image(path).metadata.frame_number == SHUFFLED.index(4) + 1  # the middle slice by default
    assert scan_folder(path.parent).images[0].metadata.frames == 8


def test_a_damaged_frame_is_named_and_the_others_stay_readable(tmp_path):
    volume, _ = dbt_volume(4, shape=(96, 80))
    path = write_dbt(tmp_path / "rle.dcm", volume, syntax=pydicom.uid.RLELossless)
    ds = pydicom.dcmread(path)
    from pydicom.encaps import encapsulate, generate_frames

    frames = list(generate_frames(ds.PixelData, number_of_frames=4))
    frames[2] = frames[2][:64]  # frame 3 cut short
    ds.PixelData = encapsulate(frames)
    ds.save_as(path)
    reader = StackReader(path)
    spatial_of_frame_3 = reader.metadata.frame_order.index(2)
    with pytest.raises(DecodeError, match="frame 3 of 4 cannot be decoded") as raised:
        reader.slice(spatial_of_frame_3)
    assert str(path) in str(raised.value)
    for spatial in set(range(4)) - {spatial_of_frame_3}:
        assert (reader.slice(spatial).pixels == volume[spatial]).all()


@pytest.mark.parametrize(("claimed", "fault"), [(64, "pixel data"), (5000, "5000 frames")])
def test_a_header_claiming_more_than_the_file_holds_is_refused_unread(tmp_path, claimed, fault):
    volume, _ = dbt_volume(4, shape=(96, 80))
    path = write_dbt(tmp_path / "bomb.dcm", volume, frames_claimed=claimed)
    with pytest.raises(MammoReadError, match=fault) as raised:
        read_header(path)
    assert str(path) in str(raised.value)
    if claimed == 5000:
        assert isinstance(raised.value, ImageTooLargeError)
    result = scan_folder(tmp_path)
    assert not result.images and len(result.failures) == 1


def test_a_projection_object_is_listed_and_not_analysed(tmp_path):
    volume, _ = dbt_volume(4, shape=(96, 80))
    path = write_dbt(tmp_path / "proj.dcm", volume, SOPClassUID="1.2.840.10008.5.1.4.1.1.13.1.4")
    ds = pydicom.dcmread(path)
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.save_as(path)
    meta = scan_folder(tmp_path).images[0].metadata
    assert "breast projection X-ray image (for presentation): listed, not analysed" in not_a_mammogram(meta)


def test_hds_predict_finds_a_lesion_sharp_on_one_slice_on_that_slice(tmp_path, phantom_model, capsys):
    from hds_core.commands import predict

    volume, centre = dbt_volume(12, shape=(320, 240), lesion_slice=7)
    order = [3, 1, 0, 2, 4, 11, 7, 6, 5, 8, 9, 10]
    (tmp_path / "in").mkdir()
    write_dbt(tmp_path / "in" / "rcc.dcm", volume, order=order, spacing_mm=0.2)
    out = tmp_path / "out"
    assert (
        predict.main([str(tmp_path / "in"), "--weights", str(phantom_model), "--device", "cpu", "--out", str(out)]) == 0
    )
    (result,) = [json.loads(p.read_text()) for p in out.glob("*.json")]
    (lesion,) = result["lesions"]
    assert lesion["slice"] == 8 and lesion["frame"] == order.index(7) + 1  # spatial slice 7, 1-based
    assert lesion["frame"] in lesion["frames"] and len(lesion["frames"]) <= 3
    x, y = lesion["centroid_xy"]
    assert abs(x - centre[1]) < 4 and abs(y - centre[0]) < 4
    assert result["tomosynthesis"]["slices"] == 12 and result["score"] > 0.9
    assert max(result["tomosynthesis"]["slab_scores"]) == result["score"]
    assert "trained on 2-D mammograms" in result["tomosynthesis"]["note"]


def test_a_slab_is_the_maximum_or_the_average_of_the_slices_around_one(stack):
    path, volume, _ = stack
    reader = StackReader(path)
    mip = reader.slab(4, 3, mip=True)
    assert (mip.pixels == np.maximum.reduce(volume[3:6])).all()
    meta = mip.metadata
    assert (meta.slab_slices, meta.slab_mip, meta.frame_number) == (3, True, SHUFFLED.index(4) + 1)
    average = reader.slab(4, 3)
    expected = np.rint(np.mean(np.stack(volume[3:6]).astype(np.float64), axis=0)).astype(volume[0].dtype)
    assert (average.pixels == expected).all() and not average.metadata.slab_mip
    assert list(slab_around(0, 3, 8)) == [0, 1, 2] and list(slab_around(7, 4, 8)) == [4, 5, 6, 7]
    assert list(slab_around(3, 20, 8)) == list(range(8))  # never thicker than the stack
    assert slab_count(0.0, (0.0, 1.0)) == 1 and slab_count(5.0, (0.0, 0.5, 1.0)) == 10 and slab_count(3.0, ()) == 3


def test_a_compressed_stack_reads_each_slices_levels_from_its_own_codestream(tmp_path):
    """JPEG 2000 frame by frame, stored out of spatial order: a slice's reduced level comes
    straight from that frame's codestream and equals the level of its full decode."""
    from pydicom.uid import JPEG2000Lossless

    from hds_core.io.levels import lowpass_levels

    volume, _ = dbt_volume(6, shape=(200, 152), lesion_slice=2)
    path = write_dbt(tmp_path / "j2k.dcm", volume, order=[4, 2, 0, 1, 3, 5], syntax=JPEG2000Lossless)
    reader = StackReader(path)
    for spatial in (0, 2, 5):
        full = reader.slice(spatial)
        assert (full.pixels == volume[spatial]).all()
        reduced = reader.slice(spatial, 2)
        assert reduced.level == 2 and (reduced.pixels == lowpass_levels(full.pixels, 2, (0, 4095))).all()


@pytest.mark.parametrize(
    ("offset_table", "said"), [(True, "pixel data.s offset table lists 4"), (False, "pixel data holds 4")]
)
def test_a_compressed_stack_claiming_more_frames_than_it_holds_is_refused_unread(tmp_path, offset_table, said):
    from pydicom.encaps import encapsulate, generate_frames
    from pydicom.uid import JPEG2000Lossless

    volume, _ = dbt_volume(4, shape=(96, 80))
    path = write_dbt(tmp_path / "bomb.dcm", volume, syntax=JPEG2000Lossless)
    ds = pydicom.dcmread(path)
    frames = list(generate_frames(ds.PixelData, number_of_frames=4))
    ds.PixelData = encapsulate(frames, has_bot=offset_table)
    ds.NumberOfFrames = 400  # the items hold 4
    ds.save_as(path)
    with pytest.raises(MammoReadError, match=f"claims 400 frames; the {said}") as raised:
        read_header(path)
    assert str(path) in str(raised.value)
    assert len(scan_folder(tmp_path).failures) == 1
