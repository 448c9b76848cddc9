"""The training loop: balanced crops, deep-supervision loss with the HDS schedule, SGD with
multistep decay, validation each epoch, checkpoints (safetensors + JSON), resume, DDP."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from .. import __version__
from ..data import BalancedCropDataset, DatasetLayoutError, load_datasets, prepare, split_cases
from ..eval.evaluate import per_dataset_reports, predict_cases, report_from_results
from ..infer.device import choose_device, cpu_has_native_bf16
from ..losses import DeepSupervisionLoss
from ..nn import HDSConfig, HDSUNet, ModelSpec, read_spec, save_weights, sha256
from ..nn.weights import load_tensors
from .config import TrainConfig
from .progress import BatchProgress

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return None


class Distributed:
    """torchrun sets WORLD_SIZE/RANK/LOCAL_RANK; gloo on CPU, nccl on CUDA."""

    def __init__(self, device: torch.device):
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = device
        if self.enabled:
            if device.type == "cuda":
                self.device = torch.device("cuda", self.local_rank)
                torch.cuda.set_device(self.device)
            else:
                torch.set_num_threads(
                    max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", self.world_size)))
                )
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def weight_gap(self, model: torch.nn.Module) -> float | None:
        """The largest difference between any rank's weights and rank 0's (None without
        DDP). DDP averages the gradients, so every rank takes the same steps: anything but
        0 means the ranks trained apart (a collective: every rank must call it)."""
        if not self.enabled:
            return None
        flat = torch.cat([p.detach().float().reshape(-1) for p in model.parameters()])
        reference = flat.clone()
        dist.broadcast(reference, src=0)
        gap = (flat - reference).abs().max()
        dist.all_reduce(gap, op=dist.ReduceOp.MAX)
        return float(gap)

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """Optimizer state as tensors (SGD momentum; AdamW moments and step) for safetensors."""
    tensors = {}
    for i, param in enumerate(optimizer.param_groups[0]["params"]):
        for name, value in optimizer.state.get(param, {}).items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{name}.{i}"] = value
    return tensors


def _restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    for key, value in tensors.items():
        if not key.startswith("optimizer."):
            continue
        _, name, index = key.rsplit(".", 2)
        param = optimizer.param_groups[0]["params"][int(index)]
        optimizer.state[param][name] = value.to(param.device) if name == "step" else value.to(param.device, param.dtype)


def make_optimizer(config: TrainConfig, parameters) -> torch.optim.Optimizer:
    if config.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(parameters, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def train(config: TrainConfig, *, resume: bool = False) -> dict:
    """Run training; returns the summary written to ``OUT/summary.json``."""
    device = choose_device(config.device)
    ddp = Distributed(device)
    device = ddp.device
    try:
        return _train(config, ddp, device, resume)
    finally:
        ddp.close()


def _train(config: TrainConfig, ddp: Distributed, device: torch.device, resume: bool) -> dict:
    out = Path(config.out)
    seed_everything(config.seed)
    cases = load_datasets(config.datasets)
    train_cases, val_cases = split_cases(
        cases,
        folds=config.folds,
        fold=config.fold,
        seed=config.fold_seed if config.fold_seed is not None else config.seed,
        exclude_patients=set(config.exclude_patients),
        val_patients=set(config.val_patients) if config.val_patients is not None else None,
    )
    if config.train_on:
        train_cases = [c for c in train_cases if c.dataset in config.train_on]
    training = set(config.train_on or config.datasets)
    labels_only = sorted({c.dataset for c in cases if c.dataset in training and c.extra.get("image_labels_only")})
    if labels_only:
        raise DatasetLayoutError(
            f"{', '.join(labels_only)}: image labels only, no outlines to train the maps on; "
            "evaluate on it with hds-eval, or leave it out of --train-on"
        )
    if not train_cases:
        raise ValueError("the split leaves no training images")
    log.info("%d training images, %d validation images", len(train_cases), len(val_cases))
    quiet = not ddp.is_main or not os.isatty(2)
    prepared_train = [prepare(c, config.working_spacing_mm) for c in tqdm(train_cases, desc="preparing", disable=quiet)]
    prepared_val = [
        prepare(c, config.working_spacing_mm) for c in tqdm(val_cases, desc="preparing validation", disable=quiet)
    ]

    dataset = BalancedCropDataset(
        prepared_train,
        crop=tuple(config.crop),
        samples_per_epoch=config.samples_per_epoch,
        positive_fraction=config.positive_fraction,
        min_mass_pixels=config.min_mass_pixels,
        flips=config.flips,
        seed=config.seed,
        balance=config.balance,
        augment=config.augment,
    )
    model = HDSUNet(HDSConfig.from_dict(config.network_config()))
    pretrained = None
    if not (resume and (out / "last.safetensors").is_file()) and config.pretrained_source:
        pretrained = _load_pretrained(model, config.pretrained_source)
    model = model.to(device)
    optimizer = make_optimizer(config, model.parameters())
    milestones = sorted({max(1, round(f * config.epochs)) for f in config.lr_milestones})
    loss_fn = DeepSupervisionLoss(mode=config.mode, dice_weight=config.dice_weight)
    amp = autocast_dtype(config.precision, device)
    scaler = torch.amp.GradScaler("cuda") if amp == torch.float16 and device.type == "cuda" else None

    start_epoch, best, history = 0, {"dice": -1.0, "accuracy": -1.0}, []
    if resume and (out / "last.safetensors").is_file():
        saved = read_spec(out / "last.safetensors")
        tensors = load_tensors(out / "last.safetensors")
        model.load_state_dict({k: v for k, v in tensors.items() if not k.startswith("optimizer.")})
        _restore_optimizer(optimizer, tensors)
        start_epoch, best = saved.epoch, saved.provenance["best"]
        pretrained = saved.provenance.get("pretrained_encoder")
        history = (
            [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
            if (out / "metrics.jsonl").is_file()
            else []
        )
        log.info("resuming from epoch %d", start_epoch)

    def lr_at(epoch: int) -> float:
        return config.lr * config.lr_gamma ** sum(epoch >= m for m in milestones)

    network = torch.nn.parallel.DistributedDataParallel(model) if ddp.enabled else model
    if ddp.is_main:
        out.mkdir(parents=True, exist_ok=True)
    summary: dict = {}
    for epoch in range(start_epoch, config.epochs):
        started = time.perf_counter()
        # Per-epoch seeds (dropout, any other torch randomness): a resumed run continues
        # exactly as an uninterrupted one would.
        seed_everything(config.seed * 1000 + epoch + 1)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(epoch)
        dataset.set_epoch(epoch)
        shard = Subset(dataset, range(ddp.rank, len(dataset), ddp.world_size))
        loader = DataLoader(shard, batch_size=config.batch_size, shuffle=False, num_workers=0)
        network.train()
        losses, parts_sum = [], {}
        progress = BatchProgress(
            len(loader), f"epoch {epoch + 1}/{config.epochs}", terminal=os.isatty(2), enabled=ddp.is_main
        )
        for images, masks, labels in loader:
            images, masks, labels = images.to(device), masks.to(device), labels.to(device)
            with torch.autocast(device_type=device.type, dtype=amp, enabled=amp is not None):
                output = network(images)
            loss, parts = loss_fn(output, masks, labels, epoch, config.epochs)
            if not math.isfinite(loss.item()):
                raise FloatingPointError(
                    f"loss became {loss.item()} at epoch {epoch + 1}; lower --lr or use --precision fp32"
                )
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            losses.append(loss.item())
            for key, value in parts.items():
                parts_sum[key] = parts_sum.get(key, 0.0) + value
            progress.step(float(np.mean(losses)))
        progress.close()

        record = {
            "epoch": epoch + 1,
            "lr": lr_at(epoch),
            "train_loss": float(np.mean(losses)) if losses else None,
            "train_parts": {k: v / max(len(losses), 1) for k, v in parts_sum.items()},
            # What --precision auto became on this machine: runs of one recipe on CPUs with and
            # without native bf16 train in different arithmetic.
            "autocast": {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(amp, "fp32"),
        }
        gap = ddp.weight_gap(model)
        if gap is not None:
            record["ranks_weight_gap"] = gap
            if gap > 0:
                log.warning("epoch %d: the ranks' weights differ by up to %g", epoch + 1, gap)
        if ddp.is_main:
            if prepared_val:
                per_exit = predict_cases(model, prepared_val, device, all_exits=False, autocast_dtype=amp)
                options = dict(threshold=config.threshold, score_source=config.score_source, cad=False)
                keys = (
                    "image_auc",
                    "image_accuracy",
                    "sensitivity",
                    "specificity",
                    "dice_mass_images",
                    "fp_regions_per_normal_image",
                )
                final = report_from_results(per_exit, prepared_val, **options)["final"]
                record["val"] = {k: final[k] for k in keys}
                if len(config.datasets) > 1:
                    # Pooled over datasets the AUC can measure the domain, not the mass: each on its own too.
                    record["val_per_dataset"] = {
                        spec: {k: report["final"][k] for k in keys}
                        for spec, report in per_dataset_reports(per_exit, prepared_val, **options).items()
                    }
            record["seconds"] = round(time.perf_counter() - started, 2)
            history.append(record)
            summary = _save_epoch(model, optimizer, config, out, epoch, record, best, history, pretrained)
            train_parts = record["train_parts"]
            log.info(
                "epoch %d: loss %.4f (segmentation %.4f, classification %.4f) val %s (%.1fs); checkpoint %s",
                epoch + 1,
                record["train_loss"] or float("nan"),
                sum(v for k, v in train_parts.items() if k.startswith("seg")),
                sum(v for k, v in train_parts.items() if k.startswith("cls")),
                _validation_text(record),
                record["seconds"],
                out / "last.safetensors",
            )
        ddp.barrier()
    if ddp.is_main and not summary and (out / "summary.json").is_file():
        summary = json.loads((out / "summary.json").read_text())
    return summary


def _validation_text(record: dict) -> str:
    """The epoch's validation for the log line: per dataset when the run has several (a pooled
    AUC of a film set with normals and a digital set without measured the domain: 0.89 pooled
    against 0.46 on the films in a cross-validation pilot here)."""

    def brief(values: dict) -> str:
        return ", ".join(
            f"{k} {v:.3f}"
            for k, v in values.items()
            if v is not None and k in ("image_auc", "dice_mass_images", "fp_regions_per_normal_image")
        )

    if record.get("val_per_dataset"):
        return "; ".join(f"{spec}: {brief(values)}" for spec, values in record["val_per_dataset"].items())
    return brief(record.get("val") or {}) or "none"


def _load_pretrained(model: HDSUNet, source: str) -> dict:
    """ImageNet weights into the encoder; what was loaded, for the weights' JSON."""
    from ..nn.pretrained import load_pretrained_encoder, package_weights_file

    path = package_weights_file() if source == "imagenet" else Path(source)
    count = load_pretrained_encoder(model, path)
    log.info("encoder initialised from %s (%d tensors)", path, count)
    return {"source": source, "file": path.name, "sha256": sha256(path), "tensors": count}


