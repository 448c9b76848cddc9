"""The shipped models (one per domain: hds_mammo for digital images, hds_mammo_film for films):
their weights, their cards, and their behaviour on the shipped demo study.

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
FILM_WEIGHTS = resources.film_weights()
CARDS = {
    WEIGHTS: resources.resource_path("weights", "MODEL_CARD.md"),
    FILM_WEIGHTS: resources.resource_path("weights", "MODEL_CARD_film.md"),
}
# The domains each model's cross-validated figures cover: the default model was trained and
# measured on both; the film model on films.
DOMAINS = {WEIGHTS: {"film", "digital"}, FILM_WEIGHTS: {"film"}}
DEMO = resources.demo_study()
both_models = pytest.mark.parametrize("weights", [WEIGHTS, FILM_WEIGHTS], ids=["digital", "film"])


def card_text(weights=WEIGHTS) -> str:
    return CARDS[weights].read_text(encoding="utf-8")


def card_table(first_cell: str, weights=WEIGHTS) -> list[list[str]]:
    """Rows of the card's Markdown tables whose first cell starts with ``first_cell``."""
    rows = []
    for line in card_text(weights).splitlines():
        cells = [c.strip().strip("*`") for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].startswith(first_cell):
            rows.append(cells)
    return rows


@pytest.fixture(scope="module", params=[WEIGHTS, FILM_WEIGHTS], ids=["digital", "film"])
def demo_predictions(request) -> tuple:
    """Each model on every demo image, as its card's demo table was written (the Predictor of
    those weights alone, fp32)."""
    predictor = Predictor(request.param, device="cpu", precision="fp32")
    annotations = json.loads((DEMO / "annotations.json").read_text())["films"]
    predictions = [predictor.predict(read_image(DEMO / film["file"])) for film in annotations]
    predictor.compare_breasts(predictions)  # as the viewer and hds-predict score a study
    return request.param, {film["file"]: (film, prediction) for film, prediction in zip(annotations, predictions)}


DEMO_PATIENTS = {"mias-014", "mias-017", "mias-091", "cdd-P126"}


@both_models
def test_weights_ship_as_safetensors_in_the_precision_their_agreement_allows_with_config_and_card(weights):
    assert weights is not None and CARDS[weights].is_file()
    spec = read_spec(weights)
    fp16 = spec.precision_agreement["fp16_weights"] >= 0.99  # fp16 only where its masks agree with fp32
    assert spec.storage_dtype == ("fp16" if fp16 else "fp32")
    assert weights.stat().st_size <= (15 if fp16 else 30) * 2**20
    tensors = load_file(weights)
    assert {v.dtype for v in tensors.values() if v.is_floating_point()} == {torch.float16 if fp16 else torch.float32}
    assert not any(k.startswith("optimizer.") for k in tensors)
    # The ImageNet-initialised encoder, recorded with the file it started from.
    assert spec.network.encoder == "efficientnet-lite0" and len(spec.provenance["pretrained_encoder"]["sha256"]) == 64
    # Calibrated on films, and the datasets' domains recorded: a digital image's score is its raw score.
    assert spec.calibration["domain"] == "film"
    assert {block["domain"] for block in spec.cross_validation.values()} == DOMAINS[weights]
    table = spec.threshold_table
    assert table and all({"threshold", "contour_sensitivity", "contour_specificity"} <= set(row) for row in table)
    assert any(row["threshold"] == spec.default_threshold for row in table)
    assert spec.calibration["method"] in ("logistic", "isotonic")
    assert set(spec.train_config["exclude_patients"]) == DEMO_PATIENTS
    assert spec.train_config["val_patients"] == []  # trained on every patient; figures from the cross-validation


@both_models
def test_the_cards_figures_are_those_the_cross_validation_rows_give(weights):
    """Every cross-validated figure in the card is re-derived here from the per-image rows of
    NAME_cv.json, and no demo patient is among them."""
    from hds_core.eval.evaluate import cad_metrics_from_rows
    from hds_core.train.card_tables import fmt

    spec = read_spec(weights)
    report = json.loads(weights.with_name(weights.stem + "_cv.json").read_text())
    assert report["weights_sha256"] == sha256(weights)
    text = card_text(weights)
    assert sha256(weights) in text and f"{spec.default_threshold:g}" in text
    auc_row = card_table("image AUC, shipped score", weights)[0]
    for column, (dataset, block) in enumerate(report["per_dataset"].items(), 1):
        assert not {row["patient"] for row in block["images"]} & DEMO_PATIENTS
        derived = cad_metrics_from_rows(block["images"])
        for key in ("image_auc", "lesion_sensitivity", "fp_regions_per_image", "dice_mass_images", "ece"):
            assert derived[key] == pytest.approx(block["shipped_score"][key]), (dataset, key)
            assert derived[key] == pytest.approx(spec.cross_validation[dataset]["shipped_score"][key]), (dataset, key)
        assert auc_row[column].startswith(fmt(derived["image_auc"]))


def test_demo_scores_are_those_in_the_card(demo_predictions):
    weights, predictions = demo_predictions
    rows = {row[0]: row for row in card_table("DEMO-", weights)}
    assert len(rows) == 8
    for file, (film, prediction) in predictions.items():
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
    # One model per domain: the films by the film model, the digital images by the default one,
    # each at its own default threshold.
    for result in results:
        document = json.loads(result.read_text())
        weights = FILM_WEIGHTS if document["domain"] == "film" else WEIGHTS
        assert document["model"]["weights_sha256"] == sha256(weights), result.name
        assert document["threshold"] == read_spec(weights).default_threshold_for(document["domain"])
        assert document["density_suggestion"]["suggestion"] is True
    documents = [json.loads(r.read_text()) for r in results]
    assert sorted(d["domain"] for d in documents) == ["digital"] * 2 + ["film"] * 6
    # The digital images at the digital model's own operating point, chosen on digital rows.
    point = read_spec(WEIGHTS).operating_points["digital"]
    assert {d["threshold"] for d in documents if d["domain"] == "digital"} == {point["threshold"]}
    assert "cdd-cesm" in point["rule"]
    assert "wrote 8 result(s)" in capsys.readouterr().err


def test_resources_resolve_from_an_installed_layout(tmp_path):
    # The lookup is relative to the package itself, so a wheel's site-packages/resources works the same.
    assert Path(resources.__file__).parent == resources.resource_root()
    assert WEIGHTS.parent.parent == resources.resource_root() and DEMO.parent == resources.resource_root()
    assert resources.app_icon() is not None and resources.app_icon().parent.parent == resources.resource_root()
