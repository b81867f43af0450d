"""bow-VAE's bag-of-words loss (Zhao, Zhao & Eskenazi 2017): predict a sentence's words from z.

    loss_bow(x, z) = - sum_{t: x_t != <pad>} log softmax(f(z))[x_t]

f(z) is one set of logits for the whole sentence (``vaesweep.models.text.BagOfWordsHead``), so
the term ignores word order and can only be lowered by putting the sentence's content into z.
The tokens counted are the decoder's targets: the words and the closing </s>, not <pad> (and
not <s>, which is never a target). Zhao et al.'s code does the same (targets are the decoder
inputs without <s>, masked where the id is <pad>), and it keeps the sum comparable with the
reconstruction term, which also scores </s>.

The objective adds ``regulariser.bow_weight * E loss_bow`` to the loss, outside the KL
annealing (only the KL is annealed in Zhao et al.). It is a training term only: ``rec``, the
ELBO and the NLL are the LSTM decoder's p(x|z), which the head is not part of.
"""

from __future__ import annotations

import torch

PAD_ID = 0  # vaesweep.data.base.Vocabulary


def bag_of_words_nll(
    logits: torch.Tensor, x: torch.Tensor, lengths: torch.Tensor | None = None, pad_id: int = PAD_ID
) -> torch.Tensor:
    """-sum_t log softmax(logits)[x_t] over each sentence's tokens.

    logits [K, B, V] (one row per sample of z), x [B, T] token ids; a token counts when its
    position is below the sentence's length (when ``lengths`` is given) and it is not <pad>.
    Returns [K, B].
    """
    log_probs = torch.log_softmax(logits, dim=-1)
    target = x.expand(logits.shape[0], *x.shape)
    token_log_probs = log_probs.gather(-1, target)  # [K, B, T]
    keep = x != pad_id
    if lengths is not None:
        keep = keep & (torch.arange(x.shape[-1], device=x.device) < lengths.unsqueeze(-1))
    return -(token_log_probs * keep).sum(-1)
