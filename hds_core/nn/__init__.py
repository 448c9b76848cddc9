"""The residual U-Net with six Hybrid Deep Supervision exits, and its weights format.

Names are imported on first use (PEP 562): the weights' spec (spec.py, config.py) is read
without importing torch, which the network and the weights' tensors need."""

from importlib import import_module

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


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value
    return value
