"""Downstream classification probes on frozen posterior means (IGP section 4.2; DU-VAE Table 2).

All randomness (splits, subsets, initialisation, shuffling) comes from CPU generators seeded
by ``seed``, so results are reproducible for a seed whatever the device of the features.
"""

from __future__ import annotations

import itertools
import math
from typing import Literal

import torch
from torch import Tensor, nn

MLP_HIDDEN = 128  # IGP: 2 hidden layers of 128 ReLU units


def split_features(
    x: Tensor, y: Tensor, test_fraction: float = 0.2, seed: int = 0
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Random split into (train_x, train_y, test_x, test_y), ``test_fraction`` held out.

    IGP's protocol: 80% / 20% train / test of the representations, then 20% of the training
    part as validation (:func:`probe_accuracy` makes that second split itself).
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction={test_fraction} must lie in (0, 1)")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    order = order.to(x.device)
    num_test = round(test_fraction * len(x))
    if not 0 < num_test < len(x):
        raise ValueError(f"{len(x)} examples cannot be split with test_fraction={test_fraction}")
    test, train = order[:num_test], order[num_test:]
    return x[train], y[train], x[test], y[test]


def label_budget_subset(y: Tensor, n_labels: int, seed: int = 0) -> Tensor:
    """Indices of ``n_labels`` examples, as class-balanced as the class sizes allow.

    DU-VAE Table 2 trains its classifier on label budgets of 100 / 500 / 1k / 2k / 10k. Quotas
    are filled from the smallest class up (water-filling), each class receiving an equal share
    of what is left, capped by its size; the members of each class are then drawn at random.
    Returns the sorted indices (int64, on y's device).
    """
    if not 0 < n_labels <= len(y):
        raise ValueError(f"n_labels={n_labels} must lie in [1, {len(y)}]")
    generator = torch.Generator().manual_seed(seed)
    labels = y.cpu()
    classes, sizes = torch.unique(labels, return_counts=True)
    chosen = []
    remaining = n_labels
    by_size = torch.argsort(sizes, stable=True).tolist()
    for position, c in enumerate(by_size):
        quota = min(int(sizes[c]), remaining // (len(by_size) - position))
        members = torch.nonzero(labels == classes[c]).flatten()
        chosen.append(members[torch.randperm(len(members), generator=generator)[:quota]])
        remaining -= quota
    return torch.sort(torch.cat(chosen)).values.to(y.device)


def _init_probes(restarts: int, widths: list[int], generator: torch.Generator, like: Tensor) -> list[Tensor]:
    """Weights [R, in, out] and biases [R, 1, out] of ``restarts`` independent probes, drawn
    like nn.Linear's defaults (U(+-1/sqrt(fan_in))) but from ``generator``."""
    params = []
    for fan_in, fan_out in itertools.pairwise(widths):
        bound = 1.0 / math.sqrt(fan_in)
        for shape in ((restarts, fan_in, fan_out), (restarts, 1, fan_out)):
            uniform = torch.rand(shape, generator=generator, dtype=torch.float64)
            params.append((bound * (2 * uniform - 1)).to(like).requires_grad_())
    return params


def _forward(params: list[Tensor], x: Tensor) -> Tensor:
    """Logits [R, B, classes] of all probes for inputs [R, B, in] (ReLU between layers)."""
    for i in range(0, len(params), 2):
        x = torch.baddbmm(params[i + 1], x, params[i])
        if i + 2 < len(params):
            x = torch.relu(x)
    return x


def _accuracy(params: list[Tensor], x: Tensor, y: Tensor) -> Tensor:
    """Accuracy in percent of each probe on (x, y): [R]."""
    with torch.no_grad():
        logits = _forward(params, x.expand(params[0].shape[0], *x.shape))
        return (logits.argmax(dim=2) == y).to(torch.float64).mean(dim=1) * 100.0


def probe_accuracy(
    train_x: Tensor,
    train_y: Tensor,
    test_x: Tensor,
    test_y: Tensor,
    kind: Literal["linear", "mlp"] = "linear",
    restarts: int = 10,
    epochs: int = 20,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    validation_fraction: float = 0.2,
) -> dict[str, float | list[float]]:
    """Test accuracy (percent) of a classifier trained on frozen features (IGP section 4.2).

    ``kind="linear"``: one linear layer (DU-VAE Table 2); ``"mlp"``: 2 hidden layers of 128
    ReLU (IGP). ``validation_fraction`` of the training features is held out (IGP: 20%); the
    features are standardised with the statistics of the remaining fitting part; each restart
    trains a fresh initialisation with Adam(lr) on cross-entropy for ``epochs`` epochs, with
    its own shuffling, and reports the test accuracy at its epoch of best validation accuracy
    (earliest on ties). The restarts train side by side as one batched model: Adam acts on
    each element separately and the summed loss gives each restart its own gradient, so this
    equals ``restarts`` separate runs, at the cost of one.

    Returns {"mean", "std" (population std over restarts), "accuracies" (one per restart)}.
    """
    if kind == "linear":
        hidden = []
    elif kind == "mlp":
        hidden = [MLP_HIDDEN, MLP_HIDDEN]
    else:
        raise ValueError(f"kind={kind!r}: allowed 'linear' or 'mlp'")
    fit_x, fit_y, val_x, val_y = split_features(train_x, train_y, validation_fraction, seed)
    loc, scale = fit_x.mean(dim=0), fit_x.std(dim=0, correction=0).clamp_min(1e-8)
    fit_x, val_x, test_x = ((t - loc) / scale for t in (fit_x, val_x, test_x))
    fit_y, val_y, test_y = fit_y.long(), val_y.long(), test_y.long()
    num_classes = int(torch.cat([train_y, test_y]).max()) + 1
    generator = torch.Generator().manual_seed(seed)
    params = _init_probes(restarts, [fit_x.shape[1], *hidden, num_classes], generator, fit_x)
    optimiser = torch.optim.Adam(params, lr=lr)

    best_val = torch.full((restarts,), -1.0, dtype=torch.float64, device=fit_x.device)
    test_at_best = torch.zeros_like(best_val)
    for _ in range(epochs):
        orders = torch.argsort(torch.rand(restarts, len(fit_x), generator=generator), dim=1)
        for batch in orders.to(fit_x.device).split(batch_size, dim=1):
            logits = _forward(params, fit_x[batch])
            # Sum over restarts of each restart's mean cross-entropy.
            loss = (
                nn.functional.cross_entropy(logits.flatten(0, 1), fit_y[batch].flatten(), reduction="sum")
                / batch.shape[1]
            )
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        val_accuracy = _accuracy(params, val_x, val_y)
        improved = val_accuracy > best_val
        best_val = torch.where(improved, val_accuracy, best_val)
        test_at_best = torch.where(improved, _accuracy(params, test_x, test_y), test_at_best)

    accuracies = test_at_best.cpu()
    return {
        "mean": float(accuracies.mean()),
        "std": float(accuracies.std(correction=0)),
        "accuracies": accuracies.tolist(),
    }
