"""The shipped recipe and its ablation arms, in one place, and the commands that run them.

    python -m hds_core.train.recipe fold ARM K --minimias PATH --cdd PATH      # one fold (CPU: two at a time)
    python -m hds_core.train.recipe evaluate ARM --folds 0 1 --minimias PATH --cdd PATH
    python -m hds_core.train.recipe final ARM --minimias PATH --cdd PATH      # the arm on every patient
    python -m hds_core.train.recipe pack --minimias PATH --cdd PATH --out gpu-data
    python -m hds_core.train.recipe gpu --data gpu-data --out runs/gpu --results $OUT --scale 4
    python -m hds_core.train.recipe unpack RESULTS --out runs/gpu

An arm is the recipe with one lever changed; every arm of one cross-validation holds out the
same patients (the folds are drawn over both datasets, ``--train-on`` included). ``gpu`` runs
the whole cross-validation and the final fit on a GPU machine with ``--scale`` times the
crops per epoch, from a copy of the data small enough to travel (``pack``: films resampled to
the working spacing, where the recipe resamples them anyway; digital images as they are).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

FOLDS = 5
THRESHOLD = 0.4
DEMO_PATIENTS = ["mias-014", "mias-091", "mias-017", "cdd-P126"]
RECIPE = [
    "--mode",
    "hds",
    "--epochs",
    "12",
    "--samples-per-epoch",
    "200",
    "--crop",
    "256",
    "192",
    "--working-spacing",
    "0.8",
    "--encoder",
    "efficientnet-lite0",
    "--net",
    "blocks_per_stage=1",
    "--net",
    "decoder_widths=128,64,32,16,8",
    "--net",
    "mil_cell=64",
    "--dice-weight",
    "1",
    "--optimizer",
    "adamw",
    "--lr",
    "0.001",
    "--weight-decay",
    "0.0001",
    "--seed",
    "0",
    "--exclude-patients",
    *DEMO_PATIENTS,
    "--balance",
    "dataset",
    "--augment",
    "--precision",
    "auto",
]
# Arm -> (what differs from the recipe, in words for the card; its extra options). "{film}" and
# "{digital}" stand for the two dataset specifications.
ARMS = {
    "recipe": ("shipped recipe", []),
    "scratch": ("the same network from scratch (--pretrained none)", ["--pretrained", "none"]),
    "patches": ("128 × 128 patches instead of the whole breast (--crop 128 128)", ["--crop", "128", "128"]),
    "dsseg": ("ds-seg: deep-supervised segmentation only, no MIL heads (--mode ds-seg)", ["--mode", "ds-seg"]),
    "film": ("one model per domain: films only (--train-on the film set)", ["--train-on", "{film}"]),
    "digital": ("one model per domain: digital only (--train-on the digital set)", ["--train-on", "{digital}"]),
    # Issue 38: the film model with the looks a film needs. mini-MIAS films are 1024² at 0.2 mm,
    # so a 256² crop at 0.8 mm is the whole film; 20 epochs of 240 looks, half on a mass film
    # (--balance image), about four times the pooled recipe's looks per film.
    "film-whole": (
        "films only, the whole film (256² at 0.8 mm), 20 epochs × 240 looks, half on masses",
        ["--train-on", "{film}", "--epochs", "20", "--samples-per-epoch", "240", "--crop", "256", "256"]
        + ["--balance", "image"],
    ),
}
# The same films-only arm with another seed: with film-whole, a two-seed ensemble per fold
# (``python -m hds_core.train.ensemble``).
ARMS["film-whole-s1"] = (
    "the films-only arm (film-whole) with seed 1, the same folds",
    [*ARMS["film-whole"][1], "--seed", "1", "--fold-seed", "0"],
)


def datasets(film: str, digital: str) -> tuple[str, str]:
    """The two dataset specifications: mini-MIAS as distributed, or a packed copy (a folder)."""
    film_kind = "minimias" if (Path(film) / "Info.txt").is_file() else "folder"
    return f"{film_kind}:{film}", f"folder:{digital}"


def arm_options(arm: str, film: str, digital: str, *, scale: int = 1) -> list[str]:
    if arm not in ARMS:
        raise ValueError(f"unknown arm {arm!r}; choose from {', '.join(ARMS)}")
    film_spec, digital_spec = datasets(film, digital)
    options = list(RECIPE)
    if scale != 1:
        at = options.index("--samples-per-epoch") + 1
        options[at] = str(int(options[at]) * scale)
    extra = [o.format(film=film_spec, digital=digital_spec) for o in ARMS[arm][1]]
    return [*options, *extra, "--dataset", film_spec, "--dataset", digital_spec]


def arm_epochs(arm: str) -> int:
    """The arm's epoch count: its own --epochs where it sets one (argparse takes the last)."""
    options = [*RECIPE, *ARMS[arm][1]]
    return int(options[len(options) - 1 - options[::-1].index("--epochs") + 1])


