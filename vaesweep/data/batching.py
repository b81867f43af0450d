"""Epoch batching over an in-memory split: index tensors, no DataLoader (DESIGN.md section 7).

Every random choice comes from the ``generator`` passed in, so a resumed run that restores the
generator's state replays exactly the batches it would have seen.
"""

from __future__ import annotations

import torch


def batch_indices(
    n: int,
    batch_size: int,
    generator: torch.Generator,
    lengths: torch.Tensor | None = None,
    device: torch.device | str | None = None,
) -> list[torch.Tensor]:
    """One epoch of index batches covering each of the ``n`` examples exactly once.

    Without ``lengths`` the order is a random permutation cut into batches (the last may be
    smaller). With ``lengths`` (text), sentences are bucketed so each batch holds similar
    lengths and little padding: shuffle, sort stably by length (so equal lengths stay in
    random order), cut into batches, then shuffle the order of the batches.
    The indices live on ``device`` (default: that of ``lengths``, else the generator's).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if device is None:
        device = generator.device if lengths is None else lengths.device
    order = torch.randperm(n, generator=generator, device=generator.device)
    if lengths is None:
        return list(order.to(device).split(batch_size))
    if lengths.shape != (n,):
        raise ValueError(f"lengths must have shape ({n},), got {tuple(lengths.shape)}")
    shuffled_lengths = lengths.to(generator.device)[order]
    order = order[torch.argsort(shuffled_lengths, stable=True)]
    batches = order.to(device).split(batch_size)
    batch_order = torch.randperm(len(batches), generator=generator, device=generator.device)
    return [batches[i] for i in batch_order.tolist()]


def batches_per_epoch(n: int, batch_size: int, multiple: int = 1) -> int:
    """The batches an epoch of ``n`` examples trains on: the full ones, and the last, smaller one
    when its size is a multiple of ``multiple`` (DG-VAE's |b|; see ``keeps``)."""
    full, rest = divmod(n, batch_size)
    return full + int(rest > 0 and rest % multiple == 0)


def keeps(index: torch.Tensor, multiple: int) -> bool:
    """Whether a batch trains: its size is a multiple of ``multiple`` (always, for 1)."""
    return index.numel() % multiple == 0


def trim(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Cut a padded text batch [B, T] to its longest sentence, so no step is all padding."""
    return x[:, : int(lengths.max())]
