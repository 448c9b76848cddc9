"""How the engine's state reaches the reader: the model and device in the findings panel and
the status bar, the slider's table and what the score is worth, an engine that could not
load, and a CUDA failure that moved the model to the CPU (said once, and kept listed)."""

from __future__ import annotations

from hds_core.infer.events import CUDA_FALLBACK
from hds_core.report.operating_point import score_trust


class EngineStatus:
    def __init__(self, state, findings, device_label, status, problem):
        self.state, self.findings, self.device_label = state, findings, device_label
        self.status, self.problem = status, problem  # the window's status bar and problems list
        self.notices: set[str] = set()  # notices (CUDA fallback) already listed
        self.serving = None  # the model serving the study on screen (DomainModels: one per domain)
        self.serving_domain: str | None = None

    def ready(self, predictor) -> None:
        self.serving = predictor.serving(None)  # the default model, until a study's images say otherwise
        self.serving_domain = None
        self.state.set_model(predictor.spec.default_threshold)
        self.findings.set_model(
            predictor.spec.threshold_table,
            f"AI: {predictor.model_name} on {predictor.device_name} ({predictor.precision})",
            score_trust(predictor.spec.cross_validation),
        )
        self.device_label.setText(f"AI: {predictor.device_name}")

    def serve(self, model, domain: str | None) -> None:
        """The study on screen is served by ``model`` (one model per domain: a film study by the
        film model): its default threshold, slider table and name. The threshold moves to the
        new default only where the reader left it at the old one."""
        if model is self.serving and domain == self.serving_domain:
            return
        self.serving, self.serving_domain = model, domain
        at_default = self.state.at_default()
        default = model.spec.default_threshold_for(domain)
        self.state.default_threshold = default
        if at_default:
            self.state.threshold = default
        what = f"{domain} model" if domain else "model"
        self.findings.set_model(
            model.spec.threshold_table,
            f"AI: {model.model_name} ({what}) on {model.device_name} ({model.precision})",
            score_trust(model.spec.cross_validation, domain),
        )

    def unavailable(self, message: str) -> None:
        self.findings.engine_label.setText(message)
        self.findings.set_idle("AI not available")
        self.device_label.setText("AI: not available")
        self.status(message)
        self.problem(message)

    def predicted(self, prediction, predictor) -> None:
        fallback = next((w for w in prediction.warnings if w.startswith(CUDA_FALLBACK)), None)
        if fallback is None:
            return
        # The engine moved to the CPU: say so where the reader looks, once, and keep it listed.
        self.device_label.setText(f"AI: CPU ({CUDA_FALLBACK})")
        self.findings.engine_label.setText(
            f"AI: {predictor.model_name} on CPU after a CUDA failure ({predictor.precision})"
        )
        if fallback not in self.notices:
            self.notices.add(fallback)
            self.problem(fallback)
        self.status(fallback)
