"""Calibrated image scores: fitted on out-of-fold predictions, monotonic, lowering the
calibration error on what they were fitted to, carried in the weights' JSON and applied by
the Predictor (the raw score kept beside it)."""

import json
import shutil

import numpy as np
import pytest
from synthetic import phantom, write_dicom

from hds_core.eval.uncertainty import reliability
from hds_core.infer import Predictor
from hds_core.infer.calibration import calibrate, fit_isotonic, fit_logistic
from hds_core.io import read_image


def overconfident(n=2000, seed=0):
    """Raw scores that are too sure of themselves: the true frequency is sigmoid(logit(s) / 3)."""
    rng = np.random.default_rng(seed)
    raw = rng.uniform(0.01, 0.99, n)
    truth = 1 / (1 + np.exp(-np.log(raw / (1 - raw)) / 3))
    return raw, (rng.random(n) < truth).astype(int)


def test_isotonic_is_monotonic_and_lowers_the_calibration_error():
    raw, labels = overconfident()
    fit = fit_isotonic(raw, labels)
    assert np.all(np.diff(fit["y"]) >= 0) and np.all(np.diff(fit["x"]) >= 0)
    grid = np.linspace(0, 1, 101)
    mapped = [calibrate(s, fit) for s in grid]
    assert np.all(np.diff(mapped) >= -1e-12)  # order is kept: the AUC cannot get worse
    before, _ = reliability(raw, labels)
    after, _ = reliability([calibrate(s, fit) for s in raw], labels)
    assert after < before / 3, (before, after)
    # Pool-adjacent-violators on a tiny known case: labels 1,0 at the low end are pooled.
    small = fit_isotonic([0.1, 0.2, 0.3, 0.4], [1, 0, 1, 1])
    assert small["x"] == pytest.approx([0.15, 0.3, 0.4]) and small["y"] == [0.5, 1.0, 1.0] and small["n"] == 4


def test_logistic_recovers_a_known_slope():
    raw, labels = overconfident(n=20000, seed=1)
    fit = fit_logistic(raw, labels)
    assert fit["a"] == pytest.approx(1 / 3, abs=0.05) and fit["b"] == pytest.approx(0.0, abs=0.08)
    assert calibrate(0.5, fit) == pytest.approx(0.5, abs=0.03) and calibrate(0.99, fit) < 0.9
    assert calibrate(0.42, None) == 0.42


def test_the_predictor_applies_the_weights_calibration(phantom_model, tmp_path):
    weights = tmp_path / "calibrated.safetensors"
    shutil.copy(phantom_model, weights)
    document = json.loads(phantom_model.with_suffix(".json").read_text())
    document["calibration"] = {"method": "isotonic", "x": [0.0, 1.0], "y": [0.2, 0.6], "n": 2}
    weights.with_suffix(".json").write_text(json.dumps(document))
    pixels, _ = phantom((128, 128), seed=8, crisp=True)
    image = read_image(write_dicom(tmp_path / "m.dcm", pixels, ImagerPixelSpacing=[0.4, 0.4]))
    raw = Predictor(phantom_model, device="cpu").predict(image)
    calibrated = Predictor(weights, device="cpu").predict(image)
    assert raw.score == raw.raw_score and calibrated.raw_score == pytest.approx(raw.score)
    assert calibrated.score == pytest.approx(0.2 + 0.4 * raw.score)
    assert calibrated.to_dict(0.5)["raw_score"] == round(raw.score, 4)


def test_export_fits_the_calibration_on_hds_eval_rows(trained_phantom_model, phantom_dataset, tmp_path, capsys):
    from hds_core.eval.cli import main as eval_main
    from hds_core.nn import read_spec
    from hds_core.train.export_cli import main as export_main

    checkpoint, _ = trained_phantom_model
    rows = tmp_path / "oof.json"
    assert (
        eval_main(
            [
                "--dataset",
                f"folder:{phantom_dataset}",
                "--weights",
                str(checkpoint),
                "--json",
                str(rows),
                "--final-only",
            ]
        )
        == 0
    )
    out = tmp_path / "shipped.safetensors"
    assert (
        export_main(
            [
                str(checkpoint),
                str(out),
                "--dataset",
                f"folder:{phantom_dataset}",
                "--calibrate-on",
                str(rows),
                "--calibration",
                "logistic",
            ]
        )
        == 0
    )
    capsys.readouterr()
    fit = read_spec(out).to_document()["calibration"]
    assert fit["method"] == "logistic" and fit["n"] == 8 and fit["fitted_on"] == [str(rows)]


