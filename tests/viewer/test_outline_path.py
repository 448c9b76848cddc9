"""The outlines' fast path against the one Qt builds point by point: the same bytes."""

import numpy as np
import pytest
from PySide6.QtCore import QByteArray, QDataStream, QIODevice, QPointF
from PySide6.QtGui import QPainterPath, QPolygonF

from mammo_viewer.pictures.outline_path import CONTOUR_TOLERANCE_PX, contour_path, drawn_points


def _thinned_one_ring_at_a_time(ring: np.ndarray) -> np.ndarray:
    """The thinning as it was written first, per ring with np.roll: the reference."""
    for parity in (1, 0):
        if len(ring) < 8:
            break
        before, after = np.roll(ring, 1, axis=0), np.roll(ring, -1, axis=0)
        chord = after - before
        length = np.hypot(chord[:, 0], chord[:, 1])
        offset = np.abs(chord[:, 0] * (ring[:, 1] - before[:, 1]) - chord[:, 1] * (ring[:, 0] - before[:, 0]))
        drop = (offset <= CONTOUR_TOLERANCE_PX * np.maximum(length, 1e-9)) & (np.arange(len(ring)) % 2 == parity)
        ring = ring[~drop]
    return ring


def _point_by_point(contours) -> QPainterPath:
    path = QPainterPath()
    for ring in contours:
        if len(ring) < 2:
            continue
        drawn = _thinned_one_ring_at_a_time(np.asarray(ring, float))
        path.addPolygon(QPolygonF([QPointF(float(x), float(y)) for x, y in drawn]))
        path.closeSubpath()
    return path


def _bytes(path: QPainterPath) -> bytes:
    data = QByteArray()
    stream = QDataStream(data, QIODevice.OpenModeFlag.WriteOnly)
    stream << path
    return bytes(data)


def _rings(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    rings = []
    for _ in range(rng.integers(0, 40)):
        n = int(rng.integers(1, 300))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radius = rng.uniform(2, 200) * (1 + 0.3 * rng.standard_normal(n).cumsum() / np.sqrt(n))
        ring = np.stack(
            [rng.uniform(0, 4000) + radius * np.cos(angles), rng.uniform(0, 4000) + radius * np.sin(angles)], 1
        )
        ring = np.round(ring * 2) / 2 if rng.random() < 0.3 else ring  # traced on a grid: collinear runs
        kind = rng.integers(0, 3)
        if kind == 0 and n > 1:
            ring = np.concatenate([ring, ring[:1]])  # closed as scikit-image closes it
        elif kind == 1 and n > 1:
            ring = np.concatenate([ring, ring[:1] * (1 + 1e-15)])  # within rounding of its start
        rings.append(ring)
    return rings


@pytest.mark.parametrize("seed", range(40))
def test_the_outlines_path_is_the_one_qt_builds_point_by_point(qapp, seed):
    rings = _rings(seed)
    fast, reference = contour_path(rings), _point_by_point(rings)
    assert _bytes(fast) == _bytes(reference)
    assert fast.elementCount() == reference.elementCount()


def test_thinning_all_rings_together_is_thinning_each_alone():
    for seed in range(20):
        for ring in _rings(seed):
            np.testing.assert_array_equal(drawn_points(ring), _thinned_one_ring_at_a_time(np.asarray(ring, float)))


def test_no_ring_and_rings_too_short_to_draw_make_an_empty_path(qapp):
    assert contour_path([]).isEmpty()
    assert contour_path([np.array([[3.0, 4.0]]), np.zeros((0, 2))]).isEmpty()
