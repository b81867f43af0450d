"""Fully connected encoder/decoder (IWAE, Burda et al. 2016: two hidden layers of 200 tanh
units for 28x28 images; IGP appendix E uses it for MNIST and Fashion-MNIST)."""

from __future__ import annotations

import itertools

import torch
from torch import nn


def _stack(sizes: list[int], activation: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [nn.Linear(fan_in, fan_out), activation()]
    return nn.Sequential(*layers)


ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


class MLPEncoder(nn.Module):
    def __init__(
        self, image_shape: tuple[int, int, int], hidden_sizes: tuple[int, ...], activation: str
    ) -> None:
        super().__init__()
        data_dim = image_shape[0] * image_shape[1] * image_shape[2]
        self.body = _stack([data_dim, *hidden_sizes], ACTIVATIONS[activation])
        self.out_features = hidden_sizes[-1]

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(x.flatten(1))


class MLPDecoder(nn.Module):
    """z -> ``param_channels`` values per pixel, shape [N, param_channels, C, H, W]."""

    autoregressive = False

    def __init__(
        self,
        latent_dim: int,
        image_shape: tuple[int, int, int],
        hidden_sizes: tuple[int, ...],
        activation: str,
        param_channels: int,
    ) -> None:
        super().__init__()
        self.image_shape = image_shape
        self.param_channels = param_channels
        widths = list(reversed(hidden_sizes))
        self.body = _stack([latent_dim, *widths], ACTIVATIONS[activation])
        data_dim = image_shape[0] * image_shape[1] * image_shape[2]
        self.out = nn.Linear(widths[-1], param_channels * data_dim)

    def forward(self, z: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(self.body(z)).view(-1, self.param_channels, *self.image_shape)
