"""The hanging area: the views of the current study and its prior hung as mammograms are
read, by a hanging protocol's stage (protocols.py) or by a plain layout (hanging.py), each
image drawn with its window and the engine's contours and heat map, grayscale and pan/zoom
kept in step between views, and a lesion brought to the centre on request. What it draws
with (threshold, overlays, layout, windows, inversion) is the reading state's
(reading_state.py), which it observes."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QWidget

from hds_core.findings import BOTH_BREASTS
from hds_core.findings.stack import StackPrediction
from hds_core.infer.scope import not_a_mammogram
from hds_core.report.content import format_dicom_date
from hds_core.report.operating_point import score_word

from ..pictures.display import ScreenRenderer, adjusted, window_of
from ..reading.hanging import Hanging, hang, hang_stage
from ..reading.protocols import Protocol, first_applicable
from ..reading.reading_state import ReadingState
from ..reading.stack_reading import displayed_slice, slice_note, slice_overlay
from ..reading.study import Study, StudyImage
from .image_view import MammoView
from .stack_navigation import StackNavigation

LESION_ZOOM = 2.5
MIN_SCREEN_SIDE = 256  # a view that is not laid out yet reports a few pixels


def _needed_mm_per_pixel(view: MammoView) -> float:
    """The mm per device pixel at which the view's breast just fits it."""
    width_mm, height_mm = view.content_mm()
    ratio = view.devicePixelRatioF()
    width, height = max(view.viewport().width() * ratio, 1), max(view.viewport().height() * ratio, 1)
    return max(width_mm / width, height_mm / height)


