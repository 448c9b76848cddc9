"""What the shipped weights take from a cross-validation: choices made on the out-of-fold rows
of all folds, a calibration fitted only where both outcomes exist, the two-breast fit, the
figures cross-fitted (each fold scored by fits on the other folds) and the slider's table."""

import json
import math

import numpy as np
import pytest

from hds_core.findings import ViewKey
from hds_core.infer.bilateral import final_scores
from hds_core.report.operating_point import describe_operating_point, operating_point
from hds_core.train.cv_export import cv_choices, pooled_threshold_table, slider_table
from hds_core.train.shipping import choose_threshold

FILM, DIGITAL = "minimias:/films", "folder:/digital"


def sigmoid(z):
    return 1 / (1 + math.exp(-z))


def table(rates):
    return [
        {
            "threshold": t,
            "sensitivity": s,
            "specificity": p,
            "contour_sensitivity": s,
            "contour_specificity": p,
            "dice_mass_images": s / 2,
            "fp_regions_per_normal_image": None if p is None else 1 - p,
        }
        for t, s, p in rates
    ]


def block(rows, rates, threshold=0.5):
    labels = [r["label"] for r in rows]
    return {
        "n_images": len(rows),
        "n_mass_images": sum(labels),
        "n_normal_images": len(labels) - sum(labels),
        "threshold": threshold,
        "score_source": "mil",
        "images": rows,
        "threshold_table": table(rates),
        "final": {"image_auc": None, "dice_mass_images": 0.3, "fp_regions_per_normal_image": 0.5},
        "lesion_sensitivity": 0.5,
        "fp_regions_per_image": 1.0,
        "froc_sensitivity_at_fp": {"0.25": 0.1, "0.5": 0.2, "1": 0.3, "2": 0.4},
    }


def synthetic_cv(root, folds=3, patients_per_fold=120, seed=0, other_weight=-1.0):
    """Film patients with both breasts: the label follows the map maximum compared with the
    other breast; the MIL score is noise. Digital patients: one breast, every image a lesion."""
    rng = np.random.default_rng(seed)
    for k in range(folds):
        film, digital = [], []
        for p in range(patients_per_fold):
            z = rng.normal(0, 1.5, 2)
            for side, mine, other in (("L", z[0], z[1]), ("R", z[1], z[0])):
                label = int(rng.random() < sigmoid(1.5 * mine + other_weight * other - 1.0))
                film.append(
                    {
                        "image": f"f{k}-{p}{side}",
                        "patient": f"f{k}-{p}",
                        "dataset": FILM,
                        "laterality": side,
                        "view": "MLO",
                        "label": label,
                        "mil_score": float(rng.uniform(0.01, 0.99)),
                        "max_probability": sigmoid(mine),
                        "raw_score": 0.5,
                        "score": 0.5,
                        "lesions": label,
                        "found": label,
                        "false_positives": 0,
                        "dice": 0.5 if label else None,
                    }
                )
        for p in range(20):
            digital.append(
                {
                    "image": f"d{k}-{p}",
                    "patient": f"d{k}-{p}",
                    "dataset": DIGITAL,
                    "laterality": "L",
                    "view": "CC",
                    "label": 1,
                    "mil_score": 0.6,
                    "max_probability": float(rng.uniform(0.3, 0.99)),
                    "raw_score": 0.6,
                    "score": 0.6,
                    "lesions": 1,
                    "found": 1,
                    "false_positives": 1,
                    "dice": 0.4,
                }
            )
        fold_dir = root / f"fold-{k}"
        fold_dir.mkdir(parents=True)
        rates = [(0.3, 1.0, 0.2 + 0.1 * k), (0.5, 0.8, 0.7), (0.7, 0.5, 0.9)]
        (fold_dir / "oof.json").write_text(
            json.dumps(
                {
                    "fold": k,
                    "per_dataset": {
                        FILM: block(film, rates),
                        DIGITAL: block(digital, [(0.3, 1.0, None), (0.5, 0.9, None), (0.7, 0.6, None)]),
                    },
                }
            )
        )
    return root


