"""Helpers every loader shares: fixed splits, ``max_train``, and the fixed binarisation.

A data set's split and its fixed binarisation of valid/test must not depend on the run seed:
otherwise two runs with different seeds would be scored on different test sets. So everything
here draws from private, fixed seeds and never touches the global RNGs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch

from vaesweep.data.base import Dataset, Split
from vaesweep.errors import ConfigError

SPLIT_SEED = 0  # the fixed seed of every data split (digits, OMNIGLOT hold-out)
VALID_BINARISATION_SEED = 1
TEST_BINARISATION_SEED = 2
BINARISATIONS = ("none", "dynamic")


def check_binarisation(binarisation: str, kind: str) -> None:
    """Reject a binarisation the loader cannot honour (only images can be binarised)."""
    allowed = BINARISATIONS if kind == "image" else ("none",)
    if binarisation not in allowed:
        raise ConfigError("data.binarisation", binarisation, " or ".join(allowed) + f" for {kind}")


def take_first(split: Split, max_train: int) -> Split:
    """Keep the first ``max_train`` examples (0 = all; more than there are = all)."""
    if max_train <= 0 or max_train >= len(split):
        return split
    return split.subset(torch.arange(max_train))


def binarise_once(x: torch.Tensor, seed: int) -> torch.Tensor:
    """Bernoulli(pixel) sample with a fixed seed: the IWAE protocol's fixed valid/test set."""
    generator = torch.Generator().manual_seed(seed)
    return torch.bernoulli(x, generator=generator)


def stratified_split(labels: np.ndarray, sizes: Sequence[int], rng: np.random.Generator) -> list[np.ndarray]:
    """Split indices into parts of exactly ``sizes`` with class proportions kept.

    Parts after the first get per-class quotas by the largest-remainder rule (ties to the
    lower class), never more of a class than is left of it (rare classes: the extra examples go
    to the next classes in that order); the first part takes what is left, so the sizes are
    exact. Each part is returned in a random order drawn from ``rng``.
    """
    n = len(labels)
    if sum(sizes) != n:
        raise ValueError(f"split sizes {tuple(sizes)} sum to {sum(sizes)}, not {n}")
    classes, counts = np.unique(labels, return_counts=True)
    quotas = [counts.copy()]
    for size in sizes[1:]:
        exact = size * counts / n
        quota = np.minimum(np.floor(exact).astype(np.int64), quotas[0])
        leftover = size - int(quota.sum())
        order = np.argsort(-(exact - quota), kind="stable")
        while leftover > 0:  # ends: the classes have size examples left between them
            for c in order[quota[order] < quotas[0][order]][:leftover]:
                quota[c] += 1
                leftover -= 1
        quotas.append(quota)
        quotas[0] = quotas[0] - quota
    parts: list[list[np.ndarray]] = [[] for _ in sizes]
    for c, label in enumerate(classes):
        members = rng.permutation(np.flatnonzero(labels == label))
        start = 0
        for part, quota in zip(parts, quotas, strict=True):
            part.append(members[start : start + quota[c]])
            start += quota[c]
    return [rng.permutation(np.concatenate(part)) for part in parts]


def image_dataset(
    name: str,
    splits: tuple[Split, Split, Split],
    num_classes: int | None,
    binarisation: str,
    max_train: int,
    description: str,
) -> Dataset:
    """Assemble an image data set: ``max_train`` on train, fixed binarisation of valid/test.

    With "dynamic" the training intensities stay as they are, because the trainer draws a
    fresh binarisation of every batch; valid and test are binarised once, here.
    """
    check_binarisation(binarisation, "image")
    train, valid, test = splits
    train = take_first(train, max_train)
    if binarisation == "dynamic":
        valid = replace(valid, x=binarise_once(valid.x, VALID_BINARISATION_SEED))
        test = replace(test, x=binarise_once(test.x, TEST_BINARISATION_SEED))
    channels, height, width = train.x.shape[1:]
    return Dataset(
        name=name,
        kind="image",
        train=train,
        valid=valid,
        test=test,
        image_shape=(channels, height, width),
        num_classes=num_classes,
        binarisation=binarisation,  # type: ignore[arg-type]
        description=description,
    )
