"""The radiologist's reading of the study on screen (hds_core/report/reading.py): opened with the
study (this window holds it; another window on the study gets it read-only), saved at every
change, her marks placed with a click and located from the view's breast, the AI's marks
accepted or dismissed from the lesion table, signed off, amended."""

from __future__ import annotations

import math

from hds_core.findings.location import breast_frame, locate
from hds_core.io import breast_mask
from hds_core.report.reading import (
    FINDING_KINDS,
    AIMark,
    Mark,
    ReadingError,
    ReadingLock,
    ReadingStore,
    default_readings_folder,
)
from hds_core.text import printable

from ..reading.hanging import view_family

MARK_MASK_ROWS = 512  # the breast's outline for a mark's location, from a view this coarse


class ReadingSession:
    """Mixed into MainWindow: its reading panel, grid, findings panel, study and settings."""

    reading = None
    _reading_lock = None
    _reading_read_only = True
    _reading_note = ""
    _marking: str | None = None  # "new" (a new finding) or "link" (its other view), while she clicks

    def _init_reading(self) -> None:
        self.readings = ReadingStore(default_readings_folder())
        panel = self.reading_panel
        panel.changed.connect(self._reading_changed)
        panel.sign_requested.connect(self.sign_reading)
        panel.addendum_requested.connect(self.amend_reading)
        panel.reader.setText(str(self.settings.value("reader_name", "") or ""))
        self.grid.reader_marks_of = self._reader_marks
        for view in self.grid.views:
            view.marked.connect(self._on_marked)
        # The kind of a new finding: asked in a list (arrow keys and Enter); tests replace it.
        self.choose_finding_kind = self._ask_finding_kind
        self.engine.ready.connect(lambda _predictor: self._check_reading_model())

    # ----- opening and closing -------------------------------------------------------------------
    def _open_reading(self, study) -> None:
        self._close_reading()
        uid = study.study_uid if study is not None else None
        if not uid:
            self.reading_panel.show_reading(None, read_only=True, note="No Study Instance UID: no reading can be kept")
            return
        lock = ReadingLock(self.readings, uid)
        try:
            self.reading = self.readings.open(uid, study.patient_id, self._model_shown())
        except ReadingError as exc:
            lock.release()
            self._problem(str(exc))
            self.reading_panel.show_reading(None, read_only=True, note=str(exc))
            return
        self._reading_lock = lock
        self._reading_read_only = not lock.held or self.reading.signed
        self._reading_note = "read-only: this study's reading is open in another window" if not lock.held else ""
        self._check_reading_model()

    def reading_for_export(self):
        """The reading as the reports print it now: (a copy of) the current version and, for an
        addendum, the version it amends; None without a reading."""
        import copy

        if self.reading is None:
            return None
        self.reading_panel.flush()
        if self.reading.empty:  # a study not read yet: the report is the AI's analysis alone
            return None
        amended = None
        if self.reading.amends:
            try:
                amended = next(
                    (v for v in self.readings.versions(self.reading.study_uid) if v.version == self.reading.amends),
                    None,
                )
            except ReadingError as exc:
                self._problem(str(exc))
        return copy.deepcopy(self.reading), amended

    def _model_shown(self) -> dict | None:
        """The AI the reader sees (None while the weights load)."""
        predictor = self.engine.predictor
        if predictor is None:
            return None
        return {"name": predictor.model_name, "weights_sha256": predictor.serving(None).weights_sha256}

    def _check_reading_model(self) -> None:
        """A reading made with other weights says so (checked again once the weights load)."""
        if self.reading is None:
            return
        model, saved = self._model_shown(), self.reading.model or {}
        notes = [n for n in self._reading_note.split("; ") if n and not n.startswith("made with other weights")]
        if model and saved.get("weights_sha256") and saved["weights_sha256"] != model["weights_sha256"]:
            notes.append(f"made with other weights ({saved.get('name')}, {saved['weights_sha256'][:12]}…)")
        self._reading_note = "; ".join(notes)
        self._show_reading()

    def _close_reading(self) -> None:
        self.reading_panel.flush()
        self._set_marking(None)
        if self._reading_lock is not None:
            self._reading_lock.release()
        self.reading, self._reading_lock, self._reading_note = None, None, ""

    def _show_reading(self) -> None:
        reading = self.reading
        dismissed = (
            [f"{m.view} #{m.lesion} (p {m.max_probability:.2f})" for m in reading.ai_marks if m.decision == "dismissed"]
            if reading
            else []
        )
        self.reading_panel.show_reading(
            reading, read_only=self._reading_read_only, note=self._reading_note, dismissed=dismissed
        )
        if reading is not None:  # the worklist's row says how far the study is read
            self.worklist.mark_read(reading.study_uid, "" if reading.empty else "signed" if reading.signed else "draft")
        self.grid.redraw_reader_marks()

    # ----- changes ---------------------------------------------------------------------------------
    def _change(self, change) -> bool:
        """Apply ``change(reading)`` and save; a refusal is said, never raised."""
        if self.reading is None:
            self._status("No reading: open a study first")
            return False
        if self._reading_read_only:
            self._status(f"The reading is read-only: {self._reading_note or 'it is signed (Ctrl+Shift+A: addendum)'}")
            return False
        try:
            change(self.reading)
            if self.reading.model is None:
                self.reading.model = self._model_shown()
            self.readings.save(self.reading)
        except ReadingError as exc:
            self._status(str(exc))
            self._problem(str(exc))
            return False
        self._show_reading()
        return True

    def _reading_changed(self, name: str, value) -> None:
        if name == "reader":
            self.settings.setValue("reader_name", value)
        if name in ("R", "L"):
            self._change(lambda r: r.assess(name, value))
        elif name == "exam":
            self._change(lambda r: r.set(exam_assessment=value))
        else:
            self._change(lambda r: r.set(**{name: value}))

    def set_composition(self, letter: str) -> None:
        self._change(lambda r: r.set(composition=letter))

    # ----- her marks -------------------------------------------------------------------------------
    def mark_finding(self, link: bool = False) -> None:
        """N: the next click on a view places a new finding; Shift+N: the selected finding's
        mark on another view (its CC and its MLO are one finding)."""
        if link and self.reading_panel.selected_finding(self.reading) is None:
            self._status("Select the finding in the Reading panel first, then Shift+N and click its other view")
            return
        if self.reading is None or self._reading_read_only:
            self._change(lambda r: None)  # says why not
            return
        self._set_marking("link" if link else "new")
        self._status("Click the finding on a view (Esc cancels)")

    def _set_marking(self, mode: str | None) -> None:
        self._marking = mode
        for view in self.grid.views:
            view.marking = mode is not None

    def _on_marked(self, key: str, x: float, y: float) -> None:
        mode, self._marking = self._marking, None
        self._set_marking(None)
        item = self.grid.item(key) if self.study is not None else None
        if mode is None or item is None:
            return
        study = item.metadata.study_instance_uid
        if self.reading is not None and study and study != self.reading.study_uid:
            # A prior's view: her reading is of the current study, and a mark there would point
            # at an image the report does not cover.
            date = item.metadata.study_date or "another date"
            self._status(f"Not marked: {item.label} is of the prior study ({date}); mark findings on the current study")
            return
        mark = self.mark_at(item, x, y)
        if mode == "link":
            number = self.reading_panel.selected_finding(self.reading)
            self._change(lambda r: r.link_mark(number, mark))
            return
        kind = self.choose_finding_kind()
        if kind:
            self._change(lambda r: r.add_finding(kind, mark, item.metadata.laterality))

    def _ask_finding_kind(self) -> str | None:
        from PySide6.QtWidgets import QInputDialog

        kind, ok = QInputDialog.getItem(self, "New finding", "What is it?", list(FINDING_KINDS), 0, False)
        return kind if ok else None

    def mark_at(self, item, x: float, y: float) -> Mark:
        """A mark at (x, y) of ``item``'s full image, located in its breast (findings/location.py)."""
        meta = item.image.metadata if item.image is not None else item.metadata
        location = None
        if item.image is not None:
            picture = item.image.model_input()
            stride = max(1, math.ceil(picture.shape[0] / MARK_MASK_ROWS))
            frame = breast_frame(
                breast_mask(picture[::stride, ::stride]),
                (1 << item.image.level) * stride,
                meta.pixel_spacing_mm,
                meta.patient_orientation,
                view_family(meta.view),
            )
            location = locate(frame, x, y) if frame is not None else None
        index = self.grid.shown_slice(item.key) if meta.is_stack else None
        return Mark(
            meta.sop_instance_uid or item.key,
            item.label,
            round(x, 1),
            round(y, 1),
            slice=index + 1 if index is not None else None,
            frame=meta.frame_number if meta.is_stack else None,
            third=location.third if location else None,
            nipple_distance_mm=_rounded(location.nipple_distance_mm) if location else None,
            left_mm=_rounded(location.left_mm) if location else None,
            up_mm=_rounded(location.up_mm) if location else None,
        )

    def _reader_marks(self, item) -> list[tuple[float, float, str]]:
        """What a view draws of the reading: her findings' marks on its image, and the AI marks
        she dismissed."""
        if self.reading is None:
            return []
        image = item.metadata.sop_instance_uid or item.key
        marks = [
            (m.x, m.y, f"F{f.number}" + (f" (slice {m.slice})" if m.slice else ""))  # the panel says what it is
            for f in self.reading.findings
            for m in f.marks
            if m.image == image
        ]
        marks += [
            (m.x, m.y, f"AI {m.lesion} dismissed")
            for m in self.reading.ai_marks
            if m.image == image and m.decision == "dismissed"
        ]
        return marks

    # ----- the AI's marks ---------------------------------------------------------------------------
    def decide_ai_mark(self, decision: str) -> None:
        """A: accept the AI mark selected in the lesion table (it becomes a finding); X: dismiss it."""
        row = self.findings.lesions.currentRow()
        if not 0 <= row < len(self.findings.rows):
            self._status("Select an AI mark in the lesion table first (click its row)")
            return
        chosen = self.findings.rows[row]
        item = self.grid.item(chosen.key)
        lesion = chosen.lesion
        x, y = lesion.centroid_xy
        mark = AIMark(
            0,
            item.metadata.sop_instance_uid or item.key,
            item.label,
            lesion.index,
            round(x, 1),
            round(y, 1),
            round(lesion.max_probability, 4),
            round(self.state.threshold, 4),
            decision,
            slice=chosen.slice,
        )
        place = self.mark_at(item, x, y) if decision == "accepted" else None  # located as her own marks are
        if place is not None and chosen.slice is not None:
            place.slice = chosen.slice
        if self._change(lambda r: r.decide(mark, place=place)):
            self._status(f"AI mark {chosen.place}: {decision}")

    # ----- sign-off and addendum -----------------------------------------------------------------
    def sign_reading(self) -> None:
        self.reading_panel.flush()
        if self.reading is None or self._reading_read_only:
            self._change(lambda r: None)
            return
        name = self.reading_panel.reader.text().strip() or self.reading.reader
        try:
            self.readings.sign(self.reading, reader=name)
        except ReadingError as exc:
            self._status(str(exc))
            return
        self.settings.setValue("reader_name", name)
        self._reading_read_only = True
        self._status(f"Reading signed by {printable(name)}: final (Ctrl+Shift+A writes an addendum)")
        self._show_reading()

    def amend_reading(self) -> None:
        if self.reading is None or not self.reading.signed or (self._reading_lock and not self._reading_lock.held):
            self._status("An addendum amends a signed reading this window holds")
            return
        try:
            self.reading = self.readings.addendum(self.reading)
        except ReadingError as exc:
            self._status(str(exc))
            return
        self._reading_read_only = False
        self._status(f"Addendum: version {self.reading.version}, amending version {self.reading.amends}")
        self._show_reading()


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
