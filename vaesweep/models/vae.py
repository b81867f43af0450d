"""The composed VAE: encoder -> posterior head (-> flow) -> z -> decoder -> likelihood, with a prior.

``forward`` returns every quantity the objectives and metrics need, by name, so a regulariser,
a bound or a metric never recomputes a part another already has (pythae's ModelOutput idea).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from vaesweep.models.posteriors.heads import Posterior
from vaesweep.objectives.likelihoods.modules import Likelihood


@dataclass
class ForwardOutput:
    """One forward pass with K samples per example.

    z [K, B, D]; log_q = log q(z|x), log_pz = log p(z), log_px = log p(x|z), all [K, B];
    kl [B]: closed form when q is Gaussian and the prior standard, else the Monte Carlo mean of
    log q - log p over the K samples; kl_per_dim [B, D] only in the closed-form case.
    """

    posterior: Posterior
    z: torch.Tensor
    log_q: torch.Tensor
    log_pz: torch.Tensor
    log_px: torch.Tensor
    params: torch.Tensor
    kl: torch.Tensor
    kl_per_dim: torch.Tensor | None
    kl_mean: torch.Tensor = field(init=False)  # E_batch KL: logged, and weighted by the KL terms

    def __post_init__(self) -> None:
        self.kl_mean = self.kl.mean()  # taken once: the objective and its regulariser share it


def model_device(model: nn.Module) -> torch.device:
    """Where a model's parameters live (every evaluation moves its batches there)."""
    return next(model.parameters()).device


class VAE(nn.Module):
    def __init__(
        self,
        encoder: nn.Module,
        head: nn.Module,
        decoder: nn.Module,
        likelihood: Likelihood,
        prior: nn.Module,
        bow_head: nn.Module | None = None,
        refinement: Callable[..., Posterior] | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.decoder = decoder
        self.likelihood = likelihood
        self.prior = prior
        self.bow_head = bow_head  # bow-VAE's f(z) -> vocabulary logits (text; the objective's term)
        # SA-VAE's per-example refinement of the encoder's posterior (vaesweep.models.posteriors)
        self.refinement = refinement

    @property
    def latent_dim(self) -> int:
        return self.prior.dim

    def encode(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> Posterior:
        """q(z|x): the encoder's posterior, refined per example when the run refines it (so every
        metric reads the posterior the run's ``posterior.refine_eval`` names)."""
        posterior = self.head(self.encoder(x, lengths))
        if self.refinement is not None:
            posterior = self.refinement(self, posterior, x, lengths)
        return posterior

    def decode(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Decoder outputs for z [K, B, D]; x [B, ...] is read only by autoregressive decoders."""
        k, b = z.shape[:2]
        flat_x = x.expand(k, *x.shape).reshape(k * b, *x.shape[1:]) if self.decoder.autoregressive else None
        params = self.decoder(z.reshape(k * b, -1), flat_x)
        return params.view(k, b, *params.shape[1:])

    def log_px_given_z(
        self, z: torch.Tensor, x: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.likelihood.log_prob(self.decode(z, x), x, lengths)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None, k: int = 1) -> ForwardOutput:
        posterior = self.encode(x, lengths)
        z, log_q = posterior.rsample(k)
        params = self.decode(z, x)
        log_px = self.likelihood.log_prob(params, x, lengths)
        log_pz = self.prior.log_prob(z)
        if posterior.is_gaussian and self.prior.is_standard:
            kl_per_dim = posterior.kl_to_standard_normal()
            kl = kl_per_dim.sum(-1)
        elif posterior.deterministic:
            kl_per_dim, kl = None, torch.zeros_like(log_q[0])
        else:
            kl_per_dim, kl = None, (log_q - log_pz).mean(0)
        return ForwardOutput(posterior, z, log_q, log_pz, log_px, params, kl, kl_per_dim)
