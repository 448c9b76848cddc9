"""The hanging area: up to four views hung as mammograms are read (hanging.py decides where),
each image drawn with its window and the engine's contours and heat map, grayscale and
pan/zoom kept in step between views, and a lesion brought to the centre on request. What
it draws with (threshold, overlays, layout, windows, inversion) is the reading state's
(reading_state.py), which it observes."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QWidget

from hds_core.findings import BOTH_BREASTS
from hds_core.infer.scope import not_a_mammogram
from hds_core.report.operating_point import score_word

from ..pictures.display import ScreenRenderer, adjusted, window_of
from ..reading.hanging import Hanging, hang
from ..reading.reading_state import ReadingState
from ..reading.study import Study, StudyImage
from .image_view import MammoView

LESION_ZOOM = 2.5
MIN_SCREEN_SIDE = 256  # a view that is not laid out yet reports a few pixels


def _needed_mm_per_pixel(view: MammoView) -> float:
    """The mm per device pixel at which the view's breast just fits it."""
    width_mm, height_mm = view.content_mm()
    ratio = view.devicePixelRatioF()
    width, height = max(view.viewport().width() * ratio, 1), max(view.viewport().height() * ratio, 1)
    return max(width_mm / width, height_mm / height)


class ViewGrid(QWidget):
    status = Signal(str)  # a note for the status bar (hanging notes, preset scope)
    view_selected = Signal(str)  # image key of the view the reader clicked
    detail_wanted = Signal(object)  # image key: a view needs the full resolution of its reduced level

    def __init__(self, state: ReadingState, engine):
        super().__init__()
        self.setAttribute(
            Qt.WidgetAttribute.WA_StyledBackground, True
        )  # a QWidget subclass paints no style sheet background otherwise
        self.setStyleSheet("background: black;")
        self.state, self.engine = state, engine  # what to draw with, and whether the AI is still busy
        self.cells = QGridLayout(self)
        self.cells.setContentsMargins(0, 0, 0, 0)
        self.cells.setSpacing(2)
        self.views = [MammoView() for _ in range(4)]
        for index, view in enumerate(self.views):
            self.cells.addWidget(view, index // 2, index % 2)
            view.window_drag.connect(self._on_window_drag)
            view.zoomed.connect(self._sync_zoom)
            view.panned.connect(self._sync_pan)
            view.fitted.connect(lambda key: [v.fit() for v in self.views])
            view.activated.connect(self.select)
            view.detail_wanted.connect(self.detail_wanted)
        self.study: Study | None = None
        self.renderers: dict[str, ScreenRenderer] = {}
        self.boxes: dict[str, tuple | None] = {}  # key -> the breast's box that fit() shows
        self.page = 0
        self.hanging: Hanging | None = None
        self.selected_lesion = None
        state.observe("threshold", lambda _: self.refresh_results())
        for name in ("contours", "heat_map", "heat_opacity"):
            state.observe(name, lambda _: self.show_overlays())
        state.observe("layout", lambda _: self.rehang())
        state.observe("invert", lambda _: self.redraw())
        state.observe_windows(self.refresh_view_for)

    @property
    def layout_mode(self) -> int:
        return self.state.layout

    def clear(self, study: Study | None = None) -> None:
        self.study = study
        self.renderers.clear()
        self.state.forget_windows()
        self.boxes.clear()
        self.page, self.hanging = 0, None
        self.state.selected = self.selected_lesion = None
        for view in self.views:
            view.clear()

    def add_image(
        self, key: str, renderer: ScreenRenderer, box: tuple[float, float, float, float] | None = None
    ) -> None:
        """``box``: the breast's box the view fits (found by the decoder), None for the whole image."""
        self.renderers[key] = renderer
        # The file's own window, not a reader's change: the window draws the view itself.
        self.state.windows[key] = renderer.image.default_preset
        self.boxes[key] = box

    def replace_image(self, key: str, renderer: ScreenRenderer) -> None:
        """Full resolution in place of the reduced level: the window on screen stays as it is."""
        if key in self.renderers:
            self.renderers[key] = renderer
            self.refresh_view_for(key)

    def screen_shape(self) -> tuple[int, int]:
        """The largest view on screen in device pixels (rows, columns): what a first look must
        fill. Views not laid out yet count as a quarter of the window's grid."""
        shapes = [
            (view.viewport().height() * view.devicePixelRatioF(), view.viewport().width() * view.devicePixelRatioF())
            for view in self.views
            if view.isVisible()
        ]
        half = (self.height() * self.devicePixelRatioF() / 2, self.width() * self.devicePixelRatioF() / 2)
        rows, columns = max(shapes, default=half)
        return max(int(rows), int(half[0]), MIN_SCREEN_SIDE), max(int(columns), int(half[1]), MIN_SCREEN_SIDE)

    # ----- hanging ----------------------------------------------------------------------------
    def set_layout(self, mode: int, page: int = 0) -> None:
        self.page = page
        if self.state.layout == mode:
            self.rehang()
        else:
            self.state.layout = mode  # observed: rehangs at this page

    def turn_page(self, step: int) -> None:
        if self.hanging is not None and self.hanging.pages > 1:
            self.page = (self.page + step) % self.hanging.pages
            self.rehang()

    def rehang(self) -> None:
        if self.study is None:
            return
        self.hanging = hang(self.study.view_infos(), self.layout_mode, self.page)
        for index, view in enumerate(self.views):
            row, column = divmod(index, 2)
            inside = row < self.hanging.rows and column < self.hanging.columns
            placement = self.hanging.at(row, column) if inside else None
            view.setVisible(placement is not None or inside)
            if placement is None:
                view.clear()
        for n in range(2):
            self.cells.setRowStretch(n, 1 if n < self.hanging.rows else 0)
            self.cells.setColumnStretch(n, 1 if n < self.hanging.columns else 0)
        for placement in self.hanging.placements:
            self.draw(placement)
        self._pair_rows()
        if self.hanging.notes:
            self.status.emit("; ".join(self.hanging.notes))

    def _pair_rows(self) -> None:
        """The two breasts of a row (the same view of each, side by side) fit together: one
        physical scale, the larger breast filling its view, chest walls meeting at the midline
        (a reader compares left and right by size and density; IHE's mammography profile asks
        for comparable size). A view alone in its row fits itself."""
        by_row: dict[int, list] = {}
        for placement in self.hanging.placements:
            by_row.setdefault(placement.row, []).append(placement)
        for index, view in enumerate(self.views):
            row = index // 2
            pair = [p for p in by_row.get(row, []) if p.side in ("R", "L")]
            paired = (
                len(pair) == 2
                and {p.side for p in pair} == {"R", "L"}
                and pair[0].family == pair[1].family
                and self.hanging.columns == 2
            )
            view.fit_together = (lambda row=row: self.fit_pair(row)) if paired else None
        for row in by_row:
            views = [self.views[row * 2 + column] for column in range(2)]
            if views[0].fit_together is not None and all(v.at_fit for v in views):
                self.fit_pair(row)

    def fit_pair(self, row: int) -> None:
        left, right = self.views[row * 2], self.views[row * 2 + 1]
        if not (left.image_size[0] and right.image_size[0]):
            for view in (left, right):  # one still decoding: the other fits alone until it arrives
                if view.image_size[0]:
                    view.fit_at(_needed_mm_per_pixel(view), None)
            return
        shared = max(_needed_mm_per_pixel(left), _needed_mm_per_pixel(right))
        # The right breast hangs on the left of the screen, chest wall to the midline.
        left.fit_at(shared, "right")
        right.fit_at(shared, "left")

    def hanging_description(self) -> dict:
        """Which image went to which viewport (``mammo-viewer --hanging-json``): for a reader
        debugging a hanging, and for tests."""
        viewports = []
        for placement in self.hanging.placements if self.hanging else ():
            view, item = self.views[placement.row * 2 + placement.column], self.study.images[placement.key]
            meta = item.metadata
            spacing = view.spacing_mm[1] if view.spacing_mm else None
            viewports.append(
                {
                    "row": placement.row,
                    "column": placement.column,
                    "study": "current",
                    "sop_instance_uid": meta.sop_instance_uid,
                    "study_date": meta.study_date,
                    "laterality": meta.laterality,
                    "view": meta.view,
                    "label": placement.label,
                    "flip_horizontal": placement.flip_horizontal,
                    "flip_vertical": placement.flip_vertical,
                    "mm_per_screen_pixel": round(spacing / (view.scale_factor * view.devicePixelRatioF()), 5)
                    if spacing and view.scale_factor
                    else None,
                    "file": str(item.path),
                }
            )
        layout = self.hanging.layout if self.hanging else None
        pages = self.hanging.pages if self.hanging else 0
        return {"layout": layout, "page": self.page, "pages": pages, "viewports": viewports}

    def visible_keys(self) -> list[str]:
        return [p.key for p in self.hanging.placements] if self.hanging else []

    def view_of(self, key: str) -> tuple[MammoView, object] | tuple[None, None]:
        for placement in self.hanging.placements if self.hanging else ():
            if placement.key == key:
                return self.views[placement.row * 2 + placement.column], placement
        return None, None

    # ----- drawing ----------------------------------------------------------------------------
    def refresh_view_for(self, key: str) -> None:
        view, placement = self.view_of(key)
        if view is not None:
            self.draw(placement)

    def redraw(self) -> None:
        for placement in self.hanging.placements if self.hanging else ():
            self.draw(placement)

    def draw(self, placement) -> None:
        view = self.views[placement.row * 2 + placement.column]
        item = self.study.images[placement.key]
        renderer = self.renderers.get(placement.key)
        meta = item.metadata
        view.title = placement.label
        view.orientation, view.spacing_mm = meta.patient_orientation, meta.pixel_spacing_mm
        # A CT or an MR gets no note on where a breast was placed: it is not one.
        mammogram = not_a_mammogram(meta) is None
        view.notes = list(placement.notes) if mammogram else []
        if renderer is None:
            view.clear()
            view.title = placement.label
            view.subtitle = item.error or "decoding…"
            view.viewport().update()
            return
        preset = self.state.windows.get(placement.key, renderer.image.default_preset)
        view.set_image(
            placement.key,
            renderer.render(preset, user_invert=self.state.invert),
            flip_h=placement.flip_horizontal,
            flip_v=placement.flip_vertical,
            full_shape=renderer.image.full_shape,
            content=self.boxes.get(placement.key),
        )
        view.title = placement.label
        # The file's own window needs no label over the breast; a window the reader chose does.
        view.subtitle = f"window: {preset.name}" if placement.key in self.state.chosen else ""
        view.detail_note = f"full resolution not available: {item.detail_error}" if item.detail_error else ""
        view.notes = (
            list(placement.notes)
            + [w for w in meta.warnings() if "spacing" in w or "PROCESSING" in w or "implant" in w]
            if mammogram
            else []
        )
        self.draw_results(view, item)

    def draw_results(self, view: MammoView, item: StudyImage) -> None:
        prediction, state = item.prediction, self.state
        if prediction is None:
            view.badge = item.not_analysed or (
                "AI…" if self.engine.busy or self.engine.loading else ("AI n/a" if self.engine.error else "")
            )
            view.set_contours([])
            view.set_heat_map(None)
            view.viewport().update()
            return
        lesions = prediction.lesions(state.threshold)
        selected = (
            [self.selected_lesion.lesion.contour_xy]
            if (self.selected_lesion is not None and self.selected_lesion.key == item.key)
            else []
        )
        view.set_contours(
            [lesion.contour_xy for lesion in lesions],
            selected,
            labels=[(lesion.bbox_xywh, lesion.index) for lesion in lesions],
        )
        view.set_heat_map(prediction.working_probability, prediction.geometry)
        view.set_heat_visible(state.heat_map, state.heat_opacity)
        view.set_contours_visible(state.contours)
        view.badge = f"{score_word(prediction.calibrated)} {prediction.score:.2f}" + (
            " (both breasts)" if prediction.score_basis == BOTH_BREASTS else ""
        )
        view.viewport().update()

    def refresh_results(self) -> None:
        for placement in self.hanging.placements if self.hanging else ():
            view = self.views[placement.row * 2 + placement.column]
            if view.key == placement.key:
                self.draw_results(view, self.study.images[placement.key])

    def show_overlays(self) -> None:
        for view in self.views:
            view.set_contours_visible(self.state.contours)
            view.set_heat_visible(self.state.heat_map, self.state.heat_opacity)

    def centre_lesion(self, chosen) -> None:
        """Bring a lesion row's lesion to the middle of its view (1-up when it is off this page)."""
        self.selected_lesion = chosen
        view, _ = self.view_of(chosen.key)
        if view is None and self.study is not None:
            order = [hang(self.study.view_infos(), 1, i).placements[0].key for i in range(len(self.study.images))]
            self.set_layout(1, order.index(chosen.key) if chosen.key in order else 0)
            view, _ = self.view_of(chosen.key)
        if view is not None:
            x, y = chosen.lesion.centroid_xy
            if view.at_fit:  # at fit the whole image is on screen and there is nothing to centre: zoom in first
                for other in self.views:
                    if other.isVisible() and other.key:
                        other.apply_zoom(LESION_ZOOM)
            self.draw_results(view, self.study.images[chosen.key])
            view.centre_on_image_point(x, y)
            self.select(chosen.key)

    def select(self, key: str) -> None:
        """The reader clicked the view of ``key`` (again, too: the model input pane follows)."""
        self.state.selected = key
        self.view_selected.emit(key)

    # ----- grayscale, zoom, pan ---------------------------------------------------------------
    def apply_preset(self, index: int) -> None:
        selected = self.state.selected
        keys = [selected] if selected else list(self.renderers)
        for key in keys:
            renderer = self.renderers.get(key)
            if renderer and index < len(renderer.image.presets):
                self.state.set_window(key, renderer.image.presets[index])  # observed: redrawn
        if keys and selected is None:
            self.status.emit(f"Window preset {index + 1} on every view (click a view to change only that one)")

    def toggle_invert(self) -> None:
        self.state.invert = not self.state.invert

    def _on_window_drag(self, key: str, dx: float, dy: float) -> None:
        renderer = self.renderers.get(key)
        if renderer is None:
            return
        preset = self.state.windows.get(key, renderer.image.default_preset)
        center, width = window_of(renderer.image, preset)
        sensitivity = max(width, 1.0) / 300.0  # a 300-pixel drag doubles or halves the window
        self.state.set_window(key, adjusted(preset, center + dy * sensitivity, width + dx * sensitivity))

    def _sync_zoom(self, key: str, factor: float) -> None:
        for view in self.views:
            if view.key and view.key != key and view.isVisible():
                view.apply_zoom(factor)

    def _sync_pan(self, key: str, dx: float, dy: float) -> None:
        source, placement = self.view_of(key)
        for view in self.views:
            if view is source or not view.key or not view.isVisible():
                continue
            _, other = self.view_of(view.key)
            mirrored = placement is not None and other is not None and other.column != placement.column
            view.apply_pan(-dx if mirrored else dx, dy)  # mirrored pairs pan toward the same anatomy

    def set_magnifier(self, on: bool) -> None:
        for view in self.views:
            view.set_magnifier(on)
