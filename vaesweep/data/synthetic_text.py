"""DU-VAE's synthetic text (appendix E, after Kim et al. 2018): text with a known 2-D latent.

Because the true z of every sentence is known, a learned latent space can be held against it
(DU-VAE Figure 1). What the appendix states is followed exactly:

- z in R^2 from an equal-weight mixture of 5 unit-variance Gaussians with means (0, 0),
  (-2, -2), (-2, 2), (2, -2), (2, 2);
- one LSTM layer, 100 hidden units, 100-dimensional input embeddings, hidden state initialised
  by an affine transformation of z;
- the LSTM output concatenated with z goes through an MLP to the vocabulary;
- LSTM parameters ~ U[-1, 1], MLP parameters ~ U[-5, 5];
- 10 tokens per sentence, vocabulary 1,000, 16,000/2,000/2,000 examples.

Where the appendix is silent, this module chooses:

- cell state: initialised to zero (only the hidden state is said to come from z);
- the affine map z -> h0 and the embeddings (1,000 words plus one start symbol) are drawn from
  U[-1, 1], like the LSTM they feed;
- the start symbol is a dedicated 1,001st embedding row fed at the first step; it is not a word
  and never emitted;
- MLP: one hidden layer of 100 tanh units, [h_t, z] (102) -> 100 -> 1,000 logits;
- tokens are sampled (not argmax) from the softmax, each fed back as the next input; sampling
  is by inverse CDF on uniforms from the same generator. With U[-5, 5] weights the logits span
  tens of nats, so most steps are close to deterministic given z and the previous tokens;
- all parameters are drawn first, then the components, then z, then the tokens, all from one
  ``torch.Generator`` seeded with ``seed`` and in float64 (so the draws do not depend on the
  global RNG or on float32 rounding in the BLAS); every token's uniform is drawn up front, so
  generating in chunks of examples changes nothing; the first ``n_train`` examples are train,
  the next ``n_valid`` valid, the last ``n_test`` test.
"""

from __future__ import annotations

from itertools import pairwise

import torch

from vaesweep.config import DataConfig
from vaesweep.data.base import Dataset, Split, Vocabulary
from vaesweep.data.splits import check_binarisation, take_first

COMPONENT_MEANS = ((0.0, 0.0), (-2.0, -2.0), (-2.0, 2.0), (2.0, -2.0), (2.0, 2.0))
LATENT_DIM = 2
VOCAB_SIZE = 1000
SENTENCE_LENGTH = 10
LSTM_HIDDEN = 100
EMBED_DIM = 100
MLP_HIDDEN = 100
LSTM_INIT = 1.0  # U[-1, 1]
MLP_INIT = 5.0  # U[-5, 5]
CHUNK = 1000  # examples generated at once: keeps the [chunk, 1000] logits in cache


def _uniform(generator: torch.Generator, bound: float, *shape: int) -> torch.Tensor:
    return torch.empty(shape, dtype=torch.float64).uniform_(-bound, bound, generator=generator)


