"""What a view and the PDF report draw alike, as Qt pictures: a film's screen rendering as a
grayscale image, the heat map, and where a lesion's number goes (the outlines' path: outline_path.py)."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtGui import QColor, QImage, QPixmap, QTransform

CONTOUR_COLOR = QColor(255, 210, 0)  # amber: visible on both dark fat and bright dense tissue
SELECTED_COLOR = QColor(0, 220, 255)
READER_COLOR = QColor(120, 255, 120)  # the radiologist's own marks: never the AI's amber
TEXT_COLOR = QColor(235, 235, 235)
OPPOSITE = str.maketrans("APLRHF", "PARLFH")
SCALE_BAR_STEPS_MM = (1, 2, 5, 10, 20, 50, 100)
MAGNIFIER_ZOOM = 2.0
MAGNIFIER_SIZE = 240
HEAT_FLOOR = 0.1
DETAIL_LOADING = "full resolution loading…"
# A level's pixel may cover up to this many screen pixels before full resolution is wanted
# (a little over 1, so that rounding at fit does not ask for it).
DETAIL_MAGNIFICATION = 1.05


def gray_qimage(screen: np.ndarray) -> QImage:
    screen = np.ascontiguousarray(screen, dtype=np.uint8)
    image = QImage(screen.data, screen.shape[1], screen.shape[0], screen.strides[0], QImage.Format.Format_Grayscale8)
    return image.copy()  # own the pixels: the numpy buffer may go away


def gray_pixmap(screen: np.ndarray) -> QPixmap:
    """A pixmap of 8-bit screen pixels. QPixmap.fromImage copies them, so the QImage only
    borrows the array for the call (a 13-Mpixel film: one 13 MB copy fewer on the UI thread)."""
    screen = np.ascontiguousarray(screen, dtype=np.uint8)
    return QPixmap.fromImage(
        QImage(screen.data, screen.shape[1], screen.shape[0], screen.strides[0], QImage.Format.Format_Grayscale8)
    )


def heat_qimage(probability: np.ndarray) -> QImage:
    """Probability -> transparent-to-red RGBA (alpha grows with the probability; below
    HEAT_FLOOR fully transparent, so the faint background of the map does not tint the film)."""
    p = np.clip(np.nan_to_num(probability, nan=0.0), 0.0, 1.0)
    visible = np.clip((p - HEAT_FLOOR) / (1.0 - HEAT_FLOOR), 0.0, 1.0)
    rgba = np.zeros(p.shape + (4,), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[..., 1] = np.rint(200 * (1.0 - p)).astype(np.uint8)
    rgba[..., 3] = np.rint(230 * visible).astype(np.uint8)
    image = QImage(rgba.data, p.shape[1], p.shape[0], rgba.strides[0], QImage.Format.Format_RGBA8888)
    return image.copy()


def number_anchor(bbox_xywh, transform: QTransform, to_pixel: bool = False) -> tuple[float, float]:
    """Where a lesion's number goes, on screen or on paper: the top right corner of its
    bounding box as drawn (``transform``, affine, maps image pixels), whichever way the film
    hangs, so the number stays upright and beside its contour in the view and the report.
    ``to_pixel``: each corner rounded to a pixel first, as a view's mapFromScene rounds (Qt's
    qRound, half away from zero). Plain arithmetic: a view places a hundred numbers per frame."""
    m11, m12, m21, m22, dx, dy = (
        transform.m11(),
        transform.m12(),
        transform.m21(),
        transform.m22(),
        transform.dx(),
        transform.dy(),
    )
    x, y, w, h = bbox_xywh
    xs, ys = [], []
    for cx in (x, x + w):
        for cy in (y, y + h):
            xs.append(m11 * cx + m21 * cy + dx)
            ys.append(m12 * cx + m22 * cy + dy)
    if to_pixel:
        xs = [_q_round(v) for v in xs]
        ys = [_q_round(v) for v in ys]
    return max(xs), min(ys)


def _q_round(value: float) -> int:
    return math.floor(value + 0.5) if value >= 0 else math.ceil(value - 0.5)
