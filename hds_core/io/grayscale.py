"""The display pipeline as pure functions, in the order DICOM PS3.4 N.2 prescribes:

    stored values -> Modality LUT (rescale) -> VOI (window or VOI LUT table)
    -> Presentation LUT (MONOCHROME1 / INVERSE inverts AFTER the VOI) -> display [0, 1]

Pixel Padding Value marks pixels outside the breast/detector; they are kept out of every
statistic (auto window, model normalisation) and render as background.
All functions take and return numpy arrays and never modify their input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VOI_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")


@dataclass(frozen=True)
class VoiPreset:
    """One way to map modality values to display: a window or a VOI LUT table."""

    name: str
    explanation: str
    center: float | None = None
    width: float | None = None
    function: str = "LINEAR"
    lut_first_mapped: int | None = None
    lut_bits: int | None = None
    lut_data: tuple[int, ...] | None = None

    @property
    def is_table(self) -> bool:
        return self.lut_data is not None


def apply_rescale(stored: np.ndarray, slope: float = 1.0, intercept: float = 0.0) -> np.ndarray:
    """Modality LUT (PS3.3 C.11.1): output = stored * slope + intercept, as float32."""
    values = stored.astype(np.float32, copy=True)
    if slope != 1.0:
        values *= np.float32(slope)
    if intercept != 0.0:
        values += np.float32(intercept)
    return values


def apply_window(values: np.ndarray, center: float, width: float, function: str = "LINEAR") -> np.ndarray:
    """VOI window (PS3.3 C.11.2.1.2) mapped to [0, 1].

    LINEAR uses the standard's (c - 0.5, w - 1) offsets, LINEAR_EXACT the exact centre and
    width, SIGMOID the logistic curve 1 / (1 + exp(-4 (x - c) / w)).
    """
    function = (function or "LINEAR").upper()
    x = values.astype(np.float32, copy=False)
    if function == "LINEAR":
        if width < 1:
            raise ValueError(f"LINEAR window width must be >= 1, got {width}")
        if width == 1:
            return (x > center - 0.5).astype(np.float32)
        out = (x - (center - 0.5)) / (width - 1) + 0.5
    elif function == "LINEAR_EXACT":
        if width <= 0:
            raise ValueError(f"LINEAR_EXACT window width must be > 0, got {width}")
        out = (x - center) / width + 0.5
    elif function == "SIGMOID":
        if width <= 0:
            raise ValueError(f"SIGMOID window width must be > 0, got {width}")
        return (1.0 / (1.0 + np.exp(-4.0 * (x - center) / width))).astype(np.float32)
    else:
        raise ValueError(f"unknown VOI LUT Function {function!r}; expected one of {VOI_FUNCTIONS}")
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def apply_voi_table(values: np.ndarray, first_mapped: int, bits: int, data: np.ndarray | tuple) -> np.ndarray:
    """VOI LUT Sequence table (PS3.3 C.11.2.1.1): values below the first mapped value take
    the first entry, above the last take the last; output scaled by 2^bits - 1 to [0, 1]."""
    table = np.asarray(data, dtype=np.float32)
    index = np.clip(np.rint(values).astype(np.int64) - int(first_mapped), 0, len(table) - 1)
    return table[index] / np.float32(2**bits - 1)


def apply_preset(values: np.ndarray, preset: VoiPreset) -> np.ndarray:
    if preset.is_table:
        return apply_voi_table(values, preset.lut_first_mapped or 0, preset.lut_bits or 16, preset.lut_data)
    return apply_window(values, preset.center, preset.width, preset.function)


def should_invert(photometric: str, presentation_lut_shape: str | None) -> bool:
    """Presentation LUT Shape, when present, decides; otherwise MONOCHROME1 inverts."""
    if presentation_lut_shape:
        return presentation_lut_shape.upper() == "INVERSE"
    return photometric.upper() == "MONOCHROME1"


def invert(display: np.ndarray) -> np.ndarray:
    return (1.0 - display).astype(np.float32, copy=False)


def padding_mask(stored: np.ndarray, padding_value: int | None, range_limit: int | None = None) -> np.ndarray | None:
    """True where the stored value is Pixel Padding (a single value or a value range)."""
    if padding_value is None:
        return None
    if range_limit is None:
        mask = stored == padding_value
    else:
        low, high = sorted((padding_value, range_limit))
        mask = (stored >= low) & (stored <= high)
    return mask if mask.any() else None


def auto_window(
    values: np.ndarray, mask: np.ndarray | None = None, low_pct: float = 0.5, high_pct: float = 99.5
) -> VoiPreset:
    """A window spanning the given percentiles of the non-padding pixels."""
    sample = values[~mask] if mask is not None else values.ravel()
    if sample.size == 0:
        sample = values.ravel()
    # Subsample large images: percentiles of 1M pixels are stable to well under a grey level.
    if sample.size > 1_000_000:
        sample = sample[:: sample.size // 1_000_000]
    low, high = np.percentile(sample, [low_pct, high_pct])
    width = max(float(high - low), 1.0)
    return VoiPreset(
        name="Auto",
        explanation=f"{low_pct:g}-{high_pct:g} percentile of the image's pixels, padding excluded",
        center=float(low + high) / 2.0,
        width=width,
        function="LINEAR_EXACT",
    )


def full_range_window(values: np.ndarray, mask: np.ndarray | None = None) -> VoiPreset:
    sample = values[~mask] if mask is not None else values
    if sample.size == 0:
        sample = values
    low, high = float(sample.min()), float(sample.max())
    return VoiPreset(
        name="Full range",
        explanation="minimum to maximum pixel value, padding excluded",
        center=(low + high) / 2.0,
        width=max(high - low, 1.0),
        function="LINEAR_EXACT",
    )


def render(
    stored: np.ndarray,
    preset: VoiPreset,
    *,
    slope: float = 1.0,
    intercept: float = 0.0,
    photometric: str = "MONOCHROME2",
    presentation_lut_shape: str | None = None,
    padding: np.ndarray | None = None,
    user_invert: bool = False,
) -> np.ndarray:
    """Stored pixels to display values in [0, 1] (1 = white), padding black."""
    display = apply_preset(apply_rescale(stored, slope, intercept), preset)
    if should_invert(photometric, presentation_lut_shape) != user_invert:
        display = invert(display)
    if padding is not None:
        display = np.where(padding, np.float32(0.0), display)
    return display


def to_uint8(display: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(display * 255.0), 0, 255).astype(np.uint8)
