"""The weights the project ships (``resources/weights``), found without importing torch, and
what a viewer needs of any weights before they load: the network's input."""

from __future__ import annotations

from pathlib import Path

from ..network_input import NetworkInput
from ..nn import WeightsError, read_spec


def shipped_weights() -> Path:
    from resources import default_weights

    weights = default_weights()
    if weights is None:
        raise WeightsError("resources/weights", "no shipped weights were found", "pass the weights file explicitly")
    return weights


def network_input_of(weights: str | Path | None = None) -> NetworkInput | None:
    """The network's input of ``weights`` (None: the shipped ones) from their JSON alone, no
    network built: a viewer chooses which resolution level of a film to read for the network
    while the weights still load. None when they cannot be found or read (loading them then
    says why)."""
    try:
        return NetworkInput(read_spec(weights or shipped_weights()).working_spacing_mm)
    except (WeightsError, OSError, ValueError, TypeError, AttributeError):
        return None
