"""Lesion-level detection, FROC, patient-bootstrap intervals and calibration, on cases whose
answers are known by construction; and hds-eval reporting each dataset on its own."""

import json

import numpy as np
import pytest

from hds_core.eval.detection import froc, match_lesions, sensitivity_at_fp
from hds_core.eval.uncertainty import bootstrap_by_patient, reliability


def disc(shape, centre, radius):
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    return np.hypot(rows - centre[0], cols - centre[1]) <= radius


def test_a_lesion_is_found_by_overlap_or_by_a_mark_on_its_centre_and_other_marks_are_false():
    shape = (100, 100)
    truth = disc(shape, (20, 20), 8) | disc(shape, (70, 70), 10) | disc(shape, (20, 80), 6)
    probability = np.zeros(shape)
    probability[disc(shape, (21, 21), 7)] = 0.9  # lesion A: IoU well above 0.1
    probability[68:73, 68:73] = 0.9  # lesion B: a small mark on its centre (IoU 25/317 < 0.1)
    probability[disc(shape, (80, 15), 5)] = 0.9  # nothing there: a false positive
    probability[50, 50] = 0.9  # a one-pixel speck, below the drawing size
    # lesion C (20, 80) is missed
    result = match_lesions(probability, truth, 0.5, min_pixels=4)
    assert (result.lesions, result.found, result.false_positives) == (3, 2, 1)
    assert match_lesions(probability, truth, 0.5, min_pixels=1).false_positives == 2  # the speck counts when drawn
    assert match_lesions(probability, truth, 0.95).found == 0
    # A region over most of the image contains every centroid but says nothing about where a
    # lesion is: larger than 10x a lesion (what IoU 0.1 allows), it finds none.
    everywhere = np.full(shape, 0.9)
    assert (lambda r: (r.found, r.false_positives))(match_lesions(everywhere, truth, 0.5)) == (0, 1)
    normal = match_lesions(probability, np.zeros(shape, bool), 0.5, min_pixels=4)
    assert (normal.lesions, normal.found, normal.false_positives) == (0, 0, 3)  # every mark on a normal is false


def test_froc_reads_the_best_sensitivity_at_or_below_each_false_positive_rate():
    curve = [
        {"threshold": 0.2, "lesion_sensitivity": 1.0, "fp_per_image": 3.0},
        {"threshold": 0.5, "lesion_sensitivity": 0.75, "fp_per_image": 1.0},
        {"threshold": 0.7, "lesion_sensitivity": 0.5, "fp_per_image": 0.5},
        {"threshold": 0.9, "lesion_sensitivity": 0.25, "fp_per_image": 0.0},
    ]
    assert sensitivity_at_fp(curve) == {"0.25": 0.25, "0.5": 0.5, "1": 0.75, "2": 0.75}
    # Two images: one lesion found at any threshold up to 0.8 (its probability), and one
    # false region at probability 0.4 on the second image.
    shape = (40, 40)
    truth = [disc(shape, (20, 20), 6), np.zeros(shape, bool)]
    first = np.where(disc(shape, (20, 20), 6), 0.8, 0.0)
    second = np.where(disc(shape, (10, 10), 4), 0.4, 0.0)
    result = froc([first, second], truth, thresholds=(0.3, 0.6, 0.9))
    assert [(p["lesion_sensitivity"], p["fp_per_image"]) for p in result["curve"]] == [
        (1.0, 0.5),
        (1.0, 0.0),
        (0.0, 0.0),
    ]
    assert result["sensitivity_at_fp"] == {"0.25": 1.0, "0.5": 1.0, "1": 1.0, "2": 1.0}


def test_the_bootstrap_draws_whole_patients():
    rows = ["a1", "a2", "a3", "b1", "b2", "c1"]
    patients = ["A", "A", "A", "B", "B", "C"]
    seen = []

    def statistic(drawn):
        counts = {p: sum(r.startswith(p.lower()) for r in drawn) for p in "ABC"}
        seen.append(counts)
        return float(len(drawn))

    low, high = bootstrap_by_patient(rows, patients, statistic, samples=300, seed=1)
    # Every resample holds each drawn patient's rows all together.
    assert all(c["A"] % 3 == 0 and c["B"] % 2 == 0 for c in seen)
    assert 3 <= low <= high <= 9  # three patients drawn: between 3x1 and 3x3 rows
    assert bootstrap_by_patient(rows, patients, lambda drawn: None) is None
    # A perfect separation has an interval of [1, 1]; a coin has one around 0.5.
    perfect = bootstrap_by_patient(
        [(0.9, 1), (0.1, 0)] * 10, [f"p{i}" for i in range(20)], lambda d: _auc(d), samples=200
    )
    assert perfect == [1.0, 1.0]


def _auc(drawn):
    from hds_core.eval.metrics import roc_auc

    return roc_auc([s for s, _ in drawn], [label for _, label in drawn])


def test_calibration_error_and_reliability_table():
    error, table = reliability([0.85] * 10, [1] * 8 + [0] * 2)  # says 0.85, is right 8 times in 10
    assert error == pytest.approx(0.05) and sum(row["count"] for row in table) == 10
    full = next(row for row in table if row["count"])
    assert (full["low"], full["high"], full["fraction_positive"]) == (pytest.approx(0.8), pytest.approx(0.9), 0.8)
    error, _ = reliability([0.95] * 4 + [0.05] * 4, [1, 0, 1, 0, 1, 0, 1, 0])  # confident and right half the time
    assert error == pytest.approx(0.45)
    assert reliability([], []) == (None, [])


def test_hds_eval_reports_each_dataset_on_its_own(phantom_model, tmp_path, capsys):
    import synthetic

    from hds_core.eval.cli import main as eval_main

    films = synthetic.phantom_folder_dataset(tmp_path / "films", n_images=6, seed=10)
    digital = synthetic.phantom_folder_dataset(tmp_path / "digital", n_images=4, seed=30)
    out = tmp_path / "eval.json"
    assert (
        eval_main(
            [
                "--dataset",
                f"folder:{films}",
                "--dataset",
                f"folder:{digital}",
                "--weights",
                str(phantom_model),
                "--json",
                str(out),
                "--final-only",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert set(report["per_dataset"]) == {f"folder:{films}", f"folder:{digital}"}
    assert "final" not in report and "images" not in report  # nothing pooled across datasets
    assert f"== folder:{films} ==" in printed and "FROC lesion sensitivity" in printed
    for spec, n in ((f"folder:{films}", 6), (f"folder:{digital}", 4)):
        block = report["per_dataset"][spec]
        assert (
            block["n_images"] == n and len(block["images"]) == n and {r["dataset"] for r in block["images"]} == {spec}
        )
        for key in (
            "lesion_sensitivity",
            "fp_regions_per_image",
            "image_auc_ci",
            "lesion_sensitivity_ci",
            "ece",
            "reliability",
        ):
            assert key in block, key
        assert set(block["froc_sensitivity_at_fp"]) == {"0.25", "0.5", "1", "2"}
        # Re-derived from the per-image rows.
        rows = block["images"]
        assert block["lesion_sensitivity"] == sum(r["found"] for r in rows) / sum(r["lesions"] for r in rows)
        assert block["fp_regions_per_image"] == sum(r["false_positives"] for r in rows) / len(rows)
    one = tmp_path / "one.json"
    assert (
        eval_main(["--dataset", f"folder:{films}", "--weights", str(phantom_model), "--json", str(one), "--final-only"])
        == 0
    )
    single = json.loads(one.read_text())
    assert single["final"] == single["per_dataset"][f"folder:{films}"]["final"]  # top-level keys with one dataset
