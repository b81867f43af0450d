"""Regularisers: small units, each the term its paper adds to the reconstruction loss.

Each takes the named forward output and returns a scalar to be added (after the annealing
weight) to the reconstruction term; ``target`` carries the schedule value a unit needs (C_t).
"""

from __future__ import annotations

import math

import torch

from vaesweep.config import RegulariserConfig
from vaesweep.metrics.latent import pairwise_symmetric_kl
from vaesweep.models.priors import LOG_2PI
from vaesweep.models.vae import ForwardOutput


class KLRegulariser:
    """beta * E_batch KL(q(z|x) || p(z)): the ELBO (beta = 1) and beta-VAE (Higgins et al.)."""

    def __init__(self, config: RegulariserConfig) -> None:
        self.beta = config.beta

    def __call__(self, out: ForwardOutput, target: float = 0.0) -> torch.Tensor:
        return self.beta * out.kl.mean()


class TargetKLRegulariser:
    """IGP eq. 2: beta * |KL_i - C_t|, per example, averaged over the batch."""

    def __init__(self, config: RegulariserConfig) -> None:
        self.beta = config.beta

    def __call__(self, out: ForwardOutput, target: float = 0.0) -> torch.Tensor:
        return self.beta * (out.kl - target).abs().mean()


class FreeBitsRegulariser:
    """Free bits (Kingma et al. 2016): sum_d max(lambda, E_batch KL_d).

    Without a per-dimension KL (an IAF posterior or a mixture prior), the hinge applies to the
    total: max(lambda * dim(z), E_batch KL).
    """

    def __init__(self, config: RegulariserConfig) -> None:
        self.beta = config.beta
        self.free_bits = config.free_bits

    def __call__(self, out: ForwardOutput, target: float = 0.0) -> torch.Tensor:
        if out.kl_per_dim is not None:
            return self.beta * out.kl_per_dim.mean(0).clamp_min(self.free_bits).sum()
        floor = self.free_bits * out.z.shape[-1]
        return self.beta * out.kl.mean().clamp_min(floor)


def density_gap(
    mean: torch.Tensor, logvar: torch.Tensor, aggregation_size: int, samples: int, joint: bool
) -> torch.Tensor:
    """DG-VAE density gap of a batch of diagonal Gaussian posteriors.

    The batch is split into B/|b| subsets; M samples are drawn from every posterior; in each
    subset the aggregated posterior qbar(z) = mean_k q(z|x_k) is compared with the prior at
    those samples: DG = sum_d E[log qbar(z_d) - log N(z_d; 0, 1)] (marginal, per dimension) or
    E[log qbar(z) - log N(z; 0, I)] (joint). |b| = 1 is a Monte Carlo estimate of the standard
    KL; larger |b| lets each posterior move away from the prior while their aggregate stays
    close to it (the mutual-information term of the poster is then <= dim(z) * log|b|).
    """
    batch, dim = mean.shape
    groups = batch // aggregation_size
    mean_g = mean.reshape(groups, aggregation_size, dim)
    var_g = torch.exp(logvar).reshape(groups, aggregation_size, dim)
    z = mean_g + var_g.sqrt() * torch.randn(
        (samples, groups, aggregation_size, dim), device=mean.device, dtype=mean.dtype
    )
    # log N(z_{m,g,i,d}; mean_{g,k,d}, var_{g,k,d}) for every pair (i, k) in the same subset
    diff = z.unsqueeze(3) - mean_g.unsqueeze(1).unsqueeze(0)
    log_components = -0.5 * (diff.pow(2) / var_g.unsqueeze(1) + torch.log(var_g).unsqueeze(1) + LOG_2PI)
    log_prior = -0.5 * (z.pow(2) + LOG_2PI)
    if joint:
        log_qbar = torch.logsumexp(log_components.sum(-1), dim=3) - math.log(aggregation_size)
        return (log_qbar - log_prior.sum(-1)).mean()
    log_qbar = torch.logsumexp(log_components, dim=3) - math.log(aggregation_size)
    return (log_qbar - log_prior).sum(-1).mean()


class DensityGapRegulariser:
    """DG-VAE: beta * DG in place of the KL (see ``density_gap``)."""

    def __init__(self, config: RegulariserConfig, batch_size: int) -> None:
        self.beta = config.beta
        self.aggregation_size = config.aggregation_size or batch_size
        self.samples = config.density_gap_samples
        self.joint = config.density_gap_mode == "joint"

    def __call__(self, out: ForwardOutput, target: float = 0.0) -> torch.Tensor:
        posterior = out.posterior
        size = self.aggregation_size
        if posterior.mean.shape[0] % size:  # a last, smaller batch: aggregate it whole
            size = posterior.mean.shape[0]
        return self.beta * density_gap(posterior.mean, posterior.logvar, size, self.samples, self.joint)


class MAERegulariser:
    """MAE (Ma et al. 2019): KL - gamma * log MPD + eta * Std[D_SKL] within the batch.

    MPD (mutual posterior diversity, DU-VAE eq. 2) is the mean symmetric KL between the
    posteriors of two different examples: its log rewards diverse posteriors on a scale that
    balances the ELBO, and the standard deviation of the pairwise divergences asks them to be
    spread evenly (smoothness). MAE's paper is not among the seeds; this is its objective as
    DU-VAE describes it (gamma: diversity, eta: smoothness), with the standard Gaussian prior.
    """

    def __init__(self, config: RegulariserConfig) -> None:
        self.beta = config.beta
        self.gamma = config.mae_gamma
        self.eta = config.mae_eta

    def __call__(self, out: ForwardOutput, target: float = 0.0) -> torch.Tensor:
        posterior = out.posterior
        batch = posterior.mean.shape[0]
        divergences = pairwise_symmetric_kl(posterior.mean, posterior.logvar).to(posterior.mean.dtype)
        off_diagonal = divergences[~torch.eye(batch, dtype=torch.bool, device=divergences.device)]
        mpd = off_diagonal.mean()
        spread = off_diagonal.std() if off_diagonal.numel() > 1 else torch.zeros_like(mpd)
        return self.beta * out.kl.mean() - self.gamma * torch.log(mpd + 1e-12) + self.eta * spread


class LatentL2Regulariser:
    """beta * ||mu||^2 / 2: what the KL keeps of a deterministic encoder (AR-ELBO Table 1,
    "deterministic encoding", sigma_z^2 fixed to 0; the log-variance part is a constant)."""

    def __init__(self, config: RegulariserConfig) -> None:
        self.beta = config.beta

    def __call__(self, out: ForwardOutput, target: float = 0.0) -> torch.Tensor:
        return self.beta * 0.5 * out.posterior.mean.pow(2).sum(-1).mean()


class NoRegulariser:
    """An AE: nothing beyond the reconstruction."""

    def __call__(self, out: ForwardOutput, target: float = 0.0) -> torch.Tensor:
        return torch.zeros((), device=out.log_px.device)


def build_regulariser(config: RegulariserConfig, batch_size: int):
    """The unit for ``config.kind`` (IWAE is a bound, handled by the objective)."""
    if config.kind in ("kl", "iwae"):
        return KLRegulariser(config)
    if config.kind == "target_kl":
        return TargetKLRegulariser(config)
    if config.kind == "free_bits":
        return FreeBitsRegulariser(config)
    if config.kind == "density_gap":
        return DensityGapRegulariser(config, batch_size)
    if config.kind == "mae":
        return MAERegulariser(config)
    if config.kind == "latent_l2":
        return LatentL2Regulariser(config)
    return NoRegulariser()
