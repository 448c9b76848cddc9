"""hds-train --cv: every patient predicted once out of fold, each dataset on its own, the
spread over folds, the pooled out-of-fold figures, and runs continued with --resume."""

import json

import torch
from conftest import TINY_NET_ARGS


def test_cross_validation_predicts_every_patient_once_out_of_fold(tmp_path, capsys):
    import synthetic

    from hds_core.train.cli import main as train_main

    films = synthetic.phantom_folder_dataset(tmp_path / "films", n_images=8, seed=80)
    digital = synthetic.phantom_folder_dataset(tmp_path / "digital", n_images=4, seed=90)
    for folder, prefix in ((films, "f"), (digital, "d")):  # patient IDs of two datasets never collide
        lines = (folder / "patients.csv").read_text().splitlines()
        (folder / "patients.csv").write_text(
            "\n".join([lines[0]] + [f"{row.split(',')[0]},{prefix}{row.split(',')[1]}" for row in lines[1:]]) + "\n"
        )
    out = tmp_path / "cv"
    args = [
        "--dataset",
        f"folder:{films}",
        "--dataset",
        f"folder:{digital}",
        "--out",
        str(out),
        "--epochs",
        "2",
        "--crop",
        "64",
        "64",
        "--samples-per-epoch",
        "8",
        "--precision",
        "fp32",
        "--balance",
        "dataset",
        "-q",
        *TINY_NET_ARGS,
    ]
    assert train_main([*args, "--cv", "2"]) == 0
    printed = capsys.readouterr().out
    assert "2-fold cross-validation" in printed and f"== folder:{films} ==" in printed
    summary = json.loads((out / "cv.json").read_text())
    assert summary["folds"] == 2 and [e["epoch"] for e in summary["per_epoch"]] == [1, 2]
    for spec, n_images in ((f"folder:{films}", 8), (f"folder:{digital}", 4)):
        block = summary["per_dataset"][spec]
        images = [row["image"] for row in block["images"]]
        assert sorted(images) == sorted(set(images)) and len(images) == n_images  # each image once, out of fold
        assert block["out_of_fold"]["n_images"] == n_images and block["over_folds"]["image_auc"]["folds"] <= 2
        assert {row["dataset"] for row in block["images"]} == {spec}
    for fold in range(2):
        oof = json.loads((out / f"fold-{fold}" / "oof.json").read_text())
        assert oof["fold"] == fold and oof["epoch"] == 2
        # Training's own validation is reported per dataset too (pooled, the AUC can measure the domain).
        history = [json.loads(line) for line in (out / f"fold-{fold}" / "metrics.jsonl").read_text().splitlines()]
        assert all(set(h["val_per_dataset"]) <= {f"folder:{films}", f"folder:{digital}"} for h in history)
    assert all(e["mean_dice_per_dataset"] for e in summary["per_epoch"])
    # Every fold is finished: a rerun trains nothing and gives the same summary.
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("fold-*/last.safetensors")}
    assert train_main([*args, "--cv", "2", "--resume"]) == 0
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert json.loads((out / "cv.json").read_text())["per_dataset"].keys() == summary["per_dataset"].keys()

    # The shipped model: trained on every patient, its choices taken from the folds' out-of-fold rows.
    from hds_core.infer import Predictor
    from hds_core.nn import read_spec
    from hds_core.train.cv_export import pooled_threshold_table
    from hds_core.train.export_cli import main as export_main
    from hds_core.train.shipping import choose_threshold

    final = tmp_path / "final"
    assert train_main([*[a if a != str(out) else str(final) for a in args], "--no-validation"]) == 0
    assert "no validation patients" in capsys.readouterr().out
    shipped = tmp_path / "shipped" / "cv_model.safetensors"
    assert (
        export_main(
            [
                str(final / "last.safetensors"),
                str(shipped),
                "--dataset",
                f"folder:{films}",
                "--dataset",
                f"folder:{digital}",
                "--cv",
                str(out),
            ]
        )
        == 0
    )
    meta = read_spec(shipped).to_document()
    folds = [json.loads((out / f"fold-{k}" / "oof.json").read_text()) for k in range(2)]
    film_spec = meta["validation"]["dataset"]
    pooled = pooled_threshold_table(
        [(f["per_dataset"][film_spec], f["per_dataset"][film_spec]["threshold_table"]) for f in folds]
    )
    assert meta["default_threshold"] == choose_threshold(pooled)[0]
    assert "digital_contour_sensitivity" in meta["validation"]["threshold_table"][0]
    assert meta["calibration"]["method"] == "logistic" and meta["source_checkpoint"]["epoch"] == 2
    report = json.loads((tmp_path / "shipped" / "cv_model_cv.json").read_text())
    assert sum(len(b["images"]) for b in report["per_dataset"].values()) == 12  # every image once, out of fold
    assert report["per_epoch"] == json.loads((out / "cv.json").read_text())["per_epoch"]  # the card needs no run folder
    assert Predictor(shipped, device="cpu").spec.calibration == meta["calibration"] and "suppress" not in meta

    # The folds evaluated again without marks off the breast or on the muscle (nothing retrained),
    # and the shipped weights re-exported with those choices: the same tensors, the same provenance.
    assert train_main([*args, "--cv", "2", "--resume", "--suppress", "breast", "--suppress", "pectoral"]) == 0
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert all(
        json.loads((out / f"fold-{k}" / "oof.json").read_text())["suppress"] == ["breast", "pectoral"] for k in range(2)
    )
    again = tmp_path / "again" / "cv_model.safetensors"
    assert (
        export_main(
            [
                str(shipped),
                str(again),
                "--dataset",
                f"folder:{films}",
                "--dataset",
                f"folder:{digital}",
                "--cv",
                str(out),
            ]
        )
        == 0
    )
    meta_again = read_spec(again).to_document()
    assert meta_again["suppress"] == ["breast", "pectoral"] and Predictor(again, device="cpu").spec.suppress == (
        "breast",
        "pectoral",
    )
    if meta["storage_dtype"] == "fp16":
        from safetensors.torch import load_file

        before, after = load_file(str(shipped)), load_file(str(again))
        assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
        assert meta_again["source_checkpoint"] == meta["source_checkpoint"]
        assert meta_again["precision_agreement"]["fp16_weights"] == meta["precision_agreement"]["fp16_weights"]


def test_cv_says_it_does_not_run_under_torchrun(tmp_path, monkeypatch, capsys):
    from hds_core.train.cli import main as train_main

    monkeypatch.setenv("WORLD_SIZE", "2")
    assert train_main(["--dataset", f"folder:{tmp_path}", "--out", str(tmp_path / "o"), "--cv", "5"]) == 2
    assert "without torchrun" in capsys.readouterr().err


def test_an_out_of_fold_report_of_another_suppression_is_evaluated_again(tmp_path):
    import json

    from hds_core.train.config import TrainConfig
    from hds_core.train.cv import _stale

    (tmp_path / "last.safetensors").write_bytes(b"")
    oof = tmp_path / "oof.json"
    oof.write_text(
        json.dumps({"suppress": [], "per_dataset": {"x": {"threshold": 0.4, "images": [{"mil_score": 0.1}]}}})
    )
    run = TrainConfig(datasets=["folder:x"], out=str(tmp_path), threshold=0.4)
    assert not _stale(oof, run)
    assert _stale(oof, TrainConfig(datasets=["folder:x"], out=str(tmp_path), threshold=0.4, suppress=["breast"]))
