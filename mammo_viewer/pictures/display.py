"""8-bit screen pixels from a MammoImage, exactly through the engine's grayscale pipeline,
fast enough to follow a window/level drag. Qt-free.

The pipeline is a pure function of the stored value, so for integer images it is evaluated
once per distinct stored value (at most 65 536) into a lookup table, then applied with one
``np.take`` — ~15x faster than evaluating it per pixel on a 3328x4096 film."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hds_core.io import MammoImage, grayscale
from hds_core.io.grayscale import VoiPreset

MIN_WIDTH = 1.0


def adjusted(preset: VoiPreset, center: float, width: float) -> VoiPreset:
    """The preset as a plain window at (center, width): a drag turns a VOI LUT table into a
    window around the same range, keeping the file's VOI LUT Function (SIGMOID stays SIGMOID)."""
    function = preset.function if preset.function in ("LINEAR", "LINEAR_EXACT", "SIGMOID") else "LINEAR"
    return replace(
        preset,
        name="Custom",
        explanation="dragged by the reader",
        center=float(center),
        width=max(float(width), MIN_WIDTH),
        function=function,
        lut_first_mapped=None,
        lut_bits=None,
        lut_data=None,
    )


def window_of(image: MammoImage, preset: VoiPreset) -> tuple[float, float]:
    """(center, width) that a drag starts from; tables start from the range they cover."""
    if not preset.is_table and preset.center is not None and preset.width is not None:
        return float(preset.center), float(preset.width)
    values = image.modality_values()
    low, high = float(values.min()), float(values.max())
    return (low + high) / 2.0, max(high - low, MIN_WIDTH)


LUT_BAND_ROWS = 128


class ScreenRenderer:
    """uint8 (H, W) screen pixels of one image for a preset and an invert flag."""

    def __init__(self, image: MammoImage):
        self.image = image
        self._last: tuple[VoiPreset, bool, np.ndarray] | None = None
        pixels = image.pixels
        self._integer = np.issubdtype(pixels.dtype, np.integer)
        if self._integer:
            # Unsigned pixels index the table directly (it starts at 0): no index copy of a
            # 13-Mpixel film (27 MB each). Signed ones are shifted to start at 0.
            unsigned = pixels.dtype.kind == "u" and pixels.dtype.itemsize <= 2
            self._low = 0 if unsigned else int(pixels.min())
            self._span = int(pixels.max()) - self._low + 1
            self._index = (
                pixels
                if unsigned
                else (pixels - self._low).astype(np.uint16 if self._span <= 65536 else np.int64, copy=False)
            )
            self._integer = self._span <= 65536

    def render(self, preset: VoiPreset, *, user_invert: bool = False) -> np.ndarray:
        """Cached for the last (preset, invert): redrawing overlays never re-renders pixels. Equal
        presets hit the cache too: one rendered in a decoder process arrives as a copy."""
        if (
            self._last is not None
            and self._last[1] == user_invert
            and (self._last[0] is preset or self._last[0] == preset)
        ):
            return self._last[2]
        screen = self._render(preset, user_invert)
        self._last = (preset, user_invert, screen)
        return screen

    def thumbnail(self, height: int) -> np.ndarray:
        step = max(1, self.image.pixels.shape[0] // height)
        return self.render(self.image.default_preset)[::step, ::step].copy()

    def _render(self, preset: VoiPreset, user_invert: bool) -> np.ndarray:
        image = self.image
        if not self._integer:
            return grayscale.to_uint8(image.render(preset, user_invert=user_invert))
        stored = (np.arange(self._span, dtype=np.int64) + self._low).astype(image.pixels.dtype)[None, :]
        table = grayscale.to_uint8(
            grayscale.render(
                stored,
                preset,
                slope=image.rescale_slope,
                intercept=image.rescale_intercept,
                photometric=image.metadata.photometric,
                presentation_lut_shape=image.presentation_lut_shape,
                user_invert=user_invert,
            )
        )[0]
        # In bands of rows: one np.take over a whole film first converts all 13 M indices
        # to a 109 MB int64 temporary; bands keep it small and in cache (26 ms -> 13 ms,
        # tests/benchmarks/bench_decoding.py).
        screen = np.empty(self._index.shape, np.uint8)
        for top in range(0, self._index.shape[0], LUT_BAND_ROWS):
            np.take(table, self._index[top : top + LUT_BAND_ROWS], out=screen[top : top + LUT_BAND_ROWS], mode="clip")
        if image.padding is not None:
            screen[image.padding] = 0
        return screen


# Rows of the screen image the breast outline is found on: enough for a bounding box (about
# 5 ms for a 2048² film; found in the decoder process and the report's worker, never on the UI thread).
BOX_ROWS = 256


def breast_box(
    screen: np.ndarray, full_shape: tuple[int, int], margin: float = 0.03
) -> tuple[float, float, float, float] | None:
    """The breast's bounding box (x, y, width, height in full-image pixels, with a small
    margin), which the view fits and the report prints instead of the whole film: a film's
    padding otherwise takes half the view and opens a black gap between the chest walls.
    None when no breast is found (the whole image is shown)."""
    from hds_core.io import breast_mask

    step = max(1, screen.shape[0] // BOX_ROWS)
    small = np.asarray(screen[::step, ::step], dtype=np.float32)
    mask = breast_mask(small)
    if mask.all() or mask.mean() < 0.05:
        return None
    rows, cols = np.nonzero(mask)
    sy, sx = full_shape[0] / small.shape[0], full_shape[1] / small.shape[1]
    pad = margin * max(full_shape)
    x0, x1 = max(0.0, cols.min() * sx - pad), min(float(full_shape[1]), (cols.max() + 1) * sx + pad)
    y0, y1 = max(0.0, rows.min() * sy - pad), min(float(full_shape[0]), (rows.max() + 1) * sy + pad)
    return x0, y0, x1 - x0, y1 - y0
