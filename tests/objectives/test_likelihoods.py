"""Decoder likelihoods, above all AR-ELBO's four variance parameterisations (Table 2)."""

import math

import pytest
import torch

from vaesweep.config import LikelihoodConfig
from vaesweep.objectives.likelihoods.modules import (
    AR_ELBO_EPS,
    Bernoulli,
    Categorical,
    Gaussian,
    adaptive_gaussian_nll,
)

SHAPE = (1, 3, 4)  # C, H, W: d = 12


def _gaussian_nll(residual_sq, variance):
    """Mean over (K, B) of -log N(x; mu, diag(variance)) given (x - mu)^2."""
    return 0.5 * (residual_sq / variance + torch.log(2 * math.pi * variance)).flatten(2).sum(-1).mean()


def _mle_variance(residual_sq, parameterisation):
    """The maximum-likelihood Sigma_x of AR-ELBO appendix G for each parameterisation."""
    d = residual_sq[0, 0].numel()
    if parameterisation == "iso_i":
        return residual_sq.flatten(2).sum(-1).mean() / d
    if parameterisation == "iso_d":
        return ((residual_sq.flatten(2).sum(-1) + AR_ELBO_EPS) / d).view(*residual_sq.shape[:2], 1, 1, 1)
    if parameterisation == "diag_i":
        return residual_sq.flatten(0, 1).mean(0) + AR_ELBO_EPS
    return residual_sq + AR_ELBO_EPS


@pytest.mark.parametrize("parameterisation", ["iso_i", "iso_d", "diag_i", "diag_d"])
def test_ar_elbo_objective_is_the_gaussian_nll_at_the_mle_variance(parameterisation):
    torch.manual_seed(0)
    residual_sq = torch.rand(2, 6, *SHAPE) ** 2 + 0.01
    variance = _mle_variance(residual_sq, parameterisation)
    expected = _gaussian_nll(residual_sq, variance)
    # equal up to the eps of Table 2 inside the logarithm (residuals here are >= 0.01)
    assert torch.allclose(
        adaptive_gaussian_nll(residual_sq, parameterisation), expected, rtol=1e-4, atol=1e-3
    )


@pytest.mark.parametrize("parameterisation", ["iso_i", "iso_d", "diag_i", "diag_d"])
def test_the_mle_variance_is_a_stationary_point_of_the_nll(parameterisation):
    """Zero derivative in Sigma_x at the MLE: substituting it changes no gradient of (theta, phi)."""
    torch.manual_seed(1)
    residual_sq = torch.rand(3, 5, *SHAPE, dtype=torch.float64) ** 2 + 0.01
    variance = _mle_variance(residual_sq, parameterisation).clone().requires_grad_(True)
    _gaussian_nll(residual_sq, variance).backward()
    # the eps of Table 2 moves the optimum by at most eps / variance
    assert float(variance.grad.abs().max()) < 1e-3
    shifted = (variance * 1.5).detach().requires_grad_(True)
    _gaussian_nll(residual_sq, shifted).backward()
    assert float(shifted.grad.abs().max()) > 1e-3  # elsewhere it is not stationary


def test_iso_i_gradient_equals_that_of_eq_9():
    """d/2 ln E||x - mu||^2: the same gradient in mu as the NLL at the MLE (constants aside)."""
    torch.manual_seed(2)
    x = torch.rand(1, 8, *SHAPE)
    mu = torch.rand(1, 8, *SHAPE, requires_grad=True)
    adaptive_gaussian_nll((x - mu).pow(2), "iso_i").backward()
    ours = mu.grad.clone()
    mu.grad = None
    d = x[0, 0].numel()
    (0.5 * d * torch.log((x - mu).pow(2).flatten(2).sum(-1).mean())).backward()
    assert torch.allclose(ours, mu.grad, atol=1e-6)


def test_adaptive_likelihood_learns_its_evaluation_variance_from_training_residuals():
    likelihood = Gaussian(LikelihoodConfig(kind="gaussian", variance="adaptive"), SHAPE)
    x = torch.full((4, *SHAPE), 0.5)
    params = torch.zeros(1, 4, 1, *SHAPE)  # sigmoid(0) = 0.5 ... residual 0 except where we shift
    params[..., 0, 0, 0, 0] = 2.0
    residual_sq = (x - torch.sigmoid(params[:, :, 0])).pow(2)
    likelihood.training_term(params, x, None, likelihood.log_prob(params, x))
    likelihood.end_epoch()
    expected = residual_sq.mean().clamp_min(AR_ELBO_EPS)
    assert torch.allclose(likelihood.eval_variance.flatten(), expected.flatten())
    assert float(likelihood.residual_count) == 0  # reset for the next epoch


def test_trainable_decoder_variance_uses_the_second_channel():
    config = LikelihoodConfig(kind="gaussian", variance="trainable", variance_parameterisation="iso_d")
    likelihood = Gaussian(config, SHAPE)
    assert likelihood.param_channels == 2
    params = torch.zeros(1, 2, 2, *SHAPE)
    params[0, 0, 1] = math.log(0.25)  # example 0: variance 0.25 everywhere
    x = torch.full((2, *SHAPE), 0.5)
    log_px = likelihood.log_prob(params, x)
    d = 12
    assert torch.allclose(log_px[0, 0], torch.tensor(-0.5 * d * math.log(2 * math.pi * 0.25)))
    assert torch.allclose(log_px[0, 1], torch.tensor(-0.5 * d * math.log(2 * math.pi)))


def test_fixed_gaussian_matches_torch_normal():
    config = LikelihoodConfig(kind="gaussian", sigma_x2=0.3, mean_activation="identity")
    likelihood = Gaussian(config, SHAPE)
    params = torch.randn(2, 3, 1, *SHAPE)
    x = torch.randn(3, *SHAPE)
    expected = torch.distributions.Normal(params[:, :, 0], math.sqrt(0.3)).log_prob(x).flatten(2).sum(-1)
    assert torch.allclose(likelihood.log_prob(params, x), expected, atol=1e-5)


def test_bernoulli_and_categorical_are_log_probabilities():
    logits = torch.randn(2, 3, 1, *SHAPE)
    x = torch.bernoulli(torch.full((3, *SHAPE), 0.5))
    expected = torch.distributions.Bernoulli(logits=logits[:, :, 0]).log_prob(x).flatten(2).sum(-1)
    assert torch.allclose(Bernoulli().log_prob(logits, x), expected, atol=1e-5)

    token_logits = torch.randn(2, 3, 4, 7)
    tokens = torch.tensor([[4, 5, 2, 0], [6, 2, 0, 0], [4, 4, 4, 2]])
    lengths = torch.tensor([3, 2, 4])
    log_px = Categorical().log_prob(token_logits, tokens, lengths)
    manual = torch.log_softmax(token_logits, -1)[1, 1, 0, 6] + torch.log_softmax(token_logits, -1)[1, 1, 1, 2]
    assert torch.allclose(log_px[1, 1], manual)
