"""PNG, PGM, TIFF and JPEG mammograms (film scans such as mini-MIAS, research exports such
as CDD-CESM's 8-bit JPEGs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from . import errors
from .dicom_header import MAX_PIXELS
from .image import MammoImage, MammoMetadata

Image.MAX_IMAGE_PIXELS = None  # we apply our own limit (MAX_PIXELS) before decoding
COLOUR_MODES = ("RGB", "RGBA", "P", "LA", "CMYK")  # Pillow's modes of a colour (or paletted) raster


def read_raster(path: Path, file_format: str) -> MammoImage:
    try:
        with Image.open(path) as im:
            columns, rows = im.size
            if rows * columns > MAX_PIXELS:
                raise errors.ImageTooLargeError(
                    path, f"{columns}x{rows} pixels is over the {MAX_PIXELS // 1_000_000} Mpixel limit"
                )
            if getattr(im, "n_frames", 1) > 1:
                raise errors.UnsupportedImageError(path, f"{im.n_frames} pages/frames; a mammogram is one image")
            if im.mode in COLOUR_MODES:
                raise errors.UnsupportedImageError(
                    path, f"colour image (mode {im.mode})", "save the mammogram as grayscale"
                )
            pixels = np.array(im)
    except errors.MammoReadError:
        raise
    except PermissionError as exc:
        raise errors.UnreadableFileError(path, f"permission denied ({exc.strerror})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        message = str(exc)
        if "truncated" in message.lower() or "end of file" in message.lower():
            raise errors.TruncatedFileError(path, f"{file_format} file is truncated: {message}") from None
        raise errors.DecodeError(path, f"cannot decode the {file_format} image: {message}") from None
    if pixels.ndim != 2:
        raise errors.UnsupportedImageError(path, f"image has shape {pixels.shape}, expected a 2-D grayscale image")
    if pixels.dtype == np.int32 and pixels.size and pixels.min() >= 0 and pixels.max() < 65536:
        pixels = pixels.astype(np.uint16)  # Pillow opens 16-bit PGM/PNG as int32 ("I" mode)
    if pixels.dtype == bool:
        pixels = pixels.astype(np.uint8) * 255
    bits = 8 if pixels.dtype == np.uint8 else 16 if pixels.dtype == np.uint16 else None
    metadata = MammoMetadata(
        path=path, file_format=file_format, rows=rows, columns=columns, bits_stored=bits, photometric="MONOCHROME2"
    )
    return MammoImage(pixels=pixels, metadata=metadata)
