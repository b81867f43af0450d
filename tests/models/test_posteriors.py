"""Posterior heads: closed-form KL, the isotropic tie, the DU-VAE regularisers, delta-VAE."""

import math

import pytest
import torch

from vaesweep.config import PosteriorConfig, resolve_config
from vaesweep.models.posteriors import build_posterior_head
from vaesweep.models.posteriors.heads import (
    ALPHA_FLOOR,
    BatchNormHead,
    GaussianHead,
    Posterior,
    committed_rate_variance,
)
from vaesweep.models.priors.modules import StandardNormalPrior


@pytest.mark.parametrize("isotropic", [False, True])
def test_closed_form_kl_matches_monte_carlo(isotropic):
    torch.manual_seed(0)
    head = GaussianHead(in_features=5, latent_dim=4, isotropic=isotropic, committed_rate=0.0)
    posterior = head(torch.randn(3, 5))
    z, log_q = posterior.rsample(200_000)
    monte_carlo = (log_q - StandardNormalPrior(4).log_prob(z)).mean(0)
    closed_form = posterior.kl_to_standard_normal().sum(-1)
    assert torch.allclose(monte_carlo, closed_form, atol=0.02)


def test_isotropic_head_ties_the_variance_across_dimensions():
    head = GaussianHead(in_features=5, latent_dim=6, isotropic=True, committed_rate=0.0)
    logvar = head(torch.randn(8, 5)).logvar
    assert torch.equal(logvar, logvar[:, :1].expand_as(logvar))
    assert head.logvar.out_features == 1


def test_log_prob_is_the_density_that_rsample_reports():
    posterior = Posterior(torch.randn(4, 3), torch.randn(4, 3))
    z, log_q = posterior.rsample(5)
    assert torch.allclose(posterior.log_prob(z), log_q, atol=1e-5)


def _du_head(gamma=0.6, keep_prob=0.7, **kw):
    config = PosteriorConfig(family="du", gamma=gamma, keep_prob=keep_prob, **kw)
    return BatchNormHead(7, 5, config, trainable_scale=True)


def test_du_rescale_keeps_mean_squared_gamma():
    torch.manual_seed(1)
    head = _du_head(gamma=0.6)
    optimiser = torch.optim.SGD(head.parameters(), lr=0.05)
    for _ in range(20):
        loss = (head(torch.randn(32, 7)).mean - 2.0).pow(2).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        assert not torch.allclose(head.norm.weight.pow(2).mean(), torch.tensor(0.36))  # drifted
        head.rescale_()
        assert torch.allclose(head.norm.weight.pow(2).mean(), torch.tensor(0.36), rtol=1e-5)


def test_bn_vae_scale_is_fixed_and_never_rescaled():
    head = BatchNormHead(7, 5, PosteriorConfig(family="bn", gamma=0.3), trainable_scale=False)
    assert not head.norm.weight.requires_grad
    before = head.norm.weight.clone()
    head.rescale_()
    assert torch.equal(head.norm.weight, before)
    h = torch.randn(64, 7)
    posterior = head.train()(h)
    assert torch.equal(posterior.logvar, head.logvar(h))  # no floor and no dropout
    # the BN scale is gamma in every dimension, so the KL is >= dim(z) * gamma^2 / 2 on average
    assert float(posterior.kl_to_standard_normal().sum(-1).mean().detach()) >= 5 * 0.3**2 / 2


def test_variance_dropout_keeps_the_expected_variance_and_the_floor():
    torch.manual_seed(2)
    head = _du_head(keep_prob=0.6).train()
    h = torch.randn(4, 7)
    raw = torch.exp(head.logvar(h)).detach()
    draws = torch.exp(head(h.repeat(40_000, 1)).logvar).detach().view(40_000, 4, 5)
    assert draws.min() >= ALPHA_FLOOR * (1 - 1e-5)
    # DU-VAE Prop. 1: E_B[s2_hat] = s2 = exp(raw) + alpha
    assert torch.allclose(draws.mean(0), raw + ALPHA_FLOOR, rtol=0.03)
    # exactly two values per cell: the floor (dropped) or s2/p + alpha (kept)
    kept = raw / 0.6 + ALPHA_FLOOR
    is_floor = torch.isclose(draws, torch.full_like(draws, ALPHA_FLOOR), rtol=1e-4)
    is_kept = torch.isclose(draws, kept.expand_as(draws), rtol=1e-4)
    assert bool((is_floor | is_kept).all())


def test_du_evaluation_has_no_dropout_but_keeps_the_floor():
    head = _du_head(keep_prob=0.5).eval()
    h = torch.randn(4, 7)
    first, second = head(h).logvar, head(h).logvar
    assert torch.equal(first, second)
    assert torch.allclose(torch.exp(first), torch.exp(head.logvar(h)) + ALPHA_FLOOR)


@pytest.mark.parametrize("delta", [0.05, 0.1, 0.5])
def test_delta_vae_keeps_every_dimension_above_the_committed_rate(delta):
    s2 = committed_rate_variance(delta)
    assert s2 < 1 and math.isclose(s2 - math.log(s2) - 1, 2 * delta, rel_tol=1e-6)
    head = GaussianHead(5, 8, isotropic=False, committed_rate=delta)
    with torch.no_grad():
        head.mean.weight.zero_()
        head.mean.bias.zero_()  # the worst case: means at the prior's
    kl = head(torch.randn(256, 5) * 10).kl_to_standard_normal()
    assert bool((kl >= delta - 1e-5).all())


def test_iaf_head_returns_a_flow_posterior():
    config = resolve_config(
        "du_iaf", "digits", {"gamma": 0.5, "model.flow_hidden": 16, "model.flow_blocks": 2}
    )
    head = build_posterior_head(config, 6, 4)
    posterior = head(torch.randn(3, 6))
    assert posterior.flow is not None and not posterior.is_gaussian
    z, log_q = posterior.rsample(2)
    assert z.shape == (2, 3, 4) and log_q.shape == (2, 3)


def test_fixed_variance_posterior_has_no_variance_output():
    head = GaussianHead(5, 3, isotropic=True, committed_rate=0.0, fixed_variance=0.1)
    posterior = head(torch.randn(4, 5))
    assert head.logvar is None
    assert torch.allclose(torch.exp(posterior.logvar), torch.full((4, 3), 0.1))


def test_bn_with_a_fixed_shift_learns_the_scale_instead():
    config = PosteriorConfig(family="bn", gamma=0.5, bn_shift=0.7)
    head = BatchNormHead(7, 5, config, trainable_scale=False)
    assert head.norm.weight.requires_grad and not head.norm.bias.requires_grad
    means = head.train()(torch.randn(256, 7)).mean
    assert torch.allclose(means.mean(0), torch.full((5,), 0.7), atol=1e-5)  # the shift stays put