def _train(args: list[str], log: Path | None = None, env: dict | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "hds_core.train.cli", *args]
    out = open(log, "a") if log else None
    return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)


def fold_args(arm: str, fold: int, out: Path, film: str, digital: str, scale: int = 1) -> list[str]:
    resume = ["--resume"] if (out / arm / f"fold-{fold}" / "last.safetensors").is_file() else []
    return [
        *arm_options(arm, film, digital, scale=scale),
        "--folds",
        str(FOLDS),
        "--fold",
        str(fold),
        "--out",
        str(out / arm / f"fold-{fold}"),
        *resume,
    ]


def final_args(arm: str, out: Path, film: str, digital: str) -> list[str]:
    """The arm fitted on every development patient (the demo's patients stay out), for shipping."""
    resume = ["--resume"] if (out / arm / "final" / "last.safetensors").is_file() else []
    return [*arm_options(arm, film, digital), "--no-validation", "--out", str(out / arm / "final"), *resume]


def evaluate_args(arm: str, folds: list[int], out: Path, film: str, digital: str, scale: int = 1) -> list[str]:
    """Out-of-fold evaluation of trained folds (``--cv`` trains none that is finished)."""
    return [
        *arm_options(arm, film, digital, scale=scale),
        "--out",
        str(out / arm),
        "--cv",
        str(FOLDS),
        "--cv-folds",
        *map(str, folds),
        "--resume",
        "--threshold",
        str(THRESHOLD),
    ]


def pack(film: Path, digital: Path, out: Path, spacing_mm: float = 0.8) -> dict:
    """A copy of both datasets for a machine the originals cannot reach. Each film is stored
    as what the network's preprocessing makes of it before the breast crop (rendered, padding
    at 0, resampled to ``spacing_mm``) as a 16-bit PNG, with its circles resampled into a mask
    and its patient, side and view kept: the folds hold the same patients and the working
    images match the originals' (``tests/nn_train/test_recipe.py``). The digital set is copied as it is."""
    import numpy as np
    from PIL import Image

    from ..data import load_dataset
    from ..network_input import input_level, resample

    films = out / "mini-mias"
    for sub in ("images", "masks"):
        (films / sub).mkdir(parents=True, exist_ok=True)
    rows = []
    for case in load_dataset(f"minimias:{film}") if (film / "Info.txt").is_file() else load_dataset(f"folder:{film}"):
        image = case.load()
        spacing = case.spacing(image)
        level = image.at_level(input_level(spacing, spacing_mm))
        values = level.model_input()
        if level.padding is not None:
            values = np.where(level.padding, np.float32(0), values)
        scale = (spacing[0] * level.reduction / spacing_mm, spacing[1] * level.reduction / spacing_mm)
        small = np.clip(resample(values, scale), 0, 1)
        Image.fromarray(np.round(small * 65535).astype(np.uint16)).save(films / "images" / f"{case.case_id}.png")
        if case.has_mass:
            full = case.mass_mask(image.full_shape).astype(np.float32)
            mask = resample(full, (small.shape[0] / full.shape[0], small.shape[1] / full.shape[1])) >= 0.5
            Image.fromarray(mask.astype(np.uint8) * 255).save(films / "masks" / f"{case.case_id}.png")
        rows.append((case.case_id, case.patient_id, case.laterality or "", case.view or ""))
    (films / "patients.csv").write_text("image,patient\n" + "".join(f"{r[0]},{r[1]}\n" for r in rows))
    (films / "spacing.csv").write_text("image,spacing_mm\n" + "".join(f"{r[0]},{spacing_mm}\n" for r in rows))
    (films / "annotations.csv").write_text("image,side,view\n" + "".join(f"{r[0]},{r[2]},{r[3]}\n" for r in rows))
    if (out / "cdd-cesm").exists():
        shutil.rmtree(out / "cdd-cesm")
    shutil.copytree(digital, out / "cdd-cesm", ignore=shutil.ignore_patterns("*.md"))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {"films": len(rows), "bytes": size}


