"""The papers' evaluation protocols beyond the standard metrics, each switched on by an
``eval`` field (all off by default) and run once, at the final evaluation:

- ``eval.fid``: FID of prior / GMM / second-stage-VAE samples and of interpolations
  (AR-ELBO Tables 3-4; ``fid``);
- ``eval.language_model``: forward and reverse perplexity (IGP Table 4; ``language_model``);
- ``eval.agreement``: label agreement of reconstructions and robust accuracy (IGP Tables 3, 11;
  ``agreement``);
- ``eval.label_budget_probes`` / ``few_shot_probes`` / ``per_character_probes``: probes on few
  labels (DU-VAE Tables 2-3, IGP Fig. 3; ``label_probes``).

Each protocol is skipped (no metric) where it cannot apply: images-only protocols on text and
the reverse, label protocols without labels, per-character probes without
``extras["character"]``. ``eval.max_examples`` limits the evaluation split as for the other
metrics; the training split is used whole. Randomness is seeded by ``train.seed`` inside a forked RNG, so the
numbers are reproducible and the training RNG streams are left untouched.
"""

from __future__ import annotations

import torch

from vaesweep.config import RunConfig
from vaesweep.data.base import Dataset
from vaesweep.models.vae import VAE, model_device
from vaesweep.protocols.agreement import agreement_metrics
from vaesweep.protocols.common import posterior_means
from vaesweep.protocols.fid import fid_metrics, load_feature_network
from vaesweep.protocols.label_probes import (
    few_shot_accuracies,
    label_budget_accuracies,
    per_character_accuracies,
)
from vaesweep.protocols.language_model import language_model_metrics


def check_protocol_config(config: RunConfig) -> None:
    """Raise ConfigError now for what would otherwise fail only after training (the FID network)."""
    if config.eval.fid:
        load_feature_network(config.eval.fid_network)


def paper_protocol_metrics(
    model: VAE, dataset: Dataset, split_name: str, config: RunConfig
) -> dict[str, float]:
    """Every protocol metric the ``eval`` fields ask for, on split ``split_name``.

    Runs only for the final evaluation split (``eval.split``), not for per-epoch validation
    with ``train.valid_metrics=all``, where training a language model or a classifier every
    epoch would dominate the run.
    """
    ev = config.eval
    wanted = (
        ev.fid,
        ev.language_model,
        ev.agreement,
        ev.label_budget_probes,
        ev.few_shot_probes,
        ev.per_character_probes,
    )
    if split_name != ev.split or not any(wanted):
        return {}
    split, train = dataset.split(split_name), dataset.train
    if 0 < ev.max_examples < len(split):
        split = split.subset(torch.arange(ev.max_examples, device=split.x.device))
    device = model_device(model)
    text = dataset.kind == "text"
    labelled = split.labels is not None and train.labels is not None
    metrics: dict[str, float] = {}
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.train.seed)
        train_means = posterior_means(model, train, ev.batch_size)
        eval_means = posterior_means(model, split, ev.batch_size)
        probe = {"restarts": ev.probe_restarts, "epochs": ev.probe_epochs, "seed": config.train.seed}
        if ev.fid and dataset.kind == "image":
            metrics.update(fid_metrics(model, split, config, train_means, eval_means))
        if ev.language_model and text:
            metrics.update(language_model_metrics(model, train, split, dataset.vocab, config))
        if ev.agreement and text and labelled:
            num_classes = dataset.num_classes or int(torch.cat([train.labels, split.labels]).max()) + 1
            metrics.update(
                agreement_metrics(model, train, split, dataset.vocab, num_classes, train_means, config)
            )
        if ev.label_budget_probes and labelled:
            metrics.update(
                label_budget_accuracies(
                    train_means, train.labels, eval_means, split.labels, ev.label_budgets, **probe
                )
            )
        if ev.few_shot_probes and labelled:
            metrics.update(
                few_shot_accuracies(
                    train_means, train.labels, eval_means, split.labels, ev.few_shot_percents, **probe
                )
            )
        if (
            ev.per_character_probes
            and labelled
            and "character" in train.extras
            and "character" in split.extras
        ):
            metrics.update(
                per_character_accuracies(
                    train_means,
                    train.labels,
                    train.extras["character"],
                    eval_means,
                    split.labels,
                    split.extras["character"],
                    ev.per_character_labels,
                    **probe,
                )
            )
    return metrics


__all__ = ["check_protocol_config", "paper_protocol_metrics"]