def test_pooled_table_weights_each_rate_by_the_images_it_is_a_rate_of():
    a = ({"n_images": 10, "n_mass_images": 2, "n_normal_images": 8}, table([(0.5, 1.0, 0.5)]))
    b = ({"n_images": 10, "n_mass_images": 6, "n_normal_images": 4}, table([(0.5, 0.5, 1.0)]))
    row = pooled_threshold_table([a, b])[0]
    assert row["contour_sensitivity"] == pytest.approx((2 * 1.0 + 6 * 0.5) / 8)
    assert row["contour_specificity"] == pytest.approx((8 * 0.5 + 4 * 1.0) / 12)
    assert row["fp_regions_per_normal_image"] == pytest.approx((8 * 0.5 + 4 * 0.0) / 12)


def test_choices_come_from_all_folds_and_figures_are_cross_fitted(tmp_path):
    choices = cv_choices(synthetic_cv(tmp_path / "cv"))
    # The map maximum carries the signal here, the MIL head none: chosen by out-of-fold AUC.
    assert choices["score_source"] == "max_probability" and "MIL head" in choices["score_source_rule"]
    # Calibrated on the films only: the digital set has no normals.
    assert choices["calibration"]["n"] == 3 * 240 and choices["film_dataset"] == FILM
    weights = choices["bilateral"]["weights"]
    assert weights[0] == pytest.approx(1.5, abs=0.35) and weights[1] == pytest.approx(-1.0, abs=0.35)
    # The default threshold: Youden's J on the pooled film table (0.5: 0.8 + 0.7 - 1 beats 0.3 and 0.7).
    assert choices["default_threshold"] == choose_threshold(choices["threshold_tables"][FILM])[0] == 0.5
    # Fold 0's rows are scored by fits on folds 1 and 2 only.
    film = choices["per_dataset"][FILM]
    others = [
        json.loads((tmp_path / "cv" / f"fold-{k}" / "oof.json").read_text())["per_dataset"][FILM]["images"]
        for k in (1, 2)
    ]
    from hds_core.infer.bilateral import fit_bilateral
    from hds_core.infer.calibration import fit_logistic

    rows = [r for fold in others for r in fold]
    raw = [r["max_probability"] for r in rows]
    calibration = fit_logistic(raw, [r["label"] for r in rows])
    bilateral = fit_bilateral(
        raw, [ViewKey(r["patient"], r["laterality"], r["view"]) for r in rows], [r["label"] for r in rows]
    )
    fold0 = [r for r in film["images"] if r["fold"] == 0]
    expected = final_scores(
        [r["max_probability"] for r in fold0],
        [ViewKey(r["patient"], r["laterality"], r["view"]) for r in fold0],
        calibration,
        bilateral,
    )
    assert [r["score"] for r in fold0] == pytest.approx([s for s, _ in expected])
    # Comparing the breasts helps exactly as the data were made: AUC up from the single image's.
    assert film["shipped_score"]["image_auc"] > film["single_image_score"]["image_auc"] + 0.03
    assert film["images_scored_from_both_breasts"] == 3 * 240
    assert choices["bilateral"] is not None and choices["bilateral_rule"].endswith("kept")
    assert choices["per_dataset"][DIGITAL]["shipped_score"]["image_auc"] is None  # no normals: no AUC
    assert choices["per_dataset"][DIGITAL]["over_folds"]["lesion_sensitivity_at_1_fp_per_image"][
        "mean"
    ] == pytest.approx(0.3)


def test_the_slider_table_says_both_film_and_digital_figures(tmp_path):
    choices = cv_choices(synthetic_cv(tmp_path / "cv"))
    rows = slider_table(choices["threshold_tables"], FILM)
    point = operating_point(rows, 0.5)
    assert point["digital_contour_sensitivity"] == pytest.approx(0.9)
    text = describe_operating_point(point)
    assert "of mass films" in text and "digital images with a lesion: a contour on 90%" in text


def test_an_out_of_fold_report_from_an_older_version_is_refused(tmp_path):
    root = synthetic_cv(tmp_path / "cv", folds=2, patients_per_fold=10)
    path = root / "fold-0" / "oof.json"
    report = json.loads(path.read_text())
    for row in report["per_dataset"][FILM]["images"] + report["per_dataset"][DIGITAL]["images"]:
        del row["mil_score"]
    path.write_text(json.dumps(report))
    with pytest.raises(ValueError, match="older hds-train"):
        cv_choices(root)


