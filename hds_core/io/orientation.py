"""Where the breast is and which side its chest wall is on, read from the pixels: the
viewer hangs by it when the file carries no Patient Orientation, and the model's
preprocessing crops and mirrors by it."""

from __future__ import annotations

import numpy as np


def breast_mask(values: np.ndarray) -> np.ndarray:
    """The breast: the largest connected region brighter than Otsu's threshold, holes filled."""
    if values.max() <= values.min():
        return np.ones(values.shape, dtype=bool)
    # Imported here: scikit-image's morphology takes 0.3 s to import, and a window opening
    # or a command's --help must not wait for it.
    from skimage import filters, measure, morphology

    smooth = filters.gaussian(values, sigma=2, preserve_range=True)
    foreground = smooth > filters.threshold_otsu(smooth) * 0.5
    labels = measure.label(foreground, connectivity=1)
    if labels.max() == 0:
        return np.ones(values.shape, dtype=bool)
    largest = np.argmax(np.bincount(labels.ravel())[1:]) + 1
    region = labels == largest
    return morphology.remove_small_holes(region, max_size=region.size // 20)


def chest_wall_on_right(mask: np.ndarray) -> bool:
    """The chest wall is the breast's long straight side; the nipple side is rounded.

    Compare the breast pixels in a band at each side of the breast's OWN extent, not of
    the image: film scans are padded, so the breast may touch neither image edge."""
    columns = np.flatnonzero(mask.any(axis=0))
    if columns.size < 2:
        return False
    first, last = columns[0], columns[-1] + 1
    band = max(1, (last - first) // 10)
    left = int(mask[:, first : first + band].sum())
    right = int(mask[:, last - band : last].sum())
    return right > left
