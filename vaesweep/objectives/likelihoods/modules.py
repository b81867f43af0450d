"""Decoder likelihoods p(x|z): one axis, written once.

Every likelihood turns decoder outputs ``params`` [K, B, ...] into log p(x|z) [K, B] (for the
bounds and the NLL) and into the reconstruction term the training loss uses. They differ only
for the adaptive Gaussian of AR-ELBO, whose training term is a batch-level function of the
residuals (the MLE of the decoder variance substituted into the ELBO).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vaesweep.config import LikelihoodConfig
from vaesweep.models.priors import LOG_2PI

AR_ELBO_EPS = 1e-6  # AR-ELBO section 4.2: added before taking the logarithm, except for Iso-I


class Likelihood(nn.Module):
    """Base class: ``param_channels`` decoder outputs per observed scalar."""

    param_channels = 1

    def log_prob(self, params: torch.Tensor, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def training_term(
        self, params: torch.Tensor, x: torch.Tensor, lengths: torch.Tensor | None, log_px: torch.Tensor
    ) -> torch.Tensor:
        """The reconstruction term of the loss: -E log p(x|z) over the K samples and the batch."""
        return -log_px.mean()

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """E[x|z] (images)."""
        raise NotImplementedError

    def end_epoch(self) -> None:
        """Hook called once per training epoch (the adaptive variance updates its estimate)."""


class Bernoulli(Likelihood):
    """Binary (or [0,1]-valued, as cross-entropy) pixels; params are logits."""

    def log_prob(self, params, x, lengths=None):
        logits = params[:, :, 0]
        target = x.expand_as(logits)
        return -F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(2).sum(-1)

    def mean(self, params):
        return torch.sigmoid(params[..., 0, :, :, :])


class Categorical(Likelihood):
    """Per-token softmax over the vocabulary; params are logits [K, B, T, V], padding masked."""

    def log_prob(self, params, x, lengths=None):
        log_probs = torch.log_softmax(params, dim=-1)
        target = x.expand(params.shape[0], *x.shape).unsqueeze(-1)
        token_log_probs = log_probs.gather(-1, target).squeeze(-1)
        if lengths is not None:
            positions = torch.arange(x.shape[-1], device=x.device)
            token_log_probs = token_log_probs * (positions < lengths.unsqueeze(-1))
        return token_log_probs.sum(-1)


class Gaussian(Likelihood):
    """N(x; mu(z), Sigma_x), mu = the first decoder channel (through ``mean_activation``).

    fixed:     Sigma_x = sigma_x2 * I (AR-ELBO eq. 3; 1.0 in most implementations).
    trainable: Sigma_x learned by gradient like any parameter (Dai & Wipf 2019): a scalar
               (Iso-I), a per-pixel vector (Diag-I), or a second decoder channel (Iso-D: its
               mean over pixels is log sigma^2(z); Diag-D: per pixel).
    adaptive:  AR-ELBO: Sigma_x at its maximum-likelihood value, substituted into the ELBO
               (eq. 9 and Table 2), so no variance is trained. For log p(x|z) at evaluation the
               variance is the MLE accumulated over the last training epoch (Iso-D uses the
               Iso-I estimate and Diag-D the Diag-I one, since sigma^2(z) = residual^2 would
               need x itself).
    """

    def __init__(self, config: LikelihoodConfig, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.mode = config.variance
        self.activation = torch.sigmoid if config.mean_activation == "sigmoid" else _identity
        self.parameterisation = config.variance_parameterisation
        self.data_dim = image_shape[0] * image_shape[1] * image_shape[2]
        self.decoder_variance = self.mode == "trainable" and self.parameterisation in ("iso_d", "diag_d")
        self.param_channels = 2 if self.decoder_variance else 1
        diagonal = self.parameterisation.startswith("diag")
        variance_shape = image_shape if diagonal else (1, 1, 1)
        if self.mode == "fixed":
            self.register_buffer("fixed_logvar", torch.full(variance_shape, math.log(config.sigma_x2)))
        elif self.mode == "trainable" and not self.decoder_variance:
            self.logvar = nn.Parameter(torch.zeros(variance_shape))
        elif self.mode == "adaptive":
            self.register_buffer("eval_variance", torch.ones(variance_shape))
            self.register_buffer("residual_sum", torch.zeros(image_shape))
            self.register_buffer("residual_count", torch.zeros(()))

    def mean(self, params):
        return self.activation(params[..., 0, :, :, :])

    def log_variance(self, params: torch.Tensor) -> torch.Tensor:
        """log Sigma_x broadcastable to the pixels of ``params[..., 0, :, :, :]``."""
        if self.mode == "fixed":
            return self.fixed_logvar
        if self.mode == "adaptive":
            return torch.log(self.eval_variance)
        if not self.decoder_variance:
            return self.logvar
        channel = params[..., 1, :, :, :]
        if self.parameterisation == "iso_d":
            return channel.mean(dim=(-3, -2, -1), keepdim=True)
        return channel

    def log_prob(self, params, x, lengths=None):
        residual = x - self.mean(params)
        logvar = self.log_variance(params)
        per_pixel = residual.pow(2) * torch.exp(-logvar) + logvar + LOG_2PI
        return -0.5 * per_pixel.expand_as(residual).flatten(2).sum(-1)

    def training_term(self, params, x, lengths, log_px):
        if self.mode != "adaptive":
            return -log_px.mean()
        residual_sq = (x - self.mean(params)).pow(2)
        with torch.no_grad():
            self.residual_sum += residual_sq.flatten(0, 1).sum(0)
            self.residual_count += residual_sq.shape[0] * residual_sq.shape[1]
        return adaptive_gaussian_nll(residual_sq, self.parameterisation)

    def end_epoch(self) -> None:
        if self.mode != "adaptive" or float(self.residual_count) == 0:
            return
        per_pixel = self.residual_sum / self.residual_count
        if self.parameterisation.startswith("iso"):
            per_pixel = per_pixel.mean().reshape(1, 1, 1)
        self.eval_variance.copy_(per_pixel.clamp_min(AR_ELBO_EPS))
        self.residual_sum.zero_()
        self.residual_count.zero_()

    def sigma_x2(self, params: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder variance averaged over pixels (and examples for z-dependent variances)."""
        return torch.exp(self.log_variance(params)).mean()


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


