"""The residual U-Net with six Hybrid Deep Supervision exits, and its weights format."""

from .hds_unet import HDSConfig, HDSOutput, HDSUNet, pad_to_multiple
from .weights import WeightsError, load_weights, read_metadata, save_weights, sha256

__all__ = [
    "HDSConfig",
    "HDSOutput",
    "HDSUNet",
    "WeightsError",
    "load_weights",
    "pad_to_multiple",
    "read_metadata",
    "save_weights",
    "sha256",
]