def run_gpu(
    data: Path, out: Path, results: Path, *, scale: int, parallel: int, arms: list[str], budget_s: float
) -> dict:
    """Every fold of every arm (``parallel`` processes sharing the GPU), each arm evaluated out
    of fold, then the recipe's final fit on every patient; stops starting work once
    ``budget_s`` has passed (what finished is packed, the rest continues with the same command)."""
    film, digital = str(data / "mini-mias"), str(data / "cdd-cesm")
    started = time.monotonic()
    threads = max(1, (os.cpu_count() or 2) // parallel)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    out.mkdir(parents=True, exist_ok=True)
    epochs = arm_epochs("recipe")
    jobs = [(arm, k) for arm in arms for k in range(FOLDS) if _epochs_done(out / arm / f"fold-{k}") < arm_epochs(arm)]
    final = (
        [*arm_options("recipe", film, digital, scale=scale), "--no-validation", "--out", str(out / "final")]
        if "recipe" in arms
        else None
    )
    running: list[tuple[str, subprocess.Popen]] = []
    queue = [(f"{a}/fold-{k}", fold_args(a, k, out, film, digital, scale)) for a, k in jobs]
    if final and _epochs_done(out / "final") < epochs:
        queue.append(("final", final + (["--resume"] if (out / "final" / "last.safetensors").is_file() else [])))
    failed = []
    while queue or running:
        while queue and len(running) < parallel and time.monotonic() - started < budget_s:
            name, args = queue.pop(0)
            (out / name).mkdir(parents=True, exist_ok=True)
            running.append((name, _train(args, out / name / "train.log", env)))
        if not running:
            break
        time.sleep(2)
        for item in list(running):
            if item[1].poll() is not None:
                running.remove(item)
                if item[1].returncode:
                    failed.append(item[0])
    for arm in arms:
        # Only finished folds: --cv trains an unfinished one, which would run past the budget.
        done = [k for k in range(FOLDS) if _epochs_done(out / arm / f"fold-{k}") == arm_epochs(arm)]
        if done:
            _train(evaluate_args(arm, done, out, film, digital, scale), out / arm / "evaluate.log", env).wait()
    summary = {
        "seconds": round(time.monotonic() - started, 1),
        "scale": scale,
        "parallel": parallel,
        "failed": failed,
        "arms": {a: sorted(p.parent.name for p in (out / a).glob("fold-*/oof.json")) for a in arms},
    }
    results.mkdir(parents=True, exist_ok=True)
    (out / "gpu-run.json").write_text(json.dumps(summary, indent=1) + "\n")
    with tarfile.open(results / "cv.tar.gz", "w:gz") as tar:
        for path in sorted(out.rglob("*")):
            if path.is_file() and path.suffix in (".json", ".jsonl", ".log"):
                tar.add(path, arcname=str(path.relative_to(out)))
    if _epochs_done(out / "final") == epochs:  # an unfinished final fit stays there for the next run
        _split_weights(out / "final" / "last.safetensors", results)
    return summary


def _epochs_done(run: Path) -> int:
    try:
        return int(json.loads((run / "last.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


def _split_weights(path: Path, results: Path, parts: int = 2) -> None:
    """The final fit's fp32 tensors (optimizer state dropped) in ``parts`` files, each under the
    16 MiB a file the GPU machine sends back; ``unpack`` joins them."""
    from safetensors.torch import load_file, save_file

    tensors = {k: v for k, v in load_file(str(path)).items() if not k.startswith("optimizer.")}
    names = sorted(tensors)
    for i in range(parts):
        save_file({k: tensors[k].contiguous() for k in names[i::parts]}, str(results / f"final-{i}.safetensors"))
    shutil.copy(path.with_suffix(".json"), results / "final.json")


def unpack(results: Path, out: Path) -> None:
    """The GPU run's results into ``out`` as if it had run here: the folds' reports and logs,
    and ``final/last.safetensors`` for ``hds-export``."""
    from safetensors.torch import load_file, save_file

    from ..nn.spec import FORMAT

    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(results / "cv.tar.gz") as tar:
        tar.extractall(out, filter="data")
    parts = sorted(results.glob("final-*.safetensors"))
    if parts:
        tensors = {}
        for part in parts:
            tensors.update(load_file(str(part)))
        (out / "final").mkdir(exist_ok=True)
        save_file(tensors, str(out / "final" / "last.safetensors"), metadata={"format": FORMAT})
        shutil.copy(results / "final.json", out / "final" / "last.json")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hds_core.train.recipe", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("fold", "evaluate", "final", "pack"):
        s = sub.add_parser(name)
        s.add_argument("--minimias", type=Path, required=True, help="mini-MIAS as distributed (Info.txt) or packed")
        s.add_argument("--cdd", type=Path, required=True, help="CDD-CESM as a folder dataset")
        if name in ("fold", "final"):
            s.add_argument("arm", choices=list(ARMS))
        if name == "fold":
            s.add_argument("fold", type=int)
        if name == "evaluate":
            s.add_argument("arm", choices=list(ARMS))
            s.add_argument("--folds", type=int, nargs="+", default=list(range(FOLDS)))
            s.add_argument(
                "--suppress",
                action="append",
                default=[],
                choices=["breast", "pectoral"],
                help="evaluate without marks outside the breast / on the MLO pectoral muscle (repeatable)",
            )
        if name in ("fold", "evaluate", "final"):
            s.add_argument("--out", type=Path, default=Path("runs/ab"), help="one folder per arm (default runs/ab)")
        else:
            s.add_argument("--out", type=Path, required=True)
    g = sub.add_parser("gpu", help="the cross-validation and final fit on a GPU machine, in one command")
    g.add_argument("--data", type=Path, required=True, help="what pack wrote")
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--results", type=Path, required=True, help="where the files to bring back go ($OUT)")
    g.add_argument("--scale", type=int, default=4, help="times the recipe's crops per epoch (default 4)")
    g.add_argument("--parallel", type=int, default=6, help="training processes sharing the GPU (default 6)")
    g.add_argument("--arms", nargs="+", default=["recipe"], choices=list(ARMS))
    g.add_argument("--budget", type=float, default=480, help="seconds after which no new fold starts (default 480)")
    k = sub.add_parser("keep", help="an arm's out-of-fold rows as one small file the model card reads (--ablation)")
    k.add_argument("arm", choices=list(ARMS) + ["other"])
    k.add_argument("source", type=Path, help="the arm's folder (fold-K/oof.json)")
    k.add_argument("out", type=Path)
    k.add_argument("--description", help="what the run changed (default: the arm's own words)")
    u = sub.add_parser("unpack", help="a GPU run's results (what gpu wrote to --results) into a runs folder")
    u.add_argument("results", type=Path)
    u.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    if args.command == "fold":
        return _train(fold_args(args.arm, args.fold, args.out, str(args.minimias), str(args.cdd))).wait()
    if args.command == "final":
        return _train(final_args(args.arm, args.out, str(args.minimias), str(args.cdd))).wait()
    if args.command == "evaluate":
        suppress = [option for kind in args.suppress for option in ("--suppress", kind)]
        return _train(
            [*evaluate_args(args.arm, args.folds, args.out, str(args.minimias), str(args.cdd)), *suppress]
        ).wait()
    if args.command == "pack":
        print(json.dumps(pack(args.minimias, args.cdd, args.out)))
        return 0
    if args.command == "gpu":
        summary = run_gpu(
            args.data,
            args.out,
            args.results,
            scale=args.scale,
            parallel=args.parallel,
            arms=args.arms,
            budget_s=args.budget,
        )
        print(json.dumps(summary))
        return 1 if summary["failed"] else 0
    if args.command == "keep":
        from .card_tables import ablation_report

        description = args.description or ARMS.get(args.arm, ("",))[0]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(ablation_report(args.source, description), separators=(",", ":")) + "\n")
        print(f"wrote {args.out}")
        return 0
    unpack(args.results, args.out)
    print(f"unpacked into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
