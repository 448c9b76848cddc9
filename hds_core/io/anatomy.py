"""The pectoral muscle on an MLO view: the bright triangle whose base is the chest wall and
whose apex lies on the image's top edge. A mass detector must not mark it (readers dismiss
such marks at once), so it is found here for suppression, a loss weight or an input channel.

Works on an image with the chest wall on the LEFT (the network's working image, or any image
mirrored so), dense tissue bright. Straight-line model (the muscle's edge is nearly straight
at a working spacing of a few tenths of a millimetre): the bright region at the top of the
chest wall, brighter than the breast's tissue below it, bounded by a line fitted to its
edge row by row; when what was found is not such a triangle, no muscle is returned rather
than a guess.
"""

from __future__ import annotations

import numpy as np

# What a pectoral muscle on an MLO looks like, as fractions of the breast's own extent.
MAX_HEIGHT = 0.85  # its lower corner on the chest wall, from the breast's top
MIN_HEIGHT = 0.12
MAX_TOP_WIDTH = 0.8  # its width at the top edge, of the breast's width
MIN_AREA, MAX_AREA = 0.01, 0.45  # of the breast's area


def pectoral_mask(values: np.ndarray, breast: np.ndarray) -> np.ndarray:
    """Boolean mask of the pectoral muscle in ``values`` (chest wall on the left), empty when
    none is found. ``breast``: the breast's mask (``breast_mask``), the same shape."""
    empty = np.zeros(values.shape, dtype=bool)
    rows = np.flatnonzero(breast.any(axis=1))
    cols = np.flatnonzero(breast.any(axis=0))
    if rows.size < 8 or cols.size < 8:
        return empty
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    height, width = bottom - top, right - left
    # The muscle lies in the upper part of the breast next to the chest wall.
    region = np.zeros(values.shape, dtype=bool)
    region[top : top + int(MAX_HEIGHT * height), left : left + int(MAX_TOP_WIDTH * width)] = True
    region &= breast
    from skimage import filters, measure  # imported where used (orientation.py says why)

    smooth = filters.gaussian(values.astype(np.float32), sigma=1.5, preserve_range=True)
    inside = smooth[region]
    if inside.size < 16 or np.ptp(inside) <= 0:
        return empty
    bright = region & (smooth > filters.threshold_otsu(inside))
    labels = measure.label(bright, connectivity=1)
    corner = labels[top : top + max(2, height // 20), left : left + max(2, width // 20)]
    touching = np.bincount(corner[corner > 0].ravel())
    if touching.size == 0:
        return empty
    muscle = labels == int(np.argmax(touching))
    # Its edge, row by row: the muscle pixels that start at the chest wall. Down the rows the
    # muscle narrows; where the run widens again it has met dense tissue, and where it ends
    # the muscle has (the film's own edge at the chest wall is a few dark pixels: a run may
    # start there).
    lead = max(2, width // 20)
    edge_rows, edge_cols, narrowest, missed = [], [], np.inf, 0
    for r in range(top, bottom):
        run = muscle[r, left:]
        start = np.flatnonzero(run[:lead])
        if not start.size:
            missed += bool(edge_rows)
            if missed > max(2, height // 50):  # the muscle has ended (a row or two of film defects aside)
                break
            continue
        missed = 0
        stop = np.flatnonzero(~run[start[0] :])
        edge = start[0] + (stop[0] if stop.size else run.size - start[0])
        if edge <= narrowest + lead:  # only the narrowing envelope, not dense tissue joined to it
            edge_rows.append(r)
            edge_cols.append(left + edge)
            narrowest = min(narrowest, edge)
    if len(edge_rows) < max(4, MIN_HEIGHT * height):
        return empty
    # A straight edge through those rows (least squares, refitted without the rows more than
    # two pixels off), narrowing downwards.
    r_fit, c_fit = np.asarray(edge_rows, dtype=float), np.asarray(edge_cols, dtype=float)
    slope, intercept = np.polyfit(r_fit, c_fit, 1)
    close = np.abs(slope * r_fit + intercept - c_fit) <= 2
    if close.sum() >= 4:
        slope, intercept = np.polyfit(r_fit[close], c_fit[close], 1)
    if slope >= 0:
        return empty
    lower_corner = (left - intercept) / slope  # the row where the edge meets the chest wall
    top_width = slope * top + intercept - left
    if not (MIN_HEIGHT * height <= lower_corner - top <= MAX_HEIGHT * height) or top_width > MAX_TOP_WIDTH * width:
        return empty
    grid_rows, grid_cols = np.mgrid[0 : values.shape[0], 0 : values.shape[1]]
    mask = breast & (grid_cols < slope * grid_rows + intercept) & (grid_rows >= top)
    area = mask.sum() / max(breast.sum(), 1)
    if not (MIN_AREA <= area <= MAX_AREA):
        return empty
    # The muscle is brighter than the tissue beside it; a line through dense tissue is not one.
    beside = breast & ~mask & (grid_cols < slope * grid_rows + intercept + width * 0.15) & (grid_rows < lower_corner)
    if beside.sum() >= 8 and np.median(smooth[mask]) <= np.median(smooth[beside]):
        return empty
    return mask
