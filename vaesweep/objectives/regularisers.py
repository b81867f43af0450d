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


def mmd_imq(z: torch.Tensor, prior_z: torch.Tensor, scales: tuple[float, ...], prior_variance: float = 1.0):
    """Unbiased U-statistic of MMD^2 between the codes ``z`` [..., n, D] and prior samples
    ``prior_z`` [..., m, D] (WAE, Tolstikhin et al. 2018, Algorithm 2):

        1/(n(n-1)) sum_{i!=j} k(z_i, z_j) + 1/(m(m-1)) sum_{i!=j} k(z~_i, z~_j)
        - 2/(nm) sum_{i,j} k(z_i, z~_j),

    with the inverse multiquadratic kernel k(x, y) = sum_s C_s / (C_s + ||x - y||^2),
    C_s = 2 * D * prior_variance * s (WAE's section 4). Unbiased, so it can be negative when
    q(z) = p(z). Leading dimensions are batched (one statistic per leading index).
    """
    n, m, dim = z.shape[-2], prior_z.shape[-2], z.shape[-1]
    base = 2.0 * dim * prior_variance

    def squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        cross = a @ b.transpose(-1, -2)
        return (a.pow(2).sum(-1, keepdim=True) + b.pow(2).sum(-1).unsqueeze(-2) - 2 * cross).clamp_min(0)

    def kernel(distances: torch.Tensor) -> torch.Tensor:
        return sum(base * s / (base * s + distances) for s in scales)

    def off_diagonal_mean(gram: torch.Tensor, size: int) -> torch.Tensor:
        return (gram.sum((-2, -1)) - gram.diagonal(dim1=-2, dim2=-1).sum(-1)) / (size * (size - 1))

    within_q = off_diagonal_mean(kernel(squared_distances(z, z)), n)
    within_p = off_diagonal_mean(kernel(squared_distances(prior_z, prior_z)), m)
    across = kernel(squared_distances(z, prior_z)).mean((-2, -1))
    return within_q + within_p - 2 * across


class MMDRegulariser:
    """WAE-MMD (Tolstikhin et al. 2018, eq. 4 and Algorithm 2): lambda * MMD^2(q(z), p(z)) of the
    batch's codes (all K samples) against as many samples of the prior N(0, I)."""

    def __init__(self, config: RegulariserConfig) -> None:
        self.weight = config.mmd_weight
        self.scales = tuple(config.mmd_scales)

    def __call__(self, out: ForwardOutput, target: float = 0.0) -> torch.Tensor:
        z = out.z.reshape(-1, out.z.shape[-1])
        if z.shape[0] < 2:  # a last batch of one example has no pairs
            return torch.zeros((), device=z.device, dtype=z.dtype)
        return self.weight * mmd_imq(z, torch.randn_like(z), self.scales)


def decoder_l2(decoder: torch.nn.Module) -> torch.Tensor:
    """RAE-L2 (Ghosh et al. 2020, section 4): ||theta||^2 over every decoder parameter."""
    return sum(p.pow(2).sum() for p in decoder.parameters() if p.requires_grad)


def decoder_gradient_penalty(mean: torch.Tensor, z: torch.Tensor, probes: int) -> torch.Tensor:
    """RAE-GP (Ghosh et al. 2020, section 4; AR-ELBO eq. 4's gradient penalty): the squared
    Frobenius norm of the Jacobian d mu(z) / dz of the decoder mean ``mean`` [K, B, ...] at the
    codes ``z`` [K, B, D], averaged over the K * B codes; differentiable (create_graph).

    ``probes`` >= 1: Hutchinson's estimate with random signs v, E_v ||J^T v||^2 = ||J||_F^2, one
    vector-Jacobian product per probe (unbiased); 0: exact, one product per output unit.
    For D(z) = W z it is ||W||_F^2.
    """
    codes = z.shape[0] * z.shape[1]
    if probes == 0:
        basis = torch.eye(mean[0, 0].numel(), device=mean.device, dtype=mean.dtype)
        directions = (unit.expand(*mean.shape[:2], unit.numel()).reshape(mean.shape) for unit in basis)
    else:
        directions = (torch.randint_like(mean, 2) * 2 - 1 for _ in range(probes))
    total = torch.zeros((), device=mean.device, dtype=mean.dtype)
    for direction in directions:
        (grad,) = torch.autograd.grad(mean, z, direction, create_graph=True)
        total = total + grad.pow(2).sum()
    return total / (codes * max(probes, 1))


class DecoderPenalty:
    """lambda * L_REG of RAE (Ghosh et al. 2020, eq. 11), added to any method's loss."""

    def __init__(self, config: RegulariserConfig, decoder: torch.nn.Module | None) -> None:
        if config.decoder_penalty == "l2" and decoder is None:
            raise ValueError("the l2 decoder penalty needs the decoder's parameters")
        self.kind = config.decoder_penalty
        self.weight = config.decoder_penalty_weight
        self.probes = config.decoder_penalty_probes
        self.decoder = decoder

    def __call__(self, out: ForwardOutput, mean: torch.Tensor | None) -> torch.Tensor:
        """``mean``: the decoder mean mu(z) computed from ``out.z`` (the gradient penalty's D)."""
        if self.kind == "l2":
            return self.weight * decoder_l2(self.decoder)
        return self.weight * decoder_gradient_penalty(mean, out.z, self.probes)


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
    if config.kind == "mmd":
        return MMDRegulariser(config)
    return NoRegulariser()
