"""DU-VAE appendix E synthetic text: its constants, its latent, and its determinism."""

import dataclasses

import pytest
import torch

from vaesweep.config import DataConfig
from vaesweep.data import synthetic_text
from vaesweep.data.base import SPECIAL_TOKENS
from vaesweep.data.synthetic_text import generate_synthetic_text, load_synthetic_text

MEANS = torch.tensor([[0.0, 0.0], [-2.0, -2.0], [-2.0, 2.0], [2.0, -2.0], [2.0, 2.0]])


@pytest.fixture(scope="module")
def full():
    return generate_synthetic_text(seed=0)


def _all(dataset, key):
    return torch.cat([dataset.split(s).extras[key] for s in ("train", "valid", "test")])


def test_constants_of_appendix_e(full):
    assert (len(full.train), len(full.valid), len(full.test)) == (16000, 2000, 2000)
    assert len(full.vocab) == 1004
    assert tuple(full.vocab.itos[:4]) == SPECIAL_TOKENS
    assert full.vocab.itos[4] == "w0" and full.vocab.itos[-1] == "w999"
    assert full.kind == "text" and full.num_classes == 5
    for name in ("train", "valid", "test"):
        split = full.split(name)
        assert split.x.dtype == torch.long and split.x.shape[1] == 11
        assert torch.all(split.lengths == 11)
        assert torch.all(split.x[:, 10] == full.vocab.eos_id)
        words = split.x[:, :10]
        assert int(words.min()) >= 4 and int(words.max()) < 1004  # no special token inside
        assert torch.equal(split.labels, split.extras["component"])
        assert split.extras["true_z"].shape == (len(split), 2)
        assert split.extras["true_z"].dtype == torch.float32
        assert split.extras["component"].dtype == torch.long


def test_latent_follows_the_five_component_mixture(full):
    z, component = _all(full, "true_z"), _all(full, "component")
    shares = torch.bincount(component, minlength=5) / len(component)
    assert torch.all((shares - 0.2).abs() < 0.02)  # equal weights
    for k in range(5):
        members = z[component == k]
        assert torch.allclose(members.mean(0), MEANS[k], atol=0.1)
        assert torch.allclose(members.std(0), torch.ones(2), atol=0.1)  # unit variance


def test_text_carries_the_latent(full):
    """The LSTM starts from z: the first token alone predicts the component on held-out data."""
    first, component = full.train.x[:, 0], full.train.labels
    votes = torch.zeros(len(full.vocab), 5)
    votes.index_put_((first, component), torch.ones(len(first)), accumulate=True)
    predicted = votes.argmax(1)[full.test.x[:, 0]]
    assert float((predicted == full.test.labels).float().mean()) > 0.5  # chance is 0.2
    assert len({tuple(row) for row in full.train.x.tolist()}) > 5000  # sampled, varied text


def test_same_seed_same_data_other_seed_other_data():
    sizes = {"n_train": 60, "n_valid": 10, "n_test": 10}
    torch.manual_seed(1)
    first = generate_synthetic_text(seed=7, **sizes)
    torch.manual_seed(2)  # the global RNG must not matter
    again = generate_synthetic_text(seed=7, **sizes)
    other = generate_synthetic_text(seed=8, **sizes)
    assert (len(first.train), len(first.valid), len(first.test)) == (60, 10, 10)
    for name in ("train", "valid", "test"):
        assert torch.equal(first.split(name).x, again.split(name).x)
        assert torch.equal(first.split(name).extras["true_z"], again.split(name).extras["true_z"])
    assert not torch.equal(first.train.x, other.train.x)
    assert not torch.equal(first.train.extras["true_z"], other.train.extras["true_z"])


def test_generating_in_chunks_changes_nothing(monkeypatch):
    sizes = {"n_train": 40, "n_valid": 5, "n_test": 5}
    whole = generate_synthetic_text(seed=3, **sizes)
    monkeypatch.setattr(synthetic_text, "CHUNK", 7)
    chunked = generate_synthetic_text(seed=3, **sizes)
    assert torch.equal(whole.train.x, chunked.train.x)
    assert torch.equal(whole.test.x, chunked.test.x)


def test_loader_uses_seed_zero_and_max_train(full, monkeypatch):
    calls = []

    def cached(seed: int = 0, **sizes):
        calls.append((seed, sizes))
        return dataclasses.replace(full)  # a copy: the loader replaces its train split

    monkeypatch.setattr(synthetic_text, "generate_synthetic_text", cached)
    dataset = load_synthetic_text(DataConfig(name="synthetic_text", max_train=50))
    assert calls == [(0, {})]
    assert len(dataset.train) == 50
    assert torch.equal(dataset.train.x, full.train.x[:50])
    assert len(dataset.valid) == 2000
