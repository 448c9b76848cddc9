"""Resolution levels of a mammogram: what a reduced level is, and which one to read.

A screen shows a level until the reader zooms past it: the first is the coarsest whose pixels
are no larger than the screen's at fit. The network's input always comes from
``hds_core.network_input.input_level``, whichever level was read.

Level k holds ceil(rows / 2^k) x ceil(columns / 2^k) pixels, each 2^k original pixels apart.
Its values are the LL band of k levels of the reversible 5/3 wavelet transform of JPEG 2000
(ITU-T T.800 Annex F: integer lifting, whole-sample symmetric extension, columns then rows),
clipped to the stored range. That is exactly what a JPEG 2000 lossless decoder gives when it
stops k levels early (``progressive.py``, checked bit for bit in tests/io/test_levels.py), so a
reduced level is the same image whether it came from a codestream's pyramid or, for every
other syntax, from :func:`lowpass_levels` applied to the full decode.
"""

from __future__ import annotations

import math

import numpy as np


def level_shape(shape: tuple[int, int], level: int) -> tuple[int, int]:
    factor = 1 << level
    return math.ceil(shape[0] / factor), math.ceil(shape[1] / factor)


def deepest_level(shape: tuple[int, int]) -> int:
    """The coarsest level that still has more than one pixel along the longer side."""
    return max(shape).bit_length() - 1


def stored_range(bits_stored: int, signed: bool) -> tuple[int, int]:
    """The values ``bits_stored`` bits can hold: what a decoder clips a level to."""
    return (-(1 << (bits_stored - 1)), (1 << (bits_stored - 1)) - 1) if signed else (0, (1 << bits_stored) - 1)


def lowpass_levels(pixels: np.ndarray, levels: int, value_range: tuple[int, int] | None = None) -> np.ndarray:
    """``levels`` levels of the reversible 5/3 transform's LL band, in ``pixels``' dtype,
    clipped to ``value_range`` (the stored values' range; the dtype's when None)."""
    if levels <= 0:
        return pixels
    integer = np.issubdtype(pixels.dtype, np.integer)
    values = pixels.astype(
        np.int32 if integer and pixels.dtype.itemsize <= 2 else (np.int64 if integer else np.float64)
    )
    for _ in range(levels):
        values = _lowpass(_lowpass(values, 0), 1)  # columns first, then rows (T.800 F.3.2)
    if integer:
        info = np.iinfo(pixels.dtype)
        low, high = value_range if value_range is not None else (info.min, info.max)
        values = np.clip(values, low, high)
    return values.astype(pixels.dtype)


def _lowpass(x: np.ndarray, axis: int) -> np.ndarray:
    """One level of 5/3 integer lifting along ``axis``; the low-pass half (ceil(n/2) samples)."""
    n = x.shape[axis]
    if n < 2:
        return x
    x = np.moveaxis(x, axis, 0)
    even, odd = x[0::2], x[1::2]
    n_even, n_odd = len(even), len(odd)
    halve = (lambda v: v >> 1) if np.issubdtype(x.dtype, np.integer) else (lambda v: np.floor(v / 2))
    quarter = (lambda v: v >> 2) if np.issubdtype(x.dtype, np.integer) else (lambda v: np.floor(v / 4))
    # The right neighbour of odd sample 2i+1 is 2i+2; past the end it mirrors to 2i.
    right = even[1 : n_odd + 1] if n_even > n_odd else np.concatenate([even[1:], even[-1:]])
    detail = odd - halve(even[:n_odd] + right)
    before = np.concatenate([detail[:1], detail[: n_even - 1]])  # d[i-1], d[-1] mirrors to d[0]
    after = detail if n_even == n_odd else np.concatenate([detail, detail[-1:]])  # d[i], mirrored past the end
    low = even + quarter(before + after + 2)
    return np.moveaxis(low, 0, axis)


def screen_level(full_shape: tuple[int, int], screen_shape: tuple[int, int]) -> int:
    """The coarsest level whose pixels are no larger than the screen's when the whole image is
    fitted into ``screen_shape`` (rows, columns)."""
    fit = min(screen_shape[0] / full_shape[0], screen_shape[1] / full_shape[1])
    if fit <= 0:
        return 0
    return max(0, math.floor(math.log2(1.0 / fit))) if fit < 1 else 0


def preview_level(
    full_shape: tuple[int, int],
    *,
    screen_shape: tuple[int, int] | None,
    network_level: int | None,
    available: int,
) -> int:
    """The level to read first: fine enough for the screen and for the network (whose input
    comes from ``network_level``: ``hds_core.network_input.input_level``), at most
    ``available`` (the levels the file can give without decoding in full)."""
    wanted = [available]
    if screen_shape is not None:
        wanted.append(screen_level(full_shape, screen_shape))
    if network_level is not None:
        wanted.append(network_level)
    return max(0, min(wanted))
