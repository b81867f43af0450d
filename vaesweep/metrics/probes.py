"""Downstream classification probes on frozen posterior means (IGP section 4.2; DU-VAE Table 2).

All randomness (splits, subsets, initialisation, shuffling) comes from CPU generators seeded
by ``seed``, so results are reproducible for a seed whatever the device of the features.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

MLP_HIDDEN = 128  # IGP: 2 hidden layers of 128 ReLU units
ACCURACY_CHUNK_BYTES = 256 * 2**20  # activations of one chunk of probes scoring a split
# On the CPU, runs' probes train as one batch while their parameters, gradients and Adam's two
# moments fit in about a core's L2 cache; beyond it the batched products run slower than one run
# at a time (digits codes, 1 thread: MLP probes of 5 runs 6-9% slower together, of 20 runs 25%;
# linear probes of 20 runs 1.7x faster together).
CPU_BATCH_BYTES = 2**20


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


def _widths(kind: str, features: int, classes: int) -> list[int]:
    """Layer widths of a probe, input to logits."""
    if kind == "linear":
        return [features, classes]
    if kind == "mlp":
        return [features, MLP_HIDDEN, MLP_HIDDEN, classes]
    raise ValueError(f"kind={kind!r}: allowed 'linear' or 'mlp'")


def runs_per_batch(kind: str, restarts: int, features: int, classes: int, device: torch.device) -> int:
    """How many runs' probes ``probe_accuracies`` should train as one batch: all on an
    accelerator, where a probe step is a few tiny kernels; on the CPU as many as fit in
    ``CPU_BATCH_BYTES`` (see there)."""
    if device.type != "cpu":
        return sys.maxsize
    numbers = sum(
        (fan_in + 1) * fan_out for fan_in, fan_out in itertools.pairwise(_widths(kind, features, classes))
    )
    return max(1, CPU_BATCH_BYTES // (4 * 4 * restarts * numbers))


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


def _accuracy(params: list[Tensor], x: Tensor, y: Tensor, member: Tensor) -> Tensor:
    """Accuracy in percent of each probe on its member's examples: ``x`` [members, n, in],
    ``y`` [members, n], ``member`` [probes] (probe i's member). Returns [probes]; computed in
    chunks of probes so the activations stay within ``ACCURACY_CHUNK_BYTES``."""
    widest = max(x.shape[2], *(p.shape[-1] for p in params))
    chunk = max(1, ACCURACY_CHUNK_BYTES // (2 * x.shape[1] * widest * x.element_size()))
    scores = []
    with torch.no_grad():
        for start in range(0, len(member), chunk):
            rows = member[start : start + chunk]
            logits = _forward([p[start : start + chunk] for p in params], x[rows])
            scores.append((logits.argmax(dim=2) == y[rows]).to(torch.float64).mean(dim=1) * 100.0)
    return torch.cat(scores)


def probe_accuracy(
    train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, *, seed: int = 0, **settings: Any
) -> dict[str, float | list[float]]:
    """Test accuracy (percent) of a classifier trained on frozen features (IGP section 4.2).

    ``settings``: those of ``probe_accuracies`` (kind, restarts, epochs, lr, batch_size,
    validation_fraction), which says what the probes are and how they train. Returns {"mean",
    "std" (population std over restarts), "accuracies" (one per restart)}.
    """
    (scores,) = probe_accuracies(train_x[None], train_y, test_x[None], test_y, seeds=[seed], **settings)
    return scores


def probe_accuracies(
    train_x: Tensor,
    train_y: Tensor,
    test_x: Tensor,
    test_y: Tensor,
    kind: Literal["linear", "mlp"] = "linear",
    restarts: int = 10,
    epochs: int = 20,
    lr: float = 1e-3,
    batch_size: int = 64,
    seeds: Sequence[int] = (0,),
    validation_fraction: float = 0.2,
) -> list[dict[str, float | list[float]]]:
    """Test accuracies (percent) of classifiers trained on frozen features (IGP section 4.2),
    for M feature sets at once: ``train_x`` [M, N, in] and ``test_x`` [M, n, in] (a pack's
    members' codes), the labels shared, set m probed with ``seeds[m]``.

    ``kind="linear"``: one linear layer (DU-VAE Table 2); ``"mlp"``: 2 hidden layers of 128
    ReLU (IGP). ``validation_fraction`` of the training features is held out (IGP: 20%); the
    features are standardised with the statistics of the remaining fitting part; each restart
    trains a fresh initialisation with Adam(lr) on cross-entropy for ``epochs`` epochs, with
    its own shuffling, and reports the test accuracy at its epoch of best validation accuracy
    (earliest on ties). All M x restarts probes train side by side as one batched model: Adam
    acts on each element separately and the summed loss gives each probe its own gradient, and
    each set draws from its own seeded generator in the same order as alone, so set m's result
    is bitwise that of ``probe_accuracy`` on it, at the cost of one batched run.

    Returns, per set, {"mean", "std" (population std over restarts), "accuracies"}.
    """
    if not len(seeds) == train_x.shape[0] == test_x.shape[0]:
        raise ValueError(
            f"{len(seeds)} seeds for {train_x.shape[0]} training and {test_x.shape[0]} test feature sets"
        )
    num_classes = int(torch.cat([train_y, test_y]).max()) + 1
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    parts: list[tuple[Tensor, ...]] = []
    member_params = []
    for features, test_features, generator, seed in zip(train_x, test_x, generators, seeds, strict=True):
        fit_x, fit_y, val_x, val_y = split_features(features, train_y, validation_fraction, seed)
        loc, scale = fit_x.mean(dim=0), fit_x.std(dim=0, correction=0).clamp_min(1e-8)
        fit_x, val_x, member_test_x = ((t - loc) / scale for t in (fit_x, val_x, test_features))
        parts.append((fit_x, fit_y.long(), val_x, val_y.long(), member_test_x))
        member_params.append(
            _init_probes(restarts, _widths(kind, fit_x.shape[1], num_classes), generator, fit_x)
        )
    # Probe i (row i of the batched parameters) is member i // restarts's restart i % restarts.
    fit_x, fit_y, val_x, val_y, member_test_x = (torch.stack(t) for t in zip(*parts, strict=True))
    member = torch.arange(len(seeds), device=fit_x.device).repeat_interleave(restarts)
    member_test_y = test_y.long().expand(len(seeds), -1)
    params = [torch.cat(stacked).detach().requires_grad_() for stacked in zip(*member_params, strict=True)]
    optimiser = torch.optim.Adam(params, lr=lr)

    best_val = torch.full(member.shape, -1.0, dtype=torch.float64, device=fit_x.device)
    test_at_best = torch.zeros_like(best_val)
    for _ in range(epochs):
        draws = [torch.rand(restarts, fit_x.shape[1], generator=g) for g in generators]
        orders = torch.argsort(torch.cat(draws), dim=1)
        for batch in orders.to(fit_x.device).split(batch_size, dim=1):
            logits = _forward(params, fit_x[member[:, None], batch])
            targets = fit_y[member[:, None], batch]
            # Sum over probes of each probe's mean cross-entropy.
            loss = (
                nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="sum")
                / batch.shape[1]
            )
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        val_accuracy = _accuracy(params, val_x, val_y, member)
        improved = val_accuracy > best_val
        best_val = torch.where(improved, val_accuracy, best_val)
        test_accuracy = _accuracy(params, member_test_x, member_test_y, member)
        test_at_best = torch.where(improved, test_accuracy, test_at_best)

    results = []
    for accuracies in test_at_best.cpu().view(len(seeds), restarts):
        results.append(
            {
                "mean": float(accuracies.mean()),
                "std": float(accuracies.std(correction=0)),
                "accuracies": accuracies.tolist(),
            }
        )
    return results
