"""One model per acquisition domain: digitised films are served by a model trained on films,
digital images by the digital one, each image by the model of its domain.

The domain comes from the header where it says (``io.image.header_domain``: Detector Type,
Conversion Type, a Secondary Capture object, a film digitiser), else from the pixels
(``io.appearance``'s classifier, cross-validated on both development datasets). Each model
has its own default threshold, slider table, calibration and cross-validated figures, and
each Prediction names the model that served it and why (``domain_source``).

Weights given explicitly (``--weights``) serve every image, as they always did: a researcher
evaluating one network wants that network's output on everything."""

from __future__ import annotations

import logging
from pathlib import Path

from ..density import DensityModels
from ..findings import Prediction
from ..io import MammoImage, read_image
from ..io.appearance import DomainClassifier, measure
from ..nn import WeightsError
from .predictor import Predictor
from .shipped import shipped_weights

log = logging.getLogger(__name__)


def _study_majority(predictions) -> str | None:
    domains = [p.domain for p in predictions if p.domain]
    return max(set(domains), key=domains.count) if domains else None


class DomainModels:
    """A Predictor per domain, behind the Predictor's own interface (``predict``,
    ``compare_breasts``, ``device_name``...); ``spec`` is the digital (default) model's."""

    def __init__(
        self,
        weights: str | Path | None = None,
        *,
        device: str = "auto",
        precision: str = "auto",
        film_weights: str | Path | None = None,
        classifier: str | Path | None = None,
    ):
        from resources import density_models, domain_classifier
        from resources import film_weights as shipped_film

        self.default = Predictor(weights or shipped_weights(), device=device, precision=precision)
        film = film_weights or (None if weights else shipped_film())
        self.film = Predictor(film, device=device, precision=precision) if film else None
        classifier = classifier or domain_classifier()
        try:
            self.classifier = DomainClassifier.load(classifier) if classifier else None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WeightsError(classifier, f"the film / digital classifier does not load ({exc})", "reinstall") from exc
        density = density_models()
        try:
            self.density = DensityModels(density) if density else None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WeightsError(density, f"the density models do not load ({exc})", "reinstall") from exc

    # ----- the Predictor's interface -------------------------------------------------------------
    @property
    def spec(self):
        return self.default.spec

    @property
    def input(self):
        """The network input whose level serves every model: the finest working spacing's (the
        shipped models share 0.8 mm; a coarser model resamples a finer level down)."""
        return min((p.input for p in self.predictors), key=lambda network: network.working_spacing_mm)

    @property
    def device(self):
        return self.default.device

    @property
    def device_name(self) -> str:
        return self.default.device_name

    @property
    def precision(self) -> str:
        return self.default.precision

    @property
    def notices(self) -> list[str]:
        return [*self.default.notices, *(self.film.notices if self.film else [])]

    @property
    def model_name(self) -> str:
        if self.film is None:
            return self.default.model_name
        return f"{self.film.model_name} (films), {self.default.model_name} (digital)"

    def predict_path(self, path: str | Path, *, cancel=None) -> Prediction:
        return self.predict(read_image(path), cancel=cancel)

    def predict(self, image: MammoImage, *, cancel=None, spacing_mm: tuple[float, float] | None = None) -> Prediction:
        appearance = self.appearance(image, spacing_mm)
        domain, source = self.domain_of(image, appearance)
        prediction = self.serving(domain).predict(
            image, cancel=cancel, spacing_mm=spacing_mm, appearance=appearance, domain=domain, domain_source=source
        )
        if self.density is not None:
            suggestion = self.density.suggest(appearance, domain)
            prediction.density = suggestion.to_dict() if suggestion else None
        return prediction

    def model_input(self, image: MammoImage, *, spacing_mm: tuple[float, float] | None = None):
        """What the network of ``image``'s domain sees of it (the viewer shows it)."""
        return self.serving(self.domain_of(image)[0]).model_input(image, spacing_mm=spacing_mm)

    def compare_breasts(self, predictions: list[Prediction]) -> None:
        for predictor in self.predictors:
            mine = [p for p in predictions if p.weights_sha256 == predictor.weights_sha256]
            if mine:
                predictor.compare_breasts(mine)

    def appearance(self, image: MammoImage, spacing_mm: tuple[float, float] | None = None):
        """The image's figures (``io.appearance.measure``) at the network's level or coarser."""
        return measure(image, self.input.level(spacing_mm or image.metadata.spacing_for_network))

    # ----- domains -----------------------------------------------------------------------------
    @property
    def predictors(self) -> list[Predictor]:
        return [self.default, *([self.film] if self.film else [])]

    def serving(self, domain: str | None) -> Predictor:
        """The model for images of ``domain`` (the default one for digital and unknown)."""
        return self.film if domain == "film" and self.film is not None else self.default

    def for_predictions(self, predictions) -> Predictor:
        """The model that served most of ``predictions`` (one study: its threshold and table)."""
        return self.serving(_study_majority(predictions))

    def domain_of(self, image: MammoImage, appearance=None) -> tuple[str | None, str | None]:
        """(film, digital or None; what said so)."""
        meta = image.metadata
        if meta.acquisition_domain:
            return meta.acquisition_domain, f"header: {meta.acquisition_domain_source}"
        if self.classifier is None:
            return None, None
        domain, probability = self.classifier.domain(appearance or self.appearance(image))
        return domain, f"pixels: {domain} ({probability:.0%}; the header does not say)"