class ViewGrid(StackNavigation, QWidget):
    status = Signal(str)  # a note for the status bar (hanging notes, preset scope)
    view_selected = Signal(str)  # image key of the view the reader clicked
    detail_wanted = Signal(object)  # image key: a view needs the full resolution of its reduced level
    slice_wanted = Signal(object, int)  # image key, slice index: a stack's view steps to that slice
    cine_changed = Signal(bool)  # cine started or stopped (stack_navigation.py)
    sharp_slice_wanted = Signal(object, int)  # image key, slice index: a zoomed stack's slice at full resolution

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
        self.views: list[MammoView] = []
        self._columns = 2  # of the grid as laid out now: view index = row * columns + column
        self._lay_out(2, 2)
        self.study: Study | None = None
        self.prior: Study | None = None  # the prior hung beside the current study, if any
        self.protocols: list[Protocol] = []  # the hanging protocols (protocols.py), in the order tried
        self.protocol: Protocol | None = None  # the protocol hanging the study; None: the layout does
        self.by_protocol = True  # a study opens with its protocol, until the reader picks a layout
        self.pinned: tuple[Protocol, int] | None = None  # the reader's protocol and stage, kept for every study
        self.renderers: dict[str, ScreenRenderer] = {}
        self.boxes: dict[str, tuple | None] = {}  # key -> the breast's box that fit() shows
        self.page = 0
        self._direction = 1  # which way the reader steps through a protocol's stages
        self.hanging: Hanging | None = None
        self.selected_lesion = None
        self.reader_marks_of = lambda item: []  # the reader's marks on an image (session/reading.py)
        state.observe("threshold", lambda _: self.refresh_results())
        for name in ("contours", "heat_map", "heat_opacity"):
            state.observe(name, lambda _: self.show_overlays())
        state.observe("layout", lambda _: self.rehang())
        state.observe("invert", lambda _: self.redraw())
        state.observe_windows(self.refresh_view_for)
        self.init_stacks()

    @property
    def layout_mode(self) -> int:
        return self.state.layout

    def _lay_out(self, rows: int, columns: int) -> None:
        """A grid of rows x columns views (more are made when a stage needs them)."""
        while len(self.views) < rows * columns:
            view = MammoView()
            view.window_drag.connect(self._on_window_drag)
            view.zoomed.connect(self._sync_zoom)
            view.panned.connect(self._sync_pan)
            view.fitted.connect(lambda key: [v.fit() for v in self.views if v.isVisible()])
            view.activated.connect(self.select)
            view.detail_wanted.connect(self.detail_wanted)
            view.slice_step.connect(self.step_slice)
            self.views.append(view)
        if self._columns != columns or not self.cells.count():
            for view in self.views:
                self.cells.removeWidget(view)
            for index, view in enumerate(self.views):
                self.cells.addWidget(view, index // columns, index % columns)
            self._columns = columns
        for n in range(max(4, self.cells.rowCount(), self.cells.columnCount())):
            self.cells.setRowStretch(n, 1 if n < rows else 0)
            self.cells.setColumnStretch(n, 1 if n < columns else 0)

    def _view(self, placement) -> MammoView:
        return self.views[placement.row * self._columns + placement.column]

    def item(self, key: str) -> StudyImage:
        """The image of ``key``, of the current study or of its prior."""
        if self.study is not None and key in self.study.images:
            return self.study.images[key]
        return self.prior.images[key]

    def clear(self, study: Study | None = None) -> None:
        self.study, self.prior = study, None
        self.renderers.clear()
        self.state.forget_windows()
        self.boxes.clear()
        self.page, self.hanging = 0, None
        self.forget_stacks()
        self._open_protocol()
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
    def set_prior(self, prior: Study | None) -> None:
        """Hang ``prior`` beside the current study (None: no prior): the study opens again with
        the first protocol that applies, unless the reader chose a layout."""
        self.prior = prior
        if self.pinned is None:
            self.page = 0
        self._open_protocol()
        self.rehang()

    def _open_protocol(self) -> None:
        if not self.by_protocol:
            self.protocol = None
        elif self.pinned is not None:
            self.protocol, self.page = self.pinned
        else:
            self.protocol = self.opening_protocol()

    def study_facts(self) -> dict:
        """What a protocol's "applies to" is checked against."""
        images = list(self.study.images.values()) if self.study else []
        modalities = {(i.metadata.modality or "MG").upper() for i in images}
        families = {i.view_info().family for i in images} - {None}
        dbt = any(i.metadata.is_stack for i in images)
        return {"modalities": modalities, "families": families, "has_prior": self.prior is not None, "dbt": dbt}

    def opening_protocol(self) -> Protocol | None:
        """The first protocol that applies to the study (None: none does; the layout hangs it)."""
        return first_applicable(self.protocols, **self.study_facts()) if self.study is not None else None

    def use_protocol(self, protocol: Protocol | None, stage: int = 0) -> None:
        """Hang by ``protocol`` from ``stage``, for this study and the next ones (None: each
        study by the first protocol that applies)."""
        self.by_protocol, self._direction = True, 1
        self.pinned = (protocol, stage) if protocol is not None else None
        self.protocol, self.page = protocol or self.opening_protocol(), stage
        self.rehang()

    def set_layout(self, mode: int, page: int = 0) -> None:
        self.page, self.protocol, self.by_protocol, self.pinned = page, None, False, None
        if self.state.layout == mode:
            self.rehang()
        else:
            self.state.layout = mode  # observed: rehangs at this page

    def turn_page(self, step: int) -> None:
        """The next page of a layout, or the next stage of a protocol: past its last stage, the
        first of the next protocol that applies (a screening read, step by step)."""
        self._direction = 1 if step >= 0 else -1
        if self.protocol is not None and self.hanging is not None:
            page = self.page + step
            if 0 <= page < len(self.protocol.stages):
                self.page = page
            else:
                facts = self.study_facts()
                usable = [p for p in self.protocols if p.applies(**facts)] or [self.protocol]
                here = usable.index(self.protocol) if self.protocol in usable else 0
                self.protocol = usable[(here + (1 if step > 0 else -1)) % len(usable)]
                self.page = 0 if step > 0 else len(self.protocol.stages) - 1
            self.rehang()
        elif self.hanging is not None and self.hanging.pages > 1:
            self.page = (self.page + step) % self.hanging.pages
            self.rehang()

    def rehang(self) -> None:
        if self.study is None:
            return
        if self.protocol is not None:
            prior = self.prior.view_infos() if self.prior is not None else None
            stages = len(self.protocol.stages)
            for _ in range(stages):
                self.hanging = hang_stage(self.protocol, self.page, self.study.view_infos(), prior)
                if self.hanging.placements:
                    break
                # A stage this study has no image for (a DBT study without synthesized 2-D
                # images: the 2-D stage) is passed over, the way the reader was going.
                self.page = (self.page + self._direction) % stages
        else:
            self.hanging = hang(self.study.view_infos(), self.layout_mode, self.page)
        self._lay_out(self.hanging.rows, self.hanging.columns)
        for index, view in enumerate(self.views):
            row, column = divmod(index, self._columns)
            inside = row < self.hanging.rows and column < self.hanging.columns
            placement = self.hanging.at(row, column) if inside else None
            view.setVisible(inside)
            if placement is None:
                view.clear()
        for placement in self.hanging.placements:
            self.draw(placement)
        self._fit_linked()
        if self.hanging.notes:
            self.status.emit("; ".join(self.hanging.notes))

    def _fit_groups(self) -> dict[object, list]:
        """Views that fit together at one physical scale: a protocol's linked group (the two
        breasts of a view, of both dates), or in a layout the two breasts of one view side by
        side. A reader compares left and right, and this year and the last, by size and
        density; IHE's mammography profile asks for comparable size."""
        groups: dict[object, list] = {}
        for placement in self.hanging.placements:
            if placement.link is not None:
                groups.setdefault(("link", placement.link), []).append(placement)
            elif self.hanging.protocol is None:
                groups.setdefault(("row", placement.row), []).append(placement)
        together = {}
        for key, placements in groups.items():
            if key[0] == "row":
                paired = (
                    len(placements) == 2
                    and {p.side for p in placements} == {"R", "L"}
                    and placements[0].family == placements[1].family
                    and self.hanging.columns == 2
                )
                if not paired:
                    continue
            if len(placements) > 1:
                together[key] = placements
        return together

    def _fit_linked(self) -> None:
        """Each view fits with its group (``fit_together``); groups still at fit are fitted now."""
        groups = self._fit_groups()
        for view in self.views:
            view.fit_together = None
        for key, placements in groups.items():
            for placement in placements:
                self._view(placement).fit_together = lambda key=key: self.fit_group(key)
        for key, placements in groups.items():
            if all(self._view(p).at_fit for p in placements):
                self.fit_group(key)

    def fit_group(self, key) -> None:
        """The group's views at the scale its largest breast needs, each chest wall against the
        pair's middle (the right breast hangs on the left of its pair)."""
        placements = self._fit_groups().get(key, [])
        shown = [(p, self._view(p)) for p in placements if self._view(p).image_size[0]]
        if not shown:
            return
        shared = max(_needed_mm_per_pixel(view) for _, view in shown)
        for placement, view in shown:
            anchor = {"R": "right", "L": "left"}.get(placement.side or "") if placement.mirrored else None
            view.fit_at(shared, anchor)

    def hanging_description(self) -> dict:
        """Which image went to which viewport (``mammo-viewer --hanging-json``): for a reader
        debugging a hanging, and for tests."""
        viewports = []
        for placement in self.hanging.placements if self.hanging else ():
            view, item = self._view(placement), self.item(placement.key)
            meta = item.metadata
            spacing = view.spacing_mm[1] if view.spacing_mm else None
            viewports.append(
                {
                    "row": placement.row,
                    "column": placement.column,
                    "study": placement.study,
                    "link": placement.link,
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
        protocol = self.hanging.protocol if self.hanging else None
        return {
            "protocol": protocol,
            "stage": self.page + 1 if protocol else None,
            "stage_name": self.hanging.stage if self.hanging else None,
            "layout": None if protocol else layout,
            "page": self.page,
            "pages": pages,
            "prior": {"study_date": self.prior.study_date, "study_instance_uid": self.prior.study_uid}
            if self.prior is not None
            else None,
            "viewports": viewports,
        }

    def visible_keys(self) -> list[str]:
        return [p.key for p in self.hanging.placements] if self.hanging else []

    def view_of(self, key: str) -> tuple[MammoView, object] | tuple[None, None]:
        for placement in self.hanging.placements if self.hanging else ():
            if placement.key == key:
                return self._view(placement), placement
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
        view = self._view(placement)
        item = self.item(placement.key)
        renderer = self.renderers.get(placement.key)
        meta = item.metadata
        title = self.view_title(placement, item)
        view.title = title
        view.orientation, view.spacing_mm = meta.patient_orientation, meta.pixel_spacing_mm
        view.is_stack = meta.is_stack
        # A CT or an MR gets no note on where a breast was placed: it is not one.
        mammogram = not_a_mammogram(meta) is None
        view.notes = list(placement.notes) if mammogram else []
        if renderer is None:
            view.clear()
            view.title = title
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
        view.title = title
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

    def view_title(self, placement, item: StudyImage) -> str:
        """The view's label ("R CC"); on a prior's view, "prior" and its date on a second line;
        on a tomosynthesis stack, the slice on screen and its depth."""
        lines = [placement.label]
        if placement.study == "prior":
            lines.append(f"prior {format_dicom_date(item.metadata.study_date) or '(date unknown)'}")
        shown = item.image.metadata if item.image is not None else item.metadata
        index = displayed_slice(shown)
        if index is not None:
            depth = shown.slice_depths_mm[index] if index < len(shown.slice_depths_mm) else None
            slab = (
                f" · {shown.slab_slices}-slice {'MIP' if shown.slab_mip else 'slab'}" if shown.slab_slices > 1 else ""
            )
            lines.append(
                f"slice {index + 1}/{shown.frames}" + (f" · {depth:.1f} mm" if depth is not None else "") + slab
            )
            if isinstance(item.prediction, StackPrediction):
                lines.append(slice_note(item.prediction, index, self.state.threshold))
        return "\n".join(line for line in lines if line)

    def redraw_reader_marks(self) -> None:
        for placement in self.hanging.placements if self.hanging else ():
            view = self._view(placement)
            if view.key == placement.key:
                view.reader_marks = self.reader_marks_of(self.item(placement.key))
                view.viewport().update()

    def draw_results(self, view: MammoView, item: StudyImage) -> None:
        view.reader_marks = self.reader_marks_of(item)
        prediction, state = item.prediction, self.state
        if prediction is None:
            view.badge = item.not_analysed or (
                "AI…" if self.engine.busy or self.engine.loading else ("AI n/a" if self.engine.error else "")
            )
            view.set_contours([])
            view.set_heat_map(None)
            view.viewport().update()
            return
        lesions, heat = prediction.lesions(state.threshold), prediction
        if isinstance(prediction, StackPrediction):  # the slice on screen: what spans it, its slab's map
            index = displayed_slice(item.image.metadata) if item.image is not None else None
            lesions, heat = slice_overlay(prediction, index, state.threshold) if index is not None else ([], None)
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
        view.set_heat_map(*((heat.working_probability, heat.geometry) if heat is not None else (None,)))
        view.set_heat_visible(state.heat_map, state.heat_opacity)
        view.set_contours_visible(state.contours)
        view.badge = f"{score_word(prediction.calibrated)} {prediction.score:.2f}" + (
            " (both breasts)" if prediction.score_basis == BOTH_BREASTS else ""
        )
        view.viewport().update()

    def refresh_results(self) -> None:
        for placement in self.hanging.placements if self.hanging else ():
            view = self._view(placement)
            if view.key == placement.key:
                item = self.item(placement.key)
                if item.metadata.is_stack:  # its title says where the findings are
                    view.title = self.view_title(placement, item)
                self.draw_results(view, item)

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
        if chosen.slice is not None:  # a stack's finding: its sharpest slice (outlined once it arrives)
            self.go_to_slice(chosen.key, chosen.slice - 1)
        if view is not None:
            x, y = chosen.lesion.centroid_xy
            if view.at_fit:  # at fit the whole image is on screen and there is nothing to centre: zoom in first
                for other in self.views:
                    if other.isVisible() and other.key:
                        other.apply_zoom(LESION_ZOOM)
            self.draw_results(view, self.item(chosen.key))
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
        """The dragged view's window, and by the same steps the window of the same breast's
        view of the other date in its linked group (each in its own image's values)."""
        for linked in [key, *self.matched_keys(key)]:
            renderer = self.renderers.get(linked)
            if renderer is None:
                continue
            preset = self.state.windows.get(linked, renderer.image.default_preset)
            center, width = window_of(renderer.image, preset)
            sensitivity = max(width, 1.0) / 300.0  # a 300-pixel drag doubles or halves the window
            self.state.set_window(linked, adjusted(preset, center + dy * sensitivity, width + dx * sensitivity))

    def matched_keys(self, key: str) -> list[str]:
        """The images hung in the same linked group as ``key``, of the same breast (its other
        date's view in a comparison)."""
        _, placement = self.view_of(key)
        if placement is None or placement.link is None:
            return []
        return [
            p.key
            for p in self.hanging.placements
            if p.key != key and p.link == placement.link and p.side == placement.side
        ]

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
            if placement is not None and other is not None and placement.side and other.side:
                mirrored = placement.side != other.side
            else:
                mirrored = placement is not None and other is not None and other.column != placement.column
            view.apply_pan(-dx if mirrored else dx, dy)  # mirrored pairs pan toward the same anatomy

    def set_magnifier(self, on: bool) -> None:
        for view in self.views:
            view.set_magnifier(on)
