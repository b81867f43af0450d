"""Forward and reverse perplexity of sentences generated from the prior (IGP Table 4, after
Zhao et al. 2018).

``eval.lm_generated`` sentences (IGP: 100K) are decoded from z ~ p(z) by greedy decoding, the
decoding IGP uses throughout ("At decoding phase, we use greedy decoding"), up to the length of
the longest training sentence. A language model (a 200-d embedding and a 512-unit LSTM; the
sizes are ``eval.lm_embed_dim`` / ``eval.lm_hidden``) is trained for ``eval.lm_epochs`` epochs
(IGP: 10) with Adam 1e-3 (our choice; not stated):
- forward_ppl: the LM trained on the real training set, evaluated on the generated sentences
  (do the samples look like the data?);
- reverse_ppl: the LM trained on the generated sentences, evaluated on the real evaluation
  split (do the samples cover the data?).
Perplexity = exp(total negative log-likelihood / total tokens), </s> counted as a token.
The LM is the project's LSTM decoder with a zero-dimensional latent, scored by the categorical
likelihood the VAEs use, so the two cannot drift apart.
"""

from __future__ import annotations

import math

import torch

from vaesweep.config import ModelConfig, RunConfig
from vaesweep.data.base import Split, Vocabulary
from vaesweep.models.text import LSTMDecoder
from vaesweep.models.vae import VAE, model_device
from vaesweep.objectives.likelihoods.modules import Categorical
from vaesweep.protocols.common import concat_splits, fit_on_text, pack_token_rows

LM_LR = 1e-3


def build_language_model(vocab: Vocabulary, embed_dim: int, hidden: int) -> LSTMDecoder:
    """An LSTM language model: the text decoder with no latent input (z is [N, 0])."""
    config = ModelConfig(
        embed_dim=embed_dim, lstm_hidden=hidden, dropout_in=0.0, dropout_out=0.0, text_decoder="igp"
    )
    return LSTMDecoder(len(vocab), 0, config, vocab.bos_id, vocab.eos_id)


def _sentence_log_probs(lm: LSTMDecoder, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """log p(sentence) [B] for x [B, T] (tokens, </s>, <pad>)."""
    logits = lm(x.new_zeros((x.shape[0], 0), dtype=torch.float), x)
    return Categorical().log_prob(logits.unsqueeze(0), x, lengths)[0]


def train_language_model(
    split: Split,
    vocab: Vocabulary,
    embed_dim: int,
    hidden: int,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    lr: float = LM_LR,
) -> LSTMDecoder:
    """Fit an LM to ``split`` by maximum likelihood (mean per-token NLL), length-bucketed batches."""
    with torch.random.fork_rng(devices=[]):  # a seeded initialisation that leaves the global RNG alone
        torch.manual_seed(seed)
        lm = build_language_model(vocab, embed_dim, hidden).to(split.x.device)

    def loss(x: torch.Tensor, lengths: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return -_sentence_log_probs(lm, x, lengths).sum() / lengths.sum()

    return fit_on_text(lm, split, loss, epochs=epochs, batch_size=batch_size, seed=seed, lr=lr)


@torch.no_grad()
def perplexity(lm: LSTMDecoder, split: Split, batch_size: int) -> float:
    """exp(-sum log p / number of tokens, </s> included) of ``split`` under ``lm``."""
    lm.eval()
    total, tokens = 0.0, 0
    for x, lengths in split.batches(batch_size, model_device(lm)):
        total += float(_sentence_log_probs(lm, x, lengths).sum())
        tokens += int(lengths.sum())
    return math.exp(-total / tokens)


@torch.no_grad()
def generate_from_prior(model: VAE, vocab: Vocabulary, count: int, max_length: int, batch_size: int) -> Split:
    """``count`` sentences decoded greedily from z ~ p(z), batched."""
    model.eval()
    device = model_device(model)
    parts = []
    for start in range(0, count, batch_size):
        z = model.prior.sample(min(batch_size, count - start), device)
        parts.append(pack_token_rows(model.decoder.greedy_decode(z, max_length), vocab))
    return concat_splits(parts, vocab.pad_id)


def language_model_metrics(
    model: VAE, train: Split, evaluation: Split, vocab: Vocabulary, config: RunConfig
) -> dict[str, float]:
    """forward_ppl and reverse_ppl of ``eval.lm_generated`` prior samples (IGP Table 4)."""
    ev, seed = config.eval, config.train.seed
    generated = generate_from_prior(model, vocab, ev.lm_generated, int(train.lengths.max()), ev.batch_size)

    def fit(split: Split) -> LSTMDecoder:
        return train_language_model(
            split, vocab, ev.lm_embed_dim, ev.lm_hidden, ev.lm_epochs, ev.batch_size, seed
        )

    return {
        "forward_ppl": perplexity(fit(train), generated, ev.batch_size),
        "reverse_ppl": perplexity(fit(generated), evaluation, ev.batch_size),
    }
