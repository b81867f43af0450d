"""Where the random draws of a training step come from.

Every draw a forward pass or a loss term makes (posterior samples, variance dropout, word
dropout, the density gap's and the MMD's samples, dynamic binarisation) goes through the
current ``Noise`` source. ``fit`` uses ``GlobalNoise``: torch's global generator, the calls the
code made before this module existed (except word dropout's mask on CUDA: ``dropout_mask``), so
a seed gives the same run. A packed trainer installs a source that hands each member the draws
its own unpacked run would have made (``drawn_from``), which is what makes a packed member
reproduce its ``fit`` trial.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor


class Noise:
    """A source of draws; shapes are those of one run (one member)."""

    def normal(self, shape: Sequence[int], like: Tensor) -> Tensor:
        """Standard normal draws of ``shape`` on ``like``'s device and dtype."""
        raise NotImplementedError

    def bernoulli(self, probs: Tensor) -> Tensor:
        """0/1 draws with the given probabilities."""
        raise NotImplementedError

    def keep_mask(self, keep_prob: Tensor, like: Tensor) -> Tensor:
        """DU-VAE's variance dropout: Bernoulli(``keep_prob``) draws shaped like ``like``. Called
        only by a run whose keep probability is below 1 (one of 1 has no dropout)."""
        return self.bernoulli(keep_prob.expand_as(like))

    def dropout(self, x: Tensor, p: float, time_major: bool = False) -> Tensor:
        """Inverted dropout of ``x`` with drop rate ``p`` (training only; the caller checks).
        ``time_major``: ``x`` is a batch-first sequence laid out time-major in memory (nn.LSTM's
        output), which is the order F.dropout fills its mask in."""
        raise NotImplementedError


class GlobalNoise(Noise):
    """torch's global generator (``torch.manual_seed`` sets it): what ``fit`` draws from."""

    def normal(self, shape: Sequence[int], like: Tensor) -> Tensor:
        return torch.randn(tuple(shape), device=like.device, dtype=like.dtype)

    def bernoulli(self, probs: Tensor) -> Tensor:
        return torch.bernoulli(probs)

    def dropout(self, x: Tensor, p: float, time_major: bool = False) -> Tensor:
        return x * dropout_mask(x, p, time_major)


def dropout_mask(
    like: Tensor, p: float, time_major: bool = False, generator: torch.Generator | None = None
) -> Tensor:
    """Inverted dropout's multiplier for ``like``, Bernoulli(1 - p) / (1 - p), drawn in memory
    order (time-major for nn.LSTM's batch-first output).

    On the CPU this is F.dropout's own mask, draw for draw. On CUDA F.dropout runs a fused kernel
    that hands its draws to elements in an order of its own, which a packed member drawing from
    its own generator cannot reproduce; so every device draws this mask, packed or not.
    """
    shape = (like.shape[1], like.shape[0], *like.shape[2:]) if time_major else like.shape
    mask = torch.empty(shape, dtype=like.dtype, device=like.device)
    mask.bernoulli_(1 - p, generator=generator).div_(1 - p)
    return mask.transpose(0, 1) if time_major else mask


_current: Noise = GlobalNoise()


def source() -> Noise:
    """The source the current step draws from."""
    return _current


@contextlib.contextmanager
def drawn_from(noise: Noise) -> Iterator[Noise]:
    """Make ``noise`` the current source for the duration of the block."""
    global _current
    previous, _current = _current, noise
    try:
        yield noise
    finally:
        _current = previous