def test_a_score_that_ranks_backwards_is_calibrated_to_the_base_rate_never_inverted():
    rng = np.random.default_rng(5)
    raw = rng.uniform(0.05, 0.95, 4000)
    labels = (rng.random(4000) < 1 - raw).astype(int)  # higher raw, fewer masses
    fit = fit_logistic(raw, labels)
    assert fit["a"] == 0.0 and calibrate(0.1, fit) == pytest.approx(calibrate(0.9, fit))
    assert calibrate(0.5, fit) == pytest.approx(labels.mean(), abs=0.01)


def test_the_acquisition_domain_comes_from_the_header(tmp_path):
    pixels, _ = phantom((64, 64), seed=1)
    film = read_image(write_dicom(tmp_path / "film.dcm", pixels, DetectorType="FILM")).metadata
    digital = read_image(write_dicom(tmp_path / "digital.dcm", pixels, DetectorType="DIRECT")).metadata
    untyped = read_image(write_dicom(tmp_path / "untyped.dcm", pixels)).metadata
    # A plain MG object names neither: the pixels decide (tests/inference/test_domains.py).
    assert (film.acquisition_domain, digital.acquisition_domain, untyped.acquisition_domain) == (
        "film",
        "digital",
        None,
    )
    from synthetic import write_png

    assert (
        read_image(write_png(tmp_path / "raster.png", (pixels >> 4).astype(np.uint8))).metadata.acquisition_domain
        is None
    )


def test_a_score_is_a_probability_only_for_the_domain_it_was_calibrated_on(phantom_model, tmp_path):
    """Film-calibrated weights: a film's score is calibrated, a digital image's is its raw score
    and says so (CDD-CESM has no normals to calibrate a digital score on)."""
    weights = tmp_path / "film-calibrated.safetensors"
    shutil.copy(phantom_model, weights)
    document = json.loads(phantom_model.with_suffix(".json").read_text())
    document["calibration"] = {"method": "isotonic", "x": [0.0, 1.0], "y": [0.2, 0.6], "n": 2, "domain": "film"}
    weights.with_suffix(".json").write_text(json.dumps(document))
    predictor = Predictor(weights, device="cpu")
    pixels, _ = phantom((128, 128), seed=8, crisp=True)
    film = predictor.predict(
        read_image(
            write_dicom(
                tmp_path / "f.dcm",
                pixels,
                ImagerPixelSpacing=[0.4, 0.4],
                DetectorType="FILM",
                ImageLaterality="L",
                ViewPosition="MLO",
            )
        )
    )
    digital = predictor.predict(
        read_image(
            write_dicom(
                tmp_path / "d.dcm",
                pixels,
                ImagerPixelSpacing=[0.4, 0.4],
                DetectorType="DIRECT",
                ImageLaterality="R",
                ViewPosition="MLO",
            )
        )
    )
    assert film.calibrated and film.score == pytest.approx(0.2 + 0.4 * film.raw_score)
    assert not digital.calibrated and digital.score == digital.raw_score
    predictor.compare_breasts([digital])  # a later pass over the study keeps it raw
    assert digital.score == digital.raw_score and digital.to_dict(0.5)["score_is_calibrated_probability"] is False
    assert digital.to_dict(0.5)["domain"] == "digital"


def test_the_trust_line_is_the_study_domains():
    from hds_core.report.operating_point import score_trust

    metadata = {
        "cross_validation": {
            "minimias:/d/mini-mias": {
                "domain": "film",
                "shipped_score": {"image_auc": 0.78, "image_auc_ci": [0.70, 0.85]},
            },
            "folder:/d/cdd-cesm": {
                "domain": "digital",
                "shipped_score": {"lesion_sensitivity": 0.8, "fp_regions_per_image": 0.9},
            },
        }
    }
    film, digital, both = (
        score_trust(metadata["cross_validation"], "film"),
        score_trust(metadata["cross_validation"], "digital"),
        score_trust(metadata["cross_validation"]),
    )
    assert "mini-mias: AUC 0.78 [0.70, 0.85]" in film and "cdd-cesm" not in film
    assert "cdd-cesm: 80% of lesions outlined" in digital and "mini-mias" not in digital
    assert "mini-mias" in both and "cdd-cesm" in both
    # Weights that record no domains: every dataset's line, as before.
    del (
        metadata["cross_validation"]["folder:/d/cdd-cesm"]["domain"],
        metadata["cross_validation"]["minimias:/d/mini-mias"]["domain"],
    )
    assert score_trust(metadata["cross_validation"], "digital") == both
