"""Shared fixtures: an isolated data cache, and tiny in-memory data sets and models."""

from __future__ import annotations

import pytest
import torch

from vaesweep.config import resolve_config
from vaesweep.data.base import Dataset, Split, Vocabulary
from vaesweep.data.text import encode_split
from vaesweep.models.build import build_model


@pytest.fixture(autouse=True)
def paper_tests_run_on_one_thread(one_thread):
    """Every test here runs loops over tiny tensors (see ``one_thread``)."""


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test sees an empty cache of its own, never the user's ~/.cache/vaesweep."""
    root = tmp_path / "cache"
    monkeypatch.setenv("VAESWEEP_DATA", str(root))
    return root


WORDS = [f"w{i}" for i in range(12)]


def text_dataset(n_train: int = 96, n_test: int = 32, classes: int = 2, seed: int = 0) -> Dataset:
    """Labelled sentences whose first word gives the class (so a classifier can learn it)."""
    generator = torch.Generator().manual_seed(seed)
    vocab = Vocabulary.from_tokens(WORDS)

    def sentences(n: int) -> dict:
        labels = torch.randint(classes, (n,), generator=generator).tolist()
        lengths = torch.randint(3, 8, (n,), generator=generator).tolist()
        rows = []
        for label, length in zip(labels, lengths, strict=True):
            rest = torch.randint(classes, len(WORDS), (length - 1,), generator=generator).tolist()
            rows.append([WORDS[label]] + [WORDS[i] for i in rest])
        return {"sentences": rows, "labels": labels}

    train, valid, test = (encode_split(**sentences(n), vocab=vocab) for n in (n_train, n_test, n_test))
    return Dataset("yahoo", "text", train, valid, test, vocab=vocab, num_classes=classes)


def text_model(dataset: Dataset, **overrides):
    settings = {
        "model.embed_dim": 8,
        "model.lstm_hidden": 16,
        "model.latent_dim": 4,
        "model.dropout_in": 0.0,
        "model.dropout_out": 0.0,
        **overrides,
    }
    config = resolve_config("vae", "yahoo", settings)
    return config, build_model(config, dataset)


def image_dataset(n_train: int = 64, n_test: int = 24, shape=(1, 8, 8), seed: int = 0) -> Dataset:
    generator = torch.Generator().manual_seed(seed)
    labels = [torch.randint(3, (n,), generator=generator) for n in (n_train, n_test, n_test)]
    splits = [Split(torch.rand((len(y), *shape), generator=generator), labels=y) for y in labels]
    return Dataset("digits", "image", *splits, image_shape=shape, num_classes=3)


def image_model(dataset: Dataset, **overrides):
    settings = {"model.hidden_sizes": (16,), "model.latent_dim": 3, **overrides}
    config = resolve_config("vae", "digits", settings)
    return config, build_model(config, dataset)
