"""hds-train -> hds-eval -> hds-predict end to end on tiny phantom data."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from synthetic import phantom, write_dicom

from hds_core.eval.cli import main as eval_main
from mammo_viewer.headless import main as predict_main


def test_train_command_writes_checkpoints(phantom_dataset, tmp_path, capsys):
    from conftest import TINY_NET_ARGS

    from hds_core.train.cli import main as train_main

    code = train_main(
        [
            "--dataset",
            f"folder:{phantom_dataset}",
            "--out",
            str(tmp_path),
            "--epochs",
            "1",
            "--crop",
            "64",
            "64",
            "--samples-per-epoch",
            "4",
            "--folds",
            "2",
            "--mode",
            "seg",
            "--precision",
            "fp32",
            *TINY_NET_ARGS,
        ]
    )
    assert code == 0 and "trained 1 epochs" in capsys.readouterr().out
    meta = json.loads((tmp_path / "last.json").read_text())
    assert meta["mode"] == "seg" and meta["score_source"] == "max_probability" and meta["model_name"] == "hds-seg"


def test_eval_prints_the_table_and_writes_json(trained_phantom_model, phantom_dataset, tmp_path, capsys):
    weights, summary = trained_phantom_model
    out = tmp_path / "eval.json"
    assert (
        eval_main(
            ["--dataset", f"folder:{phantom_dataset}", "--weights", str(weights), "--json", str(out), "--val-split"]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "final" in printed and "exit 1" in printed and "Dice(mass)" in printed
    report = json.loads(out.read_text())
    assert len(report["exits"]) == 6
    for key in (
        "image_auc",
        "image_accuracy",
        "sensitivity",
        "specificity",
        "dice_mass_images",
        "fp_regions_per_normal_image",
        "threshold",
    ):
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
        write_dicom(
            study / f"img{i}.dcm", pixels, ImagerPixelSpacing=[0.4, 0.4], ImageLaterality="R", ViewPosition="CC"
        )
    (study / "broken.dcm").write_bytes(b"DICM" * 10)
    out = tmp_path / "out"
    code = predict_main([str(study), "--out", str(out), "--weights", str(weights), "--threshold", "0.4"])
    err = capsys.readouterr().err
    assert code == 1 and "broken.dcm" in err and "wrote 2 result(s)" in err
    result = json.loads((out / "study_img0.json").read_text())
    assert set(result) >= {"score", "lesions", "model", "threshold", "pixel_spacing_mm", "sop_instance_uid"}
    assert result["model"]["weights_sha256"] and result["threshold"] == 0.4
    assert result["lesions"] and result["lesions"][0]["area_mm2"] > 0
    contour = np.asarray(result["lesions"][0]["contour_xy"])
    assert contour.shape[1] == 2 and contour[:, 0].max() < 192 and contour[:, 1].max() < 256
    # A rerun leaves identical results alone; a result with other content is not overwritten without --force.
    assert (
        predict_main([str(study / "img0.dcm"), "--out", str(out), "--weights", str(weights), "--threshold", "0.4"]) == 0
    )
    assert "(1 unchanged)" in capsys.readouterr().err
    assert predict_main([str(study / "img0.dcm"), "--out", str(out), "--weights", str(weights)]) == 1
    assert "exists already with other content (use --force" in capsys.readouterr().err
    assert json.loads((out / "study_img0.json").read_text())["threshold"] == 0.4
    assert predict_main([str(study / "img0.dcm"), "--out", str(out), "--weights", str(weights), "--force"]) == 0
    assert json.loads((out / "study_img0.json").read_text())["threshold"] != 0.4


def test_predict_names_results_by_study_folder_whatever_the_order(phantom_model, tmp_path, capsys):
    import resources

    weights = phantom_model
    demo = resources.demo_study()
    expected = [
        "DEMO-014_L_MLO.json",
        "DEMO-014_R_MLO.json",
        "DEMO-017_L_MLO.json",
        "DEMO-017_R_MLO.json",
        "DEMO-091_L_MLO.json",
        "DEMO-091_R_MLO.json",
        "DEMO-P126_L_CC.json",
        "DEMO-P126_L_MLO.json",
    ]
    assert predict_main([str(demo), "--out", str(tmp_path / "a"), "--weights", str(weights)]) == 0
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == expected
    assert "wrote 8 result(s)" in capsys.readouterr().err
    # The same files in another order (and one study alone) get the same names.
    studies = [str(demo / name) for name in ("DEMO-091", "DEMO-P126", "DEMO-017", "DEMO-014")]
    assert predict_main([*studies, "--out", str(tmp_path / "b"), "--weights", str(weights)]) == 0
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == expected
    assert predict_main([studies[0], "--out", str(tmp_path / "c"), "--weights", str(weights)]) == 0
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == expected[4:6]
    capsys.readouterr()


def test_same_names_in_two_folders_of_the_same_name_stay_apart(phantom_model, tmp_path, capsys):
    pixels, _ = phantom((128, 96), seed=9)
    for root in ("site1", "site2"):
        (tmp_path / root / "study").mkdir(parents=True)
        write_dicom(tmp_path / root / "study" / "R_CC.dcm", pixels, ImageLaterality="R", ViewPosition="CC")
    out = tmp_path / "out"
    assert (
        predict_main(
            [str(tmp_path / "site1"), str(tmp_path / "site2"), "--out", str(out), "--weights", str(phantom_model)]
        )
        == 0
    )
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 2 and all(n.startswith("study_R_CC_") for n in names)  # each with its SOP Instance UID
    capsys.readouterr()


def test_a_rerun_that_adds_reports_succeeds_and_several_studies_name_their_reports(phantom_model, tmp_path, capsys):
    import resources

    demo, out, weights = resources.demo_study(), tmp_path / "json", str(phantom_model)
    assert predict_main([str(demo), "--out", str(out), "--weights", weights]) == 0
    pdf, seg, sr = tmp_path / "r.pdf", tmp_path / "seg", tmp_path / "sr"
    reports = ["--pdf", str(pdf), "--seg-dir", str(seg), "--sr-dir", str(sr)]
    assert predict_main([str(demo), "--out", str(out), "--weights", weights, *reports]) == 0
    err = capsys.readouterr().err
    assert "(8 unchanged)" in err and "failed" not in err
    # Each report is named by its study's folder and the study's fingerprint (never a patient's name).
    folders = ["DEMO-014", "DEMO-017", "DEMO-091", "DEMO-P126"]
    assert sorted(p.name.rsplit("-", 1)[0] for p in tmp_path.glob("r-*.pdf")) == [f"r-{f}" for f in folders]
    assert re.search(r"study DEMO-014-[0-9a-f]{10}: 2 image\(s\): L_MLO.dcm, R_MLO.dcm", err)
    # Per study: the TID 1500 SR, the CAD SR and the PDF as DICOM.
    assert sorted(p.name.rsplit("-", 1)[0] for p in sr.iterdir()) == sorted(folders * 3)
    assert len(list(seg.iterdir())) == 8
    before = {p: p.stat().st_mtime_ns for p in [*tmp_path.glob("r-*.pdf"), *seg.iterdir(), *sr.iterdir()]}
    # Reports exist now: not overwritten without --force (each named), overwritten with it.
    assert predict_main([str(demo), "--out", str(out), "--weights", weights, *reports]) == 1
    err = capsys.readouterr().err
    # The PDFs refused, their DICOM copies are not attempted: 4 PDFs, 8 SEGs, 4 TID 1500 and 4 CAD SRs.
    assert err.count("exists already") == 4 + 8 + 4 * 2 and "20 failure(s)" in err
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert predict_main([str(demo), "--out", str(out), "--weights", weights, *reports, "--force"]) == 0
    assert all(p.stat().st_mtime_ns != t for p, t in before.items())
    capsys.readouterr()


def test_nothing_to_predict_exits_2_leaves_no_folder_and_summarises_long_failure_lists(phantom_model, tmp_path, capsys):
    from hds_core.commands import predict as cli

    junk = tmp_path / "junk"
    junk.mkdir()
    for i in range(cli.SCREENFUL + 10):
        (junk / f"f{i:02d}.dcm").write_bytes(b"not an image" * 3)
    out = tmp_path / "out"
    assert predict_main([str(junk), "--out", str(out), "--weights", str(phantom_model)]) == 2
    err = capsys.readouterr().err
    assert not out.exists()  # nothing ran: no empty results folder left behind
    shown = [line for line in err.splitlines() if line.startswith("hds-predict: failed: ")]
    assert len(shown) == cli.SCREENFUL and "… and 10 more failure(s); the full list is in" in err
    log = Path(err.split("the full list is in ")[1].split("\n")[0])
    logged = log.read_text()
    assert all(f"f{i:02d}.dcm" in logged for i in range(cli.SCREENFUL + 10))
    assert "nothing could be predicted" in err
    assert predict_main([str(tmp_path / "empty-and-missing"), "--out", str(out), "--weights", str(phantom_model)]) == 2
    err = capsys.readouterr().err
    assert err.count("no such file or folder") == 1 and not out.exists()


def test_predict_without_weights_says_so(tmp_path, capsys):
    from synthetic import phantom, write_dicom

    (tmp_path / "in").mkdir()
    write_dicom(tmp_path / "in" / "R_CC.dcm", phantom((128, 96))[0], ImageLaterality="R", ViewPosition="CC")
    weights = str(tmp_path / "none.safetensors")
    assert predict_main([str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--weights", weights]) == 2
    assert "not found" in capsys.readouterr().err


def test_console_scripts_are_installed():
    for name in ("hds-train", "hds-eval", "hds-predict", "hds-export", "hds-batch"):
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                f"from importlib.metadata import entry_points; "
                f"print([e.value for e in entry_points(group='console_scripts', name='{name}')])",
            ],
            capture_output=True,
            text=True,
        )
        assert re.search(r":\w*main'", result.stdout), (name, result.stdout)


def test_predict_defaults_to_a_results_folder_here_but_never_inside_the_input(
    phantom_model, tmp_path, monkeypatch, capsys
):
    weights = phantom_model
    study = tmp_path / "study"
    study.mkdir()
    pixels, _ = phantom((256, 192), seed=7, mass=True)
    write_dicom(study / "img.dcm", pixels, ImagerPixelSpacing=[0.4, 0.4], ImageLaterality="L", ViewPosition="MLO")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert predict_main([str(study), "--weights", str(weights)]) == 0
    assert (work / "hds-results" / "study_img.json").is_file()
    monkeypatch.chdir(study)
    before = sorted(p.name for p in study.iterdir())
    assert predict_main([str(study), "--weights", str(weights)]) == 2
    assert "inside an input folder" in capsys.readouterr().err
    assert sorted(p.name for p in study.iterdir()) == before


def test_predict_reads_jpeg2000_at_the_networks_level_with_the_full_decodes_results(phantom_model, tmp_path, capsys):
    """hds-predict reads a JPEG 2000 film at the network's own level: the results are those of
    the full decode, with or without the file's spacing (--spacing for a file without)."""
    from pydicom.uid import JPEG2000Lossless

    from hds_core.infer import Predictor
    from hds_core.io import read_image

    study = tmp_path / "study"
    study.mkdir()
    pixels, _ = phantom((1024, 768), seed=11, mass=True, crisp=True)
    write_dicom(
        study / "spaced.dcm",
        pixels,
        syntax=JPEG2000Lossless,
        ImagerPixelSpacing=[0.1, 0.1],
        ImageLaterality="R",
        ViewPosition="CC",
    )
    write_dicom(study / "unspaced.dcm", pixels, syntax=JPEG2000Lossless, ImageLaterality="R", ViewPosition="MLO")
    out = tmp_path / "out"
    assert (
        predict_main(
            [str(study), "--out", str(out), "--weights", str(phantom_model), "--threshold", "0.5", "--spacing", "0.2"]
        )
        == 0
    )
    predictor = Predictor(phantom_model, device="cpu")
    for name, spacing in (("spaced", None), ("unspaced", (0.2, 0.2))):
        expected = predictor.predict(read_image(study / f"{name}.dcm"), spacing_mm=spacing).to_dict(0.5)
        result = json.loads((out / f"study_{name}.json").read_text())
        assert result["lesions"], name  # the crisp mass is found
        for key in ("score", "lesions", "image_size", "pixel_spacing_mm", "max_probability"):
            assert result[key] == expected[key], (name, key)


def test_an_empty_folder_is_said_before_any_weights_load(tmp_path, capsys):
    """Nothing to read: said at once (no model loaded: these weights do not even exist), and a
    README or a study.json beside nothing is not reported as skipped."""
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.md").write_text("a dataset's notes")
    (empty / "study.json").write_text("{}")
    out = tmp_path / "out"
    assert predict_main([str(empty), "--out", str(out), "--weights", str(tmp_path / "none.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "nothing could be predicted: no image to read in" in err and "skipped" not in err
    assert "none.safetensors" not in err and not out.exists()
