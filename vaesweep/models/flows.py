"""Inverse autoregressive flow on z0 (Kingma et al. 2016), as used by DU-IAF, IAF+FB, IAF+BN.

DU-VAE appendix D, eq. S22: (m, s) = MADE(z_{t-1}, h); sigma = sigmoid(s);
z_t = sigma * z_{t-1} + (1 - sigma) * m, so log|det dz_t/dz_{t-1}| = sum_d log sigma_d.
Each block is a 2-layer MADE conditioned on the encoder features h; the variable ordering is
reversed between consecutive blocks (DU-VAE appendix E).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 connectivity mask."""

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor) -> None:
        super().__init__(in_features, out_features)
        self.register_buffer("mask", mask.to(self.weight.dtype, copy=True))  # its own: never tied

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """2-hidden-layer MADE (Germain et al. 2015) emitting (m, s) autoregressive in ``order``.

    Output d depends only on inputs that come before d in ``order``, which makes the Jacobian
    of one IAF step triangular.
    """

    def __init__(self, dim: int, hidden: int, context_dim: int, order: torch.Tensor) -> None:
        super().__init__()
        degree_in = torch.empty(dim, dtype=torch.long)
        degree_in[order] = torch.arange(1, dim + 1)  # position of each variable in the ordering
        degree_hidden = torch.arange(hidden) % max(dim - 1, 1) + 1
        mask_in = (degree_hidden[:, None] >= degree_in[None, :]).float()
        mask_hidden = (degree_hidden[:, None] >= degree_hidden[None, :]).float()
        mask_out = (degree_in[:, None] > degree_hidden[None, :]).float()
        self.first = MaskedLinear(dim, hidden, mask_in)
        self.context = nn.Linear(context_dim, hidden)
        self.second = MaskedLinear(hidden, hidden, mask_hidden)
        self.mean = MaskedLinear(hidden, dim, mask_out)
        self.scale = MaskedLinear(hidden, dim, mask_out)

    def forward(self, z: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = F.elu(self.first(z) + self.context(context))
        hidden = F.elu(self.second(hidden))
        return self.mean(hidden), self.scale(hidden)


class IAF(nn.Module):
    """A chain of IAF blocks; ``forward(z0, h)`` returns (z_T, sum of log-determinants)."""

    def __init__(self, dim: int, hidden: int, context_dim: int, blocks: int = 2) -> None:
        super().__init__()
        forward_order = torch.arange(dim)
        self.blocks = nn.ModuleList(
            MADE(dim, hidden, context_dim, forward_order if b % 2 == 0 else forward_order.flip(0))
            for b in range(blocks)
        )
        # A positive bias on s starts each step close to the identity (sigma ~ 0.88).
        for block in self.blocks:
            nn.init.constant_(block.scale.bias, 2.0)

    def forward(self, z: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        context = context.expand(*z.shape[:-1], context.shape[-1])
        log_det = torch.zeros(z.shape[:-1], device=z.device, dtype=z.dtype)
        for block in self.blocks:
            m, s = block(z, context)
            gate = torch.sigmoid(s)
            z = gate * z + (1.0 - gate) * m
            log_det = log_det + F.logsigmoid(s).sum(-1)
        return z, log_det
