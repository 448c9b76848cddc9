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

    def ready(self, predictor) -> None:
        self.state.set_model(predictor.spec.default_threshold)
        self.findings.set_model(
            predictor.spec.threshold_table,
            f"AI: {predictor.model_name} on {predictor.device_name} ({predictor.precision})",
            score_trust(predictor.spec.cross_validation),
        )
        self.device_label.setText(f"AI: {predictor.device_name}")

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
