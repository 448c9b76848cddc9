"""Balanced crop sampling as in the paper: a share of the crops (half by default) is forced
to contain at least ``min_mass_pixels`` mass pixels; the rest are uniform; random flips.

``balance="dataset"`` balances within each dataset instead, so that a crop's label says
nothing about where it came from: each crop first draws a dataset (uniformly), then its
label (lesion with ``positive_fraction``), then a crop of that label from that dataset:
lesion crops around a lesion, lesion-free crops from normal images or away from the
outlines (a dataset without normals, such as CDD-CESM, gives its negatives that way).
Pooled naively, a digital set of lesions only beside a film set with normals taught the
network "digital = lesion"; here every dataset gives lesion and lesion-free crops in the
same proportion.

Deterministic: the crops of epoch ``e`` depend only on (seed, e, index), so resumed and
distributed runs draw the same crops (each rank takes every world_size-th index)."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ..network_input import pad_value
from .cases import PreparedCase


class BalancedCropDataset(Dataset):
    def __init__(
        self,
        cases: list[PreparedCase],
        crop: tuple[int, int] = (512, 384),
        samples_per_epoch: int | None = None,
        positive_fraction: float = 0.5,
        min_mass_pixels: int = 100,
        flips: bool = True,
        seed: int = 0,
        balance: str = "image",
        augment: bool = False,
    ):
        if not cases:
            raise ValueError("no training cases")
        if balance not in ("image", "dataset"):
            raise ValueError(f"balance must be 'image' or 'dataset', got {balance!r}")
        self.balance = balance
        self.augment = augment
        self.datasets: dict[str, list[int]] = {}
        for i, case in enumerate(cases):
            self.datasets.setdefault(case.case.dataset, []).append(i)
        self.cases = cases
        self.crop = tuple(crop)
        self.samples = samples_per_epoch or len(cases)
        self.positive_fraction = positive_fraction
        self.min_mass_pixels = min_mass_pixels
        self.flips = flips
        self.seed = seed
        self.epoch = 0
        self.positive_cases = [i for i, c in enumerate(cases) if c.label]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.samples

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])

    def __getitem__(self, index: int):
        rng = self._rng(index)
        if self.balance == "dataset":
            case, forced, negative = self._within_dataset(rng)
        else:
            forced, negative = bool(self.positive_cases and rng.random() < self.positive_fraction), False
            case = self.cases[rng.choice(self.positive_cases)] if forced else self.cases[rng.integers(len(self.cases))]
        image, mask = case.working.image, case.mask
        image, mask = self._pad(image, mask)
        r, c = self._negative_position(mask, rng) if negative else self._position(mask, rng, forced)
        h, w = self.crop
        if self.augment:
            image, mask = _scaled_rotated(image, mask, r, c, self.crop, rng)
            image = _intensity(image, rng)
        else:
            image, mask = image[r : r + h, c : c + w], mask[r : r + h, c : c + w]
        if self.flips:
            if rng.random() < 0.5:
                image, mask = image[:, ::-1], mask[:, ::-1]
            if rng.random() < 0.5:
                image, mask = image[::-1], mask[::-1]
        label = int(mask.any())
        return (
            torch.from_numpy(np.ascontiguousarray(image))[None],
            torch.from_numpy(np.ascontiguousarray(mask, dtype=np.int64)),
            torch.tensor(label, dtype=torch.long),
        )

    def _within_dataset(self, rng: np.random.Generator) -> tuple[PreparedCase, bool, bool]:
        """(case, lesion crop, lesion-free crop) for one crop balanced within a dataset."""
        members = self.datasets[list(self.datasets)[rng.integers(len(self.datasets))]]
        lesion = rng.random() < self.positive_fraction
        with_lesion = [i for i in members if self.cases[i].label]
        if lesion and with_lesion:
            return self.cases[with_lesion[rng.integers(len(with_lesion))]], True, False
        normals = [i for i in members if not self.cases[i].label]
        pool = normals if normals and rng.random() < len(normals) / len(members) else members
        return self.cases[pool[rng.integers(len(pool))]], False, True

    def _negative_position(self, mask: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
        """A crop without lesion pixels (the one with the fewest when none is free of them)."""
        h, w = self.crop
        max_r, max_c = mask.shape[0] - h, mask.shape[1] - w
        best = None
        for _ in range(30):
            r, c = int(rng.integers(max_r + 1)), int(rng.integers(max_c + 1))
            inside = int(mask[r : r + h, c : c + w].sum())
            if inside == 0:
                return r, c
            if best is None or inside < best[0]:
                best = (inside, r, c)
        return best[1], best[2]

    def _pad(self, image: np.ndarray, mask: np.ndarray):
        h, w = self.crop
        pad_h, pad_w = max(h - image.shape[0], 0), max(w - image.shape[1], 0)
        if pad_h or pad_w:
            image = np.pad(image, ((0, pad_h), (0, pad_w)), constant_values=pad_value(image))
            mask = np.pad(mask, ((0, pad_h), (0, pad_w)))
        return image, mask

    def _position(self, mask: np.ndarray, rng: np.random.Generator, forced: bool) -> tuple[int, int]:
        h, w = self.crop
        max_r, max_c = mask.shape[0] - h, mask.shape[1] - w
        if not forced:
            return int(rng.integers(max_r + 1)), int(rng.integers(max_c + 1))
        rows, cols = np.nonzero(mask)
        needed = min(self.min_mass_pixels, len(rows))
        best = None
        for _ in range(20):
            k = rng.integers(len(rows))
            r = int(np.clip(rows[k] - rng.integers(h), 0, max_r))
            c = int(np.clip(cols[k] - rng.integers(w), 0, max_c))
            inside = int(mask[r : r + h, c : c + w].sum())
            if inside >= needed:
                return r, c
            if best is None or inside > best[0]:
                best = (inside, r, c)
        return best[1], best[2]


# Augmentation ranges: what differs between a film scanner, a digital detector and a
# positioning (contrast and gamma of the rendering, magnification, a few degrees of tilt).
SCALE_RANGE = (0.85, 1.15)
ROTATION_DEGREES = 10.0
CONTRAST_RANGE = (0.8, 1.25)
GAMMA_RANGE = (0.7, 1.4)
SHIFT = 0.2  # in units of the breast's standard deviation (the working image is z-scored)


def _scaled_rotated(
    image: np.ndarray, mask: np.ndarray, row: int, col: int, crop: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The crop at (row, col), zoomed and turned about its centre; image and mask through the
    same transform (bilinear and nearest), the outside filled with the background level."""
    from scipy import ndimage

    h, w = crop
    scale = rng.uniform(*SCALE_RANGE)
    angle = np.deg2rad(rng.uniform(-ROTATION_DEGREES, ROTATION_DEGREES))
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    matrix = np.array([[cos, -sin], [sin, cos]])  # output (r, c) -> input, about the crop's centre
    centre_out = np.array([(h - 1) / 2, (w - 1) / 2])
    centre_in = np.array([row + (h - 1) / 2, col + (w - 1) / 2])
    offset = centre_in - matrix @ centre_out
    background = pad_value(image)
    warped = ndimage.affine_transform(
        image, matrix, offset=offset, output_shape=(h, w), order=1, mode="constant", cval=background
    )
    warped_mask = ndimage.affine_transform(
        mask.astype(np.uint8), matrix, offset=offset, output_shape=(h, w), order=0, mode="constant", cval=0
    ).astype(bool)
    return warped.astype(np.float32, copy=False), warped_mask


def _intensity(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Contrast, gamma and brightness of the rendering; the background stays the darkest."""
    low, high = float(image.min()), float(image.max())
    if high <= low:
        return image
    unit = (image - low) / (high - low)
    unit = unit ** rng.uniform(*GAMMA_RANGE)
    out = low + unit * (high - low)
    mean = float(out.mean())
    out = (out - mean) * rng.uniform(*CONTRAST_RANGE) + mean + rng.uniform(-SHIFT, SHIFT)
    return out.astype(np.float32, copy=False)