def test_the_viewer_says_what_the_score_is_worth():
    from hds_core.report.operating_point import score_trust

    assert score_trust({}) is None
    metadata = {
        "cross_validation": {
            "folder:/data/cdd-cesm/": {
                "shipped_score": {"image_auc": None, "lesion_sensitivity": 0.405, "fp_regions_per_image": 2.97}
            },
            "minimias:/data/mini-mias": {"shipped_score": {"image_auc": 0.58, "image_auc_ci": [0.48, 0.68]}},
        }
    }
    text = score_trust(metadata["cross_validation"])
    assert "mini-mias: AUC 0.58 [0.48, 0.68] — no better than chance" in text
    assert "cdd-cesm: 40% of lesions outlined at the default threshold, 3.0 false regions per image" in text
    assert text.index("mini-mias") < text.index("cdd-cesm")  # the dataset with normals (an AUC) first
    metadata["cross_validation"]["minimias:/data/mini-mias"]["shipped_score"]["image_auc_ci"] = [0.7, 0.9]
    assert "chance" not in score_trust(metadata["cross_validation"])


def test_a_two_breast_combination_that_does_not_help_is_not_shipped(tmp_path):
    # Bilateral disease: the other breast's score goes WITH the label, so its weight is held at
    # 0, the combination scores like the calibration, and it brings no gain.
    choices = cv_choices(synthetic_cv(tmp_path / "cv", other_weight=1.0))
    assert choices["bilateral"] is None and choices["bilateral_fit"]["weights"][1] == 0.0
    assert choices["bilateral_rule"].endswith("not shipped (no gain)")
    film = choices["per_dataset"][FILM]
    assert film["images_scored_from_both_breasts"] == 0
    assert film["shipped_score"]["image_auc"] == film["single_image_score"]["image_auc"]


def test_the_default_thresholds_figures_on_patients_its_choice_never_saw(tmp_path):
    """Fold k's row at the threshold the rule picks on the other folds, pooled by the images
    each rate is of. Film tables (contour sensitivity, specificity at 0.5 and 0.7), 10 mass
    and 10 normal films a fold: fold 0 is good at 0.5 (0.95/0.95) and poor at 0.7 (0.3/0.95);
    folds 1 and 2 are the other way round (0.6/0.6, 0.8/0.9). Without fold 0 Youden's J is
    0.2 at 0.5 and 0.7 at 0.7; without fold 1 (or 2) 0.55 at 0.5 and 0.475 at 0.7. So the
    picks are 0.7, 0.5, 0.5 and the rows (0.3, 0.95), (0.6, 0.6), (0.6, 0.6)."""
    from hds_core.train.cv_export import cross_fitted_operating_point

    def fold(rates, digital):
        film = {
            "n_mass_images": 10,
            "n_normal_images": 10,
            "threshold_table": [
                {
                    "threshold": t,
                    "contour_sensitivity": s,
                    "contour_specificity": p,
                    "dice_mass_images": s / 2,
                    "fp_regions_per_normal_image": 1 - p,
                }
                for t, (s, p) in zip((0.5, 0.7), rates)
            ],
        }
        lesions = {
            "n_mass_images": 5,
            "n_normal_images": 0,
            "threshold_table": [
                {
                    "threshold": t,
                    "contour_sensitivity": s,
                    "contour_specificity": None,
                    "dice_mass_images": s / 2,
                    "fp_regions_per_normal_image": None,
                }
                for t, s in zip((0.5, 0.7), digital)
            ],
        }
        return {"per_dataset": {FILM: film, DIGITAL: lesions}}

    folds = [
        fold([(0.95, 0.95), (0.3, 0.95)], (1.0, 0.4)),
        fold([(0.6, 0.6), (0.8, 0.9)], (0.9, 0.8)),
        fold([(0.6, 0.6), (0.8, 0.9)], (0.9, 0.8)),
    ]
    result = cross_fitted_operating_point(folds, FILM)
    assert result["thresholds"] == [0.7, 0.5, 0.5]
    film, digital = result["per_dataset"][FILM], result["per_dataset"][DIGITAL]
    assert film["contour_sensitivity"] == pytest.approx((0.3 + 0.6 + 0.6) / 3)
    assert film["contour_specificity"] == pytest.approx((0.95 + 0.6 + 0.6) / 3)
    assert film["fp_regions_per_normal_image"] == pytest.approx((0.05 + 0.4 + 0.4) / 3)
    assert digital["contour_sensitivity"] == pytest.approx((0.4 + 0.9 + 0.9) / 3)
    assert digital["contour_specificity"] is None  # no normals
    # The export's choices carry it (synthetic_cv: every fold picks 0.5 there).
    assert cv_choices(synthetic_cv(tmp_path / "cv"))["cross_fitted_threshold"]["thresholds"] == [0.5, 0.5, 0.5]


