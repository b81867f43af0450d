"""Fixtures shared across the test directories."""

from __future__ import annotations

import warnings

import pytest
import torch


class ChannelMeans(torch.nn.Module):
    """A stand-in FID feature network: the mean of each colour channel, [N, 3]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


@pytest.fixture
def one_thread():
    """Loops over tiny tensors, where OpenMP's intra-op threads only contend (on a busy 2-core
    machine, 40x slower): one thread keeps them fast and predictable."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def stand_in_network(tmp_path):
    """A TorchScript file of ``ChannelMeans``, for ``eval.fid_network``."""
    path = tmp_path / "features.pt"
    with warnings.catch_warnings():  # TorchScript is deprecated in torch 2.13, and what FID files use
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(ChannelMeans()).save(str(path))
    return str(path)
