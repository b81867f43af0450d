"""The training objective: reconstruction term + (scheduled) regulariser, or the IWAE bound,
plus bow-VAE's bag-of-words term when the model has its head (vaesweep.objectives.bag_of_words)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vaesweep.config import RunConfig
from vaesweep.metrics.likelihood import log_mean_exp
from vaesweep.models.vae import ForwardOutput
from vaesweep.objectives.likelihoods import Likelihood
from vaesweep.objectives.regularisers import DecoderPenalty, build_regulariser
from vaesweep.objectives.schedules import kl_weight, target_kl


@dataclass
class LossTerms:
    """Named parts of one step's loss; every logger and metric reads them the same way."""

    loss: torch.Tensor
    rec: torch.Tensor
    kl: torch.Tensor
    regulariser: torch.Tensor
    bow: torch.Tensor | None = None  # bag-of-words loss, E_batch,q loss_bow (unweighted), if on


@dataclass
class ScheduleState:
    kl_weight: float
    target_kl: float


class Objective:
    """Assembles the loss for one method; the only place the axes meet in training."""

    def __init__(
        self,
        config: RunConfig,
        steps_per_epoch: int,
        total_steps: int,
        decoder: torch.nn.Module | None = None,
    ) -> None:
        """``decoder``: the module whose parameters an l2 decoder penalty (RAE-L2) regularises."""
        self.config = config
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = total_steps
        self.samples = config.regulariser.iwae_samples
        self.importance_weighted = config.regulariser.kind == "iwae"
        self.regulariser = build_regulariser(config.regulariser, config.train.batch_size)
        self.bow_weight = config.regulariser.bow_weight
        penalty = config.regulariser.decoder_penalty
        self.decoder_penalty = DecoderPenalty(config.regulariser, decoder) if penalty != "none" else None

    def schedule(self, step: int) -> ScheduleState:
        reg = self.config.regulariser
        return ScheduleState(
            kl_weight=kl_weight(self.config.annealing, step, self.steps_per_epoch, self.total_steps),
            target_kl=target_kl(reg.target_kl, reg.target_kl_ramp_steps, step),
        )

    def __call__(
        self,
        out: ForwardOutput,
        likelihood: Likelihood,
        x: torch.Tensor,
        lengths: torch.Tensor | None,
        schedule: ScheduleState,
    ) -> LossTerms:
        rec = likelihood.training_term(out.params, x, lengths, out.log_px)
        kl = out.kl.mean()
        if self.importance_weighted:
            # IWAE (Burda et al. 2016): -E log (1/k) sum_k p(x, z_k) / q(z_k|x)
            bound = log_mean_exp(out.log_px + out.log_pz - out.log_q, dim=0)
            terms = LossTerms(-bound.mean(), rec, kl, kl)
        else:
            regulariser = self.regulariser(out, schedule.target_kl)
            terms = LossTerms(rec + schedule.kl_weight * regulariser, rec, kl, regulariser)
        if out.bow_nll is not None:
            # bow-VAE (Zhao et al. 2017): + w * E loss_bow, not annealed, not part of rec
            terms.bow = out.bow_nll.mean()
            terms.loss = terms.loss + self.bow_weight * terms.bow
        if self.decoder_penalty is not None:
            # RAE (Ghosh et al. 2020): + lambda * L_REG of the decoder, not annealed
            mean = likelihood.mean(out.params) if self.decoder_penalty.kind == "gradient_penalty" else None
            terms.loss = terms.loss + self.decoder_penalty(out, mean)
        return terms
