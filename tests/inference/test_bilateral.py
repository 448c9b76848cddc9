"""The other breast: which views pair, the two-breast score where a pair exists and the
calibrated single-image score where not, a fit that recovers a known comparison, and the
same choice in hds-eval's rows, the Predictor and hds-predict."""

import json
import math
import shutil

import numpy as np
import pytest

from hds_core.findings import BOTH_BREASTS, THIS_IMAGE, ViewKey
from hds_core.infer.bilateral import (
    bilateral_score,
    counterparts,
    final_scores,
    fit_bilateral,
)

FIT = {"method": "logistic", "weights": [2.0, -1.5], "bias": 0.25}


def sigmoid(z):
    return 1 / (1 + math.exp(-z))


def logit(p):
    return math.log(p / (1 - p))


def test_views_pair_with_the_same_view_of_the_other_breast_in_the_same_study_only():
    keys = [
        ViewKey("s1", "L", "CC"),
        ViewKey("s1", "R", "CC"),
        ViewKey("s1", "L", "MLO"),
        ViewKey("s1", "R", "ML"),
        ViewKey("s2", "R", "CC"),
        ViewKey("s1", None, "CC"),
        ViewKey(None, "L", "CC"),
        ViewKey("s1", "L", None),
    ]
    partners = counterparts(keys)
    assert partners[0] == [1] and partners[1] == [0]
    assert partners[2] == [3] and partners[3] == [2]  # ML and MLO are one projection family
    assert partners[4] == []  # another study's right CC is not this study's
    assert partners[5] == partners[6] == partners[7] == []  # laterality, study or view unknown: no pair


def test_final_scores_use_both_breasts_where_paired_and_the_calibrated_single_score_elsewhere():
    calibration = {"method": "logistic", "a": 1.0, "b": -1.0}
    keys = [ViewKey("s", "L", "CC"), ViewKey("s", "R", "CC"), ViewKey("s", "L", "MLO")]
    raw = [0.8, 0.3, 0.6]
    scores = final_scores(raw, keys, calibration, FIT)
    assert scores[0] == (pytest.approx(sigmoid(2 * logit(0.8) - 1.5 * logit(0.3) + 0.25)), BOTH_BREASTS)
    assert scores[1] == (pytest.approx(sigmoid(2 * logit(0.3) - 1.5 * logit(0.8) + 0.25)), BOTH_BREASTS)
    assert scores[2] == (pytest.approx(sigmoid(logit(0.6) - 1.0)), THIS_IMAGE)  # its other breast's MLO is absent
    # Without a bilateral fit every image keeps its calibrated single score.
    assert [basis for _, basis in final_scores(raw, keys, calibration, None)] == [THIS_IMAGE] * 3
    # A repeat exposure of the other breast counts once: the mean logit of its views.
    twice = final_scores(
        [0.8, 0.2, 0.45], [ViewKey("s", "L", "CC"), ViewKey("s", "R", "CC"), ViewKey("s", "R", "CC")], None, FIT
    )
    other = sigmoid((logit(0.2) + logit(0.45)) / 2)
    assert twice[0][0] == pytest.approx(bilateral_score(0.8, other, FIT))


def test_fit_recovers_a_known_comparison_and_refuses_too_few_pairs():
    rng = np.random.default_rng(3)
    raw, keys, labels = [], [], []
    for patient in range(1500):
        z_left, z_right = rng.normal(0, 1.5, 2)
        for side, z, z_other in (("L", z_left, z_right), ("R", z_right, z_left)):
            raw.append(sigmoid(z))
            keys.append(ViewKey(f"p{patient}", side, "MLO"))
            labels.append(int(rng.random() < sigmoid(1.2 * z - 0.8 * z_other - 0.5)))
    fit = fit_bilateral(raw, keys, labels)
    assert fit["weights"] == pytest.approx([1.2, -0.8], abs=0.12) and fit["bias"] == pytest.approx(-0.5, abs=0.12)
    assert fit["n_images"] == 3000
    with pytest.raises(ValueError, match="at least 10"):
        fit_bilateral(raw[:8], keys[:8], labels[:8])
    with pytest.raises(ValueError):  # one breast per patient: nothing pairs
        fit_bilateral(raw[::2], keys[::2], labels[::2])