def adaptive_gaussian_nll(residual_sq: torch.Tensor, parameterisation: str) -> torch.Tensor:
    """AR-ELBO Table 2: the Gaussian NLL at the maximum-likelihood Sigma_x, mean per example.

    ``residual_sq`` is (x - mu(z))^2 of shape [K, B, C, H, W]; expectations over the data and
    q(z|x) are means over the K samples and the batch. Constants are kept (the value is the NLL
    at the MLE), so the gradient is exactly that of eq. 9 and its Table 2 variants:
      Iso-I:  d/2 ln E||x - mu||^2          Iso-D:  d/2 E ln ||x - mu||^2
      Diag-I: 1/2 sum_i ln E(x_i - mu_i)^2   Diag-D: 1/2 sum_i E ln (x_i - mu_i)^2
    with eps = 1e-6 inside the logarithm except for Iso-I.
    """
    d = residual_sq[0, 0].numel()
    constant = 0.5 * d * (LOG_2PI + 1.0)
    per_example = residual_sq.flatten(2).sum(-1)  # ||x - mu||^2, [K, B]
    if parameterisation == "iso_i":
        return 0.5 * d * torch.log(per_example.mean() / d) + constant
    if parameterisation == "iso_d":
        return (0.5 * d * torch.log((per_example + AR_ELBO_EPS) / d)).mean() + constant
    if parameterisation == "diag_i":
        per_pixel = residual_sq.flatten(0, 1).mean(0)
        return 0.5 * torch.log(per_pixel + AR_ELBO_EPS).sum() + constant
    if parameterisation == "diag_d":
        return 0.5 * torch.log(residual_sq + AR_ELBO_EPS).flatten(2).sum(-1).mean() + constant
    raise ValueError(parameterisation)