def _spec(
    model: HDSUNet, config: TrainConfig, epoch: int, record: dict, best: dict, pretrained: dict | None = None
) -> ModelSpec:
    validation = dict(record.get("val") or {})
    return ModelSpec(
        network=model.config,
        model_name=config.model_name or ("hds" if config.mode == "hds" else f"hds-{config.mode}"),
        score_source=config.score_source,
        default_threshold=config.threshold,
        working_spacing_mm=config.working_spacing_mm,
        threshold_table=tuple(validation.pop("threshold_table", ())),
        epoch=epoch + 1,
        train_config=config.to_dict(),
        provenance={
            "mode": config.mode,
            "preprocessing": {
                "input": "default display rendering in [0,1], breast crop, chest wall left, z-score over breast"
            },
            "best": best,
            "validation": validation or None,
            "pretrained_encoder": pretrained,
            "software": {"hds_core": __version__, "torch": torch.__version__},
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
    )


def _save_epoch(
    model,
    optimizer,
    config: TrainConfig,
    out: Path,
    epoch: int,
    record: dict,
    best: dict,
    history: list,
    pretrained: dict | None = None,
) -> dict:
    val = record.get("val") or {}
    dice, accuracy = val.get("dice_mass_images"), val.get("image_accuracy")
    improved_dice = dice is not None and dice > best["dice"]
    improved_accuracy = accuracy is not None and accuracy > best["accuracy"]
    if improved_dice:
        best["dice"] = dice
        best["dice_epoch"] = epoch + 1
    if improved_accuracy:
        best["accuracy"] = accuracy
        best["accuracy_epoch"] = epoch + 1
    spec = _spec(model, config, epoch, record, best, pretrained)
    save_weights(out / "last.safetensors", model, spec, extra_tensors=_optimizer_tensors(optimizer))
    if improved_dice:
        save_weights(out / "best_dice.safetensors", model, spec)
    if improved_accuracy:
        save_weights(out / "best_accuracy.safetensors", model, spec)
    with open(out / "metrics.jsonl", "w") as handle:
        for row in history:
            handle.write(json.dumps(row) + "\n")
    summary = {"out": str(out), "epochs": epoch + 1, "best": best, "last": record}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
