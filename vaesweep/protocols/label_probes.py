"""Probes trained on few labels (DU-VAE Tables 2 and 3; IGP Fig. 3), on frozen posterior means.

Each is ``vaesweep.metrics.probe_accuracy`` (which holds out 20% of its training examples for
early stopping, IGP's protocol) on a labelled subset of the training split, scored on the
evaluation split, in percent:
- accuracy_labels_<N>: a linear probe on N class-balanced labelled examples (DU-VAE Table 2:
  100, 500, 1k, 2k, 10k on short-Yelp; "a one-layer linear" classifier on the means);
- accuracy_percent_<P>: the IGP 2 x 128 MLP probe on P% of the training labels (IGP Fig. 3:
  0.1, 1 and 10% of DBpedia);
- accuracy_per_char_<K>: OMNIGLOT, for each alphabet a linear probe over its characters from K
  labelled training images per character, tested on that alphabet's evaluation images; the
  mean over alphabets (DU-VAE Table 3: K = 5, 10, 15). A character with fewer than K training
  images (the fixed validation hold-out takes some) uses all it has.
A budget the split cannot supply (more labels than examples, or fewer than 5) is skipped.
Every probe trains for at least 500 Adam steps (``eval.probe_epochs`` epochs when that is more):
an epoch of 100 labels is two steps, and 20 epochs would leave the probe near its initialisation.
"""

from __future__ import annotations

import math

import torch

from vaesweep.metric_registry import ACCURACY_LABELS, ACCURACY_PER_CHAR, ACCURACY_PERCENT
from vaesweep.metrics import label_budget_subset, probe_accuracy

MIN_LABELS = 5  # the probe's 80/20 split needs a few examples on each side
MIN_STEPS = 500  # Adam steps per probe at least (our choice; the papers give no schedule)
PROBE_BATCH = 64  # probe_accuracy's default batch size


def _probe(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    kind: str,
    restarts: int,
    epochs: int,
    seed: int,
) -> float:
    """probe_accuracy, with enough epochs for ``MIN_STEPS`` steps: with a few labels an epoch is
    a single step, and 20 of them (IGP's schedule for full data) leave a probe untrained."""
    steps_per_epoch = math.ceil(0.8 * len(train_y) / PROBE_BATCH)
    epochs = max(epochs, math.ceil(MIN_STEPS / steps_per_epoch))
    scores = probe_accuracy(
        train_x, train_y, test_x, test_y, kind=kind, restarts=restarts, epochs=epochs, seed=seed
    )
    return float(scores["mean"])


def label_budget_accuracies(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    budgets: tuple[int, ...],
    restarts: int,
    epochs: int,
    seed: int = 0,
) -> dict[str, float]:
    """accuracy_labels_<N>: linear probes on N balanced labelled examples (DU-VAE Table 2)."""
    results = {}
    for budget in budgets:
        if MIN_LABELS <= budget <= len(train_y):
            index = label_budget_subset(train_y, int(budget), seed)
            results[ACCURACY_LABELS.named(int(budget))] = _probe(
                train_x[index], train_y[index], test_x, test_y, "linear", restarts, epochs, seed
            )
    return results


def few_shot_accuracies(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    percents: tuple[float, ...],
    restarts: int,
    epochs: int,
    seed: int = 0,
) -> dict[str, float]:
    """accuracy_percent_<P>: MLP probes on P% of the training labels (IGP Fig. 3)."""
    results = {}
    for percent in percents:
        count = round(len(train_y) * percent / 100.0)
        if MIN_LABELS <= count <= len(train_y):
            index = label_budget_subset(train_y, count, seed)
            results[ACCURACY_PERCENT.named(percent)] = _probe(
                train_x[index], train_y[index], test_x, test_y, "mlp", restarts, epochs, seed
            )
    return results


def _first_per_class(classes: torch.Tensor, shots: int, seed: int) -> torch.Tensor:
    """Indices of up to ``shots`` randomly chosen examples of every class in ``classes``."""
    order = torch.randperm(len(classes), generator=torch.Generator().manual_seed(seed)).to(classes.device)
    shuffled = classes[order]
    ranked = order[torch.argsort(shuffled, stable=True)]  # grouped by class, random within
    sorted_classes = classes[ranked]
    starts = torch.searchsorted(sorted_classes, sorted_classes, right=False)
    rank_in_class = torch.arange(len(ranked), device=classes.device) - starts
    return ranked[rank_in_class < shots]


def per_character_accuracies(
    train_x: torch.Tensor,
    train_alphabet: torch.Tensor,
    train_character: torch.Tensor,
    test_x: torch.Tensor,
    test_alphabet: torch.Tensor,
    test_character: torch.Tensor,
    shots: tuple[int, ...],
    restarts: int,
    epochs: int,
    seed: int = 0,
) -> dict[str, float]:
    """accuracy_per_char_<K>: mean over alphabets of a linear probe over the alphabet's
    characters trained on K images per character (DU-VAE Table 3)."""
    results = {}
    for k in shots:
        accuracies = []
        for alphabet in torch.unique(test_alphabet).tolist():
            pool = torch.nonzero(train_alphabet == alphabet).flatten()
            chosen = pool[_first_per_class(train_character[pool], int(k), seed)]
            tested = torch.nonzero(test_alphabet == alphabet).flatten()
            # characters re-indexed 0..C-1 within the alphabet; test images of unseen ones dropped
            known, train_y = torch.unique(train_character[chosen], return_inverse=True)
            tested = tested[torch.isin(test_character[tested], known)]
            if len(chosen) < MIN_LABELS or len(known) < 2 or len(tested) == 0:
                continue
            test_y = torch.searchsorted(known, test_character[tested])
            accuracies.append(
                _probe(train_x[chosen], train_y, test_x[tested], test_y, "linear", restarts, epochs, seed)
            )
        if accuracies:
            results[ACCURACY_PER_CHAR.named(int(k))] = sum(accuracies) / len(accuracies)
    return results
