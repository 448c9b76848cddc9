"""The PDF report, drawn with Qt's own PDF writer so paper matches the screen: vector
contours over the images, selectable text, embedded fonts, A4 or Letter.

Page 1: patient and study (or de-identified), the hanging with contours, exam and breast
scores, the lesion table, the threshold with its validation figures, provenance and the
disclaimer. Then one page per view, large, with contours and the heat map.

Used by the viewer (File → Export report) and by ``hds-predict --pdf``, both through
``hds_core.report.export`` (the viewer hands it this writer: the engine never imports Qt)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QBuffer, QIODevice, QMarginsF, QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPen,
    QTransform,
)

from hds_core.density import density_text
from hds_core.findings import BOTH_BREASTS
from hds_core.findings.stack import STACK_NOTE
from hds_core.report.content import ReportContent, ReportImage, format_dicom_date
from hds_core.report.identity import PDF_CREATOR, pdf_creator, study_key
from hds_core.report.operating_point import describe_operating_point, score_kind, score_word
from hds_core.report.reading_text import report_sections, signature_line
from hds_core.safe_write import atomic_write
from hds_core.text import printable

from ..pictures.display import ScreenRenderer, breast_box
from ..pictures.outline_path import contour_path
from ..pictures.view_pictures import gray_qimage, heat_qimage, number_anchor
from ..reading.hanging import ViewInfo, hang

PAGE_SIZES = {"A4": QPageSize.PageSizeId.A4, "Letter": QPageSize.PageSizeId.Letter}
DPI = 300
MAX_IMAGE_PIXELS_OVERVIEW = 900  # rows of each image on page 1 (~150 dpi at print size)
MAX_IMAGE_PIXELS_DETAIL = 2000
CONTOUR_PRINT = QColor(230, 150, 0)  # a darker amber reads on white paper and on the film
NUMBER_PRINT = QColor(200, 90, 0)  # the contours' numbers: darker still, never taken for a contour


class ReportError(Exception):
    """The PDF could not be written; the message names the file and the reason."""


def _ensure_gui() -> None:
    # Fonts and painting need an application object; headless runs get the offscreen
    # platform. A QApplication (not just QGuiApplication), so widgets can follow in the
    # same process.
    if QGuiApplication.instance() is None:
        from PySide6.QtWidgets import QApplication

        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        _ensure_gui.app = QApplication([])


class _Page:
    """Millimetre helpers over a painter on a PDF page."""

    def __init__(self, painter: QPainter, writer: QPdfWriter):
        self.painter = painter
        self.dots_per_mm = writer.resolution() / 25.4
        rect = writer.pageLayout().paintRectPixels(writer.resolution())
        self.width_mm = rect.width() / self.dots_per_mm
        self.height_mm = rect.height() / self.dots_per_mm

    def rect(self, x: float, y: float, w: float, h: float) -> QRectF:
        d = self.dots_per_mm
        return QRectF(x * d, y * d, w * d, h * d)

    def font(self, size_pt: float, bold: bool = False) -> None:
        font = QFont("DejaVu Sans")
        font.setPointSizeF(size_pt)
        font.setBold(bold)
        self.painter.setFont(font)

    def text(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        text: str,
        size: float = 9,
        bold: bool = False,
        align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
        color: QColor | None = None,
    ) -> float:
        """Draw wrapped text; returns the height used in mm."""
        self.font(size, bold)
        self.painter.setPen(color or QColor(0, 0, 0))
        flags = int(align) | int(Qt.TextFlag.TextWordWrap)
        used = self.painter.boundingRect(self.rect(x, y, w, h), flags, text)
        self.painter.drawText(self.rect(x, y, w, h), flags, text)
        return used.height() / self.dots_per_mm

    def height_of(self, w: float, text: str, size: float = 9, bold: bool = False) -> float:
        """The height ``text`` takes wrapped to ``w`` mm."""
        self.font(size, bold)
        flags = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop) | int(Qt.TextFlag.TextWordWrap)
        return self.painter.boundingRect(self.rect(0, 0, w, 1000), flags, text).height() / self.dots_per_mm

    def line(self, x: float, y: float, w: float, text: str, size: float = 9, bold: bool = False) -> None:
        """``text`` on one line of ``w`` mm, shortened with an ellipsis where it does not fit."""
        self.font(size, bold)
        self.painter.setPen(QColor(0, 0, 0))
        shown = QFontMetricsF(self.painter.font(), self.painter.device()).elidedText(
            text, Qt.TextElideMode.ElideRight, w * self.dots_per_mm
        )
        self.painter.drawText(self.rect(x, y, w, 6), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop), shown)


class _Flow:
    """Text flowing down the pages: each block goes where the last ended, on a new page when it
    does not fit on this one."""

    def __init__(self, page: _Page, writer: QPdfWriter):
        self.page, self.writer, self.y = page, writer, 0.0

    def room(self, height: float) -> None:
        if self.y + height > self.page.height_mm and self.y > 0:
            self.writer.newPage()
            self.y = 0.0

    def text(self, text: str, size: float = 9, bold: bool = False, color=None, indent: float = 0.0, after=1.0):
        width = self.page.width_mm - indent
        self.room(self.page.height_of(width, text, size, bold))
        self.y += self.page.text(indent, self.y, width, 200, text, size, bold, color=color) + after


def _screen(item: ReportImage, max_rows: int) -> np.ndarray:
    """Display pixels (the file's default window) downsampled to at most ``max_rows``."""
    step = max(1, int(np.ceil(item.image.pixels.shape[0] / max_rows)))
    screen = ScreenRenderer(item.image).render(item.image.default_preset)
    return np.ascontiguousarray(screen[::step, ::step])


def _draw_image(
    page: _Page, item: ReportImage, target_mm: QRectF, flip_h: bool, flip_v: bool, max_rows: int, heat: bool = False
) -> None:
    """The image fitted into ``target_mm`` below a line for its label and score (outside the
    image, so no label can cover a contour), mirrored as hung, with vector contours on top."""
    painter = page.painter
    rows, cols = item.image.full_shape  # contours and maps are in the full image's pixels, whatever level is printed
    d = page.dots_per_mm
    label_mm = 5.0
    target = QRectF(
        target_mm.x() * d, (target_mm.y() + label_mm) * d, target_mm.width() * d, (target_mm.height() - label_mm) * d
    )
    screen = _screen(item, max_rows)
    flip = QTransform(-1 if flip_h else 1, 0, 0, -1 if flip_v else 1, cols if flip_h else 0, rows if flip_v else 0)
    # The breast, not the film's padding, fills the cell (as the viewer fits it).
    box = breast_box(screen, (rows, cols))
    shown = flip.mapRect(QRectF(*box) if box else QRectF(0, 0, cols, rows))
    scale = min(target.width() / shown.width(), target.height() / shown.height())
    w, h = shown.width() * scale, shown.height() * scale
    # Centred across its cell, at the cell's top: the caption stays right above the image.
    origin = QPointF(target.x() + (target.width() - w) / 2, target.y())
    painter.fillRect(QRectF(origin, QSizeF(w, h)), QColor(0, 0, 0))
    # image pixel (x, y) -> page: flip inside the image, then scale and place the shown part
    transform = (
        flip
        * QTransform.fromTranslate(-shown.x(), -shown.y())
        * QTransform.fromScale(scale, scale)
        * QTransform.fromTranslate(origin.x(), origin.y())
    )
    painter.save()
    painter.setClipRect(QRectF(origin, QSizeF(w, h)))
    painter.setTransform(transform)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    painter.drawImage(QRectF(0, 0, cols, rows), gray_qimage(screen))
    heat_source = item.heat if item.heat is not None else item.prediction
    if heat and heat_source is not None:
        geometry = heat_source.geometry
        data = heat_source.working_probability
        data = data[:, ::-1] if geometry.flipped else data
        row0, _, col0, _ = geometry.crop
        painter.setOpacity(0.45)
        painter.drawImage(
            QRectF(col0, row0, data.shape[1] / geometry.scale[1], data.shape[0] / geometry.scale[0]),
            heat_qimage(np.ascontiguousarray(data)),
        )
        painter.setOpacity(1.0)
    pen = QPen(CONTOUR_PRINT, 0.35 * d)  # 0.35 mm on paper whatever the image size
    pen.setCosmetic(True)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    drawn = item.lesions if item.drawn is None else item.drawn  # a stack's slice: the findings spanning it
    if drawn:  # an empty path makes PDF readers warn ("No current point in closepath")
        painter.drawPath(contour_path([lesion.contour_xy for lesion in drawn]))
    painter.restore()
    # Each contour's number, as the lesion table lists it, upright beside the box's top right.
    for lesion in drawn:
        right, top = number_anchor(lesion.bbox_xywh, transform)
        page.text(right / d + 0.6, top / d - 3.2, 8, 4, str(lesion.index), 7, True, color=NUMBER_PRINT)
    # The caption on the line above the image, within the image's cell, on one line (a long one
    # is shortened, never wrapped under the image): label, score and, on a stack, the slice.
    caption = f"{item.label}   {score_word(item.prediction.calibrated)} {item.prediction.score:.2f}"
    if item.slice_label:
        caption += f"   {item.slice_label}"
    left = origin.x() / d
    page.line(left, target_mm.y() + 0.5, target_mm.x() + target_mm.width() - left, caption, 9, True)


def _fmt(value, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _report_pages(flow: _Flow, content: ReportContent) -> None:
    """The report's text: who and what, the radiologist's reading in the atlas's order (when
    there is one), then the AI's analysis: scores, where the exam score falls among the
    validation exams, density suggestion, threshold, lesions with her decisions, provenance."""
    page, width = flow.page, flow.page.width_mm
    reading = content.reading
    flow.text("Mammography report" if reading is not None else "Mammography AI analysis", 16, True)
    flow.text(content.disclaimer, 8, color=QColor(160, 0, 0), after=3)
    half = width / 2 - 2
    left = "\n".join(f"{k}: {v}" for k, v in content.patient)
    right = "\n".join(f"{k}: {v}" for k, v in content.study)
    flow.y += max(page.text(0, flow.y, half, 30, left, 9), page.text(half + 4, flow.y, half, 30, right, 9)) + 3
    if content.identity_note:  # a split study: said before anything else on the page
        flow.text(content.identity_note + ".", 9, True, color=QColor(180, 0, 0), after=2)
    if reading is not None:
        _reading_sections(flow, content)
    elif content.comparison is not None:
        flow.text(content.comparison.line, 9, True, after=2)
    flow.text("AI analysis" + (" (shown to the reader; not part of her assessment)" if reading else ""), 12, True)
    scores = [f"Exam score: {_fmt(content.exam_score, 3)}"]
    scores += [
        f"{name} breast: {_fmt(content.breast_scores.get(side), 3)}"
        for side, name in (("R", "Right"), ("L", "Left"))
        if side in content.breast_scores
    ]
    kind = score_kind(content.scores_calibrated)
    flow.text("     ".join(scores) + f"   ({kind}; breast = maximum of its views)", 10, True)
    if content.deciles is not None and content.exam_score is not None:
        flow.text(f"Exam score {content.exam_score:.3f}: {content.deciles.text(content.exam_score)}.", 9)
    if content.score_note:
        flow.text(content.score_note + ".", 8)
    if content.density:
        density = "     ".join(
            f"{name} breast: {density_text(content.density[side])}"
            for side, name in (("R", "Right"), ("L", "Left"))
            if side in content.density
        )
        flow.text(f"Density, suggested from the pixels (not a finding): {density}", 8)
    point = content.operating_point
    threshold_line = f"Contour threshold {content.threshold:.3f}."
    if point:
        threshold_line += f" On the model's validation patients at this threshold: {describe_operating_point(point)}."
    flow.text(threshold_line, 9, after=2)
    _lesion_table(flow, content)
    provenance = "\n".join(f"{k}: {v}" for k, v in content.provenance)
    flow.text(provenance, 7, color=QColor(60, 60, 60))


def _reading_sections(flow: _Flow, content: ReportContent) -> None:
    reading = content.reading
    line = content.comparison.line if content.comparison is not None else None
    for section in report_sections(reading, line):
        flow.room(12)
        flow.text(section.title, 10.5, True, after=0.5)
        for text in section.lines:
            flow.text(text, 9, indent=4, after=0.8)
        if section.key == "composition" and content.density:
            suggested = ", ".join(
                f"{name} {density_text(content.density[side])}"
                for side, name in (("R", "right"), ("L", "left"))
                if side in content.density
            )
            flow.text(f"(The model's density suggestion, not the reader's: {suggested}.)", 8, indent=4)
        flow.y += 1.5
    flow.text(signature_line(reading), 9, True, color=QColor(0, 0, 0) if reading.signed else QColor(180, 0, 0), after=4)


def _lesion_table(flow: _Flow, content: ReportContent) -> None:
    page = flow.page
    rows = [(item, lesion) for item in content.images for lesion in item.lesions]
    rows.sort(key=lambda r: -r[1].max_probability)
    compared = content.comparison is not None and content.comparison.prior_date
    columns = (
        (0, 34, "AI mark"),
        (34, 17, "Area mm²"),
        (51, 21, "Longest mm"),
        (72, 27, "Max probability"),
        (99, 40, "Reader" if content.reading is not None else ""),
        (139, 43, "Since the prior" if compared else ""),
    )
    flow.room(16)
    for offset, w, head in columns:  # 8 pt: "new since 2024-03-20" fits its column
        page.line(offset, flow.y, w, head, 8, True)
    flow.y += 5
    page.painter.setPen(QPen(QColor(0, 0, 0), 0.2 * page.dots_per_mm))
    page.painter.drawLine(page.rect(0, flow.y, 0, 0).topLeft(), page.rect(page.width_mm, flow.y, 0, 0).topLeft())
    flow.y += 1
    if not rows:
        flow.text("No lesion at this threshold.", 9)
    comparison = content.comparison
    for item, lesion in rows[:20]:
        new = comparison is not None and comparison.is_new(item.image.metadata.path, lesion.index)
        decision = content.ai_decision(item, lesion)
        said = ""
        if decision is not None:
            said = f"accepted: finding {decision.finding}" if decision.decision == "accepted" else "dismissed"
        values = (
            item.place(lesion),
            _fmt(lesion.area_mm2),
            _fmt(lesion.longest_diameter_mm),
            _fmt(lesion.max_probability, 3),
            said,
            f"new since {format_dicom_date(comparison.prior_date)}" if new else "",
        )
        flow.room(5)
        for (offset, w, _), value in zip(columns, values, strict=True):
            page.line(offset, flow.y, w - 1, value, 8)
        flow.y += 4.5
    if len(rows) > 20:
        flow.text(f"… and {len(rows) - 20} more (see the following pages).", 8)
    flow.y += 3


def _hanging_page(page: _Page, content: ReportContent) -> None:
    """The views as hung (CC over MLO, the right breast on the left, mirrored), as large as the
    page allows, each with its caption above it."""
    used = page.text(
        0, 0, page.width_mm, 10, "The views, as hung: contours are the AI's marks at the threshold", 11, True
    )
    top = used + 2
    infos = [
        ViewInfo(str(i), it.image.metadata.laterality, it.image.metadata.view, it.image.metadata.patient_orientation)
        for i, it in enumerate(content.images)
    ]
    hanging = hang(infos, 4)
    area_h = page.height_mm - top - 2
    cell_w, cell_h = page.width_mm / hanging.columns, area_h / hanging.rows
    for placement in hanging.placements:
        item = content.images[int(placement.key)]
        target = QRectF(placement.column * cell_w + 1, top + placement.row * cell_h + 1, cell_w - 2, cell_h - 2)
        _draw_image(page, item, target, placement.flip_horizontal, placement.flip_vertical, MAX_IMAGE_PIXELS_OVERVIEW)
    sides = {it.image.metadata.laterality for it in content.images}
    if hanging.columns == 2 and len(sides & {"R", "L"}) == 1:
        # One breast only: its other half of the page says why it is empty.
        missing, column = ("Right", 0) if "L" in sides else ("Left", 1)
        page.text(
            column * cell_w + 4,
            top + area_h / 2 - 4,
            cell_w - 8,
            8,
            f"{missing} breast: no image in this study",
            9,
            color=QColor(90, 90, 90),
        )


def _detail_page(page: _Page, item: ReportImage, content: ReportContent) -> None:
    basis = " (compared with the other breast)" if item.prediction.score_basis == BOTH_BREASTS else ""
    if not item.prediction.calibrated:
        basis += f" ({score_kind(False)})"
    header = (
        f"{item.label} — score {item.prediction.score:.3f}{basis}; {len(item.lesions)} lesion(s) at "
        f"threshold {content.threshold:.3f}"
    )
    if item.slices:
        header += "\n" + stack_header(item)
    used = page.text(0, 0, page.width_mm, 20 if item.slices else 10, header, 11, True)
    side = {"R": "left", "L": "right"}.get(item.image.metadata.laterality or "")
    info = ViewInfo(
        "x", item.image.metadata.laterality, item.image.metadata.view, item.image.metadata.patient_orientation
    )
    placement = hang([info], 1).placements[0] if side else None
    flip_h = placement.flip_horizontal if placement else False
    flip_v = placement.flip_vertical if placement else False
    top = used + 2
    _draw_image(
        page,
        item,
        QRectF(0, top, page.width_mm, page.height_mm - top - 8),
        flip_h,
        flip_v,
        MAX_IMAGE_PIXELS_DETAIL,
        heat=True,
    )
    page.text(
        0,
        page.height_mm - 7,
        page.width_mm,
        7,
        "Contours: lesions at the threshold. Red tint: the model's mass probability (heat map). " + content.disclaimer,
        7,
        color=QColor(60, 60, 60),
    )


def stack_header(item: ReportImage) -> str:
    """A stack's page: which finding, on which slice and frame, over which slices; or none."""
    finding = item.finding
    if finding is None:
        return f"Tomosynthesis, {item.slice_label}: no finding at this threshold. {_sentence(STACK_NOTE)}."
    first, last = finding.span
    depth = f", depth {finding.depth_mm:.1f} mm" if finding.depth_mm is not None else ""
    return (
        f"Finding #{finding.lesion.index} on slice {finding.slice_index + 1} of {item.slices} (frame "
        f"{finding.frame_number}{depth}), seen on slices {first + 1}-{last + 1}. {_sentence(STACK_NOTE)}."
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def write_pdf(content: ReportContent, out: str | Path, *, page_size: str = "A4", force: bool = False) -> Path:
    """Write the report to ``out`` atomically; never overwrites without ``force``."""
    out = Path(out)
    if page_size not in PAGE_SIZES:
        raise ReportError(f"{out}: page size must be one of {sorted(PAGE_SIZES)}, got {page_size!r}")
    if out.exists() and not force:
        raise ReportError(f"{out}: exists already (use --force to overwrite)")
    if any(out.resolve() == item.image.metadata.path.resolve() for item in content.images if item.image.metadata.path):
        raise ReportError(f"{out}: would overwrite an input file")
    _ensure_gui()

    def draw(tmp: str) -> None:
        # The PDF is composed in memory and written by Python: QPdfWriter on a file drops
        # write errors (a full disk gave a cut-off PDF and no error), Python's write raises.
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        writer = QPdfWriter(buffer)
        writer.setResolution(DPI)
        writer.setPageLayout(
            QPageLayout(
                QPageSize(PAGE_SIZES[page_size]),
                QPageLayout.Orientation.Portrait,
                QMarginsF(14, 14, 14, 14),
                QPageLayout.Unit.Millimeter,
            )
        )
        writer.setTitle("Mammography AI analysis")
        # The study's fingerprint, so a later run can tell this study's report from another's.
        first = content.images[0].image.metadata if content.images else None
        writer.setCreator(pdf_creator(study_key(first)) if first is not None else PDF_CREATOR)
        painter = QPainter()
        if not painter.begin(writer):
            raise ReportError(f"{out}: cannot start writing the PDF")
        try:
            page = _Page(painter, writer)
            _report_pages(_Flow(page, writer), content)
            writer.newPage()
            _hanging_page(page, content)
            for item in content.images:
                for shown in item.pages or [item]:  # a stack: a page per finding, on its slice
                    writer.newPage()
                    _detail_page(page, shown, content)
        finally:
            painter.end()
        data = bytes(buffer.data())
        buffer.close()
        if not data.startswith(b"%PDF"):
            raise ReportError(f"{out}: the PDF writer produced no document")
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    try:
        atomic_write(out, draw)
    except OSError as exc:
        raise ReportError(f"{printable(out)}: cannot write: {exc.strerror or exc}") from None
    return out


def write_report(
    analysed,
    threshold: float,
    out: str | Path,
    *,
    threshold_table: list[dict] | None = None,
    anonymize: bool = False,
    page_size: str = "A4",
    force: bool = False,
    score_note: str | None = None,
    identity_note: str | None = None,
    comparison=None,
    reading=None,
    deciles=None,
) -> Path:
    """(image, prediction) pairs of one study -> the PDF (``hds_core.report.export.PdfWriter``)."""
    from hds_core.report.content import build_report

    return write_pdf(
        build_report(
            analysed,
            threshold,
            threshold_table=threshold_table,
            anonymize=anonymize,
            score_note=score_note,
            identity_note=identity_note,
            comparison=comparison,
            reading=reading,
            deciles=deciles,
        ),
        out,
        page_size=page_size,
        force=force,
    )
