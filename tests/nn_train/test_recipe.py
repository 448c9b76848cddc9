"""The recipe's commands: the arms, the packed copy for a GPU machine, and the GPU run's
orchestration end to end on phantoms (a tiny recipe on the CPU)."""

import json
import shutil

import numpy as np
import pytest
import torch
from conftest import TINY_NET_ARGS

from hds_core.data import load_datasets, prepare, split_cases
from hds_core.nn import load_weights
from hds_core.train import recipe
from hds_core.train.card_tables import ablation_rows
from hds_core.train.cli import parser as train_parser


def test_every_arm_is_the_recipe_with_one_lever_changed(tmp_path):
    film, digital = tmp_path / "films", tmp_path / "digital"
    film.mkdir()
    (film / "Info.txt").write_text("")
    shipped = train_parser().parse_args(recipe.arm_options("recipe", str(film), str(digital)))
    assert shipped.datasets == [f"minimias:{film}", f"folder:{digital}"] and shipped.encoder == "efficientnet-lite0"
    changed = {}
    for arm in recipe.ARMS:
        args = vars(train_parser().parse_args(recipe.arm_options(arm, str(film), str(digital))))
        changed[arm] = {k for k, v in args.items() if v != vars(shipped)[k]}
    assert changed == {
        "recipe": set(),
        "scratch": {"pretrained"},
        "patches": {"crop"},
        "dsseg": {"mode"},
        "film": {"train_on"},
        "digital": {"train_on"},
        # Issue 38's film model: films only, with the looks a film needs (the whole film,
        # more epochs and crops, half of them on a mass), so several levers at once.
        "film-whole": {"train_on", "epochs", "samples_per_epoch", "crop", "balance"},
        # Its second seed on the same folds (averaged with it out of fold: train/ensemble.py).
        "film-whole-s1": {"train_on", "epochs", "samples_per_epoch", "crop", "balance", "seed", "fold_seed"},
    }
    assert recipe.arm_epochs("film-whole") == 20 and recipe.arm_epochs("recipe") == 12
    # The arm on every development patient, for shipping (continued with --resume once started).
    final = train_parser().parse_args(recipe.final_args("film-whole", tmp_path / "ab", str(film), str(digital)))
    assert final.val_patients == [] and final.out == str(tmp_path / "ab" / "film-whole" / "final") and not final.resume
    assert train_parser().parse_args(recipe.arm_options("film", str(film), str(digital))).train_on == [
        f"minimias:{film}"
    ]
    assert (
        train_parser().parse_args(recipe.arm_options("recipe", str(film), str(digital), scale=4)).samples_per_epoch
        == 800
    )


def test_the_packed_copy_gives_the_same_folds_and_working_images(tmp_path, phantom_dataset):
    # phantom_dataset stands in for both sets (0.4 mm phantoms, packed at 0.8 mm).
    out = tmp_path / "packed"
    summary = recipe.pack(phantom_dataset, phantom_dataset, out, spacing_mm=0.8)
    assert summary["films"] == 8 and summary["bytes"] > 0
    original = load_datasets([f"folder:{phantom_dataset}"])
    packed = load_datasets([f"folder:{out / 'mini-mias'}"])
    assert [c.patient_id for c in packed] == [c.patient_id for c in original]
    for fold in range(2):
        assert [c.case_id for c in split_cases(packed, folds=2, fold=fold)[1]] == [
            c.case_id for c in split_cases(original, folds=2, fold=fold)[1]
        ]
    for a, b in zip(original, packed):
        x, y = prepare(a, 0.8), prepare(b, 0.8)
        assert x.working.image.shape == y.working.image.shape
        assert np.abs(x.working.image - y.working.image).max() < 1e-3  # the 16-bit rounding
        assert a.has_mass == b.has_mass
        if a.has_mass:
            assert (x.mask & y.mask).sum() / (x.mask | y.mask).sum() > 0.9


@pytest.mark.slow
def test_the_gpu_command_runs_every_fold_and_brings_back_what_export_needs(tmp_path, phantom_dataset, monkeypatch):
    data = tmp_path / "data"
    for name in ("mini-mias", "cdd-cesm"):
        shutil.copytree(phantom_dataset, data / name)
    monkeypatch.setattr(recipe, "FOLDS", 2)
    monkeypatch.setattr(
        recipe,
        "RECIPE",
        [
            "--epochs",
            "1",
            "--samples-per-epoch",
            "4",
            "--crop",
            "64",
            "64",
            "--batch-size",
            "4",
            "--precision",
            "fp32",
            "--device",
            "cpu",
            *TINY_NET_ARGS,
        ],
    )
    results = tmp_path / "OUT"
    summary = recipe.run_gpu(data, tmp_path / "runs", results, scale=2, parallel=2, arms=["recipe"], budget_s=600)
    assert summary["failed"] == [] and summary["arms"] == {"recipe": ["fold-0", "fold-1"]}
    assert (
        json.loads((tmp_path / "runs" / "recipe" / "fold-0" / "last.json").read_text())["train_config"][
            "samples_per_epoch"
        ]
        == 8
    )
    sent = sorted(p.name for p in results.iterdir())
    assert sent == ["cv.tar.gz", "final-0.safetensors", "final-1.safetensors", "final.json"]
    assert all(p.stat().st_size < 16 * 2**20 for p in results.iterdir())

    here = tmp_path / "here"
    recipe.unpack(results, here)
    rows = ablation_rows(here / "recipe")
    assert {spec.split(":")[0] for spec in rows} == {"folder"} and all(r["folds"] == [0, 1] for r in rows.values())
    joined, _ = load_weights(here / "final" / "last.safetensors")
    trained, _ = load_weights(tmp_path / "runs" / "final" / "last.safetensors")
    for (name, a), b in zip(joined.state_dict().items(), trained.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
