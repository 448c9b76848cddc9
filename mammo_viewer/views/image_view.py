"""One mammogram on screen: the image (flipped for hanging), AI contours and heat map in the
image's own pixel coordinates, and the reading annotations drawn on top in screen space
(laterality/view, orientation letters, score badge, scale bar, magnifier).

Mouse: left-drag window/level, middle-drag or Ctrl+left-drag pan, Shift+left-drag measure
(mm when the spacing is known), wheel zoom, double-click fit. Zoom and pan are broadcast so
the other views follow.

The pixels on screen may be a reduced resolution level of the film (read first, for speed):
the scene stays in the full image's pixel coordinates whatever level is shown, so contours,
measurements and zoom never move when full resolution replaces it. Zooming past the level's
own pixels (or 1:1, measuring, the magnifier) asks for full resolution (``detail_wanted``)
and the view says "full resolution loading…" until it is there."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QPainter,
    QPainterPath,
    QPixmap,
    QStaticText,
    QTransform,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
)

from ..pictures.outline_path import OutlineItem, contour_path
from ..pictures.view_pictures import (
    CONTOUR_COLOR,
    DETAIL_MAGNIFICATION,
    MAGNIFIER_ZOOM,
    SELECTED_COLOR,
    gray_pixmap,
    heat_qimage,
)
from .view_annotations import ViewAnnotations


class MammoView(ViewAnnotations, QGraphicsView):
    window_drag = Signal(object, float, float)  # key, dx, dy (screen pixels) while left-dragging
    zoomed = Signal(object, float)  # key, factor
    panned = Signal(object, float, float)  # key, dx, dy screen pixels
    fitted = Signal(object)
    activated = Signal(object)  # clicked: the selected view
    detail_wanted = Signal(object)  # key: the view shows a reduced level magnified, full resolution is needed
    slice_step = Signal(object, int)  # key, slices to move: the wheel over a tomosynthesis stack
    marked = Signal(object, float, float)  # key, x, y (full-image pixels): the reader placed a mark

    def __init__(self, parent=None):
        super().__init__(parent)
        self.key: str | None = None
        self.is_stack = False  # a tomosynthesis stack: the wheel steps its slices
        self.setScene(QGraphicsScene(self))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(QBrush(Qt.GlobalColor.black))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setRenderHints(QPainter.RenderHint.SmoothPixmapTransform | QPainter.RenderHint.Antialiasing)
        # The view repaints when its own methods change what it shows, never on the scene's
        # later notice of the same change: that notice comes from a call the scene queues, and
        # when another widget's update is already waiting (the threshold's spin box), it painted
        # the view a second time after the frame, at every step of the threshold slider.
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.NoViewportUpdate)
        # The scene's black background covers every pixel: neither the viewport's own fill nor
        # the window and grid behind it need painting first.
        self.viewport().setAutoFillBackground(False)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMouseTracking(True)
        self.image_item = QGraphicsPixmapItem()
        self.image_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        # Repaints (contours moving with the threshold) blit a screen-resolution cache instead
        # of rescaling a 13-Mpixel film each time; the cache is rebuilt on zoom or new pixels.
        self.image_item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.heat_item = QGraphicsPixmapItem()
        self.heat_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.heat_item.setVisible(False)
        self.contour_item = OutlineItem(CONTOUR_COLOR, 2.0)  # constant on-screen width at any zoom
        self.selected_item = OutlineItem(SELECTED_COLOR, 3.0)
        for z, item in enumerate((self.image_item, self.heat_item, self.contour_item, self.selected_item)):
            item.setZValue(z)
            self.scene().addItem(item)
        self.image_size = (0, 0)  # rows, columns of the full image: the scene's coordinates
        self.content = None  # the part fit() shows (the breast's box), None for the whole image
        self.lesion_labels: list = []  # (box, number) per lesion, drawn beside its contour
        self.level_scale = 1.0  # full-image pixels per pixel on screen (> 1 while a reduced level is shown)
        self.detail_note = ""  # why full resolution is missing, when it could not be decoded
        self._detail_asked = False
        self.flip_h = self.flip_v = False
        self.spacing_mm: tuple[float, float] | None = None
        self.title = ""
        self.subtitle = ""
        self.badge = ""
        self.notes: list[str] = []
        self.orientation: tuple[str, str] | None = None
        self.number_texts: dict[int, QStaticText] = {}  # each lesion number laid out once (view_annotations)
        self.magnifier = False
        self._drag: tuple[Qt.MouseButton, QPointF, bool] | None = None
        self.measurement: tuple[QPointF, QPointF] | None = None  # image pixel coordinates (x, y)
        self._measuring = False
        self.marking = False  # the next left click places the reader's mark (session/reading.py)
        self.reader_marks: list[tuple[float, float, str]] = []  # (x, y, label) in image pixels: her findings
        self._cursor: QPointF | None = None
        self._fit = True
        self.fit_together = None  # () -> fit this view with its pair (the grid's), None alone

    # ----- content -------------------------------------------------------------------------
    def clear(self) -> None:
        self.key = None
        self.image_item.setPixmap(QPixmap())
        self.heat_item.setPixmap(QPixmap())
        self._heat_source, self._heat_wanted = None, (None, None)
        self.contour_item.setPath(QPainterPath())
        self.selected_item.setPath(QPainterPath())
        self.image_size = (0, 0)
        self.level_scale, self.detail_note, self._detail_asked = 1.0, "", False
        self.measurement = None
        self.title = self.subtitle = self.badge = ""
        self.notes = []
        self.content, self.lesion_labels = None, []
        self.viewport().update()

    def set_image(
        self,
        key: str,
        screen: np.ndarray,
        *,
        flip_h: bool,
        flip_v: bool,
        full_shape: tuple[int, int] | None = None,
        content=None,
    ) -> None:
        """``screen``: 8-bit pixels of the image, or of a reduced level of an image of
        ``full_shape`` (rows, columns), drawn over the full image's extent. ``content``: the
        part to fit (x, y, width, height in image pixels: the breast), or None for all."""
        self.content = content
        full = tuple(full_shape) if full_shape is not None else tuple(screen.shape)
        new = key != self.key or full != self.image_size
        if new:
            self._detail_asked = False
        self.key = key
        self.image_size = full
        self.level_scale = full[0] / screen.shape[0]
        self.image_item.setPixmap(gray_pixmap(screen))
        rows, cols = full
        flip = QTransform(-1 if flip_h else 1, 0, 0, -1 if flip_v else 1, cols if flip_h else 0, rows if flip_v else 0)
        # The level's pixels stretched over the full image's extent (exactly: the last pixel of
        # a level may overhang the image by less than one of its own pixels).
        self.image_item.setTransform(QTransform.fromScale(cols / screen.shape[1], rows / screen.shape[0]) * flip)
        if new or (flip_h, flip_v) != (self.flip_h, self.flip_v):
            self.flip_h, self.flip_v = flip_h, flip_v
            for item in (self.heat_item, self.contour_item, self.selected_item):
                item.setTransform(item.data(0) * flip if isinstance(item.data(0), QTransform) else flip)
            # Room around the image so any point (a lesion at the edge) can be centred and panned to.
            self.scene().setSceneRect(QRectF(-cols, -rows, 3 * cols, 3 * rows))
        if new:
            self.fit()
        self._check_detail()
        self.viewport().update()

    @property
    def wants_detail(self) -> bool:
        """A reduced level is on screen and one of its pixels covers more than a screen pixel
        (zoomed, 1:1, the magnifier) or the reader measures."""
        if self.level_scale <= 1.0 or not self.image_size[0]:
            return False
        magnification = self.scale_factor * self.level_scale * self.devicePixelRatioF()
        if self.magnifier:
            magnification *= MAGNIFIER_ZOOM
        return magnification > DETAIL_MAGNIFICATION or self._measuring

    def _check_detail(self) -> None:
        if self.key and not self._detail_asked and self.wants_detail:
            self._detail_asked = True
            self.detail_wanted.emit(self.key)

    def _image_transform(self) -> QTransform:
        rows, cols = self.image_size
        return QTransform(
            -1 if self.flip_h else 1,
            0,
            0,
            -1 if self.flip_v else 1,
            cols if self.flip_h else 0,
            rows if self.flip_v else 0,
        )

    def set_contours(
        self,
        contours: list[np.ndarray],
        selected: list[np.ndarray] | None = None,
        labels: list[tuple[tuple[float, float, float, float], int]] | None = None,
    ) -> None:
        """``labels``: (bounding box x, y, w, h in image pixels, number) per lesion: the number
        the findings table lists it under, drawn beside its contour (never mirrored)."""
        self.lesion_labels = list(labels or [])
        self.contour_item.setPath(contour_path(contours))
        self.selected_item.setPath(contour_path(selected or []))
        self.viewport().update()

    def set_heat_map(self, probability: np.ndarray | None, geometry=None) -> None:
        """The working-resolution map placed over the original pixels it came from (rebuilt
        only when the map changes, not when the threshold moves; while the heat map is hidden,
        only once it is shown: stepping through a stack changes the map at every slab)."""
        self._heat_wanted = (probability, geometry)
        if self.heat_item.isVisible() or probability is None:
            self._build_heat_map()

    def _build_heat_map(self) -> None:
        probability, geometry = getattr(self, "_heat_wanted", (None, None))
        if probability is None or geometry is None:
            self.heat_item.setPixmap(QPixmap())
            self._heat_source = None
            self.viewport().update()
            return
        if getattr(self, "_heat_source", None) is probability:
            return
        self._heat_source = probability
        data = probability[:, ::-1] if geometry.flipped else probability
        self.heat_item.setPixmap(QPixmap.fromImage(heat_qimage(data)))
        row0, _, col0, _ = geometry.crop
        placement = QTransform.fromScale(1.0 / geometry.scale[1], 1.0 / geometry.scale[0]) * QTransform.fromTranslate(
            col0, row0
        )
        self.heat_item.setData(0, placement)
        self.heat_item.setTransform(placement * self._image_transform())
        self.viewport().update()

    def set_heat_visible(self, visible: bool, opacity: float) -> None:
        self.heat_item.setVisible(visible)
        if visible:
            self._build_heat_map()
        self.heat_item.setOpacity(opacity)
        self.viewport().update()

    def set_contours_visible(self, visible: bool) -> None:
        self.contour_item.setVisible(visible)
        self.selected_item.setVisible(visible)
        self.viewport().update()

    def image_to_view(self, x: float, y: float) -> QPointF:
        return self._image_transform().map(QPointF(x, y))

    def centre_on_image_point(self, x: float, y: float) -> None:
        self.centerOn(self.image_to_view(x, y))  # scrollContentsBy repaints

    # ----- zoom and pan ----------------------------------------------------------------------
    def fit(self) -> None:
        """Show the breast whole: alone, fitted to the view; paired with the other breast's same
        view (``fit_together``, set by the grid), both at one physical scale, chest walls at the
        midline."""
        if self.fit_together is not None:
            self.fit_together()
        elif self.image_size[0]:
            self.fitInView(self.content_rect(), Qt.AspectRatioMode.KeepAspectRatio)
            self._fitted()

    def content_rect(self) -> QRectF:
        """The part fit() shows (the breast's box, else the whole image) in scene coordinates."""
        rows, cols = self.image_size
        area = QRectF(*self.content) if self.content else QRectF(0, 0, cols, rows)
        return self._image_transform().mapRect(area)

    def content_mm(self) -> tuple[float, float]:
        """(width, height) of what fit() shows in mm (in image pixels where the spacing is unknown)."""
        rect, spacing = self.content_rect(), self.spacing_mm or (1.0, 1.0)
        return rect.width() * spacing[1], rect.height() * spacing[0]

    def fit_at(self, mm_per_screen_pixel: float, chest_wall: str | None) -> None:
        """Show the breast at ``mm_per_screen_pixel``, its chest-wall side (``"left"``/``"right"``
        of the view) against that edge of the view, centred vertically."""
        if not self.image_size[0] or mm_per_screen_pixel <= 0:
            return
        spacing = self.spacing_mm or (1.0, 1.0)
        scale = spacing[1] / mm_per_screen_pixel / self.devicePixelRatioF()
        self.setTransform(QTransform.fromScale(scale, scale))
        rect, half = self.content_rect(), self.viewport().width() / 2 / scale
        x = rect.right() - half if chest_wall == "right" else rect.left() + half if chest_wall == "left" else None
        self.centerOn(QPointF(rect.center().x() if x is None else x, rect.center().y()))
        self._fitted()

    def _fitted(self) -> None:
        self._fit = True
        self.viewport().update()
        self._check_detail()

    def one_to_one(self) -> None:
        centre = self.mapToScene(self.viewport().rect().center())
        self.setTransform(QTransform())
        self.centerOn(centre)
        self._fit = False
        self._check_detail()

    @property
    def at_fit(self) -> bool:
        return self._fit

    @property
    def scale_factor(self) -> float:
        return self.transform().m11()

    def apply_zoom(self, factor: float, anchor: QPointF | None = None) -> None:
        anchor = anchor if anchor is not None else QPointF(self.viewport().rect().center())
        before = self.mapToScene(anchor.toPoint())
        self.scale(factor, factor)
        after = self.mapToScene(anchor.toPoint())
        delta = after - before
        self.translate(delta.x(), delta.y())
        self._fit = False
        self.viewport().update()
        self._check_detail()

    def apply_pan(self, dx: float, dy: float) -> None:
        scale = self.scale_factor or 1.0
        self.translate(dx / scale, dy / scale)
        self._fit = False
        self.viewport().update()

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802 - Qt API
        # With NoViewportUpdate Qt moves the scroll bars and paints nothing: a scroll by the
        # keys (arrows, Page Up/Down, Home/End) or by centerOn would leave the old picture.
        super().scrollContentsBy(dx, dy)
        self.viewport().update()

    def resizeEvent(self, event):  # noqa: N802 - Qt API
        super().resizeEvent(event)
        if self._fit:
            self.fit()

    def wheelEvent(self, event):  # noqa: N802
        """Zoom; over a tomosynthesis stack the wheel steps its slices and Ctrl+wheel zooms."""
        ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if self.is_stack and not ctrl and self.key:
            steps = round(event.angleDelta().y() / 120.0)
            if steps:
                self.slice_step.emit(self.key, -steps)  # wheel away from you: deeper into the stack
            return
        factor = 1.25 ** (event.angleDelta().y() / 120.0)
        self.apply_zoom(factor, event.position())
        if self.key:
            self.zoomed.emit(self.key, factor)

    def _image_point(self, position: QPointF) -> QPointF:
        inverse, _ = self._image_transform().inverted()
        return inverse.map(self.mapToScene(position.toPoint()))

    def measurement_mm(self) -> float | None:
        """Length of the measurement line in mm (None without spacing or line)."""
        if self.measurement is None or not self.spacing_mm:
            return None
        a, b = self.measurement
        dy, dx = (b.y() - a.y()) * self.spacing_mm[0], (b.x() - a.x()) * self.spacing_mm[1]
        return float((dx * dx + dy * dy) ** 0.5)

    def mousePressEvent(self, event):  # noqa: N802
        if self.marking and event.button() == Qt.MouseButton.LeftButton and self.image_size[0] and self.key:
            point = self._image_point(event.position())
            self.marked.emit(self.key, point.x(), point.y())
            event.accept()
            return
        if (
            event.button() == Qt.MouseButton.LeftButton
            and event.modifiers() & Qt.KeyboardModifier.ShiftModifier
            and self.image_size[0]
        ):
            point = self._image_point(event.position())
            self.measurement = (point, point)
            self._measuring = True
            self._check_detail()  # a measurement is placed on full-resolution pixels
            event.accept()
            return
        pan = event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and event.modifiers() & Qt.KeyboardModifier.ControlModifier
        )
        self._drag = (event.button(), event.position(), bool(pan))
        if self.key:
            self.activated.emit(self.key)
        event.accept()

    def mouseMoveEvent(self, event):  # noqa: N802
        self._cursor = event.position()
        if self._measuring and self.measurement is not None:
            self.measurement = (self.measurement[0], self._image_point(event.position()))
            self.viewport().update()
            event.accept()
            return
        if self._drag is not None and self.key:
            _, last, pan = self._drag
            delta = event.position() - last
            self._drag = (self._drag[0], event.position(), pan)
            if pan:
                self.apply_pan(delta.x(), delta.y())
                self.panned.emit(self.key, delta.x(), delta.y())
            elif self._drag[0] == Qt.MouseButton.LeftButton:
                self.window_drag.emit(self.key, delta.x(), delta.y())
        if self.magnifier:
            self.viewport().update()
        event.accept()

    def mouseReleaseEvent(self, event):  # noqa: N802
        self._drag = None
        self._measuring = False
        event.accept()

    def mouseDoubleClickEvent(self, event):  # noqa: N802
        self.fit()
        if self.key:
            self.fitted.emit(self.key)

    def set_magnifier(self, on: bool) -> None:
        self.magnifier = on
        self._check_detail()
        self.viewport().update()

    def leaveEvent(self, event):  # noqa: N802
        self._cursor = None
        if self.magnifier:
            self.viewport().update()
        super().leaveEvent(event)

    # ----- annotations in screen space -----------------------------------------------------
