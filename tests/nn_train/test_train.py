"""Training: a short run learns on phantoms; resume; checkpoints; DDP with two CPU processes."""

import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import TINY_NET, TINY_NET_ARGS

from hds_core.nn import load_weights
from hds_core.train.cli import main as train_main
from hds_core.train.config import ConfigError, TrainConfig, build_config
from hds_core.train.loop import train


def test_short_run_lowers_the_loss_and_raises_dice(trained_phantom_model):
    path, summary = trained_phantom_model
    history = [json.loads(line) for line in (path.parent / "metrics.jsonl").read_text().splitlines()]
    assert len(history) == 12
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    first_dice = history[0]["val"]["dice_mass_images"]
    best_dice = max(h["val"]["dice_mass_images"] for h in history)
    assert best_dice > first_dice + 0.3 and best_dice > 0.6
    for name in ("last", "best_dice", "best_accuracy"):
        assert (path.parent / f"{name}.safetensors").is_file() and (path.parent / f"{name}.json").is_file()
    meta = json.loads((path.parent / "best_dice.json").read_text())
    assert meta["best"]["dice"] == pytest.approx(best_dice) and meta["score_source"] == "mil"
    assert not any(p.suffix in (".pt", ".pth", ".pkl", ".ckpt") for p in path.parent.iterdir())


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_resume_continues_from_the_last_epoch(tmp_path, phantom_dataset, optimizer):
    common = dict(
        datasets=[f"folder:{phantom_dataset}"],
        out=str(tmp_path),
        batch_size=4,
        crop=[64, 64],
        samples_per_epoch=8,
        folds=2,
        network=TINY_NET,
        precision="fp32",
        optimizer=optimizer,
        lr=0.01 if optimizer == "sgd" else 0.001,
    )
    train(TrainConfig(epochs=1, **common))
    assert json.loads((tmp_path / "last.json").read_text())["epoch"] == 1
    train(TrainConfig(epochs=2, **common), resume=True)
    history = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]
    model, meta = load_weights(tmp_path / "last.safetensors")
    assert meta.epoch == 2
    # The same two epochs without interruption give the same weights.
    straight = tmp_path / "straight"
    train(TrainConfig(epochs=2, **{**common, "out": str(straight)}))
    reference, _ = load_weights(straight / "last.safetensors")
    for (name, a), b in zip(model.state_dict().items(), reference.state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5, msg=name)


def test_train_on_one_dataset_keeps_the_pooled_folds(tmp_path, phantom_dataset, caplog):
    """A model of one domain (--train-on) trains on that dataset's images only, yet holds out the
    same patients as the pooled model and validates on every dataset."""
    import logging
    import shutil

    from hds_core.data import load_datasets, split_cases

    other = tmp_path / "other"
    shutil.copytree(phantom_dataset, other)
    specs = [f"folder:{phantom_dataset}", f"folder:{other}"]
    train_pooled, val_pooled = split_cases(load_datasets(specs), folds=2, fold=0)
    with caplog.at_level(logging.INFO, logger="hds_core.train.loop"):
        train(
            TrainConfig(
                datasets=specs,
                train_on=[specs[1]],
                out=str(tmp_path / "run"),
                epochs=1,
                batch_size=4,
                crop=[64, 64],
                samples_per_epoch=4,
                folds=2,
                network=TINY_NET,
                precision="fp32",
            )
        )
    own = sum(c.dataset == specs[1] for c in train_pooled)
    assert 0 < own < len(train_pooled)
    assert f"{own} training images, {len(val_pooled)} validation images" in caplog.text
    # Off a terminal, plain progress lines and where the checkpoint went (issue 38).
    assert "epoch 1/1: batch 1/1, loss" in caplog.text and "s left" in caplog.text
    assert f"checkpoint {tmp_path / 'run' / 'last.safetensors'}" in caplog.text
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert set(record["val_per_dataset"]) == set(specs) and record["autocast"] == "fp32"
    with pytest.raises(ConfigError, match="not among the --dataset values"):
        build_config({}, {"datasets": specs[:1], "train_on": specs[1:]})


def test_config_file_then_cli_overrides(tmp_path, phantom_dataset):
    config_file = tmp_path / "c.json"
    config_file.write_text(json.dumps({"epochs": 7, "mode": "ds-seg", "network": TINY_NET}))
    from hds_core.train.config import load_config_file

    config = build_config(load_config_file(config_file), {"epochs": 3, "datasets": ["folder:x"]})
    assert config.epochs == 3 and config.mode == "ds-seg" and config.score_source == "max_probability"
    config_file.write_text(json.dumps({"epoch": 7}))
    with pytest.raises(ConfigError, match="unknown settings"):
        load_config_file(config_file)
    with pytest.raises(ConfigError, match="multiples of 32"):
        build_config({}, {"datasets": ["folder:x"], "crop": [100, 96]})


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        train_main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for shown in (
        "--epochs EPOCHS passes over --samples-per-epoch crops (default: 50)",
        "(default: sgd)",
        "(default: 512 384)",
        "--encoder {residual,efficientnet-lite0}",
        "--pretrained imagenet|none|PATH",
    ):
        assert shown in text, shown


