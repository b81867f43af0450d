"""Evaluation through the composed model: the importance-weighted NLL of a linear-Gaussian VAE,
the data variance a collapsed decoder earns, and a DU head's variance-dropout metrics.

p(z) = N(0, I), p(x|z) = N(Wz + b, s^2 I) has log p(x) = log N(x; b, W W^T + s^2 I) in closed
form; with orthogonal columns of W its exact posterior is a diagonal Gaussian, which the
Gaussian head can represent exactly.
"""

import math

import pytest
import torch
from torch import nn

from vaesweep.config import LikelihoodConfig, PosteriorConfig, resolve_config
from vaesweep.data.base import Dataset, Split
from vaesweep.evaluation import encode_split, full_metrics, importance_weighted_nll, variance_dropout_metrics
from vaesweep.metrics import conditional_entropy, mutual_posterior_diversity
from vaesweep.models.posteriors.heads import BatchNormHead, GaussianHead
from vaesweep.models.priors.modules import StandardNormalPrior
from vaesweep.models.vae import VAE
from vaesweep.objectives.likelihoods.modules import Gaussian

SHAPE = (1, 2, 3)  # d = 6
D, NOISE = 3, 0.5


class Flatten(nn.Module):
    out_features = 6

    def forward(self, x, lengths=None):
        return x.flatten(1)


class LinearDecoder(nn.Module):
    autoregressive = False

    def __init__(self, weight, bias):
        super().__init__()
        self.weight, self.bias = weight, bias

    def forward(self, z, x=None):
        return (z @ self.weight.T + self.bias).view(-1, 1, *SHAPE)


def _linear_gaussian_vae(exact: bool):
    torch.manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(6, D))
    weight = q * torch.tensor([2.0, 1.0, 0.5])  # orthogonal columns with norms 2, 1, 0.5
    bias = torch.randn(6)
    posterior_var = 1.0 / (1.0 + weight.pow(2).sum(0) / NOISE)
    head = GaussianHead(6, D, isotropic=False, committed_rate=0.0)
    gain = posterior_var[:, None] * weight.T / NOISE
    with torch.no_grad():
        head.mean.weight.copy_(gain if exact else gain * 1.3)
        head.mean.bias.copy_(-gain @ bias)
        head.logvar.weight.zero_()
        head.logvar.bias.copy_(torch.log(posterior_var) + (0.0 if exact else 0.7))
    likelihood = Gaussian(
        LikelihoodConfig(kind="gaussian", sigma_x2=NOISE, mean_activation="identity"), SHAPE
    )
    model = VAE(Flatten(), head, LinearDecoder(weight, bias), likelihood, StandardNormalPrior(D))
    marginal = torch.distributions.MultivariateNormal(bias, weight @ weight.T + NOISE * torch.eye(6))
    return model, marginal


def _data(marginal, n=200):
    torch.manual_seed(1)
    return Split(x=marginal.sample((n,)).view(n, *SHAPE))


def test_iw_nll_equals_the_exact_log_likelihood_with_the_exact_posterior():
    model, marginal = _linear_gaussian_vae(exact=True)
    split = _data(marginal)
    config = resolve_config("vae", "digits", {"eval.nll_samples": 50, "eval.nll_chunk": 20})
    nll = importance_weighted_nll(model, split, config)
    exact = -marginal.log_prob(split.x.flatten(1))
    assert torch.allclose(nll.float(), exact, atol=1e-3)
    encoded = encode_split(model, split, 64)
    # with the exact posterior the ELBO is tight too: rec + KL = -log p(x) in expectation
    assert math.isclose(float((encoded.rec + encoded.kl).mean()), float(exact.mean()), rel_tol=0.02)


def test_iw_nll_is_between_the_exact_value_and_the_elbo_otherwise():
    model, marginal = _linear_gaussian_vae(exact=False)
    split = _data(marginal)
    config = resolve_config("vae", "digits", {"eval.nll_samples": 500, "eval.nll_chunk": 100})
    nll = float(importance_weighted_nll(model, split, config).mean())
    exact = float(-marginal.log_prob(split.x.flatten(1)).mean())
    encoded = encode_split(model, split, 64)
    negative_elbo = float((encoded.rec + encoded.kl).mean())
    assert negative_elbo > exact + 0.05  # the mismatched posterior loosens the ELBO
    assert exact - 0.02 <= nll < negative_elbo  # IW tightens it, never below log p(x) beyond MC error


def _clusters(labels: torch.Tensor, direction: torch.Tensor) -> Split:
    """Images at +-3 along ``direction`` (by label) plus small noise: separable by a line."""
    noise = 0.1 * torch.randn(len(labels), 6)
    x = (labels.float() * 6.0 - 3.0)[:, None] * direction + noise
    return Split(x=x.view(-1, *SHAPE), labels=labels)


