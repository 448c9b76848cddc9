"""Inference: the Predictor (image -> probability map, score, lesions at any threshold),
device choice, and the whole-image forward shared with evaluation.

Names are imported on first use (PEP 562): ``hds-predict --help`` and the naming helpers
must not pay for importing torch."""

from ..lazy import lazy_names

_HOME = {
    "DeviceError": "device",
    "choose_device": "device",
    "cpu_has_native_bf16": "device",
    "device_name": "device",
    "CUDA_FALLBACK": "events",
    "PredictionCancelled": "events",
    "DomainModels": "models",
    "Predictor": "predictor",
    "network_input_of": "shipped",
    "shipped_weights": "shipped",
    "NotAMammogramError": "scope",
    "not_a_mammogram": "scope",
}

__all__ = sorted(_HOME)
__getattr__ = lazy_names(__name__, _HOME)
