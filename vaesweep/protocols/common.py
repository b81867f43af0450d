"""What several protocols need from a trained model: posterior means, images decoded from z,
and sentences decoded greedily, each batched so memory stays bounded whatever the split size."""

from __future__ import annotations

from collections.abc import Callable

import torch

from vaesweep.data.base import Split, Vocabulary
from vaesweep.data.batching import batch_indices, trim
from vaesweep.models.vae import VAE, model_device


def fit_on_text(
    module: torch.nn.Module,
    split: Split,
    batch_loss: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    lr: float,
) -> torch.nn.Module:
    """Adam on ``batch_loss(x, lengths, index)`` over length-bucketed batches of a text split
    (the auxiliary networks of the text protocols: a classifier, a language model)."""
    optimiser = torch.optim.Adam(module.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    lengths_cpu = split.lengths.cpu()
    module.train()
    for _ in range(epochs):
        for index in batch_indices(len(split), batch_size, generator, lengths_cpu, device=split.x.device):
            lengths = split.lengths[index]
            loss = batch_loss(trim(split.x[index], lengths), lengths, index)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    return module.eval()


@torch.no_grad()
def posterior_means(model: VAE, split: Split, batch_size: int) -> torch.Tensor:
    """Means of q(z|x) [N, D] (the base Gaussian's for flows): the representation the papers'
    probes and generative protocols use (IGP section 4.2, DU-VAE section 4.3)."""
    model.eval()
    batches = split.batches(batch_size, model_device(model))
    return torch.cat([model.encode(x, lengths).mean for x, lengths in batches])


@torch.no_grad()
def decode_images(model: VAE, z: torch.Tensor) -> torch.Tensor:
    """Images [N, C, H, W] for codes z [N, D]: E[x|z] for a factorised decoder, a sample drawn
    pixel by pixel for an autoregressive one (which has no closed-form mean)."""
    model.eval()
    if model.decoder.autoregressive:
        return model.decoder.sample(z)
    return model.likelihood.mean(model.decoder(z, None).unsqueeze(0))[0]


def pack_token_rows(rows: torch.Tensor, vocab: Vocabulary) -> Split:
    """Decoded ids [N, L] -> a Split in the data sets' format: the tokens before the first </s>,
    then </s>, then <pad> (a row without </s> is cut at L and gets one)."""
    n, width = rows.shape
    is_eos = rows == vocab.eos_id
    first = torch.where(is_eos.any(1), is_eos.int().argmax(1), torch.full_like(rows[:, 0], width))
    x = torch.full((n, width + 1), vocab.pad_id, dtype=torch.long, device=rows.device)
    x[:, :width] = rows
    positions = torch.arange(width + 1, device=rows.device)
    x[positions > first.unsqueeze(1)] = vocab.pad_id
    x[torch.arange(n, device=rows.device), first] = vocab.eos_id
    return Split(x=x, lengths=first + 1)


def concat_splits(parts: list[Split], pad_id: int) -> Split:
    """Stack text splits of different widths (right-padded with <pad>); labels kept if all have them."""
    width = max(int(part.x.shape[1]) for part in parts)
    x = torch.cat(
        [torch.nn.functional.pad(part.x, (0, width - part.x.shape[1]), value=pad_id) for part in parts]
    )
    labels = (
        None if any(part.labels is None for part in parts) else torch.cat([part.labels for part in parts])
    )
    return Split(x=x, lengths=torch.cat([part.lengths for part in parts]), labels=labels)


@torch.no_grad()
def greedy_reconstructions(model: VAE, split: Split, vocab: Vocabulary, batch_size: int) -> Split:
    """Greedy decoding from each sentence's posterior mean (IGP: "we use greedy decoding"),
    up to 5 tokens longer than the batch's longest input, as the BLEU evaluation does."""
    model.eval()
    parts = []
    for x, lengths in split.batches(batch_size, model_device(model)):
        rows = model.decoder.greedy_decode(model.encode(x, lengths).mean, max_length=int(lengths.max()) + 5)
        parts.append(pack_token_rows(rows, vocab))
    result = concat_splits(parts, vocab.pad_id)
    result.labels = split.labels
    return result