def test_cli_errors_are_messages_not_tracebacks(tmp_path, capsys):
    assert train_main(["--dataset", f"minimias:{tmp_path}", "--out", str(tmp_path / "o")]) == 2
    assert "Info.txt" in capsys.readouterr().err
    assert train_main(["--out", str(tmp_path / "o")]) == 2


@pytest.mark.slow
def test_ddp_with_two_cpu_processes(tmp_path, phantom_dataset):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "hds_core.train.cli",
            "--dataset",
            f"folder:{phantom_dataset}",
            "--out",
            str(tmp_path),
            "--epochs",
            "2",
            "--batch-size",
            "2",
            "--crop",
            "64",
            "64",
            "--samples-per-epoch",
            "8",
            "--folds",
            "2",
            "--device",
            "cpu",
            "--precision",
            "fp32",
            *TINY_NET_ARGS,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    history = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]  # written once (rank 0), not twice
    # Each rank trained on its own half of the crops; the gradients were averaged across
    # ranks, so the weights stayed identical on both (without DDP they would drift apart).
    assert [h["ranks_weight_gap"] for h in history] == [0.0, 0.0]
    assert (tmp_path / "last.safetensors").is_file()


def test_progress_lines_come_every_tenth_of_an_epoch_and_on_its_last_batch(caplog):
    import logging

    from hds_core.train.progress import BatchProgress

    with caplog.at_level(logging.INFO, logger="hds_core.train.loop"):
        progress = BatchProgress(25, "epoch 2/5", terminal=False)
        for _ in range(25):
            progress.step(0.5)
        progress.close()
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(",")[0] for line in lines] == [
        f"epoch 2/5: batch {n}/25" for n in (2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 25)
    ]
    assert all("batches/s" in line for line in lines)


def test_seeds_on_the_same_folds_are_averaged_out_of_fold(tmp_path, phantom_dataset):
    """--fold-seed keeps a second seed's folds; the ensemble tool averages the fold models on
    the fold's own patients, and refuses members that hold out other patients."""
    from hds_core.train.cv import evaluate_fold
    from hds_core.train.ensemble import main as ensemble

    common = dict(
        datasets=[f"folder:{phantom_dataset}"],
        epochs=1,
        batch_size=4,
        crop=[64, 64],
        samples_per_epoch=4,
        folds=2,
        fold=0,
        network=TINY_NET,
        precision="fp32",
        threshold=0.4,
    )
    runs = {
        "a": TrainConfig(out=str(tmp_path / "a" / "fold-0"), seed=0, **common),
        "b": TrainConfig(out=str(tmp_path / "b" / "fold-0"), seed=1, fold_seed=0, **common),
        "other": TrainConfig(out=str(tmp_path / "other" / "fold-0"), seed=1, **common),
    }
    for config in runs.values():
        train(config)
    alone = evaluate_fold(runs["a"])
    assert ensemble([str(tmp_path / "a"), "--out", str(tmp_path / "one"), "--threshold", "0.4"]) == 0
    one = json.loads((tmp_path / "one" / "fold-0" / "oof.json").read_text())
    spec = f"folder:{phantom_dataset}"
    # One member, no flip: the fold's own evaluation, row for row.
    assert one["per_dataset"][spec]["images"] == alone["per_dataset"][spec]["images"]
    assert ensemble([str(tmp_path / "a"), str(tmp_path / "b"), "--flip", "--out", str(tmp_path / "two")]) == 0
    two = json.loads((tmp_path / "two" / "fold-0" / "oof.json").read_text())
    assert two["ensemble"] == {"members": 2, "flip": True}
    assert [r["image"] for r in two["per_dataset"][spec]["images"]] == [
        r["image"] for r in alone["per_dataset"][spec]["images"]
    ]
    # The figures the decisions quote, from the same rows.
    from hds_core.train.fold_figures import figures

    quoted = figures(tmp_path / "two", spec)
    assert quoted["folds"] == 1 and 0 <= quoted["map_max_auc_pooled"] <= 1
    assert quoted["map_max_auc_per_fold"] == pytest.approx(quoted["map_max_auc_pooled"])  # one fold: the same
    with pytest.raises(ValueError, match="no rows of"):
        figures(tmp_path / "two", "folder:/elsewhere")
    with pytest.raises(ValueError, match="holds out other patients"):
        ensemble([str(tmp_path / "a"), str(tmp_path / "other"), "--out", str(tmp_path / "bad")])
