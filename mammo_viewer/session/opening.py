"""Opening a study: scanning a folder or an arriving PACS study, choosing the study to show,
decoding its films (a reduced level first, full resolution after), and the files that fail."""

from __future__ import annotations

from hds_core.infer.scope import not_a_mammogram
from hds_core.io import ScanResult

from ..panels.window_layout import THUMBNAIL_HEIGHT, remember_recent
from ..reading.study_controller import not_analysed_text, scan_summary
from ..work.decoding import DecodedImage


class Opening:
    """Mixed into MainWindow: its loader, engine, controller, grid, browser and panels."""

    _wanted_study: str | None = None  # the study the worklist opens its folder for

    def open_path(self, path: str) -> None:
        path = str(path)
        self._start_opening(path)
        self._status(f"Scanning {path}…")
        remember_recent(self.settings, self.recent_menu, self.open_path, path)
        self.loader.open(path)

    def _start_opening(self, path: str) -> None:
        """Whatever was loading or analysing stops and the window is emptied for ``path``."""
        self.loader.cancel()
        self.engine.new_run()
        self._clear_study()
        self.source_path = path
        self.controller.opening()

    def show_arriving(self, scan) -> None:
        """A study arriving from the PACS (pacs.py), its folder scanned after each instance: the
        first scan opens it, later ones add their new films (decoded and analysed as they come;
        what was analysed stays)."""
        if self.study is None or self.source_path != str(scan.root):
            self._start_opening(str(scan.root))
            self._on_scanned(scan)
            return
        new = self.controller.add_arrived(scan)
        if new:
            self.browser.fill(scan)
            prior = self.controller.prior
            self.browser.mark(self.study.study_uid, prior.study_uid if prior else None)
            self.grid.rehang()
            self._decode([(item.key, item.path) for item in new])

    def dragEnterEvent(self, event):  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_path(urls[0])

    def _clear_study(self) -> None:
        self._close_reading()
        self._slice_renderers = {}  # the kept slices' renderers go with their study
        self._after_detail = []
        self.controller.clear()
        self.grid.clear()
        self.browser.forget()
        self.problems.clear()
        self.findings.set_scores(None, {})
        self.findings.set_density({})
        self.findings.set_lesions([])
        self._update_title()

    def _on_scan_failed(self, message: str) -> None:
        self._status(message)
        self._problem(message)
        self._check_settled(failed=message)

    def _on_scanned(self, result: ScanResult) -> None:
        self.controller.scan = result
        for error in result.failures:
            self._problem(str(error))
        for conflict in result.conflicts:  # the dock opens: never merged silently
            self._problem(f"patient identity: {conflict}")
        for kind, count in sorted(result.skipped.items()):
            self._problem(f"skipped {count} file(s) that are not mammograms ({kind})", show=False)
        # Every image the AI will not run on, listed now, whichever study it is in (an MR in
        # the folder's second study was listed nowhere).
        for entry in result.images:
            reason = not_a_mammogram(entry.metadata)
            if reason:
                self._problem(not_analysed_text(entry.path, reason))
        self.browser.fill(result)
        self._status(scan_summary(result))
        if not result.images:
            message = scan_summary(result)
            self._check_settled(failed=message)
            return
        # The study the worklist asked for; else the first woman's most recent study (her
        # earlier ones are its priors).
        wanted, self._wanted_study = self._wanted_study, None
        for patient in result.patients.values():
            if wanted in patient.studies:
                self.show_study(patient.patient_id, wanted)
                return
        patient = next(iter(result.patients.values()))
        latest = max(patient.studies.values(), key=lambda s: s.date if s.date and s.date.isdigit() else "")
        self.show_study(patient.patient_id, latest.study_uid)

    def show_study(self, patient_id: str, study_uid: str) -> None:
        self.loader.cancel()
        self.engine.new_run()
        study = self.controller.show(patient_id, study_uid)
        self.browser.current = (study.patient_id, study.study_uid)
        self.grid.clear(study)
        self._open_reading(study)  # hers, kept as she makes it (session/reading.py)
        self.grid.rehang()
        self._update_title()
        order = self.controller.decode_order(self.grid.visible_keys())
        self._decode([(key, study.images[key].path) for key in order])
        self._start_priors()  # decoded and analysed after the current study

    def _decode(self, items: list) -> None:
        # JPEG 2000 films are read first at the level that fills a view and at the network's
        # level; full resolution follows once the study is analysed, or when a view needs it.
        levels = (self.grid.screen_shape(), self.engine.network_input) if self.progressive else (None, None)
        self.loader.decode(items, THUMBNAIL_HEIGHT, *levels)

    def _on_decoded(self, key: str, decoded: DecodedImage) -> None:
        item = self.controller.decoded(key, decoded.image, decoded.chest_wall_right, decoded.model_image)
        if item is None:
            return
        self.grid.add_image(key, decoded.renderer, decoded.breast_box)
        self.browser.set_thumbnail(key, decoded.thumbnail)
        if item.metadata.patient_orientation is None:
            self.grid.rehang()  # the pixel-read chest wall may change the flips
        else:
            self.grid.refresh_view_for(key)
        if item.metadata.is_stack:
            self._stack_opened(item)
        if item.prediction is not None:
            self._refresh_results()  # analysed before (another study was shown meanwhile): no rerun
        self._queue_analysis()
        self._check_settled()

    def _on_decode_failed(self, key: str, message: str) -> None:
        if self.controller.decode_failed(key, message) is None:
            return
        self._problem(message)
        self.grid.refresh_view_for(key)
        self._queue_analysis()
        self._check_settled()

    def want_detail(self, keys: list[str], *, first: bool = False) -> None:
        """Full resolution of these images (``first``: before any already queued)."""
        if self.study is None:
            return
        items = [self.study.images[k] for k in keys if k in self.study.images]
        stacks = [item for item in items if item.metadata.is_stack]
        items = [item for item in items if not item.metadata.is_stack]
        for item in stacks if first else ():  # a view zoomed into a stack: its slice at full resolution
            index = self.grid.shown_slice(item.key)
            if index is not None:
                self._want_slice(item.key, index, sharp=True)
        self.loader.want_detail(
            [(item.key, item.path) for item in items if item.image is not None and not item.at_full_resolution],
            first=first,
        )

    def _on_detailed(self, key: str, decoded: DecodedImage) -> None:
        if self.controller.detailed(key, decoded.image) is None:
            return
        self.grid.replace_image(key, decoded.renderer)
        self._detail_arrived(key)

    def _on_detail_failed(self, key: str, message: str) -> None:
        if self.controller.detail_failed(key, message) is None:
            return
        self._problem(f"full resolution not available: {message}")
        self.grid.refresh_view_for(key)
        self._detail_arrived(key)

    def _detail_arrived(self, key: str) -> None:
        waiting, self._after_detail = self._after_detail, []
        for keys, then in waiting:
            keys.discard(key)
            if keys:
                self._after_detail.append((keys, then))
            else:
                then()

    def after_detail(self, keys: list[str], then) -> bool:
        """Call ``then`` once these images are at full resolution (or failed to get there);
        False when they already are (nothing is called)."""
        missing = {
            k
            for k in keys
            if self.study is not None
            and k in self.study.images
            and not self.study.images[k].at_full_resolution
            and self.study.images[k].detail_error is None
        }
        if not missing:
            return False
        self._after_detail.append((missing, then))
        self.want_detail(sorted(missing), first=True)
        return True
