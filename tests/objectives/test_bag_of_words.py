"""bow-VAE's bag-of-words loss (Zhao, Zhao & Eskenazi 2017): -sum_t log softmax(f(z))[x_t] over
the sentence's tokens (words and </s>, never <pad>), added to the loss with its weight, and no
part of the decoder's p(x|z): rec and the NLL are the same with and without it."""

import math

import pytest
import torch

from vaesweep.config import resolve_config
from vaesweep.data.base import Dataset, Split, Vocabulary
from vaesweep.evaluation import encode_split, importance_weighted_nll
from vaesweep.models.build import build_model
from vaesweep.objectives.bag_of_words import bag_of_words_nll
from vaesweep.objectives.objective import Objective

# <pad> <s> </s> <unk> a b: probabilities 1, 1, 2, 1, 4, 1 (/10)
PROBS = torch.tensor([1.0, 1.0, 2.0, 1.0, 4.0, 1.0]) / 10
A, B, EOS, PAD = 4, 5, 2, 0


def test_the_loss_is_the_hand_computed_sum_over_words_and_eos_not_pad():
    logits = torch.log(PROBS).expand(1, 2, -1)  # one sample of z, two sentences
    x = torch.tensor([[A, A, B, EOS], [B, EOS, PAD, PAD]])
    lengths = torch.tensor([4, 2])
    expected = torch.tensor(
        [[-(2 * math.log(0.4) + math.log(0.1) + math.log(0.2)), -(math.log(0.1) + math.log(0.2))]]
    )
    assert torch.allclose(bag_of_words_nll(logits, x, lengths), expected)
    assert torch.allclose(bag_of_words_nll(logits, x), expected)  # <pad> is known by its id too
    # the loss ignores order, and positions past a sentence's length count for nothing
    shuffled = torch.tensor([[EOS, B, A, A], [EOS, B, A, A]])
    assert torch.allclose(bag_of_words_nll(logits, shuffled, lengths)[0, 0], expected[0, 0])
    assert torch.allclose(
        bag_of_words_nll(logits, shuffled, lengths)[0, 1], torch.tensor(-math.log(0.2 * 0.1))
    )


def test_each_sample_of_z_has_its_own_loss():
    logits = torch.stack([torch.log(PROBS), torch.log(PROBS.flip(0))]).unsqueeze(1)  # [K=2, B=1, V]
    x = torch.tensor([[A, EOS]])
    values = bag_of_words_nll(logits, x, torch.tensor([2]))
    assert values.shape == (2, 1)
    assert values[1, 0] == pytest.approx(-math.log(PROBS[1] * PROBS[3]))


def tiny_text(n: int = 6, length: int = 7, seed: int = 0) -> Dataset:
    vocab = Vocabulary.from_tokens([f"w{i}" for i in range(12)])
    generator = torch.Generator().manual_seed(seed)

    def split() -> Split:
        lengths = torch.randint(2, length + 1, (n,), generator=generator)
        x = torch.randint(4, len(vocab), (n, length), generator=generator)
        x[torch.arange(length) >= lengths.unsqueeze(1)] = vocab.pad_id
        x[torch.arange(n), lengths - 1] = vocab.eos_id
        return Split(x, lengths=lengths)

    return Dataset("synthetic_text", "text", split(), split(), split(), vocab=vocab)


SMALL = {
    "model.embed_dim": 8,
    "model.lstm_hidden": 16,
    "model.latent_dim": 3,
    "model.dropout_in": 0.0,
    "model.dropout_out": 0.0,
    "eval.nll_samples": 20,
    "eval.nll_chunk": 20,
}


def _bow_model(weight: float = 2.0):
    config = resolve_config("bow_vae", "synthetic_text", {**SMALL, "regulariser.bow_weight": weight})
    data = tiny_text()
    torch.manual_seed(0)
    return config, data, build_model(config, data)


def test_the_objective_adds_the_weighted_term_outside_the_kl_annealing():
    config, data, model = _bow_model(weight=2.0)
    config.annealing.schedule = "linear"  # KL weight 0 at step 0; the bag of words is not annealed
    objective = Objective(config, steps_per_epoch=1, total_steps=10)
    x, lengths = data.train.x, data.train.lengths
    out = model(x, lengths)
    values = objective.values(0)
    terms = objective(out, model, x, lengths, values)
    assert values.kl_weight == 0.0
    head_logits = model.bow_head(out.z)
    bow = terms.terms["bow"]
    assert torch.allclose(bow, bag_of_words_nll(head_logits, x, lengths).mean())
    assert torch.allclose(terms.loss, terms.rec + 2.0 * bow)
    assert torch.allclose(terms.rec, -out.log_px.mean())  # rec is the decoder's alone
    # the bag-of-words head gets gradient from the loss, but none from rec
    head = list(model.bow_head.parameters())
    assert all(g is None for g in torch.autograd.grad(terms.rec, head, allow_unused=True))
    assert all(g.abs().sum() > 0 for g in torch.autograd.grad(terms.loss, head))


def test_the_head_does_not_change_rec_or_nll_on_the_same_weights():
    config, data, model = _bow_model()
    with_head = {}
    without_head = {}
    for results, head in ((with_head, model.bow_head), (without_head, None)):
        model.bow_head = head
        torch.manual_seed(1)
        results["rec"] = encode_split(model, data.test, batch_size=4).rec
        torch.manual_seed(2)
        results["nll"] = importance_weighted_nll(model, data.test, config)
        torch.manual_seed(3)
        results["log_px"] = model(data.test.x, data.test.lengths).log_px
    for key in ("rec", "nll", "log_px"):
        assert torch.equal(with_head[key], without_head[key]), key
    assert with_head["nll"].min() > 0
