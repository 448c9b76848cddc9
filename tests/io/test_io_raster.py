"""PNG, PGM and TIFF films read at full depth."""

import numpy as np
import pytest
from PIL import Image
from synthetic import phantom

from hds_core.io import errors, read_image


@pytest.mark.parametrize("suffix,mode", [(".png", None), (".pgm", None), (".tif", None)])
def test_16_bit_formats_keep_full_depth(tmp_path, suffix, mode):
    pixels, _ = phantom((80, 60), bits=16)
    path = tmp_path / f"film{suffix}"
    Image.fromarray(pixels).save(path)
    image = read_image(path)
    assert image.pixels.dtype == np.uint16
    np.testing.assert_array_equal(image.pixels, pixels)
    assert image.metadata.file_format == {".png": "PNG", ".pgm": "PGM", ".tif": "TIFF"}[suffix]
    assert image.metadata.pixel_spacing_mm is None


def test_8_bit_pgm_and_format_from_content_not_name(tmp_path):
    pixels = (np.arange(64 * 64) % 256).astype(np.uint8).reshape(64, 64)
    path = tmp_path / "film.dcm"  # a PGM with a misleading name
    Image.fromarray(pixels).save(path, format="PPM")
    image = read_image(path)
    assert image.metadata.file_format == "PGM"
    np.testing.assert_array_equal(image.pixels, pixels)


def test_colour_png_is_refused(tmp_path):
    path = tmp_path / "colour.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    with pytest.raises(errors.UnsupportedImageError):
        read_image(path)


def test_truncated_png(tmp_path):
    pixels, _ = phantom((128, 128), bits=16)
    path = tmp_path / "cut.png"
    Image.fromarray(pixels).save(path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(errors.MammoReadError) as info:
        read_image(path)
    assert info.value.path == path