def test_probes_on_a_split_score_that_splits_own_labels():
    """With train.valid_metrics=all the probes also run on validation: the validation codes must
    be paired with the validation labels, not with those of eval.split (here the test split,
    whose labels are the validation labels flipped: pairing them gives ~0% instead of ~100%)."""
    model, _ = _linear_gaussian_vae(exact=True)
    direction = model.decoder.weight[:, 0] / model.decoder.weight[:, 0].norm()
    torch.manual_seed(2)
    train_labels, valid_labels = torch.randint(2, (120,)), torch.randint(2, (60,))
    valid = _clusters(valid_labels, direction)
    test = Split(x=valid.x, labels=1 - valid_labels)
    train = _clusters(train_labels, direction)
    dataset = Dataset("digits", "image", train, valid, test, SHAPE, num_classes=2)
    quick = {"eval.nll_samples": 0, "eval.cu_rounds": 2, "eval.smoothness": False, "eval.probe_restarts": 1}
    config = resolve_config("fixed_sigma", "digits", quick)
    assert config.eval.split == "test"
    on_valid, _ = full_metrics(model, dataset, "valid", config)
    on_test, _ = full_metrics(model, dataset, "test", config)
    assert on_valid["probe_mlp"] > 95.0 and on_test["probe_mlp"] < 5.0


def test_a_decoder_of_the_mean_image_earns_the_data_variance():
    # data_variance is the MSE/d of a collapsed decoder: AR-ELBO's adapted sigma_x^2 is judged
    # against it (arelbo_adaptive_small)
    model, marginal = _linear_gaussian_vae(exact=True)
    split = _data(marginal)
    pixels = split.x.flatten(1)
    model.decoder.weight, model.decoder.bias = torch.zeros_like(model.decoder.weight), pixels.mean(0)
    encoded = encode_split(model, split, 64)  # four batches, the last one short
    assert encoded.data_variance == pytest.approx(float(pixels.var(0, correction=0).mean()), rel=1e-5)
    assert float(encoded.residual_sq.mean()) / 6 == pytest.approx(encoded.data_variance, rel=1e-5)


def _bn_model(**posterior) -> VAE:
    torch.manual_seed(2)
    config = PosteriorConfig(**{"gamma": 1.0, **posterior})
    head = BatchNormHead(6, D, config, trainable_scale=config.family == "du")
    likelihood = Gaussian(
        LikelihoodConfig(kind="gaussian", sigma_x2=NOISE, mean_activation="identity"), SHAPE
    )
    decoder = LinearDecoder(torch.randn(6, D), torch.zeros(6))
    return VAE(Flatten(), head, decoder, likelihood, StandardNormalPrior(D))


def test_variance_dropout_metrics_are_the_du_heads_own_dropout_in_expectation():
    model = _bn_model(family="du", keep_prob=0.5)
    with torch.no_grad():
        model.head.logvar.bias.fill_(-1.0)  # raw variances around alpha, where dropout matters
    split = _data(_linear_gaussian_vae(exact=True)[1])
    encoded = encode_split(model, split, 64)  # evaluation: no dropout, floor kept
    metrics = variance_dropout_metrics(model, encoded.mean, encoded.logvar)
    # the head's own training-time dropout, many masks (its variances do not depend on BN)
    features, draws = model.encoder(split.x), 400
    model.head.train()
    with torch.no_grad():
        dropped = torch.cat([model.head(features).logvar for _ in range(draws)]).double()
    sampled_mpd = mutual_posterior_diversity(encoded.mean.repeat(draws, 1), dropped)
    assert metrics["mpd_dropout"] == pytest.approx(sampled_mpd, rel=0.02)
    assert metrics["ce_dropout"] == pytest.approx(conditional_entropy(dropped), abs=0.02)
    # Proposition 1 on this encoder: dropout raises MPD and lowers CE
    assert metrics["mpd_dropout"] > mutual_posterior_diversity(encoded.mean, encoded.logvar) + 0.1
    assert metrics["ce_dropout"] < conditional_entropy(encoded.logvar) - 0.1


def test_variance_dropout_metrics_only_for_a_du_head_with_its_floor():
    for posterior in ({"family": "bn"}, {"family": "du", "keep_prob": 0.5, "variance_floor": False}):
        model = _bn_model(**posterior)
        encoded = encode_split(model, Split(x=torch.randn(50, *SHAPE)), 64)
        assert variance_dropout_metrics(model, encoded.mean, encoded.logvar) == {}
    model = _bn_model(family="du", keep_prob=1.0)
    encoded = encode_split(model, Split(x=torch.randn(50, *SHAPE)), 64)
    metrics = variance_dropout_metrics(model, encoded.mean, encoded.logvar)
    assert metrics["mpd_dropout"] == pytest.approx(mutual_posterior_diversity(encoded.mean, encoded.logvar))
