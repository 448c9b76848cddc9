"""What the weights' JSON holds beside the tensors, typed: a :class:`ModelSpec` is read and
validated once (a wrong field is named with its file) and written by one function, so no
reader repeats a key or a default.

The operating settings (working spacing, default threshold, image score, calibration,
two-breast fit, suppression, precision agreement, the slider's threshold table, the
cross-validated figures) are fields. Everything else the document holds (rules, sources,
the validation report, software versions) is provenance: kept as written and written back.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..text import printable
from .config import HDSConfig

FORMAT = "hds-weights/1"
DEFAULT_WORKING_SPACING_MM = 0.4  # the paper's setting; trained weights record their own
DEFAULT_THRESHOLD = 0.5  # for weights that record none (training checkpoints)
SCORE_SOURCES = ("mil", "max_probability")  # the MIL head, or the probability map's maximum
AGREEMENT_DICE = 0.99  # reduced precision is used only where its masks agreed with fp32 this well
FIX = "export the weights again with hds-export"


class WeightsError(Exception):
    """Weights that cannot be used; the message names the file and what is wrong."""

    def __init__(self, path: str | Path, reason: str, fix: str | None = None):
        self.path, self.reason, self.fix = Path(path), reason, fix
        super().__init__(f"{printable(path)}: {reason}" + (f" ({fix})" if fix else ""))


# Fields that live inside a section of the document: (section, key).
_NESTED = {
    "working_spacing_mm": ("preprocessing", "working_spacing_mm"),
    "threshold_table": ("validation", "threshold_table"),
}


@dataclass(frozen=True)
class ModelSpec:
    network: HDSConfig
    model_name: str | None = None
    working_spacing_mm: float = DEFAULT_WORKING_SPACING_MM  # mm per pixel of the network's input
    default_threshold: float = DEFAULT_THRESHOLD  # where the viewer's slider starts
    # Per domain, where the default does not suit it: {"digital": {"threshold", "rule", ...}}
    # (``python -m hds_core.train.operating_point``, chosen out of fold on that domain's rows).
    operating_points: dict = field(default_factory=dict)
    score_source: str = "mil"
    calibration: dict | None = None  # infer/calibration.py's fit, with the domain it was fitted on
    bilateral: dict | None = None  # infer/bilateral.py's two-breast fit
    suppress: tuple[str, ...] = ()  # regions where no mass can be (infer/suppression.py)
    precision_agreement: dict = field(default_factory=dict)  # mask Dice against fp32, per precision
    threshold_table: tuple[dict, ...] = ()  # the validation figures per threshold (the slider's labels)
    cross_validation: dict = field(default_factory=dict)  # per dataset: out-of-fold figures
    storage_dtype: str | None = None
    train_config: dict = field(default_factory=dict)
    epoch: int | None = None
    provenance: dict = field(default_factory=dict)  # every other key of the document, as written

    def agrees_in(self, precision: str) -> bool:
        """Whether masks in ``precision`` ("bf16", "fp16") were measured to agree with fp32."""
        value = self.precision_agreement.get(precision, 0)
        return isinstance(value, (int, float)) and value >= AGREEMENT_DICE

    def default_threshold_for(self, domain: str | None) -> float:
        """The default threshold for images of ``domain``: its own operating point where these
        weights record one, else :attr:`default_threshold`."""
        point = self.operating_points.get(domain or "")
        return float(point["threshold"]) if point else self.default_threshold

    def replace(self, **changes) -> ModelSpec:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_document(cls, document: Mapping, path: str | Path = "weights") -> ModelSpec:
        """Validate ``document`` (the parsed JSON) into a spec; :class:`WeightsError` names
        ``path`` and the field that is wrong."""
        if not isinstance(document, Mapping):
            raise WeightsError(path, "the config is not a JSON object", FIX)
        if document.get("format") != FORMAT:
            raise WeightsError(path, f"unknown weights format {document.get('format')!r}, expected {FORMAT!r}")
        rest = copy.deepcopy(dict(document))
        rest.pop("format")
        values: dict[str, Any] = {}
        for name, (section, key) in _NESTED.items():
            part = rest.get(section)
            if isinstance(part, dict) and key in part:
                values[name] = part.pop(key)
        for spec_field in dataclasses.fields(cls):
            if spec_field.name not in _NESTED and spec_field.name != "provenance" and spec_field.name in rest:
                values[spec_field.name] = rest.pop(spec_field.name)
        if "network" not in values:
            raise WeightsError(path, "field 'network' is missing", FIX)
        try:
            values["network"] = HDSConfig.from_dict(values["network"])
        except (KeyError, TypeError, ValueError) as exc:
            raise WeightsError(path, f"field 'network' is invalid: {exc}") from None
        for name, check in _CHECKS.items():
            if name in values and values[name] is not None:
                try:
                    values[name] = check(values[name])
                except (TypeError, ValueError) as exc:
                    raise WeightsError(path, f"field {_where(name)!r} is invalid: {exc}", FIX) from None
        return cls(**values, provenance=rest)

    def to_document(self) -> dict:
        """The JSON document: the fields where :meth:`from_document` reads them, then provenance."""
        document = copy.deepcopy(self.provenance)
        document["format"] = FORMAT
        for spec_field in dataclasses.fields(self):
            name, value = spec_field.name, getattr(self, spec_field.name)
            if name == "provenance":
                continue
            if name == "network":
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            if name in _NESTED:
                section, key = _NESTED[name]
                if value or name == "working_spacing_mm":
                    document.setdefault(section, {})
                    if document[section] is None:
                        document[section] = {}
                    document[section][key] = value
            elif value is not None and not (isinstance(value, (dict, list)) and not value):
                document[name] = copy.deepcopy(value)
        return document


def _where(name: str) -> str:
    return ".".join(_NESTED[name]) if name in _NESTED else name


def _number(low: float, high: float, *, closed: bool = True):
    def check(value) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"expected a number, got {value!r}")
        inside = low <= value <= high if closed else low < value < high
        if not inside:
            raise ValueError(f"{value!r} is outside {low:g}–{high:g}")
        return float(value)

    return check


def _choice(options):
    def check(value) -> str:
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {value!r}")
        return value

    return check


def _fit(value) -> dict:
    if not isinstance(value, dict) or not isinstance(value.get("method", "logistic"), str):
        raise ValueError("expected an object with its method")
    return value


def _mapping(value) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"expected an object, got {type(value).__name__}")
    return value


def _strings(value) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise ValueError("expected a list of names")
    return tuple(value)


def _table(value) -> tuple[dict, ...]:
    if not isinstance(value, (list, tuple)):
        raise ValueError("expected a list of rows")
    for row in value:
        if not isinstance(row, dict) or not isinstance(row.get("threshold"), (int, float)):
            raise ValueError("every row needs its threshold")
    return tuple(value)


def _operating_points(value) -> dict:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected an object, got {value!r}")
    check = _number(0.0, 1.0, closed=False)
    for domain, point in value.items():
        if not isinstance(point, Mapping) or "threshold" not in point:
            raise ValueError(f"{domain}: expected an object with a threshold")
        check(point["threshold"])
    return dict(value)


def _epoch(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a count, got {value!r}")
    return value


_CHECKS = {
    "model_name": lambda value: value if isinstance(value, str) else str(value),
    "working_spacing_mm": _number(0.005, 5.0),
    "default_threshold": _number(0.0, 1.0, closed=False),
    "operating_points": _operating_points,
    "score_source": _choice(SCORE_SOURCES),
    "calibration": _fit,
    "bilateral": _fit,
    "suppress": _strings,
    "precision_agreement": _mapping,
    "threshold_table": _table,
    "cross_validation": _mapping,
    "storage_dtype": _choice(("fp16", "fp32")),
    "train_config": _mapping,
    "epoch": _epoch,
}
