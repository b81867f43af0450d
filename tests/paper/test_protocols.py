"""Evaluation protocols on stand-ins whose answers are known."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from vaesweep.config import RunConfig, apply_overrides
from vaesweep.data.base import Split, Vocabulary
from vaesweep.data.text import encode_split
from vaesweep.errors import ConfigError
from vaesweep.protocols import agreement as agreement_module
from vaesweep.protocols import check_protocol_config, paper_protocol_metrics
from vaesweep.protocols.agreement import agreement_metrics, delete_words, macro_f1
from vaesweep.protocols.common import pack_token_rows
from vaesweep.protocols.fid import (
    FeatureStatistics,
    frechet_distance,
    image_features,
    load_feature_network,
    slerp,
    statistics_distance,
    statistics_of,
)
from vaesweep.protocols.label_probes import (
    few_shot_accuracies,
    label_budget_accuracies,
    per_character_accuracies,
)
from vaesweep.protocols.language_model import perplexity, train_language_model

from .conftest import image_dataset, image_model, text_dataset, text_model

# -- FID ------------------------------------------------------------------------------------


def test_frechet_distance_of_identical_statistics_is_zero():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 6))
    cov = a @ a.T
    mean = rng.normal(size=6)
    assert frechet_distance(mean, cov, mean, cov) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_of_diagonal_gaussians_has_the_closed_form():
    m1, m2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([4.0, 1.0, 0.25])
    expected = np.sum((m1 - m2) ** 2) + np.sum(v1 + v2 - 2 * np.sqrt(v1 * v2))  # 5 + 1 + 1 + 0
    assert expected == 7.0
    assert frechet_distance(m1, np.diag(v1), m2, np.diag(v2)) == pytest.approx(7.0, abs=1e-12)


def test_frechet_distance_of_non_commuting_covariances_matches_sqrtm():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    c1, c2 = a @ a.T + 0.1 * np.eye(5), b @ b.T
    m1, m2 = rng.normal(size=5), rng.normal(size=5)
    reference = np.sum((m1 - m2) ** 2) + np.trace(c1 + c2 - 2 * scipy.linalg.sqrtm(c1 @ c2).real)
    assert frechet_distance(m1, c1, m2, c2) == pytest.approx(reference, rel=1e-9)
    # a singular covariance (rank 1) stays finite and non-negative
    assert frechet_distance(m1, np.outer(m1, m1), m1, np.outer(m1, m1)) == pytest.approx(0.0, abs=1e-9)


def test_batched_statistics_equal_the_whole_set():
    rng = np.random.default_rng(2)
    features = rng.normal(loc=100.0, scale=0.01, size=(257, 4))  # large mean, tiny spread
    stats = FeatureStatistics()
    for chunk in np.array_split(features, 7):
        stats.update(torch.from_numpy(chunk))
    assert stats.count == 257
    np.testing.assert_allclose(stats.mean, features.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.covariance, np.cov(features, rowvar=False), rtol=1e-8)


def test_fid_through_a_torchscript_network_matches_the_gaussian_closed_form(stand_in_network):
    network = load_feature_network(stand_in_network)
    generator = torch.Generator().manual_seed(0)
    n = 20000
    means = (torch.tensor([0.5, 0.4, 0.3]), torch.tensor([0.45, 0.4, 0.35]))
    stds = (torch.tensor([0.05, 0.05, 0.05]), torch.tensor([0.05, 0.1, 0.02]))

    def images(mean, std):  # flat-colour 4x4 images: the features are the colours
        colours = mean + std * torch.randn(n, 3, generator=generator)
        return colours.view(n, 3, 1, 1).expand(n, 3, 4, 4)

    a = statistics_of(network, images(means[0], stds[0]).split(1000))
    b = statistics_of(network, images(means[1], stds[1]).split(1000))
    expected = float(((means[0] - means[1]) ** 2).sum() + ((stds[0] - stds[1]) ** 2).sum())
    assert statistics_distance(a, b) == pytest.approx(expected, rel=0.05)
    assert statistics_distance(a, a) == pytest.approx(0.0, abs=1e-12)


def test_grey_images_are_repeated_to_rgb_and_clamped(stand_in_network):
    network = load_feature_network(stand_in_network)
    grey = torch.tensor([-1.0, 0.25, 2.0]).view(3, 1, 1, 1).expand(3, 1, 2, 2)
    expected = torch.tensor([0.0, 0.25, 1.0]).unsqueeze(1).expand(3, 3)
    assert torch.equal(image_features(network, grey), expected)


def test_a_missing_feature_network_is_a_config_error_naming_the_path(tmp_path):
    missing = str(tmp_path / "inception.pt")
    with pytest.raises(ConfigError, match=r"eval\.fid_network=.*inception\.pt"):
        load_feature_network(missing)
    config = apply_overrides(RunConfig(), {"eval.fid": True, "eval.fid_network": missing})
    with pytest.raises(ConfigError, match="inception"):
        check_protocol_config(config)


def test_slerp_ends_at_the_endpoints_and_stays_on_the_sphere():
    a, b = torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.tensor([[0.0, 1.0], [2.0, 0.0]])
    assert torch.allclose(slerp(a, b, torch.zeros(2)), a)
    assert torch.allclose(slerp(a, b, torch.ones(2)), b)
    middle = slerp(a, b, torch.full((2,), 0.5))
    assert torch.allclose(middle[0], torch.tensor([math.sqrt(0.5), math.sqrt(0.5)]))
    assert torch.allclose(middle[1], torch.tensor([1.5, 0.0]))  # parallel: linear


def test_fid_protocol_reports_every_generator(stand_in_network):
    torch.manual_seed(0)
    dataset = image_dataset()
    config, model = image_model(
        dataset,
        **{
            "eval.fid": True,
            "eval.fid_network": stand_in_network,
            "eval.fid_samples": 40,
            "eval.fid_gmm_components": (2, 1000),  # 1000 > 64 training means: skipped
            "eval.fid_second_stage_hidden": (8,),
            "eval.fid_second_stage_epochs": 2,
            "eval.batch_size": 16,
        },
    )
    metrics = paper_protocol_metrics(model, dataset, "test", config)
    assert set(metrics) == {"fid_prior", "fid_gmm2", "fid_2ndvae", "fid_interp_mid", "fid_interp_random"}
    assert all(math.isfinite(v) and v >= 0 for v in metrics.values())
    assert paper_protocol_metrics(model, dataset, "test", config) == metrics  # seeded: reproducible
    assert paper_protocol_metrics(model, dataset, "valid", config) == {}  # per-epoch validation: skipped


# -- language models ------------------------------------------------------------------------

VOCAB = Vocabulary.from_tokens([f"t{i}" for i in range(8)])


def corpus(rows: list[list[int]]) -> Split:
    return encode_split([[VOCAB.itos[i] for i in row] for row in rows], VOCAB)


def test_a_deterministic_corpus_has_perplexity_one():
    split = corpus([[4, 5, 6, 7]] * 64)
    lm = train_language_model(split, VOCAB, embed_dim=8, hidden=16, epochs=30, batch_size=16, lr=1e-2)
    assert 1.0 <= perplexity(lm, split, batch_size=32) < 1.05


def test_uniform_random_tokens_have_perplexity_near_the_vocabulary_size():
    generator = torch.Generator().manual_seed(0)
    length, words = 10, 8

    def random_corpus(n):
        return corpus((torch.randint(4, 4 + words, (n, length), generator=generator)).tolist())

    lm = train_language_model(
        random_corpus(600), VOCAB, embed_dim=8, hidden=16, epochs=8, batch_size=32, lr=1e-2
    )
    # tokens cost log 8 each; </s>, after exactly 10 of them, is predictable
    expected = math.exp(length * math.log(words) / (length + 1))
    value = perplexity(lm, random_corpus(300), batch_size=64)
    assert abs(math.log(value) - math.log(expected)) < 0.15, (value, expected)


def test_pack_token_rows_cuts_at_the_first_end_of_sentence():
    rows = torch.tensor([[5, 6, 2, 7], [5, 5, 5, 5], [2, 6, 6, 6]])
    split = pack_token_rows(rows, VOCAB)
    assert split.lengths.tolist() == [3, 5, 1]
    assert split.x.tolist() == [[5, 6, 2, 0, 0], [5, 5, 5, 5, 2], [2, 0, 0, 0, 0]]


def test_forward_and_reverse_perplexity_of_a_text_vae():
    torch.manual_seed(0)
    dataset = text_dataset()
    config, model = text_model(
        dataset,
        **{
            "eval.language_model": True,
            "eval.lm_generated": 30,
            "eval.lm_epochs": 1,
            "eval.lm_embed_dim": 8,
            "eval.lm_hidden": 16,
        },
    )
    metrics = paper_protocol_metrics(model, dataset, "test", config)
    assert set(metrics) == {"forward_ppl", "reverse_ppl"}
    assert all(1.0 < v < 10 * len(dataset.vocab) for v in metrics.values())


# -- agreement and robustness ---------------------------------------------------------------


def test_delete_words_removes_that_share_of_each_sentence_in_order():
    sentences = [[f"t{i}" for i in range(n)] for n in (1, 2, 5, 8)]
    split = encode_split(sentences, VOCAB, labels=[0, 1, 0, 1])
    polluted = delete_words(split, 0.3, VOCAB, seed=0)
    # n - round(0.3 n) words (half to even; at least 1), then </s>
    assert polluted.lengths.tolist() == [2, 2, 4, 7]
    for row, original, length in zip(polluted.x, split.x, polluted.lengths, strict=True):
        words = row[: length - 1].tolist()
        assert row[length - 1] == VOCAB.eos_id and bool((row[length:] == VOCAB.pad_id).all())
        positions = [original.tolist().index(w) for w in words]
        assert positions == sorted(positions)  # kept words keep their order
    assert torch.equal(polluted.labels, split.labels)
    assert torch.equal(delete_words(split, 0.0, VOCAB).x[:, : split.x.shape[1]], split.x)


def test_macro_f1():
    truth, predicted = torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1])
    # class 0: P 1, R 0.5, F1 2/3; class 1: P 2/3, R 1, F1 0.8
    assert macro_f1(truth, predicted) == pytest.approx(100 * (2 / 3 + 0.8) / 2)
    # class 2 predicted but never true: F1 0, and it counts in the average
    assert macro_f1(truth, torch.tensor([0, 2, 1, 1])) == pytest.approx(100 * (2 / 3 + 1 + 0) / 3)


def test_agreement_of_perfect_reconstructions_is_100(monkeypatch):
    torch.manual_seed(0)
    dataset = text_dataset(n_train=128, n_test=48)
    config, model = text_model(
        dataset,
        **{
            "eval.classifier_embed_dim": 8,
            "eval.classifier_hidden": 16,
            "eval.classifier_epochs": 40,
            "eval.probe_restarts": 1,
            "eval.probe_epochs": 2,
            "eval.batch_size": 32,
        },
    )
    monkeypatch.setattr(agreement_module, "greedy_reconstructions", lambda model, split, vocab, size: split)
    train_means = torch.randn(len(dataset.train), 4)
    metrics = agreement_metrics(model, dataset.train, dataset.test, dataset.vocab, 2, train_means, config)
    assert metrics["agreement"] == pytest.approx(100.0)
    assert metrics["f1"] > 90  # the first word gives the class away
    assert 0 <= metrics["robust_accuracy"] <= 100


def test_agreement_protocol_on_a_text_vae():
    torch.manual_seed(0)
    dataset = text_dataset()
    config, model = text_model(
        dataset,
        **{
            "eval.agreement": True,
            "eval.classifier_embed_dim": 8,
            "eval.classifier_hidden": 16,
            "eval.classifier_epochs": 1,
            "eval.probe_restarts": 1,
            "eval.probe_epochs": 1,
        },
    )
    metrics = paper_protocol_metrics(model, dataset, "test", config)
    assert set(metrics) == {"agreement", "f1", "robust_accuracy"}
    assert 0 <= metrics["f1"] <= 100 and 0 <= metrics["robust_accuracy"] <= 100


# -- probes on few labels -------------------------------------------------------------------


def clusters(n: int, classes: int, seed: int, spread: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    y = torch.randint(classes, (n,), generator=generator)
    centres = torch.eye(classes, 6) * 3.0
    return centres[y] + spread * torch.randn(n, 6, generator=generator), y


def test_label_budget_and_few_shot_probes_on_separable_features():
    train_x, train_y = clusters(600, 3, seed=0)
    test_x, test_y = clusters(200, 3, seed=1)
    budgets = label_budget_accuracies(
        train_x, train_y, test_x, test_y, (30, 100, 10000), restarts=2, epochs=20
    )
    assert set(budgets) == {"accuracy_labels_30", "accuracy_labels_100"}  # 10k > 600 examples: skipped
    # 6 validation labels stop a probe at its first perfect validation epoch: still short of 100%
    assert budgets["accuracy_labels_30"] > 80 and budgets["accuracy_labels_100"] > 95
    few = few_shot_accuracies(train_x, train_y, test_x, test_y, (0.1, 10.0), restarts=2, epochs=20)
    assert set(few) == {"accuracy_percent_10"}  # 0.1% of 600 is below the minimum
    assert few["accuracy_percent_10"] > 95
    noise = label_budget_accuracies(train_x, train_y[torch.randperm(600)], test_x, test_y, (100,), 2, 10)
    assert noise["accuracy_labels_100"] < 70  # labels unrelated to the features: near chance


def test_per_character_probes_average_over_alphabets():
    # two alphabets of 4 characters; 20 training and 5 test images per character
    generator = torch.Generator().manual_seed(0)
    train_alphabet = torch.arange(2).repeat_interleave(80)
    train_char = torch.arange(4).repeat_interleave(20).repeat(2)
    test_alphabet = torch.arange(2).repeat_interleave(20)
    test_char = torch.arange(4).repeat_interleave(5).repeat(2)

    def features(alphabet, char):  # separable characters in the first alphabet only
        signal = torch.nn.functional.one_hot(char, 6).float() * 3.0 * (alphabet == 0).unsqueeze(1)
        return signal + 0.1 * torch.randn(len(char), 6, generator=generator)

    result = per_character_accuracies(
        features(train_alphabet, train_char),
        train_alphabet,
        train_char,
        features(test_alphabet, test_char),
        test_alphabet,
        test_char,
        (5, 15),
        restarts=2,
        epochs=30,
    )
    assert set(result) == {"accuracy_per_char_5", "accuracy_per_char_15"}
    # alphabet 0 near 100%, alphabet 1 near chance (25%): the mean is in between
    assert 50 < result["accuracy_per_char_15"] < 80


def test_protocols_are_off_by_default_and_skip_what_does_not_apply():
    dataset = image_dataset()
    config, model = image_model(dataset)
    assert paper_protocol_metrics(model, dataset, "test", config) == {}
    config, model = image_model(dataset, **{"eval.language_model": True, "eval.per_character_probes": True})
    assert paper_protocol_metrics(model, dataset, "test", config) == {}  # text-only; no character labels
