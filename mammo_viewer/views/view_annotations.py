"""The reading annotations a view paints over the film in screen space: title and notes,
orientation letters, the score badge, lesion numbers, the scale bar, a measurement and the
magnifier (MammoView's foreground, image_view.py)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen, QStaticText

from ..pictures.view_pictures import (
    CONTOUR_COLOR,
    DETAIL_LOADING,
    MAGNIFIER_SIZE,
    MAGNIFIER_ZOOM,
    OPPOSITE,
    READER_COLOR,
    SCALE_BAR_STEPS_MM,
    SELECTED_COLOR,
    TEXT_COLOR,
    number_anchor,
)

TEXT_BACKING = QColor(0, 0, 0, 160)


class ViewAnnotations:
    """Mixed into MammoView: the foreground it paints (every method reads the view's state)."""

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        if not self.image_size[0] and not self.title:
            return
        painter.save()
        painter.resetTransform()
        viewport = QRectF(self.viewport().rect())
        font = QFont(painter.font())
        font.setPointSizeF(max(9.0, min(14.0, viewport.height() / 45)))
        font.setBold(True)
        painter.setFont(font)
        margin = 8
        heading = viewport.adjusted(margin, margin, -margin, -margin)
        if not self.image_size[0]:
            # No film (still decoding, or it could not be read): the slot says which and why.
            self._text(
                painter,
                heading,
                int(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft) | int(Qt.TextFlag.TextWordWrap),
                "\n".join(filter(None, (self.title, self.subtitle))),
            )
            painter.restore()
            return
        if self.magnifier and self._cursor is not None:
            self._draw_magnifier(painter, viewport)
            painter.setFont(font)
        detail = self.detail_note if self.level_scale > 1 else ""
        detail = detail or (DETAIL_LOADING if self.wants_detail else "")
        title = self._text(
            painter,
            heading,
            Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft,
            "\n".join(filter(None, (self.title, self.subtitle, detail))),
        )
        if self.badge:
            self._badge(painter, viewport, self.badge, title)
        if self.notes:
            small = QFont(font)
            small.setBold(False)
            small.setPointSizeF(font.pointSizeF() * 0.8)
            painter.setFont(small)
            # Wrapped, not cut: a warning is read in full whatever the view's width.
            self._text(
                painter,
                viewport.adjusted(margin, margin, -margin, -margin - 28),
                int(Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignLeft) | int(Qt.TextFlag.TextWordWrap),
                "\n".join(self.notes),
                QColor(255, 170, 90),
            )
            painter.setFont(font)
        self._orientation_letters(painter, viewport)
        self._lesion_numbers(painter)
        self._reader_marks(painter)
        self._scale_bar(painter, viewport)
        self._draw_measurement(painter)
        painter.restore()

    @staticmethod
    def _text(painter: QPainter, rect: QRectF, flags, text: str, color: QColor | None = None) -> QRectF:
        """Draws ``text`` on its backing; returns the backing's rectangle (empty for no text)."""
        if not int(flags) & int(Qt.TextFlag.TextWordWrap):
            # In a small view a line wider than its box ends in "…" rather than being cut off.
            metrics = painter.fontMetrics()
            text = "\n".join(
                metrics.elidedText(line, Qt.TextElideMode.ElideRight, int(rect.width())) for line in text.split("\n")
            )
        # On a backing, never bare over the film: white text on a white pectoral muscle or a
        # film label was lost.
        area = QRectF()
        if text.strip():
            # Measured before the pen is taken away: with no pen, boundingRect() is empty.
            area = painter.boundingRect(rect, int(flags), text).adjusted(-4, -2, 4, 2)
            painter.save()
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(TEXT_BACKING)
            painter.drawRoundedRect(area, 4, 4)
            painter.restore()
        painter.setPen(QColor(0, 0, 0))
        painter.drawText(rect.translated(1, 1), int(flags), text)
        painter.setPen(color or TEXT_COLOR)
        painter.drawText(rect, int(flags), text)
        return area

    def _badge(self, painter: QPainter, viewport: QRectF, text: str, title: QRectF | None = None) -> None:
        """The score, top right; lower down where a narrow view would put it over the title or
        the top orientation letter."""
        metrics = painter.fontMetrics()
        width = metrics.horizontalAdvance(text) + 16
        box = QRectF(viewport.right() - width - 8, 8, width, metrics.height() + 8)
        taken = [title] if title is not None and not title.isEmpty() else []
        if self.orientation:
            taken.append(QRectF(viewport.center().x() - 14, 0, 28, metrics.height() + 10))
        below = [area.bottom() for area in taken if box.intersects(area)]
        if below:
            box.moveTop(max(below) + 4)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 170))
        painter.drawRoundedRect(box, 4, 4)
        painter.setPen(CONTOUR_COLOR)
        painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), text)

    def _lesion_numbers(self, painter: QPainter) -> None:
        """Each lesion's number beside its box (number_anchor), shadowed: each number laid out
        once (QStaticText), the shadows drawn first, every number over them. A view may number
        a hundred lesions, redrawn at every step of the threshold slider (the layout of each
        text took most of the view's paint)."""
        if not self.lesion_labels or not self.contour_item.isVisible():
            return
        on_screen = self._image_transform() * self.viewportTransform()
        raise_by = painter.fontMetrics().height() - 4
        placed = []
        width, height = self.viewport().width(), self.viewport().height()
        for bbox, number in self.lesion_labels:
            right, top = number_anchor(bbox, on_screen, to_pixel=True)
            text = self._number_text(number)
            size = text.size()
            # Beside its contour, and never clipped at the view's edge.
            left = min(max(right + 3, 2), width - size.width() - 2)
            top = min(max(top - raise_by, 2), height - size.height() - 2)
            placed.append((text, left, top))
        for color, offset in ((QColor(0, 0, 0), 1), (CONTOUR_COLOR, 0)):
            painter.setPen(color)
            for text, left, top in placed:
                painter.drawStaticText(QPointF(left + offset, top + offset), text)

    def _reader_marks(self, painter: QPainter) -> None:
        """The reader's own marks (a cross and its label: "F1", "AI 2 dismissed"), in her colour,
        not the AI's."""
        if not self.reader_marks:
            return
        on_screen = self._image_transform() * self.viewportTransform()
        width = self.viewport().width()
        metrics = painter.fontMetrics()
        for x, y, label in self.reader_marks:
            point = on_screen.map(QPointF(x, y))
            # The label right of the cross, or left of it at the view's right edge: never cut.
            room = metrics.horizontalAdvance(label) + 14
            text_at = QPointF(11, -6) if point.x() + room < width else QPointF(-room, -6)
            text_at.setY(-6 if point.y() - metrics.height() > 0 else metrics.height())
            for color, offset in ((QColor(0, 0, 0), 1), (READER_COLOR, 0)):
                painter.setPen(QPen(color, 2))
                centre = point + QPointF(offset, offset)
                painter.drawLine(centre + QPointF(-9, 0), centre + QPointF(-3, 0))
                painter.drawLine(centre + QPointF(3, 0), centre + QPointF(9, 0))
                painter.drawLine(centre + QPointF(0, -9), centre + QPointF(0, -3))
                painter.drawLine(centre + QPointF(0, 3), centre + QPointF(0, 9))
                painter.drawText(centre + text_at, label)

    def _number_text(self, number: int) -> QStaticText:
        if number not in self.number_texts:
            self.number_texts[number] = QStaticText(str(number))
        return self.number_texts[number]

    def _orientation_letters(self, painter: QPainter, viewport: QRectF) -> None:
        if not self.orientation:
            return
        row_dir, col_dir = self.orientation
        right, left = row_dir, row_dir.translate(OPPOSITE)
        bottom, top = col_dir, col_dir.translate(OPPOSITE)
        if self.flip_h:
            left, right = right, left
        if self.flip_v:
            top, bottom = bottom, top
        centre = viewport.center()
        box = 40
        self._text(
            painter,
            QRectF(viewport.left() + 4, centre.y() - box / 2, box, box),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
            left,
        )
        self._text(
            painter,
            QRectF(viewport.right() - box - 4, centre.y() - box / 2, box, box),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
            right,
        )
        self._text(
            painter,
            QRectF(centre.x() - box / 2, viewport.top() + 4, box, box),
            Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter,
            top,
        )
        self._text(
            painter,
            QRectF(centre.x() - box / 2, viewport.bottom() - box - 4, box, box),
            Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignHCenter,
            bottom,
        )

    def _scale_bar(self, painter: QPainter, viewport: QRectF) -> None:
        """A bar of a round length in mm (only when the pixel spacing is known)."""
        if not self.spacing_mm:
            return
        pixels_per_mm = self.scale_factor / self.spacing_mm[1]
        if pixels_per_mm <= 0:
            return
        target = viewport.width() / 5
        length_mm = max((s for s in SCALE_BAR_STEPS_MM if s * pixels_per_mm <= target), default=SCALE_BAR_STEPS_MM[0])
        length = length_mm * pixels_per_mm
        x1, y = viewport.right() - 12, viewport.bottom() - 14
        pen = QPen(QColor(235, 235, 235), 2)
        painter.setPen(pen)
        painter.drawLine(QPointF(x1 - length, y), QPointF(x1, y))
        painter.drawLine(QPointF(x1 - length, y - 5), QPointF(x1 - length, y + 5))
        painter.drawLine(QPointF(x1, y - 5), QPointF(x1, y + 5))
        label = f"{length_mm} mm"
        # The label's box is as wide as the text needs (a box the bar's length clipped "10 mm"
        # to "0 mm" on short bars), right-aligned with the bar's end.
        width = max(length, painter.fontMetrics().horizontalAdvance(label) + 6)
        self._text(
            painter,
            QRectF(x1 - width, y - 8 - painter.fontMetrics().height(), width, painter.fontMetrics().height()),
            Qt.AlignmentFlag.AlignRight,
            label,
        )

    def _draw_measurement(self, painter: QPainter) -> None:
        if self.measurement is None:
            return
        transform = self._image_transform()
        a, b = (QPointF(self.mapFromScene(transform.map(p))) for p in self.measurement)
        painter.setPen(QPen(SELECTED_COLOR, 2))
        painter.drawLine(a, b)
        for end in (a, b):
            painter.drawEllipse(end, 3, 3)
        length = self.measurement_mm()
        if length is not None:
            label = f"{length:.1f} mm"
        else:
            a_img, b_img = self.measurement
            label = f"{((b_img.x() - a_img.x()) ** 2 + (b_img.y() - a_img.y()) ** 2) ** 0.5:.0f} px (no spacing)"
        self._text(painter, QRectF(b.x() + 6, b.y() - 10, 200, 20), Qt.AlignmentFlag.AlignLeft, label, SELECTED_COLOR)

    def _draw_magnifier(self, painter: QPainter, viewport: QRectF) -> None:
        size = MAGNIFIER_SIZE
        cursor = self._cursor
        target = QRectF(cursor.x() - size / 2, cursor.y() - size / 2, size, size)
        half = size / (2 * MAGNIFIER_ZOOM)
        source = QRectF(cursor.x() - half, cursor.y() - half, 2 * half, 2 * half)
        clip = QPainterPath()
        clip.addEllipse(target)
        painter.save()
        painter.setClipPath(clip)
        painter.fillRect(target, Qt.GlobalColor.black)
        self.scene().render(painter, target, self.mapToScene(source.toRect()).boundingRect())
        painter.restore()
        painter.setPen(QPen(QColor(200, 200, 200), 1.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(target)
