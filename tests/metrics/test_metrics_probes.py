"""Probe classifiers, feature splits and label budgets."""

from __future__ import annotations

import pytest
import torch

from vaesweep.metrics import label_budget_subset, probe_accuracy, split_features


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
