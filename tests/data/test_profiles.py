"""The profile rule for added data sets, checked against the papers' own profiles, and every
preset that moves to an embedded data set moving to an added one of the same kind."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaesweep.data.profiles import describe_profile, greyness, image_profile, text_profile
from vaesweep.data.registry import DATASETS
from vaesweep.data.user import AddOptions, add_dataset
from vaesweep.errors import ConfigError
from vaesweep.search_spaces.definitions import expand, resolve_trials
from vaesweep.search_spaces.grids import PAPER_GRIDS, method_experiment
from vaesweep.search_spaces.presets import EXPERIMENTS


@pytest.mark.parametrize(
    ("vocab", "sentences", "sizes", "protocol"),
    [
        (1_004, 16_000, (64, 128, 16), "sgd"),  # synthetic text's scale
        (10_000, 42_068, (256, 256, 32), "sgd"),  # PTB
        (20_001, 100_000, (512, 1024, 32), "adam"),  # Yahoo: large vocabulary, 100k sentences: IGP
        (20_001, 3_000, (64, 128, 16), "sgd"),  # a large vocabulary on few sentences stays small
        (500, 200_000, (64, 128, 16), "adam"),  # a small vocabulary stays small
    ],
)
def test_text_sizes_follow_the_papers_corpora(vocab, sentences, sizes, protocol):
    choice = text_profile(vocab, sentences)
    profile = choice.profile
    assert choice.architecture == "lstm"
    assert (profile["model.embed_dim"], profile["model.lstm_hidden"], profile["model.latent_dim"]) == sizes
    assert profile["optim.name"] == protocol
    assert str(sizes[0]) in choice.rule and f"{sentences:,}" in choice.rule


def test_a_text_protocol_can_be_chosen_and_no_profile_ramps_the_target_kl():
    profile = text_profile(1_004, 16_000, protocol="igp_adam").profile
    assert (profile["optim.name"], profile["optim.lr"], profile["train.epochs"]) == ("adam", 5e-4, 20)
    assert "regulariser.target_kl_ramp_steps" not in profile  # IGP eq. 2 has no ramp
    assert "regulariser.target_kl_ramp_steps" not in text_profile(1_004, 16_000).profile


def test_greyness_is_zero_for_black_and_white_and_one_for_flat_grey():
    assert greyness(torch.tensor([0.0, 1.0, 1.0, 0.0])) == 0.0
    assert greyness(torch.full((10,), 0.3)) == pytest.approx(1.0)
    # MNIST's published statistics (mean 0.1307, std 0.3081): E[x(1-x)] = m - (s^2 + m^2)
    m, s = 0.1307, 0.3081
    assert (m - (s**2 + m**2)) / (m * (1 - m)) == pytest.approx(0.165, abs=0.001)


def test_the_digits_rule_reproduces_the_built_in_digits_profile_but_for_the_decoder():
    from sklearn.datasets import load_digits

    images = torch.from_numpy(load_digits().images / 16.0)
    grey = greyness(images)
    assert grey == pytest.approx(0.333, abs=0.001)
    choice = image_profile((1, 8, 8), 1257, grey)
    built_in = DATASETS["digits"].profile
    for key in ("model.hidden_sizes", "model.latent_dim", "optim.lr", "train.batch_size", "train.epochs"):
        assert choice.profile[key] == built_in[key], key
    assert choice.profile["likelihood.kind"] == "gaussian"  # grey digits: greyness above 0.25


@pytest.mark.parametrize(
    ("shape", "architecture", "latent"),
    [
        ((1, 28, 28), "conv", 32),
        ((3, 64, 64), "conv_celeba", 64),
        ((3, 32, 32), "mlp", 32),
        ((3, 48, 48), "mlp", 64),
        ((1, 16, 16), "mlp", 16),
    ],
)
def test_image_networks_by_shape_and_pixel_count(shape, architecture, latent):
    choice = image_profile(shape, 50_000, 0.1)
    assert (choice.architecture, choice.profile["model.latent_dim"]) == (architecture, latent)
    assert (choice.profile["train.batch_size"], choice.profile["train.epochs"]) == (128, 50)
    assert "likelihood.kind" not in choice.profile  # binary-ish: the Bernoulli default
    assert describe_profile(choice.architecture, choice.profile).startswith(
        {"conv": "conv, z 32", "conv_celeba": "conv_celeba, z 64", "mlp": "mlp "}[architecture]
    )


@pytest.fixture
def added_sets(tmp_path, data_cache):
    """Added image sets of four shapes and text sets under both protocols."""
    rng = np.random.default_rng(0)
    for name, shape, binary in (
        ("grey8", (60, 8, 8), False),
        ("binary28", (60, 28, 28), True),
        ("colour32", (60, 32, 32, 3), False),
        ("colour64", (40, 3, 64, 64), False),
    ):
        x = rng.random(shape).astype(np.float32)
        np.save(tmp_path / f"{name}.npy", (x > 0.8).astype(np.float32) if binary else x)
        add_dataset(name, "image", tmp_path / f"{name}.npy")
    words = [f"w{i}" for i in range(30)]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(" ".join(rng.choice(words, 5)) + "\n" for _ in range(100)))
    add_dataset("text_sgd", "text", corpus)
    add_dataset("text_adam", "text", corpus, options=AddOptions(protocol="igp_adam"))
    return {
        "digits": ("grey8", "binary28", "colour32", "colour64"),
        "synthetic_text": ("text_sgd", "text_adam"),
    }


def test_every_preset_that_moves_to_embedded_data_moves_to_added_data(added_sets):
    experiments = [*EXPERIMENTS.values(), *(method_experiment(m) for m in PAPER_GRIDS)]
    moved = {"digits": 0, "synthetic_text": 0}
    for experiment in experiments:
        for embedded, added in added_sets.items():
            try:
                resolve_trials(expand(experiment, dataset=embedded, seeds=(0,)))
            except ConfigError:
                continue
            moved[embedded] += 1
            for name in added:
                configs = resolve_trials(expand(experiment, dataset=name, seeds=(0,)))
                assert {c.data.name for c in configs} == {name}, experiment.name
    assert moved["digits"] >= 20 and moved["synthetic_text"] >= 20, moved
