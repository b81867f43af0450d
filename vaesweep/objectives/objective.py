"""The training objective: the only place the axes meet in training.

loss = rec + w_t * sum(regulariser parts) + bow_weight * bow + decoder penalty, where w_t is the
KL schedule's weight at step t; a regulariser that is a bound (IWAE) replaces rec + regulariser.
Every term comes back by name (``LossTerms.terms``), and the trainer logs each as ``train_<name>``.

The numbers a term reads per step (beta, C_t, lambda, ...) come from ``values(step)``: each unit's
per-trial fields at their configured values, with the schedule applied (C_t, w_t). They are
Python floats here; a packed trainer passes the same names as per-member tensors.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from types import SimpleNamespace

import torch

from vaesweep import noise
from vaesweep.config import RunConfig
from vaesweep.models.vae import VAE, ForwardOutput
from vaesweep.objectives.bag_of_words import bag_of_words_nll
from vaesweep.objectives.decoder_penalties import DECODER_PENALTIES
from vaesweep.objectives.regularisers import REGULARISERS
from vaesweep.objectives.regularisers.base import weighted
from vaesweep.objectives.schedules import SCHEDULES

RESERVED = ("loss", "rec", "kl")  # terms every run has; a unit's parts take other names


@dataclass
class LossTerms:
    """One step's loss and its named terms (``rec``, ``kl`` and every part added to the loss)."""

    loss: torch.Tensor
    terms: dict[str, torch.Tensor]

    @property
    def rec(self) -> torch.Tensor:
        return self.terms["rec"]

    @property
    def kl(self) -> torch.Tensor:
        return self.terms["kl"]


class Objective:
    """Assembles one method's loss from its units (regulariser, decoder penalty, schedule)."""

    def __init__(self, config: RunConfig, steps_per_epoch: int, total_steps: int) -> None:
        self.config = config
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = total_steps
        self.regulariser = REGULARISERS[config.regulariser.kind](config)
        self.regulariser.steps_per_epoch = steps_per_epoch  # a ramp in epochs (IGP Table 7's base)
        self.penalty = DECODER_PENALTIES[config.regulariser.decoder_penalty](config)
        self.schedule = SCHEDULES[config.annealing.schedule]
        self.samples = config.regulariser.iwae_samples  # z per example in the forward pass
        fields = config.regulariser  # its per-trial values hold for the whole run: read them once
        self.per_trial = {name: getattr(fields, name) for name, p in fields.params().items() if p.per_trial}

    def kl_weight(self, step: int) -> float:
        return self.schedule.weight(self.config.annealing, step, self.steps_per_epoch, self.total_steps)

    def values(self, step: int) -> SimpleNamespace:
        """This step's per-trial numbers, by field name, plus the schedule's ``kl_weight``."""
        found = self.per_trial | self.regulariser.scheduled(step)
        return SimpleNamespace(**found, kl_weight=self.kl_weight(step))

    def __call__(
        self, out: ForwardOutput, model: VAE, x: torch.Tensor, lengths: torch.Tensor | None, values
    ) -> LossTerms:
        source = noise.source()
        rec = model.likelihood.training_term(out.params, x, lengths, out.log_px)
        terms = {"rec": rec, "kl": out.kl_mean}
        parts = self.regulariser(out, values, source)
        # summed without sum()'s leading 0, an op on every step (an AE has no parts at all)
        regularisation = functools.reduce(operator.add, parts.values()) if parts else None
        if self.regulariser.replaces_loss:
            loss = regularisation
        elif regularisation is None:
            loss = rec
        else:
            loss = rec + weighted(values.kl_weight, regularisation)
        terms |= parts
        if model.bow_head is not None:
            # bow-VAE (Zhao et al. 2017): + w * E loss_bow, not annealed, not part of rec
            terms["bow"] = bag_of_words_nll(model.bow_head(out.z), x, lengths).mean()
            loss = loss + values.bow_weight * terms["bow"]
        penalty = self.penalty(out, model, values, source)
        if penalty:
            # RAE (Ghosh et al. 2020): + lambda * L_REG of the decoder, not annealed
            loss = loss + sum(penalty.values())
            terms |= penalty
        return LossTerms(loss, terms)
