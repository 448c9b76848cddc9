"""The weights' JSON on disk (``NAME.json`` beside ``NAME.safetensors``), read into a
:class:`~.spec.ModelSpec` without torch, and the files' hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .spec import ModelSpec, WeightsError


def sidecar(path: Path) -> Path:
    return Path(path).with_suffix(".json")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_spec(path: str | Path) -> ModelSpec:
    """The weights' JSON, validated (no tensors read): :class:`WeightsError` names the file."""
    path = Path(path)
    json_path = sidecar(path)
    if not path.is_file():
        raise WeightsError(path, "weights file not found")
    if not json_path.is_file():
        raise WeightsError(
            path, f"its config {json_path.name} is missing", "weights travel as NAME.safetensors + NAME.json"
        )
    try:
        document = json.loads(json_path.read_text())
    except (OSError, ValueError) as exc:
        raise WeightsError(json_path, f"config is not valid JSON: {exc}") from None
    return ModelSpec.from_document(document, json_path)
