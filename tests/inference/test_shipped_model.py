"""The shipped model: its weights, its card, and its behaviour on the shipped demo study.

These tests read only resources/ (what a user has), never the training data."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import resources
from hds_core.infer import Predictor
from hds_core.io import read_image
from hds_core.nn import read_spec, sha256
from mammo_viewer.headless import main as predict_main

WEIGHTS = resources.default_weights()
CARD = resources.resource_path("weights", "MODEL_CARD.md")
DEMO = resources.demo_study()


def card_text() -> str:
    return CARD.read_text(encoding="utf-8")


def card_table(first_cell: str) -> list[list[str]]:
    """Rows of the card's Markdown tables whose first cell starts with ``first_cell``."""
    rows = []
    for line in card_text().splitlines():
        cells = [c.strip().strip("*`") for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].startswith(first_cell):
            rows.append(cells)
    return rows


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor(device="cpu", precision="fp32")  # as the card was written


@pytest.fixture(scope="module")
def demo_predictions(predictor) -> dict[str, object]:
    annotations = json.loads((DEMO / "annotations.json").read_text())["films"]
    predictions = [predictor.predict(read_image(DEMO / film["file"])) for film in annotations]
    predictor.compare_breasts(predictions)  # as the viewer and hds-predict score a study
    return {film["file"]: (film, prediction) for film, prediction in zip(annotations, predictions)}


DEMO_PATIENTS = {"mias-014", "mias-017", "mias-091", "cdd-P126"}


def test_weights_ship_as_safetensors_in_the_precision_their_agreement_allows_with_config_and_card():
    assert WEIGHTS is not None and CARD.is_file()
    spec = read_spec(WEIGHTS)
    fp16 = spec.precision_agreement["fp16_weights"] >= 0.99  # fp16 only where its masks agree with fp32
    assert spec.storage_dtype == ("fp16" if fp16 else "fp32")
    assert WEIGHTS.stat().st_size <= (15 if fp16 else 30) * 2**20
    tensors = load_file(WEIGHTS)
    assert {v.dtype for v in tensors.values() if v.is_floating_point()} == {torch.float16 if fp16 else torch.float32}
    assert not any(k.startswith("optimizer.") for k in tensors)
    # The ImageNet-initialised encoder, recorded with the file it started from.
    assert spec.network.encoder == "efficientnet-lite0" and len(spec.provenance["pretrained_encoder"]["sha256"]) == 64
    # Calibrated on films, and the datasets' domains recorded: a digital image's score is its raw score.
    assert spec.calibration["domain"] == "film"
    assert {block["domain"] for block in spec.cross_validation.values()} == {"film", "digital"}
    table = spec.threshold_table
    assert table and all({"threshold", "contour_sensitivity", "contour_specificity"} <= set(row) for row in table)
    assert any(row["threshold"] == spec.default_threshold for row in table)
    assert spec.calibration["method"] in ("logistic", "isotonic")
    assert set(spec.train_config["exclude_patients"]) == DEMO_PATIENTS
    assert spec.train_config["val_patients"] == []  # trained on every patient; figures from the cross-validation


def test_the_cards_figures_are_those_the_cross_validation_rows_give():
    """Every cross-validated figure in the card is re-derived here from the per-image rows of
    NAME_cv.json, and no demo patient is among them."""
    from hds_core.eval.evaluate import cad_metrics_from_rows
    from hds_core.train.card_tables import fmt

    spec = read_spec(WEIGHTS)
    report = json.loads(WEIGHTS.with_name(WEIGHTS.stem + "_cv.json").read_text())
    assert report["weights_sha256"] == sha256(WEIGHTS)
    text = card_text()
    assert sha256(WEIGHTS) in text and f"{spec.default_threshold:g}" in text
    auc_row = card_table("image AUC, shipped score")[0]
    for column, (dataset, block) in enumerate(report["per_dataset"].items(), 1):
        assert not {row["patient"] for row in block["images"]} & DEMO_PATIENTS
        derived = cad_metrics_from_rows(block["images"])
        for key in ("image_auc", "lesion_sensitivity", "fp_regions_per_image", "dice_mass_images", "ece"):
            assert derived[key] == pytest.approx(block["shipped_score"][key]), (dataset, key)
            assert derived[key] == pytest.approx(spec.cross_validation[dataset]["shipped_score"][key]), (dataset, key)
        assert auc_row[column].startswith(fmt(derived["image_auc"]))


def test_demo_scores_are_those_in_the_card(demo_predictions):
    rows = {row[0]: row for row in card_table("DEMO-")}
    assert len(rows) == 8
    for file, (film, prediction) in demo_predictions.items():
        row = rows[file.replace(".dcm", "")]
        # | image | source | lesion | image score | scored from | max probability | lesions |
        assert (row[2] == "yes") == film["has_mass"]
        assert float(row[3]) == pytest.approx(prediction.score, abs=0.002), file
        assert row[4] == prediction.score_basis
        assert float(row[5]) == pytest.approx(prediction.max_probability, abs=0.002), file


def test_hds_predict_on_the_demo_with_no_options_writes_results(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert predict_main([str(DEMO)]) == 0
    results = sorted((tmp_path / "hds-results").glob("*.json"))
    assert len(results) == 8
    document = json.loads(results[0].read_text())
    assert document["model"]["weights_sha256"] == sha256(WEIGHTS)
    assert document["threshold"] == read_spec(WEIGHTS).default_threshold
    assert "wrote 8 result(s)" in capsys.readouterr().err


def test_resources_resolve_from_an_installed_layout(tmp_path):
    # The lookup is relative to the package itself, so a wheel's site-packages/resources works the same.
    assert Path(resources.__file__).parent == resources.resource_root()
    assert WEIGHTS.parent.parent == resources.resource_root() and DEMO.parent == resources.resource_root()
    assert resources.app_icon() is not None and resources.app_icon().parent.parent == resources.resource_root()
