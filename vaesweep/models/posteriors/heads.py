"""Posterior heads: encoder features h -> q(z|x).

One head per posterior family of the papers; each returns a ``Posterior`` holding the
parameters of the base Gaussian (and the IAF chain when there is one), so the objective,
the metrics and the samplers read every family the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from vaesweep import noise
from vaesweep.config import PosteriorConfig
from vaesweep.models.flows import IAF
from vaesweep.models.posteriors import ALPHA_FLOOR
from vaesweep.models.priors import LOG_2PI


@dataclass
class Posterior:
    """q(z|x) for a batch: a diagonal Gaussian on z0, optionally pushed through an IAF.

    ``mean``/``logvar`` are [B, D] (isotropic heads repeat one log-variance over D);
    ``logvar`` is None for a deterministic encoder (an AE), whose z is the mean.
    """

    mean: torch.Tensor
    logvar: torch.Tensor | None
    flow: IAF | None = None
    context: torch.Tensor | None = None

    @property
    def deterministic(self) -> bool:
        return self.logvar is None

    @property
    def is_gaussian(self) -> bool:
        """True when q(z|x) is exactly the diagonal Gaussian (no flow, not deterministic)."""
        return self.flow is None and self.logvar is not None

    def rsample(self, k: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """k reparameterised samples z [k, B, D] and log q(z|x) [k, B]."""
        if self.logvar is None:
            z = self.mean.expand(k, *self.mean.shape)
            return z, torch.zeros(z.shape[:-1], device=z.device, dtype=z.dtype)
        eps = noise.source().normal((k, *self.mean.shape), like=self.mean)
        z = self.mean + torch.exp(0.5 * self.logvar) * eps
        log_q = -0.5 * (eps.pow(2) + self.logvar + LOG_2PI).sum(-1)
        if self.flow is not None:
            z, log_det = self.flow(z, self.context)
            log_q = log_q - log_det
        return z, log_q

    def kl_to_standard_normal(self) -> torch.Tensor:
        """Closed-form KL(q(z0|x) || N(0, I)) per dimension, [B, D] (IGP eq. 1 regulariser)."""
        assert self.logvar is not None
        return 0.5 * (self.mean.pow(2) + torch.exp(self.logvar) - self.logvar - 1.0)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z|x) [k, B] for z [k, B, D]; only for Gaussian posteriors (no flow)."""
        assert self.is_gaussian
        return -0.5 * (((z - self.mean) ** 2) * torch.exp(-self.logvar) + self.logvar + LOG_2PI).sum(-1)


def committed_rate_variance(delta: float) -> float:
    """delta-VAE: the largest s^2 < 1 with KL(N(0, s^2) || N(0, 1)) = delta, per dimension.

    Solves s^2 - ln s^2 - 1 = 2*delta by bisection; any variance in (0, s^2] keeps the
    per-dimension KL >= delta whatever the mean (Razavi et al. 2019).
    """
    low, high = 1e-12, 1.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if mid - math.log(mid) - 1.0 > 2.0 * delta:
            low = mid
        else:
            high = mid
    return low


