"""The Predictor: load weights once, predict images into probability maps and scores,
derive lesions at any threshold without rerunning the network.

Device: CUDA when available (else MPS, else CPU). A CUDA failure (out of memory, driver
error) moves the model to the CPU, warns, and records it in the prediction's warnings:
results are never silently different. Reduced precision (bf16 on CPU, fp16 on CUDA) is
used only when the hardware runs it natively AND the weights' JSON records that its masks
agreed with fp32 (Dice >= 0.99, measured by ``hds-export``: ``train.shipping.mask_agreement``)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from ..findings import THIS_IMAGE, Prediction, ViewKey
from ..io import MammoImage, read_image
from ..io.appearance import Appearance, measure
from ..network_input import NetworkInput
from ..nn import load_weights, sha256
from .bilateral import final_scores
from .calibration import calibrate
from .device import choose_device, cpu_has_native_bf16, device_name
from .events import CUDA_FALLBACK, PredictionCancelled
from .forward import image_score, predict_working
from .optimize import inference_copy
from .scope import check_breast, check_mammogram
from .shipped import shipped_weights
from .suppression import excluded_region, suppress

log = logging.getLogger(__name__)


class Predictor:
    def __init__(self, weights: str | Path | None = None, *, device: str = "auto", precision: str = "auto"):
        self.weights_path = Path(weights or shipped_weights())
        model, self.spec = load_weights(self.weights_path)
        self.model = inference_copy(model)  # BatchNorm folded, channels-last: ~1.9x faster on CPU
        self.weights_sha256 = sha256(self.weights_path)
        self.model_name = self.spec.model_name or self.weights_path.stem
        # The network's input for these weights: which level of a film to read for it (a viewer
        # may read the file at that level and the result is the same) and the working image.
        self.input = NetworkInput(self.spec.working_spacing_mm)
        self.device = choose_device(device)
        self.requested_precision = precision
        self.model.to(self.device)
        self.notices: list[str] = []

    @property
    def device_name(self) -> str:
        return device_name(self.device)

    def autocast_dtype(self) -> torch.dtype | None:
        """bf16/fp16 only where native and recorded as agreeing with fp32 on these weights."""
        if self.requested_precision == "fp32":
            return None
        if self.device.type == "cpu" and cpu_has_native_bf16() and self.spec.agrees_in("bf16"):
            return torch.bfloat16
        if self.device.type == "cuda" and self.spec.agrees_in("fp16"):
            return torch.float16
        return None

    @property
    def precision(self) -> str:
        dtype = self.autocast_dtype()
        return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")

    def predict_path(self, path: str | Path, *, cancel=None) -> Prediction:
        return self.predict(read_image(path), cancel=cancel)

    def predict(
        self,
        image: MammoImage,
        *,
        cancel=None,
        spacing_mm: tuple[float, float] | None = None,
        appearance: Appearance | None = None,
        domain: str | None = None,
        domain_source: str | None = None,
    ) -> Prediction:
        """``cancel()`` returning True (checked between stages and between network layers)
        raises :class:`PredictionCancelled`; an image that is not a mammogram (by its header,
        or with no breast in its pixels) raises :class:`~hds_core.infer.scope.NotAMammogramError`
        before the network runs. ``appearance``: the image's, when the caller measured it
        already; ``domain``/``domain_source``: the caller's decision (``DomainModels``), else
        the header's."""
        check_mammogram(image.metadata)
        if appearance is None:
            appearance = measure(image, self.input.level(spacing_mm or image.metadata.spacing_for_network))
        check_breast(image.metadata, appearance)
        if domain_source is None:
            domain, domain_source = image.metadata.acquisition_domain, image.metadata.acquisition_domain_source
            domain_source = domain_source and f"header: {domain_source}"

        def check():
            if cancel is not None and cancel():
                raise PredictionCancelled()

        check()
        spacing = spacing_mm or image.metadata.pixel_spacing_mm
        working = self.model_input(image, spacing_mm=spacing)
        notes = [
            *working.warnings,
            *[w for w in image.metadata.warnings() if not w.startswith("pixel spacing unknown")],
        ]
        network_spacing = spacing or image.metadata.spacing_for_network
        if image.level > self.input.level(network_spacing):
            notes.append(
                f"read at 1/{image.reduction} resolution, coarser than the network's input "
                f"(1/{1 << self.input.level(network_spacing)}): results are approximate"
            )
        check()
        results = self._run(working.image, check if cancel is not None else None, notes)
        final = results[-1]
        if self.spec.suppress:
            region = excluded_region(working.image, working.breast, image.metadata.view, self.spec.suppress)
            final = suppress(final, region)
        raw = image_score(final, self.spec.score_source)
        meta = image.metadata
        study = meta.study_instance_uid or (str(meta.path.parent) if meta.path else None)
        # The other breast is the same woman's: a study whose images disagree on the patient
        # pairs each patient's images with her own only.
        key = ViewKey(f"{study}|{chr(31).join(meta.patient_identity)}" if study else None, meta.laterality, meta.view)
        calibrated = self.calibrated_for(domain)
        single = calibrate(raw, self.spec.calibration) if calibrated else raw
        return Prediction(
            path=image.metadata.path,
            score=single,
            raw_score=raw,
            view_key=key,
            single_image_score=single,
            domain=domain,
            domain_source=domain_source,
            calibrated=calibrated,
            working_probability=final.probability,
            geometry=working.geometry,
            spacing_mm=spacing,
            spacing_estimate_mm=None if spacing else network_spacing[0],
            model_name=self.model_name,
            weights_sha256=self.weights_sha256,
            device=self.device_name,
            precision=self.precision,
            warnings=notes + list(self.notices),
        )

    def model_input(self, image: MammoImage, *, spacing_mm: tuple[float, float] | None = None):
        """What the network sees of ``image`` (a ``WorkingImage``: breast crop at the working
        spacing, chest wall on the left, z-scored), with its warnings; the viewer shows it.
        ``image`` may be a reduced resolution level (``MammoImage.level``) no coarser than
        ``self.input.level``: the input is then the same, and every result is in the full
        image's pixels all the same. ``spacing_mm`` is the full image's."""
        return self.input.prepare(image, spacing_mm or image.metadata.pixel_spacing_mm)

    def serving(self, domain: str | None) -> Predictor:
        """The model for images of ``domain``: these weights serve every image (``DomainModels``
        chooses between several)."""
        return self

    def for_predictions(self, predictions) -> Predictor:
        return self

    def calibrated_for(self, domain: str | None) -> bool:
        """Whether this image's score can be shown as a probability: the weights carry a
        calibration (or a two-breast fit, a calibration too) fitted on images of ``domain``
        (weights from before domains were recorded carry them for every image, as they always
        did)."""
        fits = [fit for fit in (self.spec.calibration, self.spec.bilateral) if fit]
        return bool(fits) and all(fit.get("domain") in (None, domain) for fit in fits)

    def compare_breasts(self, predictions: list[Prediction]) -> None:
        """Set each prediction's score from both breasts where ``predictions`` (one study, or
        several: images pair only within a study) hold the same view of the other breast;
        the others keep their single-image score. Call it again as more views arrive."""
        raw = [p.raw_score if p.raw_score is not None else p.score for p in predictions]
        for prediction, raw_score, (score, basis) in zip(
            predictions,
            raw,
            final_scores(raw, [p.view_key for p in predictions], self.spec.calibration, self.spec.bilateral),
        ):
            # The two-breast fit is a calibration too, fitted on the same domain's images.
            prediction.score, prediction.score_basis = (
                (score, basis) if prediction.calibrated else (raw_score, THIS_IMAGE)
            )

    def _run(self, image: np.ndarray, check, notes: list[str]):
        hooks = (
            [
                module.register_forward_pre_hook(lambda *_: check())
                for module in (*self.model.encoder, self.model.bottleneck, *self.model.decoder)
            ]
            if check
            else []
        )
        try:
            try:
                return predict_working(self.model, image, self.device, autocast_dtype=self.autocast_dtype())
            except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:
                if self.device.type != "cuda":
                    raise
                message = f"{CUDA_FALLBACK} ({str(exc).splitlines()[0]}); the model now runs on the CPU"
                warnings.warn(message, RuntimeWarning, stacklevel=2)
                log.warning(message)
                self.notices.append(message)
                notes.append(message)
                self.device = torch.device("cpu")
                self.model.to(self.device)
                torch.cuda.empty_cache()
                return predict_working(self.model, image, self.device, autocast_dtype=self.autocast_dtype())
        finally:
            for hook in hooks:
                hook.remove()
