"""What the network sees beyond the working image's edge (crops in training, the padding to
the network's size multiple in inference)."""

from __future__ import annotations

import numpy as np


def pad_value(image: np.ndarray) -> float:
    """The darkest (background) level of the normalised image."""
    return float(image.min())
