"""Convolutional encoder/decoder for 28x28 images (AR-ELBO appendix J.1, after Chen et al. 2016).

Encoder: Conv64 -> ReLU -> Conv128 -> ReLU -> FC1024 -> BN -> ReLU (the posterior head adds
FC 2*dim(z)). Decoder: FC1024 -> BN -> ReLU -> FC 128*7*7 -> BN -> ReLU -> ConvT64 -> BN ->
ReLU -> ConvT(out). Kernel 5 stride 2 in appendix J; ``batch_norm=False`` with kernel 4 gives
the appendix D.1 network of the Table 1 experiment.
"""

from __future__ import annotations

import torch
from torch import nn


def _padding(kernel: int) -> tuple[int, int]:
    """(padding, output_padding) so stride-2 convs halve / transposed convs double the size."""
    padding = (kernel - 1) // 2
    return padding, (kernel % 2)


def _norm(features: int, enabled: bool, two_d: bool = False) -> nn.Module:
    if not enabled:
        return nn.Identity()
    return nn.BatchNorm2d(features) if two_d else nn.BatchNorm1d(features)


class ConvEncoder(nn.Module):
    def __init__(self, kernel: int, batch_norm: bool) -> None:
        super().__init__()
        padding, _ = _padding(kernel)
        self.body = nn.Sequential(
            nn.Conv2d(1, 64, kernel, stride=2, padding=padding),
            nn.ReLU(),
            nn.Conv2d(64, 128, kernel, stride=2, padding=padding),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(128 * 7 * 7, 1024),
            _norm(1024, batch_norm),
            nn.ReLU(),
        )
        self.out_features = 1024

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(x)


class ConvDecoder(nn.Module):
    autoregressive = False

    def __init__(self, latent_dim: int, kernel: int, batch_norm: bool, param_channels: int) -> None:
        super().__init__()
        padding, output_padding = _padding(kernel)
        self.param_channels = param_channels
        self.body = nn.Sequential(
            nn.Linear(latent_dim, 1024),
            _norm(1024, batch_norm),
            nn.ReLU(),
            nn.Linear(1024, 128 * 7 * 7),
            _norm(128 * 7 * 7, batch_norm),
            nn.ReLU(),
            nn.Unflatten(1, (128, 7, 7)),
            nn.ConvTranspose2d(128, 64, kernel, stride=2, padding=padding, output_padding=output_padding),
            _norm(64, batch_norm, two_d=True),
            nn.ReLU(),
            nn.ConvTranspose2d(
                64, param_channels, kernel, stride=2, padding=padding, output_padding=output_padding
            ),
        )

    def forward(self, z: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        out = self.body(z)
        return out.view(-1, self.param_channels, 1, 28, 28)