class GaussianHead(nn.Module):
    """Diagonal (DGP) or isotropic (IGP) Gaussian head, with the optional delta-VAE constraint
    or a fixed variance.

    The isotropic head has a 1-unit log-variance output shared by every dimension (IGP
    section 4, "we just produce one variance value"). A fixed variance (AR-ELBO appendix E)
    replaces the log-variance output by a constant.
    """

    def __init__(
        self,
        in_features: int,
        latent_dim: int,
        isotropic: bool,
        committed_rate: float,
        fixed_variance: float = 0.0,
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.mean = nn.Linear(in_features, latent_dim)
        self.fixed_logvar = math.log(fixed_variance) if fixed_variance > 0 else None
        self.logvar = (
            None if self.fixed_logvar is not None else nn.Linear(in_features, 1 if isotropic else latent_dim)
        )
        self.max_variance = committed_rate_variance(committed_rate) if committed_rate > 0 else None

    def forward(self, h: torch.Tensor) -> Posterior:
        mean = self.mean(h)
        if self.fixed_logvar is not None:
            return Posterior(mean, torch.full_like(mean, self.fixed_logvar))
        raw = self.logvar(h).expand(-1, self.latent_dim)
        if self.max_variance is not None:
            logvar = math.log(self.max_variance) + nn.functional.logsigmoid(raw)
        else:
            logvar = raw
        return Posterior(mean, logvar)


class BatchNormHead(nn.Module):
    """BN-VAE and DU-VAE heads: BatchNorm on the posterior means (DU-VAE eq. 9).

    BN-VAE (``trainable_scale=False``): the BN weight is fixed at gamma; no floor, no dropout.
    With ``bn_shift`` != 0 (DU-VAE appendix F) the shift is fixed there and the scale learned.
    DU-VAE (``trainable_scale=True``): the weight starts at gamma, is trained, and is rescaled
    to gamma_d <- gamma * gamma_d / sqrt(mean_d gamma_d^2) (Alg. 1 line 9, ``rescale_``);
    variances get the floor alpha = 1/(2*pi*e) and, in training, dropout with keep
    probability p: s2_hat = g * exp(logvar) + alpha, g ~ Bernoulli(p)/p (eq. 6).

    p is a buffer, so a packed model holds one value per member (a packed trainer rescales the
    stacked weights itself, with each member's gamma).
    """

    def __init__(
        self, in_features: int, latent_dim: int, config: PosteriorConfig, trainable_scale: bool
    ) -> None:
        super().__init__()
        keep_prob = config.keep_prob if trainable_scale else 1.0
        self.gamma = config.gamma
        self.register_buffer("keep_prob", torch.tensor(float(keep_prob)))
        self.variance_dropout = keep_prob < 1.0
        self.mean = nn.Linear(in_features, latent_dim)
        self.logvar = nn.Linear(in_features, latent_dim)
        self.norm = nn.BatchNorm1d(latent_dim)
        nn.init.constant_(self.norm.weight, config.gamma)
        nn.init.constant_(self.norm.bias, config.bn_shift)
        self.norm.weight.requires_grad_(trainable_scale or config.bn_shift != 0)
        self.norm.bias.requires_grad_(config.bn_shift == 0)
        self.trainable_scale = trainable_scale
        self.floor = ALPHA_FLOOR if (trainable_scale and config.variance_floor) else 0.0
        self.rescale_before_forward = config.rescale == "before_forward"
        # The authors' code switches floor and dropout on only once KL annealing reaches 1;
        # the trainer flips this flag (set_noise_active) when that option is chosen.
        self.noise_active = True

    @torch.no_grad()
    def rescale_(self) -> None:
        """DU-VAE Alg. 1 line 9: keep mean_d gamma_d^2 = gamma^2 (no gradient)."""
        if self.trainable_scale:
            weight = self.norm.weight
            weight.mul_(self.gamma / weight.pow(2).mean().sqrt().clamp_min(1e-12))

    def forward(self, h: torch.Tensor) -> Posterior:
        if self.rescale_before_forward and self.training:
            self.rescale_()
        mean = self.norm(self.mean(h))
        raw_logvar = self.logvar(h)
        if not self.trainable_scale or not self.noise_active:
            return Posterior(mean, raw_logvar)
        variance = torch.exp(raw_logvar)
        if self.training and self.variance_dropout:
            keep = noise.source().keep_mask(self.keep_prob, variance)
            variance = variance * keep / self.keep_prob
        return Posterior(mean, torch.log(variance + self.floor))


class DeterministicHead(nn.Module):
    """An AE's encoder output: z = mean, no variance."""

    def __init__(self, in_features: int, latent_dim: int) -> None:
        super().__init__()
        self.mean = nn.Linear(in_features, latent_dim)

    def forward(self, h: torch.Tensor) -> Posterior:
        return Posterior(self.mean(h), None)


class PosteriorWithFlow(nn.Module):
    """Any stochastic head followed by an IAF chain conditioned on the encoder features."""

    def __init__(self, head: nn.Module, flow: IAF) -> None:
        super().__init__()
        self.head = head
        self.flow = flow

    def forward(self, h: torch.Tensor) -> Posterior:
        base = self.head(h)
        return Posterior(base.mean, base.logvar, flow=self.flow, context=h)


def batchnorm_heads(module: nn.Module) -> list[BatchNormHead]:
    return [m for m in module.modules() if isinstance(m, BatchNormHead)]
