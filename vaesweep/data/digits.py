"""scikit-learn's bundled 8x8 handwritten digits: the embedded image set that needs no files.

1,797 real digits, small enough that a full training run takes seconds on a CPU, which makes it
the default for tests and quick sweeps. The split is stratified and fixed (its own seed), so
every run and every seed is scored on the same 360 test images.
"""

from __future__ import annotations

import numpy as np
import torch

from vaesweep.config import DataConfig
from vaesweep.data.base import Dataset, Split
from vaesweep.data.splits import SPLIT_SEED, image_dataset, stratified_split

SPLIT_SIZES = (1257, 180, 360)  # train, valid, test
MAX_PIXEL = 16.0  # the bundled images hold integer intensities 0..16


def digits_split_indices(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices (into sklearn's order) of the fixed stratified train/valid/test split."""
    rng = np.random.default_rng(SPLIT_SEED)
    train, valid, test = stratified_split(labels, SPLIT_SIZES, rng)
    return train, valid, test


def load_digits(config: DataConfig) -> Dataset:
    """The digits as float32 [N, 1, 8, 8] in [0, 1] with their labels."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = torch.from_numpy(bunch.images / MAX_PIXEL).float().unsqueeze(1)
    y = torch.from_numpy(bunch.target).long()
    train, valid, test = (
        Split(x=x[torch.from_numpy(index)], labels=y[torch.from_numpy(index)])
        for index in digits_split_indices(bunch.target)
    )
    return image_dataset(
        "digits",
        (train, valid, test),
        num_classes=10,
        binarisation=config.binarisation,
        max_train=config.max_train,
        description="scikit-learn digits 8x8 / 16, fixed stratified split 1257/180/360",
    )
