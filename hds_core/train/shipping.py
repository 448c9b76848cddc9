"""What both exports share (hds-export from a checkpoint's validation patients, and from a
cross-validation): the precision checks, the default threshold's rule, and the shipped
weights' spec assembled from the checkpoint's."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from ..data import PreparedCase
from ..eval.metrics import dice
from ..infer.forward import predict_working
from ..nn import HDSUNet, ModelSpec, sha256


def rounded_copy(model: HDSUNet, dtype: torch.dtype) -> HDSUNet:
    """The network as it will compute after its weights were stored in ``dtype``."""
    rounded = copy.deepcopy(model)
    with torch.no_grad():
        for tensor in rounded.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.to(dtype).to(tensor.dtype))
    return rounded


def mask_agreement(
    reference: HDSUNet,
    other: HDSUNet,
    cases: list[PreparedCase],
    device: torch.device,
    threshold: float,
    autocast_dtype: torch.dtype | None = None,
) -> float:
    """Mean per-image Dice between the final-exit masks of two networks (or precisions)."""
    scores = []
    for case in cases:
        a = predict_working(reference, case.working.image, device)[-1].probability >= threshold
        b = (
            predict_working(other, case.working.image, device, autocast_dtype=autocast_dtype)[-1].probability
            >= threshold
        )
        scores.append(dice(b, a))
    return float(np.mean(scores))


def choose_threshold(table: list[dict]) -> tuple[float, str]:
    """Youden's J on the contour criterion (a contour appears on the image at T): the slider
    moves contours, so its default should balance contours on mass films against contours
    on normal films. Ties go to the higher threshold (fewer marks)."""

    def youden(row):
        sens, spec = row["contour_sensitivity"], row["contour_specificity"]
        return -1.0 if sens is None or spec is None else sens + spec - 1.0

    best = max(table, key=lambda row: (round(youden(row), 9), row["threshold"]))
    rule = (
        "maximises contour sensitivity + contour specificity - 1 (Youden's J) on the validation patients; "
        "ties to the higher threshold"
    )
    return float(best["threshold"]), rule


def shipped_spec(
    trained: ModelSpec,
    checkpoint: Path,
    *,
    validation: dict,
    rules: dict[str, str],
    provenance: dict | None = None,
    **fields,
) -> ModelSpec:
    """The shipped weights' spec: the checkpoint's provenance (training config, encoder,
    software) without its training-time validation, the choices as ``fields``, the rules that
    made them and ``validation`` (whose ``threshold_table`` labels the slider) as provenance,
    and the checkpoint the tensors came from."""
    validation = dict(validation)
    table = tuple(validation.pop("threshold_table", ()))
    kept = {k: copy.deepcopy(v) for k, v in trained.provenance.items() if k not in ("validation", "best")}
    kept.update(rules)
    kept.update(provenance or {})
    kept["validation"] = validation
    kept.setdefault(
        "source_checkpoint", {"name": checkpoint.name, "sha256": sha256(checkpoint), "epoch": trained.epoch}
    )
    return trained.replace(threshold_table=table, provenance=kept, **fields)
