"""Weights on disk: ``NAME.safetensors`` (tensors only, never pickle) beside ``NAME.json``
(network config, preprocessing, provenance). Loading validates both against each other."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..safe_write import atomic_write, atomic_write_text
from .hds_unet import HDSUNet
from .spec import FORMAT, ModelSpec, WeightsError
from .spec_file import read_spec, sidecar


def save_weights(
    path: str | Path,
    model: HDSUNet,
    spec: ModelSpec,
    extra_tensors: dict[str, torch.Tensor] | None = None,
    dtype: torch.dtype | None = None,
) -> None:
    """Write the tensors and the JSON sidecar (``spec``, with the network's own config), each
    atomically (temporary file, then rename): the one writer of weights."""
    path = Path(path)
    tensors = {
        k: (v.detach().to(dtype) if dtype is not None and v.is_floating_point() else v.detach()).cpu().contiguous()
        for k, v in model.state_dict().items()
    }
    for key, value in (extra_tensors or {}).items():
        tensors[key] = value.detach().cpu().contiguous()
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"format": FORMAT}))
    document = spec.replace(network=model.config).to_document()
    atomic_write_text(sidecar(path), json.dumps(document, indent=2, sort_keys=True) + "\n")


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        with open(path, "rb") as handle:
            head = handle.read(2)
        if head == b"PK" or (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")):
            raise WeightsError(
                path,
                "this is a pickle/PyTorch checkpoint, which is refused (loading it can run code)",
                "convert it to safetensors",
            ) from None
        raise WeightsError(
            path, f"not a valid safetensors file: {exc}", "the file is truncated or corrupt; download it again"
        ) from None


def load_weights(path: str | Path, *, map_location: str = "cpu") -> tuple[HDSUNet, ModelSpec]:
    """Build the network from the JSON config and load the tensors; (model in eval mode, spec)."""
    path = Path(path)
    spec = read_spec(path)
    tensors = load_tensors(path)
    model = HDSUNet(spec.network)
    state = {k: v for k, v in tensors.items() if not k.startswith("optimizer.")}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        detail = "; ".join(
            part
            for part in (
                f"{len(missing)} missing (e.g. {missing[0]})" if missing else "",
                f"{len(unexpected)} unexpected (e.g. {unexpected[0]})" if unexpected else "",
                f"{len(wrong)} with other shapes (e.g. {wrong[0]}: {tuple(state[wrong[0]].shape)} vs "
                f"{tuple(expected[wrong[0]].shape)})"
                if wrong
                else "",
            )
            if part
        )
        raise WeightsError(path, f"tensors do not match the config in {sidecar(path).name}: {detail}")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    model.eval()
    return model.to(map_location), spec