def _generator_network(generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Draw the random LSTM + MLP that defines the data distribution."""
    h, e = LSTM_HIDDEN, EMBED_DIM
    return {
        "embed": _uniform(generator, LSTM_INIT, VOCAB_SIZE + 1, e),  # last row: start symbol
        "z_to_h": _uniform(generator, LSTM_INIT, LATENT_DIM, h),
        "z_to_h_bias": _uniform(generator, LSTM_INIT, h),
        "w_input": _uniform(generator, LSTM_INIT, e, 4 * h),
        "w_hidden": _uniform(generator, LSTM_INIT, h, 4 * h),
        "b_input": _uniform(generator, LSTM_INIT, 4 * h),
        "b_hidden": _uniform(generator, LSTM_INIT, 4 * h),
        "mlp_w1": _uniform(generator, MLP_INIT, h + LATENT_DIM, MLP_HIDDEN),
        "mlp_b1": _uniform(generator, MLP_INIT, MLP_HIDDEN),
        "mlp_w2": _uniform(generator, MLP_INIT, MLP_HIDDEN, VOCAB_SIZE),
        "mlp_b2": _uniform(generator, MLP_INIT, VOCAB_SIZE),
    }


def _sample_tokens(z: torch.Tensor, net: dict[str, torch.Tensor], uniforms: torch.Tensor) -> torch.Tensor:
    """Run the LSTM autoregressively from z, sampling each token; returns word ids [N, 10].

    Token t of example i is the inverse-CDF sample at ``uniforms[i, t]``.
    """
    n = z.shape[0]
    gate_bias = net["b_input"] + net["b_hidden"]
    hidden = torch.addmm(net["z_to_h_bias"], z, net["z_to_h"])
    cell = torch.zeros_like(hidden)
    token = torch.full((n,), VOCAB_SIZE, dtype=torch.long)  # the start symbol
    tokens = []
    for t in range(SENTENCE_LENGTH):
        gates = torch.addmm(gate_bias, net["embed"][token], net["w_input"])
        gates.addmm_(hidden, net["w_hidden"])
        i, f, g, o = gates.chunk(4, dim=1)
        cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
        hidden = torch.sigmoid(o) * torch.tanh(cell)
        mlp_input = torch.cat([hidden, z], dim=1)
        mlp_hidden = torch.addmm(net["mlp_b1"], mlp_input, net["mlp_w1"]).tanh_()
        logits = torch.addmm(net["mlp_b2"], mlp_hidden, net["mlp_w2"])
        # unnormalised CDF of the softmax: searching u * total avoids a division pass;
        # right=True never picks a zero-probability token, even at u = 0
        cdf = logits.sub_(logits.amax(dim=1, keepdim=True)).exp_().cumsum_(dim=1)
        target = uniforms[:, t : t + 1] * cdf[:, -1:]
        token = torch.searchsorted(cdf, target, right=True).squeeze(1)
        token = token.clamp_(max=VOCAB_SIZE - 1)  # u * total rounded up to the total
        tokens.append(token)
    return torch.stack(tokens, dim=1)


def synthetic_vocabulary() -> Vocabulary:
    """The special tokens then "w0".."w999", so word k has id k + 4."""
    return Vocabulary.from_tokens([f"w{k}" for k in range(VOCAB_SIZE)])


def generate_synthetic_text(
    seed: int = 0, n_train: int = 16000, n_valid: int = 2000, n_test: int = 2000
) -> Dataset:
    """Generate the data set; the same seed gives the same network and the same sentences."""
    generator = torch.Generator().manual_seed(seed)
    net = _generator_network(generator)
    n = n_train + n_valid + n_test
    component = torch.randint(len(COMPONENT_MEANS), (n,), generator=generator)
    means = torch.tensor(COMPONENT_MEANS, dtype=torch.float64)
    z = means[component] + torch.randn(n, LATENT_DIM, dtype=torch.float64, generator=generator)
    uniforms = torch.rand(n, SENTENCE_LENGTH, dtype=torch.float64, generator=generator)
    words = torch.cat(
        [
            _sample_tokens(z[start : start + CHUNK], net, uniforms[start : start + CHUNK])
            for start in range(0, n, CHUNK)
        ]
    )

    vocab = synthetic_vocabulary()
    first_word_id = vocab.stoi["w0"]
    eos = torch.full((n, 1), vocab.eos_id, dtype=torch.long)
    x = torch.cat([words + first_word_id, eos], dim=1)
    everything = Split(
        x=x,
        lengths=torch.full((n,), SENTENCE_LENGTH + 1, dtype=torch.long),
        labels=component,
        extras={"true_z": z.float(), "component": component.clone()},
    )
    bounds = [0, n_train, n_train + n_valid, n]
    train, valid, test = (everything.subset(torch.arange(start, stop)) for start, stop in pairwise(bounds))
    return Dataset(
        name="synthetic_text",
        kind="text",
        train=train,
        valid=valid,
        test=test,
        vocab=vocab,
        num_classes=len(COMPONENT_MEANS),
        description=(
            f"DU-VAE appendix E synthetic text (seed {seed}): 2-D z from a 5-Gaussian mixture, "
            f"random LSTM, vocabulary {VOCAB_SIZE}, length {SENTENCE_LENGTH}, "
            f"{n_train}/{n_valid}/{n_test}"
        ),
    )


def load_synthetic_text(config: DataConfig) -> Dataset:
    """The registry's loader: the seed-0 data set, with ``max_train`` applied."""
    check_binarisation(config.binarisation, "text")
    dataset = generate_synthetic_text(seed=0)
    dataset.train = take_first(dataset.train, config.max_train)
    return dataset
