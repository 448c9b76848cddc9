"""``KIND:PATH`` dataset specifications, as the commands take them."""

from __future__ import annotations

from pathlib import Path

from .cases import Case
from .errors import DatasetLayoutError
from .folder import load_folder
from .inbreast import load_inbreast
from .minimias import load_minimias

LOADERS = {"minimias": load_minimias, "mini-mias": load_minimias, "inbreast": load_inbreast, "folder": load_folder}


def load_dataset(spec: str) -> list[Case]:
    kind, sep, path = spec.partition(":")
    if not sep or kind.lower() not in LOADERS:
        raise DatasetLayoutError(f"dataset {spec!r}: expected KIND:PATH with KIND one of minimias, inbreast, folder")
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
KIND_DOMAINS = {"minimias": "film", "mini-mias": "film", "inbreast": "digital"}
DOMAINS = ("film", "digital")


def dataset_domain(spec: str, given: dict[str, str] | None = None) -> str | None:
    """ "film", "digital" or None (not known) for a ``KIND:PATH`` dataset."""
    if given and spec in given:
        return given[spec]
    return KIND_DOMAINS.get(spec.partition(":")[0].lower())
