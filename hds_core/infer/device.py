"""Device choice (CUDA, else Apple MPS, else CPU) and reduced-precision capability checks."""

from __future__ import annotations

import torch


class DeviceError(ValueError):
    pass


def choose_device(requested: str = "auto") -> torch.device:
    requested = (requested or "auto").lower()
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"device {requested!r} asked for, but no CUDA GPU is available (use --device cpu or auto)")
    if requested == "mps" and not (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    ):
        raise DeviceError("device 'mps' asked for, but Apple MPS is not available")
    try:
        return torch.device(requested)
    except RuntimeError as exc:
        raise DeviceError(f"unknown device {requested!r}: {exc}") from None


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    return "CPU"


def cpu_has_native_bf16() -> bool:
    """True only where bf16 runs natively (AVX512-BF16/AMX); emulated bf16 is ~5x slower than fp32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
