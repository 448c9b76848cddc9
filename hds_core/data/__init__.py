"""Dataset adapters (mini-MIAS, INbreast, generic image+mask folder), the shared
preprocessing to the working spacing, patient-level folds and balanced crop sampling."""

from .cases import Case, PreparedCase, prepare
from .folds import patient_folds, split_cases, validation_cases_of
from .minimias import DatasetLayoutError
from .preprocess import DEFAULT_WORKING_SPACING_MM, Geometry, WorkingImage, preprocess
from .registry import DOMAINS, dataset_domain, load_dataset, load_datasets
from .sampling import BalancedCropDataset

__all__ = [
    "BalancedCropDataset",
    "Case",
    "DOMAINS",
    "dataset_domain",
    "DEFAULT_WORKING_SPACING_MM",
    "DatasetLayoutError",
    "Geometry",
    "PreparedCase",
    "WorkingImage",
    "load_dataset",
    "load_datasets",
    "patient_folds",
    "prepare",
    "preprocess",
    "split_cases",
    "validation_cases_of",
]
