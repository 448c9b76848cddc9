"""Where a lesion's number goes: the box's top right corner as Qt maps it, on paper and on screen."""

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QTransform

from mammo_viewer.pictures.view_pictures import number_anchor


def _by_qt(bbox, transform: QTransform, to_pixel: bool) -> tuple[float, float]:
    """The reference: each corner through QTransform.map (and QPointF.toPoint, qRound)."""
    x, y, w, h = bbox
    corners = [transform.map(QPointF(cx, cy)) for cx in (x, x + w) for cy in (y, y + h)]
    if to_pixel:
        corners = [QPointF(c.toPoint()) for c in corners]
    return max(c.x() for c in corners), min(c.y() for c in corners)


def test_the_anchor_is_the_top_right_corner_qt_maps_whichever_way_the_film_hangs():
    rng = np.random.default_rng(3)
    flips = [
        QTransform(),
        QTransform(-1, 0, 0, 1, 500, 0),
        QTransform(1, 0, 0, -1, 0, 400),
        QTransform(-1, 0, 0, -1, 500, 400),
    ]
    for flip in flips:
        for _ in range(200):
            scale = float(rng.uniform(0.05, 3.0))
            place = QTransform.fromScale(scale, scale) * QTransform.fromTranslate(*rng.uniform(-300, 300, 2))
            bbox = tuple(float(v) for v in (*rng.uniform(0, 400, 2), *rng.uniform(1, 100, 2)))
            transform = flip * place
            # Unrounded, within the last bits of a double (a build may fuse Qt's multiply-adds).
            assert number_anchor(bbox, transform) == pytest.approx(_by_qt(bbox, transform, False), rel=1e-12, abs=1e-9)
            assert number_anchor(bbox, transform, to_pixel=True) == _by_qt(bbox, transform, True)


def test_a_corner_half_way_between_pixels_rounds_away_from_zero_as_qt_does():
    for x in (2.5, -2.5, 0.5, -0.5, 3.4999, -3.5001):
        shift = QTransform.fromTranslate(x, x)
        assert number_anchor((0, 0, 0, 0), shift, to_pixel=True) == _by_qt((0, 0, 0, 0), shift, True)
