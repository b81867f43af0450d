"""Probe classifiers (alone and several runs' at once), feature splits and label budgets."""

from __future__ import annotations

import sys

import pytest
import torch

from vaesweep.metrics import (
    label_budget_subset,
    probe_accuracies,
    probe_accuracy,
    runs_per_batch,
    split_features,
)


def separable(n: int = 3000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    centres = torch.tensor([[4.0, 0, 0, 0], [0, 4.0, 0, 0], [0, 0, 4.0, 0]])
    return centres[y] + 0.5 * torch.randn(n, 4, generator=g), y


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_probe_reaches_full_accuracy_on_separable_features(kind):
    x, y = separable()
    result = probe_accuracy(*split_features(x, y, seed=1), kind=kind, restarts=2, epochs=20)
    assert result["mean"] > 98.0
    assert len(result["accuracies"]) == 2
    assert result["std"] >= 0.0


def test_probe_is_at_chance_on_random_labels():
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(800, 6, generator=g), torch.randint(0, 4, (800,), generator=g)
    result = probe_accuracy(*split_features(x, y, seed=3), restarts=3, epochs=10)
    assert 12.0 < result["mean"] < 38.0


def test_probe_is_deterministic_for_a_seed():
    x, y = separable(200, seed=4)
    parts = split_features(x, y, seed=5)
    first = probe_accuracy(*parts, kind="mlp", restarts=2, epochs=3, seed=7)
    assert probe_accuracy(*parts, kind="mlp", restarts=2, epochs=3, seed=7) == first


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_runs_probed_together_each_get_bitwise_their_own_probes(kind):
    """Three runs' features (different noise, different seeds) probed as one batch: each run's
    scores equal, bitwise, its probes trained alone, and the runs' scores differ from each other."""
    x, y = separable(600, seed=8)
    g = torch.Generator().manual_seed(9)
    runs = [x + scale * torch.randn(x.shape, generator=g) for scale in (0.5, 2.0, 4.0)]
    train, test = slice(0, 480), slice(480, None)
    seeds = [3, 4, 5]
    together = probe_accuracies(
        torch.stack([r[train] for r in runs]),
        y[train],
        torch.stack([r[test] for r in runs]),
        y[test],
        kind=kind,
        restarts=3,
        epochs=4,
        seeds=seeds,
    )
    alone = [
        probe_accuracy(r[train], y[train], r[test], y[test], kind=kind, restarts=3, epochs=4, seed=s)
        for r, s in zip(runs, seeds, strict=True)
    ]
    assert together == alone
    assert len({result["mean"] for result in alone}) == 3


def test_probes_of_several_runs_need_one_seed_per_run():
    x, y = separable(100)
    with pytest.raises(ValueError, match="2 seeds for 3 training"):
        probe_accuracies(torch.stack([x] * 3), y, torch.stack([x] * 3), y, seeds=[0, 1])


def test_runs_batch_on_the_cpu_while_their_probes_fit_the_cache_and_always_on_an_accelerator():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    # linear, 16 features, 10 classes, 10 restarts: 170 numbers x 4 copies x 4 bytes = 27 KB a run
    assert runs_per_batch("linear", 10, 16, 10, cpu) == 2**20 // (16 * 10 * 170)
    # a 2 x 128 MLP probe's parameters alone outgrow the budget: one run at a time
    assert runs_per_batch("mlp", 10, 16, 10, cpu) == 1
    assert runs_per_batch("mlp", 10, 16, 10, cuda) == sys.maxsize
    with pytest.raises(ValueError, match="allowed 'linear' or 'mlp'"):
        runs_per_batch("svm", 10, 16, 10, cpu)


def test_split_features_partitions_the_examples():
    x, y = torch.arange(50.0)[:, None], torch.arange(50)
    train_x, train_y, test_x, test_y = split_features(x, y, test_fraction=0.2, seed=0)
    assert len(test_x) == 10 and len(train_x) == 40
    assert sorted(torch.cat([train_y, test_y]).tolist()) == list(range(50))
    assert torch.equal(train_x[:, 0].long(), train_y)
    assert not torch.equal(split_features(x, y, seed=1)[3], test_y)


def test_label_budget_subset_is_as_balanced_as_the_classes_allow():
    y = torch.cat([torch.zeros(50), torch.ones(30), torch.full((5,), 2.0)]).long()
    y = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(0))]
    subset = label_budget_subset(y, 60, seed=1)
    assert len(subset) == len(set(subset.tolist())) == 60
    assert torch.equal(subset, torch.sort(subset).values)
    # Water-filling: class 2 gives all 5; the other 55 split 27 / 28.
    assert sorted(torch.bincount(y[subset]).tolist()) == [5, 27, 28]
    assert torch.equal(label_budget_subset(y, 60, seed=1), subset)
    assert not torch.equal(label_budget_subset(y, 60, seed=2), subset)
    balanced = label_budget_subset(y, 15, seed=3)
    assert torch.bincount(y[balanced]).tolist() == [5, 5, 5]
    with pytest.raises(ValueError):
        label_budget_subset(y, 86)