def test_the_calibration_and_each_dataset_record_their_domain(tmp_path):
    """A calibration holds for the domain it was fitted on (the Predictor shows other images'
    scores raw); a folder dataset's domain is given (hds-export --domain), a kind's is known."""
    choices = cv_choices(synthetic_cv(tmp_path / "cv"), domains={DIGITAL: "digital"})
    assert choices["calibration"]["domain"] == "film"
    assert choices["per_dataset"][FILM]["domain"] == "film" and choices["per_dataset"][DIGITAL]["domain"] == "digital"
    assert cv_choices(synthetic_cv(tmp_path / "cv2"))["per_dataset"][DIGITAL]["domain"] is None


def test_export_takes_a_folder_datasets_domain():
    from hds_core.train.export_cli import parser

    args = parser().parse_args(
        ["a.safetensors", "b.safetensors", "--dataset", DIGITAL, "--domain", f"{DIGITAL}=digital"]
    )
    assert dict(args.domains) == {DIGITAL: "digital"}
    with pytest.raises(SystemExit):
        parser().parse_args(["a", "b", "--dataset", DIGITAL, "--domain", f"{DIGITAL}=cesm"])


def test_the_cards_ablation_sets_a_run_on_fewer_folds_beside_the_shipped_recipe_on_the_same_folds(tmp_path):
    import shutil

    from hds_core.train.card_tables import ablation_table

    shipped = synthetic_cv(tmp_path / "cv")
    fewer = synthetic_cv(tmp_path / "fewer", seed=1)
    shutil.rmtree(fewer / "fold-2")
    lines = ablation_table(shipped, [("scratch", fewer)])
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("**shipped recipe**", "0, 1, 2", "`films`"),
        ("**shipped recipe**", "0, 1, 2", "`digital`"),
        ("**shipped recipe**", "0, 1", "`films`"),
        ("**shipped recipe**", "0, 1", "`digital`"),
        ("scratch", "0, 1", "`films`"),
        ("scratch", "0, 1", "`digital`"),
    ]
    # The film AUC by the map maximum carries the synthetic signal; the MIL head's (noise) none.
    assert float(rows[0][4]) > 0.6 and abs(float(rows[0][3].split()[0]) - 0.5) < 0.15


def test_a_kept_ablation_file_gives_the_cards_rows_of_its_run_folder(tmp_path):
    from hds_core.train.card_tables import ablation_report, ablation_table

    shipped = synthetic_cv(tmp_path / "cv")
    run = synthetic_cv(tmp_path / "run", seed=1)
    kept = tmp_path / "kept.json"
    kept.write_text(json.dumps(ablation_report(run, "a lever")))
    assert json.loads(kept.read_text())["run"] == "a lever"
    assert ablation_table(shipped, [("x", kept)]) == ablation_table(shipped, [("x", run)])


def test_the_suppression_the_folds_were_evaluated_with_is_the_one_shipped(tmp_path):
    from hds_core.train.cv_export import cv_choices

    cv = synthetic_cv(tmp_path / "cv")
    assert cv_choices(cv)["suppress"] == []
    folds = sorted(cv.glob("fold-*/oof.json"))
    for path in folds[:1]:
        path.write_text(json.dumps({**json.loads(path.read_text()), "suppress": ["breast", "pectoral"]}))
    with pytest.raises(ValueError, match="different suppressions"):
        cv_choices(cv)
    for path in folds[1:]:
        path.write_text(json.dumps({**json.loads(path.read_text()), "suppress": ["breast", "pectoral"]}))
    assert cv_choices(cv)["suppress"] == ["breast", "pectoral"]
