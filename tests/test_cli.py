"""hds-train -> hds-eval -> hds-predict end to end on tiny phantom data."""

import json
import subprocess
import sys

import numpy as np

from hds_core.eval.cli import main as eval_main
from hds_core.infer.cli import main as predict_main
from synthetic import phantom, write_dicom


def test_train_command_writes_checkpoints(phantom_dataset, tmp_path, capsys):
    from hds_core.train.cli import main as train_main
    from conftest import TINY_NET_ARGS

    code = train_main(["--dataset", f"folder:{phantom_dataset}", "--out", str(tmp_path), "--epochs", "1", "--crop", "64", "64",
                       "--samples-per-epoch", "4", "--folds", "2", "--mode", "seg", "--precision", "fp32", *TINY_NET_ARGS])
    assert code == 0 and "trained 1 epochs" in capsys.readouterr().out
    meta = json.loads((tmp_path / "last.json").read_text())
    assert meta["mode"] == "seg" and meta["score_source"] == "max_probability" and meta["model_name"] == "hds-seg"


def test_eval_prints_the_table_and_writes_json(trained_phantom_model, phantom_dataset, tmp_path, capsys):
    weights, summary = trained_phantom_model
    out = tmp_path / "eval.json"
    assert eval_main(["--dataset", f"folder:{phantom_dataset}", "--weights", str(weights), "--json", str(out), "--val-split"]) == 0
    printed = capsys.readouterr().out
    assert "final" in printed and "exit 1" in printed and "Dice(mass)" in printed
    report = json.loads(out.read_text())
    assert len(report["exits"]) == 6
    for key in ("image_auc", "image_accuracy", "sensitivity", "specificity", "dice_mass_images",
                "fp_regions_per_normal_image", "threshold"):
        assert key in report["final"]
    assert len(report["threshold_table"]) == 19
    # The validation split is the training run's: hds-eval reproduces its last logged numbers.
    last = summary["last"]["val"]
    assert report["final"]["dice_mass_images"] == last["dice_mass_images"]
    assert report["final"]["image_accuracy"] == last["image_accuracy"]


def test_predict_writes_json_per_image_and_reports_bad_files(phantom_model, tmp_path, capsys):
    weights = phantom_model
    study = tmp_path / "study"
    study.mkdir()
    for i in range(2):
        pixels, _ = phantom((256, 192), seed=200 + i, mass=i == 0)
        write_dicom(study / f"img{i}.dcm", pixels, ImagerPixelSpacing=[0.4, 0.4], ImageLaterality="R", ViewPosition="CC")
    (study / "broken.dcm").write_bytes(b"DICM" * 10)
    out = tmp_path / "out"
    code = predict_main([str(study), "--out", str(out), "--weights", str(weights), "--threshold", "0.4"])
    err = capsys.readouterr().err
    assert code == 1 and "broken.dcm" in err and "wrote 2 result(s)" in err
    result = json.loads((out / "img0.json").read_text())
    assert set(result) >= {"score", "lesions", "model", "threshold", "pixel_spacing_mm", "sop_instance_uid"}
    assert result["model"]["weights_sha256"] and result["threshold"] == 0.4
    assert result["lesions"] and result["lesions"][0]["area_mm2"] > 0
    contour = np.asarray(result["lesions"][0]["contour_xy"])
    assert contour.shape[1] == 2 and contour[:, 0].max() < 192 and contour[:, 1].max() < 256
    # Existing results are not overwritten without --force.
    assert predict_main([str(study / "img0.dcm"), "--out", str(out), "--weights", str(weights)]) == 1
    assert "--force" in capsys.readouterr().err
    assert predict_main([str(study / "img0.dcm"), "--out", str(out), "--weights", str(weights), "--force"]) == 0


def test_predict_on_the_demo_study_names_results_by_patient(phantom_model, tmp_path, capsys):
    import resources

    weights = phantom_model
    assert predict_main([str(resources.demo_study()), "--out", str(tmp_path), "--weights", str(weights)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["DEMO-017_L_MLO.json", "DEMO-017_R_MLO.json", "DEMO-091_L_MLO.json", "DEMO-091_R_MLO.json",
                     "L_MLO.json", "R_MLO.json"]
    assert "wrote 6 result(s)" in capsys.readouterr().err


def test_predict_without_weights_says_so(tmp_path, capsys):
    assert predict_main([str(tmp_path), "--out", str(tmp_path / "o"), "--weights", str(tmp_path / "none.safetensors")]) == 2
    assert "not found" in capsys.readouterr().err


def test_console_scripts_are_installed():
    for name in ("hds-train", "hds-eval", "hds-predict", "hds-export"):
        result = subprocess.run([sys.executable, "-c", f"from importlib.metadata import entry_points; "
                                 f"print([e.value for e in entry_points(group='console_scripts', name='{name}')])"],
                                capture_output=True, text=True)
        assert ":main" in result.stdout


def test_predict_defaults_to_a_results_folder_here_but_never_inside_the_input(phantom_model, tmp_path, monkeypatch, capsys):
    weights = phantom_model
    study = tmp_path / "study"
    study.mkdir()
    pixels, _ = phantom((256, 192), seed=7, mass=True)
    write_dicom(study / "img.dcm", pixels, ImagerPixelSpacing=[0.4, 0.4], ImageLaterality="L", ViewPosition="MLO")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert predict_main([str(study), "--weights", str(weights)]) == 0
    assert (work / "hds-results" / "img.json").is_file()
    monkeypatch.chdir(study)
    before = sorted(p.name for p in study.iterdir())
    assert predict_main([str(study), "--weights", str(weights)]) == 2
    assert "inside an input folder" in capsys.readouterr().err
    assert sorted(p.name for p in study.iterdir()) == before
