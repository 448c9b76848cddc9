"""Analysing the study on screen: queueing decoded images for the engine (with the reader's
pixel spacing where a file has none), its results and failures, cancel and analyse again,
the scores, density, trust line and lesion rows of the model serving the study's domain, and
when the study has settled."""

from __future__ import annotations

from hds_core.density import breast_densities
from hds_core.findings.stack import STACK_NOTE, StackPrediction
from hds_core.report.operating_point import score_trust, study_domain
from hds_core.text import printable

from ..panels.findings_panel import density_line
from ..reading.study_controller import not_analysed_text


class Analysis:
    """Mixed into MainWindow: its engine, controller, grid, findings panel and engine status."""

    def ask_study_spacing(self) -> None:
        """AI > Pixel spacing…: the reader's spacing for this study's images that carry none."""
        from PySide6.QtWidgets import QInputDialog

        from hds_core.io.image import MAX_SPACING_MM, MIN_SPACING_MM

        if self.study is None:
            return
        unknown = [item for item in self.study.images.values() if not item.metadata.spacing_known]
        if not unknown:
            self._status("Every image of this study carries its pixel spacing")
            return
        current = (
            self.study_spacing.get(self._study_key(), self.default_spacing)
            or unknown[0].metadata.spacing_for_network[0]
        )
        value, ok = QInputDialog.getDouble(
            self,
            "Pixel spacing",
            f"Pixel spacing in mm for the {len(unknown)} image(s) of this study whose files carry none\n"
            "(now: "
            + ("set by you" if self._study_key() in self.study_spacing else "estimated from the image size")
            + "). Scanned films: the scanner's sampling, e.g. 0.05.",
            current,
            MIN_SPACING_MM,
            MAX_SPACING_MM,
            4,
        )
        if ok:
            self.set_study_spacing(value)

    def _queue_analysis(self) -> None:
        ready, skipped = self.controller.to_analyse(self.grid.visible_keys())
        listed = {self.problems.item(i).text() for i in range(self.problems.count())}
        for note in skipped:
            # Displayed, never scored: the model's marks on a CT or an MR mean nothing. Listed
            # once (the scan lists every such image of the folder already).
            text = printable(not_analysed_text(self.controller.image(note.key).path, note.reason))
            if text not in listed:
                self._problem(text)
            self.grid.refresh_view_for(note.key)
        spacing = self.study_spacing.get(self._study_key(), self.default_spacing)
        for item in ready:
            if item.metadata.is_stack:  # read slab by slab from its file, on the engine's thread
                self.engine.add_stack(item.key, item.path, spacing)
            else:
                self.engine.add(item.key, item.model_image or item.image, spacing)

    def _study_key(self) -> tuple | None:
        study = self.study
        return (study.patient_id, study.study_uid) if study is not None else None

    def set_study_spacing(self, spacing_mm: float | None) -> int:
        """The reader's pixel spacing for the study's images whose files carry none (None: back
        to the estimate from the image's size); those images are analysed again. Returns how
        many."""
        key = self._study_key()
        if key is None:
            return 0
        if spacing_mm is None:
            self.study_spacing.pop(key, None)
        else:
            self.study_spacing[key] = float(spacing_mm)
        again = [
            k for k, item in self.study.images.items() if item.image is not None and not item.metadata.spacing_known
        ]
        if again:
            self.engine.new_run()
            self.controller.forget_results(again)
            for k in again:
                self.grid.refresh_view_for(k)
            self._refresh_results()
            self._queue_analysis()
            self._check_settled()
        self._status(
            f"Pixel spacing {spacing_mm:g} mm for {len(again)} image(s) without one"
            if spacing_mm
            else f"Pixel spacing estimated from the image size for {len(again)} image(s)"
        )
        return len(again)

    def _on_engine_unavailable(self, message: str) -> None:
        self.engine_status.unavailable(message)
        self.grid.redraw()  # views drawn while the weights loaded still say "AI…"
        self._check_settled()

    def _on_predicted(self, key: str, prediction) -> None:
        # A view's score compares it with the other breast's same view once both are in (bilateral.py).
        if self.controller.predicted(key, prediction, self.engine.predictor.compare_breasts):
            self.engine_status.predicted(prediction, self.engine.predictor)
            self._refresh_results()

    def _on_stack_progress(self, key: str, partial, done: int, total: int) -> None:
        """A stack's slabs so far: its view outlines what they found, and the scores count them."""
        item = self.controller.image(key)
        if item is None or (item.prediction is not None and getattr(item.prediction, "complete", False)):
            return  # another study, or the whole result came first
        if self.controller.predicted(key, partial):
            self._refresh_results()
            self._status(f"{item.label}: tomosynthesis slab {done} of {total} analysed")

    def _refine_stacks(self) -> None:
        """The threshold moved: each stack finding's own slice at the new threshold, found on the
        engine's thread a moment after the slider stops (until then, its slab's middle slice)."""
        from PySide6.QtCore import QTimer

        if not self._analysed_stacks():
            return
        if getattr(self, "_refine_timer", None) is None:
            self._refine_timer = QTimer(self, singleShot=True, interval=300)
            self._refine_timer.timeout.connect(self._refine_now)
        self._refine_timer.start()

    def _refine_now(self) -> None:
        self.engine.refine_stacks(self._analysed_stacks(), self.state.threshold, lambda _keys: self._refresh_results())

    def _analysed_stacks(self) -> dict:
        """Stack key -> its whole StackPrediction, for the study on screen."""
        images = self.study.images.items() if self.study is not None else ()
        return {
            key: item.prediction
            for key, item in images
            if item.metadata.is_stack and item.prediction is not None and item.prediction.complete
        }

    def _on_predict_failed(self, key: str, message: str) -> None:
        if self.controller.predict_failed(key, message):
            self._problem(f"{key}: AI analysis failed: {message}")

    def cancel_analysis(self) -> None:
        if self._marking is not None:  # Esc first cancels a mark being placed
            self._set_marking(None)
            self._status("Mark cancelled")
            return
        self.engine.cancel()
        self._status("Analysis cancelled; finished results stay on screen (Ctrl+R analyses again)")

    def reanalyse(self) -> None:
        if self.study is None:
            return
        self.engine.new_run()
        self.controller.analyse_again()
        self._queue_analysis()
        self._check_settled()

    def _check_settled(self, failed: str | None = None) -> None:
        if not self.controller.settle(analysing=self.engine.busy or self.engine.loading, failed=failed):
            return
        if self.study is not None and not failed:
            self._status(self.controller.settled_summary())
        if not self.engine.total:
            self.findings.set_idle(self.controller.idle_text(self.engine.error))
        if self.study is not None:
            # The study is on screen and analysed: now the full resolution of every reduced film.
            self.want_detail([item.key for item in self.controller.detail_order(self.grid.visible_keys())])
        self.study_settled.emit()

    def _refresh_results(self) -> None:
        if self.study is None:
            return
        self.grid.refresh_results()
        predictions = [image.prediction for image in self.study.predicted()]
        self.findings.set_scores(
            self.study.exam_score(), self.study.breast_scores(), calibrated=all(p.calibrated for p in predictions)
        )
        densities = breast_densities(predictions)
        self.findings.set_density(densities)
        self.reading_panel.set_density_hint(density_line(densities))  # beside her choice, never made for her
        if self.engine.predictor is not None:
            # The model serving the study's domain (a film study: the film model): its slider
            # default and table, and the trust line of that domain's figures.
            domain = study_domain(predictions)
            model = self.engine.predictor.for_predictions(predictions)
            self.engine_status.serve(model, domain)
            trust = score_trust(model.spec.cross_validation, domain)
            if any(isinstance(p, StackPrediction) for p in predictions):
                # The figures above are the 2-D model's on 2-D images; on DBT nothing was measured.
                dbt = f"Tomosynthesis: {STACK_NOTE} (2 mm slabs); its accuracy on DBT is unmeasured."
                trust = "\n".join(filter(None, (trust, dbt)))
            self.findings.set_trust(trust)
        self._show_lesion_rows()

    def _on_threshold(self) -> None:
        self._show_lesion_rows()
        self._refine_stacks()

    def _show_lesion_rows(self) -> None:
        if self.study is not None:
            threshold = self.state.threshold
            new = self.controller.new_since_prior(threshold)
            compared = self.controller.prior is not None
            self.findings.set_lesions(self.study.lesion_rows(threshold, new), compared=compared)
