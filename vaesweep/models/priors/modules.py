"""Priors p(z): the standard Gaussian and the mixtures of IGP appendix C."""

from __future__ import annotations

import torch
from torch import nn

from vaesweep.models.priors import LOG_2PI


def gaussian_log_prob(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mean, diag(exp(logvar))) summed over the last dimension."""
    return -0.5 * (((z - mean) ** 2) * torch.exp(-logvar) + logvar + LOG_2PI).sum(-1)


class StandardNormalPrior(nn.Module):
    """p(z) = N(0, I)."""

    is_standard = True

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return -0.5 * (z.pow(2) + LOG_2PI).sum(-1)

    def sample(self, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.randn(n, self.dim, device=device)


class MixturePrior(nn.Module):
    """Mixture of Gaussians with learnable means, variances and weights (IGP appendix C).

    ``isotropic`` ties each component's variance across dimensions (MoIG), matching the
    isotropic posterior family; otherwise components are diagonal (MoG).
    """

    is_standard = False

    def __init__(self, dim: int, components: int, isotropic: bool) -> None:
        super().__init__()
        self.dim = dim
        self.means = nn.Parameter(torch.randn(components, dim))
        self.logvars = nn.Parameter(torch.zeros(components, 1 if isotropic else dim))
        self.logits = nn.Parameter(torch.zeros(components))

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        log_weights = torch.log_softmax(self.logits, dim=0)
        per_component = gaussian_log_prob(z.unsqueeze(-2), self.means, self.logvars.expand_as(self.means))
        return torch.logsumexp(per_component + log_weights, dim=-1)

    def sample(self, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
        component = torch.multinomial(torch.softmax(self.logits, 0), n, replacement=True)
        std = torch.exp(0.5 * self.logvars.expand_as(self.means))[component]
        return (self.means[component] + std * torch.randn(n, self.dim, device=std.device)).to(device)
