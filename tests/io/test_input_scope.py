"""What gets read and what gets analysed: deflated files through every header-only path,
files built to exhaust memory refused with memory bounded, the AI run on mammograms only,
and a DICOM corpus nobody here wrote (pydicom's own test files) through hds-predict."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import viewer_on
from pydicom.dataset import Dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian, generate_uid
from synthetic import phantom, write_codestream_size_bomb, write_deflate_bomb, write_dicom

from hds_core.infer import NotAMammogramError, Predictor
from hds_core.io import errors, read_image, scan_folder
from mammo_viewer.headless import main as predict_main

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"


@pytest.fixture(scope="module")
def deflated_study(tmp_path_factory):
    """Two deflated films of one study; the left one with a VOI LUT Sequence and a Pixel
    Padding Value (the elements a header-only reader must get past to the pixel data). The
    pixel data (160 KB) is larger than what the header-only scan reads at once (64 KB), as
    in any real film: the size check then meets a value it did not read."""
    folder = tmp_path_factory.mktemp("deflated")
    ids = {"StudyInstanceUID": generate_uid(), "SeriesInstanceUID": generate_uid()}
    right, _ = phantom((320, 256), seed=21, chest_wall="left", crisp=True)
    write_dicom(
        folder / "R_CC.dcm",
        right,
        syntax=DeflatedExplicitVRLittleEndian,
        ImageLaterality="R",
        ViewPosition="CC",
        ImagerPixelSpacing=[0.4, 0.4],
        **ids,
    )
    left, _ = phantom((320, 256), seed=22, chest_wall="right", crisp=True)
    left[:, :4] = 0  # a padded border
    lut = Dataset()
    lut.LUTDescriptor = [4096, 0, 12]
    lut.LUTData = np.linspace(0, 4095, 4096).astype("<u2").tobytes()
    lut.LUTExplanation = "LINEAR TABLE"
    write_dicom(
        folder / "L_CC.dcm",
        left,
        syntax=DeflatedExplicitVRLittleEndian,
        ImageLaterality="L",
        ViewPosition="CC",
        ImagerPixelSpacing=[0.4, 0.4],
        PixelPaddingValue=0,
        VOILUTSequence=[lut],
        **ids,
    )
    return folder


def test_deflated_files_read_whole_and_through_the_header_only_scan(deflated_study):
    scan = scan_folder(deflated_study)
    assert scan.failures == [] and len(scan.images) == 2
    image = read_image(deflated_study / "L_CC.dcm")
    assert image.pixels.shape == (320, 256) and image.padding_value == 0
    assert any(p.name == "LINEAR TABLE" for p in image.file_presets)
    assert image.metadata.transfer_syntax == DeflatedExplicitVRLittleEndian


def test_deflated_study_through_hds_predict(deflated_study, phantom_model, tmp_path, capsys):
    out = tmp_path / "out"
    assert predict_main([str(deflated_study), "--out", str(out), "--weights", str(phantom_model)]) == 0
    assert "wrote 2 result(s)" in capsys.readouterr().err
    for name in ("R_CC", "L_CC"):
        assert len(json.loads((out / f"{deflated_study.name}_{name}.json").read_text())["lesions"]) == 1


def test_deflated_study_in_the_viewer(qtbot, deflated_study, phantom_model, tmp_path):
    window = viewer_on(qtbot, phantom_model, deflated_study, tmp_path)
    assert window.problems.count() == 0
    shown = [v for v in window.views if v.isVisible() and v.key]
    assert sorted(v.title for v in shown) == ["L CC", "R CC"] and all(
        v.badge.startswith(("score ", "raw score ")) for v in shown
    )
    window.close()


BOMB_SCRIPT = r"""
import sys, time
from hds_core.io import errors, read_image
from hds_core.io.scan import read_header
for path in sys.argv[1:]:
    for step in (read_header, read_image):
        started = time.perf_counter()
        try:
            step(path)
            print("READ", path)
        except errors.MammoReadError as exc:
            print(type(exc).__name__, exc.reason)
        print(f"took {1000 * (time.perf_counter() - started):.1f} ms", file=sys.stderr)
