"""Lesion outlines as one QPainterPath, built fast enough to follow the threshold slider.

A view redraws every outline of the study at each step of the slider: a hundred rings of
dozens of points each at a low threshold. Building the path point by point (a QPointF per
point, ``addPolygon`` per ring) took 25 ms there, longer than a frame. Here the rings are
thinned together in numpy and the path is read in one call from the bytes of Qt's own
serialisation of a path (QDataStream's ``QPainterPath`` format): the same elements, in the same
order, that ``addPolygon`` and ``closeSubpath`` would have made, so the pen draws the same pixels
(tests/viewer/test_outline_path.py compares the two paths' bytes).

The pen is drawn by :class:`OutlineItem`: Qt strokes a pen wider than a pixel by filling its
outline in bands of scan lines, each band walking the whole outline, so the cost grows with the
square of an outline's length (7 ms for one breast-wide ring on a 524x479 view, 60 ms for a
view of them); its one-pixel antialiased pen draws the same ring in 0.2 ms."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QByteArray, QDataStream, QIODevice, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen, QTransform
from PySide6.QtWidgets import QGraphicsPathItem

from hds_core.findings.rings import thin_rings

CONTOUR_TOLERANCE_PX = 0.25  # how far a drawn outline may stray from the traced one, in image pixels
_THINNED_FROM = 8  # a ring of fewer points is drawn as traced

# QPainterPath's element types and the stream's layout (qpainterpath.cpp, operator<< / >>):
# int32 count, then per element int32 type and two float64 coordinates, then int32 index of
# the last subpath's start and int32 fill rule; QDataStream writes big-endian.
_MOVE_TO, _LINE_TO = 0, 1
_ELEMENT = np.dtype([("type", ">i4"), ("x", ">f8"), ("y", ">f8")])
_ODD_EVEN_FILL = 0


def _ring_starts(lengths: np.ndarray) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)


def _thin(points: np.ndarray, lengths: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Every ring of the concatenated ``points`` (``lengths`` points each) without the points
    that lie within ``tolerance`` of the chord between their neighbours: a contour traced on the
    network's map has thousands of nearly collinear points, and every one costs the pen. At most
    every other point is dropped per pass, so a dropped point's neighbours are kept: after the
    two passes the outline is within two tolerances (half an image pixel) of every traced point.
    Compiled with the lesion pass (hds_core.findings.rings.thin_rings): the slider thins every
    view's outlines at each step."""
    return thin_rings(points, lengths, tolerance, _THINNED_FROM)


def drawn_points(ring: np.ndarray, tolerance: float = CONTOUR_TOLERANCE_PX) -> np.ndarray:
    """One ring as the pen draws it (see :func:`_thin`); exports keep every point."""
    ring = np.asarray(ring, dtype=float)
    return _thin(ring, np.array([len(ring)]), tolerance)[0]


def _fuzzy_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # qFuzzyCompare for doubles, which closeSubpath uses to snap a ring's last point onto its first.
    return np.abs(a - b) * 1e12 <= np.minimum(np.abs(a), np.abs(b))


def contour_path(contours: list[np.ndarray], tolerance: float = CONTOUR_TOLERANCE_PX) -> QPainterPath:
    """Closed rings of (x, y) image points as one path, each thinned for the pen: what
    ``addPolygon`` then ``closeSubpath`` per ring make (a ring of under two points is skipped)."""
    rings = [np.asarray(ring, dtype=float).reshape(-1, 2) for ring in contours]
    rings = [ring for ring in rings if len(ring) >= 2]
    path = QPainterPath()
    if not rings:
        return path
    points, lengths = _thin(np.concatenate(rings), np.array([len(ring) for ring in rings]), tolerance)
    starts = _ring_starts(lengths)
    first, last = points[starts], points[starts + lengths - 1]
    # closeSubpath: a ring whose last point is its first stays as it is; one whose last point
    # is within rounding of its first has it snapped there; any other gains a line back.
    exact = (first == last).all(axis=1)
    snapped = ~exact & _fuzzy_equal(first, last).all(axis=1)
    points = points.copy()
    points[(starts + lengths - 1)[snapped]] = first[snapped]
    closing = ~exact & ~snapped
    sizes = lengths + closing
    elements = np.zeros(int(sizes.sum()), dtype=_ELEMENT)
    element_starts = _ring_starts(sizes)
    ring = np.repeat(np.arange(len(lengths)), lengths)
    at = element_starts[ring] + np.arange(len(points)) - starts[ring]
    elements["type"] = _LINE_TO
    elements["x"][at], elements["y"][at] = points[:, 0], points[:, 1]
    elements["type"][element_starts] = _MOVE_TO
    back = (element_starts + sizes - 1)[closing]
    elements["x"][back], elements["y"][back] = first[closing, 0], first[closing, 1]
    header = np.array([len(elements)], dtype=">i4").tobytes()
    trailer = np.array([element_starts[-1], _ODD_EVEN_FILL], dtype=">i4").tobytes()
    data = QByteArray(header + elements.tobytes() + trailer)  # held: the stream reads it in place
    stream = QDataStream(data, QIODevice.OpenModeFlag.ReadOnly)
    stream >> path
    return path


class OutlineItem(QGraphicsPathItem):
    """Outlines ``width`` screen pixels wide at any zoom: the path drawn with Qt's one-pixel
    antialiased pen four times, shifted (width - 1) / 2 screen pixels left, right, up and down.
    A 2-pixel outline so drawn leaves on screen what a 2-pixel pen does, within a pixel's
    antialiasing, at an eighth of the time or less (see the module's docstring)."""

    def __init__(self, color: QColor, width: float):
        super().__init__()
        pen = QPen(color, 1.0)
        pen.setCosmetic(True)
        self.setPen(pen)
        shift = (width - 1.0) / 2.0
        shifts = ((-shift, 0), (shift, 0), (0, -shift), (0, shift))
        self._shifts = [QTransform.fromTranslate(dx, dy) for dx, dy in shifts]

    def paint(self, painter, option, widget=None) -> None:
        path = self.path()
        if path.isEmpty():
            return
        painter.setPen(self.pen())
        painter.setBrush(Qt.BrushStyle.NoBrush)
        on_screen = painter.worldTransform()
        for shift in self._shifts:  # in screen pixels: after the item's and the view's transforms
            painter.setWorldTransform(on_screen * shift)
            painter.drawPath(path)
        painter.setWorldTransform(on_screen)