def test_hds_eval_rows_score_a_patients_two_breasts_together(phantom_model, tmp_path):
    """A dataset's patient is its study: rows of L and R films of one patient are paired."""
    from synthetic import phantom, write_png

    from hds_core.data import prepare
    from hds_core.data.cases import Case
    from hds_core.eval.evaluate import evaluate_prepared
    from hds_core.nn import load_weights

    model, _ = load_weights(phantom_model)
    cases = []
    for i, (patient, side, crisp_mass) in enumerate((("p1", "L", True), ("p1", "R", False), ("p2", "L", False))):
        pixels, mask = phantom((128, 128), seed=20 + i, crisp=crisp_mass, mass=crisp_mass)
        image = write_png(tmp_path / f"c{i}.png", pixels)
        mask_path = write_png(tmp_path / f"c{i}_mask.png", (mask * 255).astype(np.uint8)) if mask.any() else None
        cases.append(
            prepare(
                Case(
                    case_id=f"c{i}",
                    patient_id=patient,
                    image_path=image,
                    mask_path=mask_path,
                    spacing_mm=0.4,
                    laterality=side,
                    view="MLO",
                    dataset="d",
                ),
                0.8,
            )
        )
    import torch

    report = evaluate_prepared(model, cases, torch.device("cpu"), all_exits=False, bilateral=FIT)
    rows = {row["image"]: row for row in report["images"]}
    assert (
        rows["c0"]["score_basis"] == rows["c1"]["score_basis"] == BOTH_BREASTS
        and rows["c2"]["score_basis"] == THIS_IMAGE
    )
    assert rows["c0"]["score"] == pytest.approx(
        bilateral_score(rows["c0"]["raw_score"], rows["c1"]["raw_score"], FIT), abs=1e-5
    )
    assert rows["c2"]["score"] == pytest.approx(rows["c2"]["raw_score"], abs=1e-6)
    assert {"mil_score", "max_probability", "laterality", "view"} <= set(rows["c0"])


def test_predictor_and_hds_predict_compare_the_breasts_of_a_study(phantom_model, tmp_path, monkeypatch):
    from synthetic import phantom, write_dicom

    from hds_core.infer import Predictor
    from hds_core.io import read_image
    from mammo_viewer.headless import main as predict_main

    weights = tmp_path / "w" / "bilateral.safetensors"
    weights.parent.mkdir()
    shutil.copy(phantom_model, weights)
    document = json.loads(phantom_model.with_suffix(".json").read_text())
    document["bilateral"] = FIT
    weights.with_suffix(".json").write_text(json.dumps(document))
    study = tmp_path / "study"
    study.mkdir()
    files = {}
    for side, seed, mass in (("L", 30, True), ("R", 31, False)):
        pixels, _ = phantom((128, 128), seed=seed, crisp=mass, mass=mass)
        files[side] = write_dicom(
            study / f"{side}_CC.dcm",
            pixels,
            ImagerPixelSpacing=[0.4, 0.4],
            ImageLaterality=side,
            ViewPosition="CC",
            StudyInstanceUID="1.2.3.4",
        )
    predictor = Predictor(weights, device="cpu")
    left = predictor.predict(read_image(files["L"]))
    assert left.score_basis == THIS_IMAGE and left.score == left.single_image_score
    right = predictor.predict(read_image(files["R"]))
    predictor.compare_breasts([left, right])
    assert left.score_basis == right.score_basis == BOTH_BREASTS
    assert left.score == pytest.approx(bilateral_score(left.raw_score, right.raw_score, FIT))
    assert left.to_dict(0.5)["single_image_score"] == round(left.single_image_score, 4)

    monkeypatch.chdir(tmp_path)
    assert predict_main([str(study), "--weights", str(weights), "--device", "cpu"]) == 0
    results = {
        json.loads(p.read_text())["laterality"]: json.loads(p.read_text())
        for p in (tmp_path / "hds-results").glob("*.json")
    }
    assert results["L"]["score_basis"] == BOTH_BREASTS and results["L"]["score"] == round(left.score, 4)


def test_the_other_breast_can_only_lower_a_score():
    """Data where the other breast's score goes WITH the label (bilateral disease): the fit
    keeps that weight at 0 rather than learn a comparison that raises a view's score."""
    rng = np.random.default_rng(4)
    raw, keys, labels = [], [], []
    for patient in range(1000):
        z = rng.normal(0, 1.5, 2)
        for side, mine, other in (("L", z[0], z[1]), ("R", z[1], z[0])):
            raw.append(sigmoid(mine))
            keys.append(ViewKey(f"p{patient}", side, "CC"))
            labels.append(int(rng.random() < sigmoid(1.0 * mine + 1.0 * other)))
    fit = fit_bilateral(raw, keys, labels)
    assert fit["weights"][1] == 0.0 and fit["weights"][0] > 0.5
