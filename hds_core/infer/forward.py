"""Whole working images through the network: pad to a multiple of 32, forward, crop back.

The one place where the network runs on whole images: training-time validation, hds-eval
and the Predictor all call :func:`predict_working`."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch

from ..network_input import pad_value
from ..nn import HDSUNet, pad_to_multiple
from .optimize import is_channels_last


@dataclass
class ExitResult:
    probability: np.ndarray  # float32 (H, W) mass probability at working resolution
    mil_probability: float  # the exit's image-level (MIL) probability of "mass"

    @property
    def max_probability(self) -> float:
        return float(self.probability.max()) if self.probability.size else 0.0


SCORE_SOURCES = ("mil", "max_probability")


def image_score(result: ExitResult, source: str) -> float:
    """The image's "contains a mass" score: the exit's MIL probability, or the maximum of its
    probability map (used for models trained without image-wise supervision)."""
    if source == "mil":
        return result.mil_probability
    if source == "max_probability":
        return result.max_probability
    raise ValueError(f"score source must be one of {SCORE_SOURCES}, got {source!r}")


def autocast_context(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


@torch.inference_mode()
def predict_working(
    model: HDSUNet,
    image: np.ndarray,
    device: torch.device,
    *,
    all_exits: bool = False,
    autocast_dtype: torch.dtype | None = None,
) -> list[ExitResult]:
    """One normalised working image (H, W) -> one result per exit (only the final one by default)."""
    was_training = model.training
    model.eval()
    try:
        tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None].to(device)
        padded, (height, width) = pad_to_multiple(tensor, model.config.size_multiple, value=pad_value(image))
        if is_channels_last(model):
            padded = padded.contiguous(memory_format=torch.channels_last)
        with autocast_context(device, autocast_dtype):
            output = model(padded, all_exits=all_exits)
        results = []
        for seg, mil in zip(output.seg_logits, output.mil_logits):
            probability = seg.float().softmax(dim=1)[0, 1, :height, :width]
            results.append(ExitResult(probability.cpu().numpy(), float(mil.float().softmax(dim=1)[0, 1])))
        return results
    finally:
        model.train(was_training)