# VmHWM: this process's own peak (ru_maxrss would carry the parent's peak across fork and exec).
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
print("peak MB", int(peak.split()[1]) // 1024)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak from /proc")
def test_files_built_to_exhaust_memory_are_refused_with_memory_bounded(tmp_path):
    pixels, _ = phantom((64, 64), seed=1)
    # 1 GiB of zeros in a private element (4.7 MB on disk; pydicom alone inflates it whole);
    # HDS_BOMB_GIB=3 builds the 3 GiB one (about 9 s to write).
    gib = float(os.environ.get("HDS_BOMB_GIB", 1))
    deflate = write_deflate_bomb(tmp_path / "deflate.dcm", pixels, inflated_bytes=int(gib * 2**30))
    codestream = write_codestream_size_bomb(tmp_path / "siz.dcm", pixels, declared=(65000, 65000))
    run = subprocess.run(
        [sys.executable, "-c", BOMB_SCRIPT, str(deflate), str(codestream)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert lines[0].startswith("ImageTooLargeError the deflated dataset inflates past 64 MiB") and lines[1] == lines[0]
    assert lines[2] == f"READ {codestream}"  # the header is fine: the codestream is only read to decode
    assert (
        lines[3].startswith("PixelSizeMismatchError")
        and "declares 65000x65000 pixels but the header says 64x64" in lines[3]
    )
    # Python, numpy and pydicom take ~90 MB; the 1 GiB element and the 8 GB frame are never allocated.
    assert int(lines[4].split()[-1]) < 300, run.stdout
    assert "Traceback" not in run.stderr
    print(
        f"{gib:g} GiB deflate bomb ({deflate.stat().st_size / 1e6:.1f} MB on disk): {lines[0]}; "
        f"header, full read, then the codestream's: "
        f"{[row.split()[1] for row in run.stderr.splitlines() if row.startswith('took')]} ms; "
        f"{lines[4]}"
    )  # shown with pytest -s


def test_deflated_pixel_data_longer_than_the_header_says_is_refused_before_inflating(tmp_path):
    pixels, _ = phantom((64, 64), seed=2)
    path = write_dicom(tmp_path / "long.dcm", pixels, syntax=DeflatedExplicitVRLittleEndian)
    # The same file with the pixel data declared 4 bytes a pixel (the header says 2).
    from pydicom import dcmread

    ds = dcmread(path)
    ds.PixelData = ds.PixelData * 2
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(errors.PixelSizeMismatchError, match="deflated pixel data declares 16384 bytes"):
        read_image(path)


def ct_slice(path: Path) -> Path:
    pixels, _ = phantom((128, 128), seed=30, crisp=True)  # bright enough for the model to "find" something
    return write_dicom(path, pixels, Modality="CT", SOPClassUID=CT_IMAGE, ImagerPixelSpacing=[0.4, 0.4])


def test_the_ai_runs_on_mammograms_only(phantom_model, tmp_path, capsys):
    path = ct_slice(tmp_path / "ct.dcm")
    image = read_image(path)  # displayed...
    with pytest.raises(NotAMammogramError, match=r"not a mammogram \(Modality CT, CT Image Storage\): AI not run"):
        Predictor(phantom_model, device="cpu").predict(image)  # ...never scored
    out = tmp_path / "out"
    assert predict_main([str(path), "--out", str(out), "--weights", str(phantom_model)]) == 2
    err = capsys.readouterr().err
    assert "ct.dcm: not a mammogram (Modality CT, CT Image Storage): AI not run" in err and not out.exists()
    # An MG SOP class without Modality, and a raster file, are analysed.
    mg = write_dicom(tmp_path / "mg.dcm", phantom((128, 128), seed=31)[0], Modality="")
    assert Predictor(phantom_model, device="cpu").predict(read_image(mg)).score >= 0


def test_the_viewer_shows_a_non_mammogram_without_ai_and_says_why(qtbot, phantom_model, tmp_path):
    folder = tmp_path / "ct"
    folder.mkdir()
    ct_slice(folder / "ct.dcm")
    window = viewer_on(qtbot, phantom_model, folder, tmp_path)
    view = next(v for v in window.views if v.isVisible() and v.key)
    assert view.image_size == (128, 128) and view.badge == "not a mammogram: AI not run"
    assert window.study.images[view.key].prediction is None
    problems = [window.problems.item(i).text() for i in range(window.problems.count())]
    assert any("not a mammogram (Modality CT" in line for line in problems)
    assert window.findings.progress.text() == "no readable mammogram to analyse"
    window.close()


PYDICOM_FILES = [
    "CT_small.dcm",
    "MR_small.dcm",
    "MR_small_jp2klossless.dcm",
    "rtdose_1frame.dcm",
    "examples_overlay.dcm",
    "rtplan.dcm",
    "rtstruct.dcm",
    "J2K_pixelrep_mismatch.dcm",
    "693_J2KI.dcm",
    "MR_truncated.dcm",
    "JPEG2000.dcm",
    "SC_rgb_jpeg.dcm",
    "image_dfl.dcm",
    "test-SR.dcm",
]


def test_pydicoms_own_test_files_get_no_ai_result_and_no_traceback(phantom_model, tmp_path):
    from pydicom.data import get_testdata_file

    corpus = tmp_path / "pydicom"
    corpus.mkdir()
    for name in PYDICOM_FILES:
        source = get_testdata_file(name, download=False)  # the files that ship with pydicom (no network)
        shutil.copy(source, corpus / name)
    out = tmp_path / "out"
    env = {**os.environ, "HOME": str(tmp_path)}  # the run's log file lands here
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mammo_viewer.headless",
            str(corpus),
            "--out",
            str(out),
            "--weights",
            str(phantom_model),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert run.returncode == 2, run.stderr  # not one of them is a mammogram
    assert not out.exists()
    lines = run.stderr.splitlines()
    assert all(line.startswith("hds-predict: ") for line in lines), run.stderr  # no tracebacks, no decoder chatter
    for name in ("CT_small.dcm", "MR_small.dcm", "rtdose_1frame.dcm", "examples_overlay.dcm"):
        assert any(f"{name}: not a mammogram (Modality" in line for line in lines), name
    assert any("skipped 1 file(s) that are not images (RT plan)" in line for line in lines)
    assert any("skipped 1 file(s) that are not images (RT structure set)" in line for line in lines)


def test_a_ct_relabelled_with_the_mammography_class_is_not_analysed(phantom_model, tmp_path, capsys):
    """The class says mammogram, the Modality says CT: the Modality wins (it scored 0.91 with a
    1,632 mm² lesion before)."""
    pixels, _ = phantom((256, 192), seed=5)
    (tmp_path / "in").mkdir()
    write_dicom(tmp_path / "in" / "ct.dcm", pixels, Modality="CT")
    code = predict_main([str(tmp_path / "in"), "--weights", str(phantom_model), "--out", str(tmp_path / "out")])
    assert code == 2 and "not a mammogram (Modality CT" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


_COMPLAINING_RUN = """
import os, sys
import hds_core.io as io
from mammo_viewer.headless import main
real = io.read_preview
def complaining(*args, **kwargs):
    os.write(2, b"[WARNING] Stream error while reading JPEG2000 main header\\n")
    return real(*args, **kwargs)
io.read_preview = complaining  # hds-predict imports it when it starts
sys.exit(main(sys.argv[1:]))
"""


def test_what_a_decoder_complains_of_is_said_in_the_result_or_refused(phantom_model, tmp_path):
    """A C decoder writes its complaints to file descriptor 2 (openjpeg: "Error with SIZ
    marker"); the image's result then says it was decoded with errors, and --refuse-damaged
    (the listener's mode) does not analyse it. In a process of its own: file descriptor 2 is
    then a real one, as for a user."""
    pixels, _ = phantom((256, 192), seed=6)
    (tmp_path / "in").mkdir()
    write_dicom(tmp_path / "in" / "film.dcm", pixels, ImagerPixelSpacing=[0.4, 0.4])
    base = [sys.executable, "-c", _COMPLAINING_RUN, str(tmp_path / "in"), "--weights", str(phantom_model)]
    run = subprocess.run([*base, "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    (result,) = (tmp_path / "out").glob("*.json")
    assert any("decoded with errors: [WARNING] Stream error" in w for w in json.loads(result.read_text())["warnings"])
    strict = subprocess.run(
        [*base, "--out", str(tmp_path / "strict"), "--refuse-damaged"], capture_output=True, text=True, timeout=300
    )
    assert strict.returncode == 2 and "decoded with errors, not analysed" in strict.stderr
    assert not list((tmp_path / "strict").glob("*.json"))


def test_a_file_named_on_the_command_line_is_tried_whatever_its_name(phantom_model, tmp_path, capsys):
    pixels, _ = phantom((256, 192), seed=7)
    (tmp_path / "in").mkdir()
    named = write_dicom(tmp_path / "in" / "..dcm", pixels, ImagerPixelSpacing=[0.4, 0.4])
    code = predict_main([str(named), "--weights", str(phantom_model), "--out", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    assert len(list((tmp_path / "out").glob("*.json"))) == 1


def test_a_damaged_photometric_vr_is_named_in_words(tmp_path):
    import pydicom

    pixels, _ = phantom((64, 48), seed=8)
    path = write_dicom(tmp_path / "f.dcm", pixels)
    ds = pydicom.dcmread(path)
    tag = pydicom.tag.Tag(0x00280004)
    ds._dict[tag] = pydicom.dataelem.RawDataElement(tag, "US", 4, b"\x4d\x4f\x4e\x4f", 0, False, True)
    ds.save_as(path)
    with pytest.raises(errors.MammoReadError, match="Photometric Interpretation is not a code string"):
        read_image(path)


def test_a_signed_pixel_representation_on_unsigned_data_is_noted(tmp_path):
    pixels, _ = phantom((256, 192), seed=9)  # 12-bit unsigned values, breast above half range
    assert pixels.max() > 2048
    wrapped = write_dicom(tmp_path / "wrapped.dcm", pixels, PixelRepresentation=1)
    plain = write_dicom(tmp_path / "plain.dcm", pixels)
    truly_signed = write_dicom(
        tmp_path / "signed.dcm", (pixels.astype(np.int32) // 8 - 256).astype(np.int16), BitsStored=12
    )
    said = " ".join(read_image(wrapped).metadata.warnings())
    assert "Pixel Representation says signed" in said
    assert "Pixel Representation" not in " ".join(read_image(plain).metadata.warnings())
    assert "Pixel Representation" not in " ".join(read_image(truly_signed).metadata.warnings())


def test_a_whole_rle_file_with_damaged_segments_is_not_called_cut_off(tmp_path):
    import struct

    from pydicom.uid import RLELossless

    path = write_dicom(tmp_path / "rle.dcm", phantom((256, 192), seed=3)[0], syntax=RLELossless)
    data = bytearray(path.read_bytes())
    table = data.find(b"\xfe\xff\x00\xe0", data.find(b"\xe0\x7f\x10\x00") + 12)  # the offset table
    first = data.find(b"\xfe\xff\x00\xe0", table + 8) + 8  # the RLE header of the first frame
    data[first : first + 4] = struct.pack("<L", 15)  # 15 segments claimed, 2 there
    path.write_bytes(bytes(data))
    with pytest.raises(errors.MammoReadError) as whole:
        read_image(path)
    assert "though the file is whole" in str(whole.value) and "cut off" not in str(whole.value)
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(bytes(data[: len(data) - 3000]))
    with pytest.raises(errors.MammoReadError, match="cut off"):
        read_image(cut)
