"""Dataset adapters (mini-MIAS, INbreast, generic image+mask folder), cases prepared as the
network's input (``hds_core.network_input``), patient-level folds and balanced crop sampling."""

from .cases import Case, PreparedCase, prepare
from .errors import DatasetLayoutError
from .folds import patient_folds, split_cases, validation_cases_of
from .registry import DOMAINS, dataset_domain, load_dataset, load_datasets
from .sampling import BalancedCropDataset

__all__ = [
    "BalancedCropDataset",
    "Case",
    "DOMAINS",
    "dataset_domain",
    "DatasetLayoutError",
    "PreparedCase",
    "load_dataset",
    "load_datasets",
    "patient_folds",
    "prepare",
    "split_cases",
    "validation_cases_of",
]
