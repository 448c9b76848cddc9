"""The residual U-Net with six Hybrid Deep Supervision exits, and its weights format.

Names are imported on first use (PEP 562): the weights' spec (spec.py, config.py) is read
without importing torch, which the network and the weights' tensors need."""

from ..lazy import lazy_names

_HOME = {
    "HDSConfig": "config",
    "HDSOutput": "hds_unet",
    "HDSUNet": "hds_unet",
    "pad_to_multiple": "hds_unet",
    "AGREEMENT_DICE": "spec",
    "DEFAULT_THRESHOLD": "spec",
    "DEFAULT_WORKING_SPACING_MM": "spec",
    "ModelSpec": "spec",
    "WeightsError": "spec",
    "read_spec": "spec_file",
    "sidecar": "spec_file",
    "load_weights": "weights",
    "save_weights": "weights",
    "sha256": "spec_file",
}

__all__ = sorted(_HOME)
__getattr__ = lazy_names(__name__, _HOME)
