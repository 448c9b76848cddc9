"""Inference: the Predictor (image -> probability map, score, lesions at any threshold),
device choice, and the whole-image forward shared with evaluation."""

from .device import DeviceError, choose_device, cpu_has_native_bf16, device_name
from .lesions import Lesion, find_lesions
from .predictor import Prediction, PredictionCancelled, Predictor, weights_working_spacing
from .scope import NotAMammogramError, not_a_mammogram

__all__ = ["DeviceError", "Lesion", "NotAMammogramError", "Prediction", "PredictionCancelled", "Predictor", "choose_device", "cpu_has_native_bf16",
           "device_name", "find_lesions", "not_a_mammogram", "weights_working_spacing"]
