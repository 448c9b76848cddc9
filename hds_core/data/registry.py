"""``KIND:PATH`` dataset specifications, as the commands take them."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from .cases import Case
from .cbis_ddsm import load_cbis_ddsm
from .cdd_cesm import load_cdd_cesm
from .cmmd import load_cmmd
from .errors import DatasetLayoutError
from .folder import load_folder
from .inbreast import load_inbreast
from .minimias import load_minimias
from .vindr import load_vindr

LOADERS = {
    "minimias": load_minimias,
    "mini-mias": load_minimias,
    "inbreast": load_inbreast,
    "cbis-ddsm": load_cbis_ddsm,
    "cbis-ddsm-train": partial(load_cbis_ddsm, split="train"),
    "cbis-ddsm-test": partial(load_cbis_ddsm, split="test"),
    "vindr": load_vindr,
    "vindr-train": partial(load_vindr, split="train"),
    "vindr-test": partial(load_vindr, split="test"),
    "cdd-cesm": load_cdd_cesm,
    "cmmd": load_cmmd,
    "folder": load_folder,
}


def load_dataset(spec: str) -> list[Case]:
    kind, sep, path = spec.partition(":")
    if not sep or kind.lower() not in LOADERS:
        raise DatasetLayoutError(f"dataset {spec!r}: expected KIND:PATH with KIND one of {', '.join(LOADERS)}")
    if not Path(path).is_dir():
        raise DatasetLayoutError(f"dataset {spec!r}: {path} is not a folder")
    cases = LOADERS[kind.lower()](path)
    for case in cases:
        case.dataset = spec
    return cases


def load_datasets(specs: list[str]) -> list[Case]:
    cases = []
    for spec in specs:
        cases.extend(load_dataset(spec))
    return cases


# The acquisition a dataset kind holds: mini-MIAS is digitised screen film, INbreast full-field
# digital. A generic folder can hold either: hds-export --domain SPEC=film|digital says which.
KIND_DOMAINS = {
    "minimias": "film",
    "mini-mias": "film",
    "cbis-ddsm": "film",
    "cbis-ddsm-train": "film",
    "cbis-ddsm-test": "film",
    "inbreast": "digital",
    "vindr": "digital",
    "vindr-train": "digital",
    "vindr-test": "digital",
    "cdd-cesm": "digital",
    "cmmd": "digital",
}
DOMAINS = ("film", "digital")


def dataset_domain(spec: str, given: dict[str, str] | None = None) -> str | None:
    """ "film", "digital" or None (not known) for a ``KIND:PATH`` dataset."""
    if given and spec in given:
        return given[spec]
    return KIND_DOMAINS.get(spec.partition(":")[0].lower())
