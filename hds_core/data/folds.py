"""Patient-level splits: every image of a patient lands on the same side."""

from __future__ import annotations

import random

from .cases import Case


def patient_folds(cases: list[Case], folds: int, seed: int = 0) -> dict[str, int]:
    """Patient -> fold index; patients with a mass are spread evenly across folds."""
    if folds < 2:
        raise ValueError("folds must be at least 2")
    with_mass: dict[str, bool] = {}
    for case in cases:
        with_mass[case.patient_id] = with_mass.get(case.patient_id, False) or case.has_mass
    rng = random.Random(seed)
    assignment = {}
    for group in (True, False):
        patients = sorted(p for p, m in with_mass.items() if m == group)
        rng.shuffle(patients)
        offset = len(assignment)
        for i, patient in enumerate(patients):
            assignment[patient] = (i + offset) % folds
    return assignment


def split_cases(
    cases: list[Case],
    *,
    folds: int = 5,
    fold: int = 0,
    seed: int = 0,
    exclude_patients: set[str] = frozenset(),
    val_patients: set[str] | None = None,
) -> tuple[list[Case], list[Case]]:
    """(train, validation). ``exclude_patients`` are dropped from both (e.g. a held-out demo)."""
    kept = [c for c in cases if c.patient_id not in exclude_patients]
    if val_patients is not None:
        val = [c for c in kept if c.patient_id in val_patients]
    else:
        if not 0 <= fold < folds:
            raise ValueError(f"fold must be in 0..{folds - 1}")
        assignment = patient_folds(kept, folds, seed)
        val = [c for c in kept if assignment[c.patient_id] == fold]
    val_ids = {c.patient_id for c in val}
    train = [c for c in kept if c.patient_id not in val_ids]
    return train, val


def validation_cases_of(cases: list[Case], train_config: dict, exclude_patients: set[str] = frozenset()) -> list[Case]:
    """The validation images of the run described by ``train_config`` (a weights JSON's
    ``train_config``): its explicit patients, or its fold of its folds with its seed."""
    exclude = set(train_config.get("exclude_patients") or []) | set(exclude_patients)
    if train_config.get("val_patients") is not None:
        _, val = split_cases(cases, exclude_patients=exclude, val_patients=set(train_config["val_patients"]))
    else:
        _, val = split_cases(
            cases,
            folds=train_config.get("folds", 5),
            fold=train_config.get("fold", 0),
            seed=train_config["fold_seed"]
            if train_config.get("fold_seed") is not None
            else train_config.get("seed", 0),
            exclude_patients=exclude,
        )
    return val
