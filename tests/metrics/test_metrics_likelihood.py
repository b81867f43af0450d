"""Likelihood estimators against a linear-Gaussian model, where everything is closed form.

p(z) = N(0, I_D), p(x|z) = N(Wz + b, s^2 I): log p(x) = log N(x; b, W W^T + s^2 I), the
posterior is N(Sigma W^T (x - b) / s^2, Sigma) with Sigma = (I + W^T W / s^2)^-1, and for any
Gaussian q = N(m, S): log E_q[p(x|z)] = log N(x; W m + b, s^2 I + W S W^T).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch
from torch.distributions import MultivariateNormal

from vaesweep.metrics import (
    importance_weighted_log_likelihood,
    log_mean_exp,
    prior_posterior_log_likelihood,
)

F64 = torch.float64


@dataclass
class LinearGaussian:
    w: torch.Tensor  # [X, D]
    b: torch.Tensor  # [X]
    s: float

    @classmethod
    def random(cls, latent: int, observed: int, s: float, seed: int) -> LinearGaussian:
        g = torch.Generator().manual_seed(seed)
        w = torch.randn(observed, latent, generator=g, dtype=F64)
        return cls(w, torch.randn(observed, generator=g, dtype=F64), s)

    def sample_x(self, n: int, seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.w.shape[1], generator=g, dtype=F64)
        noise = torch.randn(n, self.w.shape[0], generator=g, dtype=F64)
        return z @ self.w.T + self.b + self.s * noise

    def log_marginal(self, x: torch.Tensor) -> torch.Tensor:
        cov = self.w @ self.w.T + self.s**2 * torch.eye(self.w.shape[0], dtype=F64)
        return MultivariateNormal(self.b, cov).log_prob(x)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact posterior mean [N, D] and covariance [D, D]."""
        precision = torch.eye(self.w.shape[1], dtype=F64) + self.w.T @ self.w / self.s**2
        cov = torch.linalg.inv(precision)
        return (x - self.b) @ self.w @ cov / self.s**2, cov

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x_n | z[..., n, :]) for z [..., N, D]."""
        residual = x - (z @ self.w.T + self.b)
        observed = self.w.shape[0]
        return -0.5 * (residual.square().sum(-1) / self.s**2) - observed * (
            math.log(self.s) + 0.5 * math.log(2 * math.pi)
        )

    def log_expected_likelihood(self, x: torch.Tensor, m: torch.Tensor, cov: torch.Tensor):
        """log E_{N(m_n, cov)}[p(x_n|z)] per example."""
        predictive = self.s**2 * torch.eye(self.w.shape[0], dtype=F64) + self.w @ cov @ self.w.T
        return MultivariateNormal(m @ self.w.T + self.b, predictive).log_prob(x)


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * (z.square().sum(-1) + z.shape[-1] * math.log(2 * math.pi))


def test_log_mean_exp_is_stable_and_correct():
    x = torch.tensor([[1000.0, 1000.0 + math.log(3.0)], [-1000.0, -1000.0]], dtype=F64)
    torch.testing.assert_close(
        log_mean_exp(x, dim=1), torch.tensor([1000.0 + math.log(2.0), -1000.0], dtype=F64)
    )
    y = torch.randn(3, 4, dtype=F64)
    torch.testing.assert_close(log_mean_exp(y, dim=0), y.exp().mean(0).log())


def proposal_log_weights(model, x, q_mean, q_cov, generator):
    """log_weights_fn for a Gaussian proposal N(q_mean_n, q_cov)."""
    q = MultivariateNormal(q_mean, q_cov)

    def log_weights(k: int) -> torch.Tensor:
        noise = torch.randn(k, *q_mean.shape, generator=generator, dtype=F64)
        z = q_mean + noise @ torch.linalg.cholesky(q_cov).T
        return model.log_likelihood(x, z) + log_standard_normal(z) - q.log_prob(z)

    return log_weights


def test_importance_weighted_ll_is_exact_with_the_exact_posterior():
    model = LinearGaussian.random(latent=3, observed=5, s=0.7, seed=0)
    x = model.sample_x(40, seed=1)
    post_mean, post_cov = model.posterior(x)
    fn = proposal_log_weights(model, x, post_mean, post_cov, torch.Generator().manual_seed(2))
    estimate = importance_weighted_log_likelihood(fn, num_examples=40, num_samples=50, chunk=20)
    torch.testing.assert_close(estimate, model.log_marginal(x), rtol=0, atol=1e-9)


def test_importance_weighted_ll_beats_the_elbo_with_a_mismatched_proposal():
    model = LinearGaussian.random(latent=3, observed=5, s=0.7, seed=3)
    x = model.sample_x(60, seed=4)
    post_mean, post_cov = model.posterior(x)
    # Wider than the posterior in every direction, so the weights stay bounded.
    q_mean = post_mean + 0.3 * torch.diagonal(post_cov).sqrt()
    q_cov = 2.0 * post_cov
    fn = proposal_log_weights(model, x, q_mean, q_cov, torch.Generator().manual_seed(5))
    seen = []

    def recording(k: int) -> torch.Tensor:
        seen.append(fn(k))
        return seen[-1]

    estimate = importance_weighted_log_likelihood(recording, num_examples=60)
    # Delta-method standard error of log(mean w) from the weights actually used.
    w = torch.exp(torch.cat(seen) - estimate)
    standard_error = w.std(dim=0) / math.sqrt(len(w))
    exact = model.log_marginal(x)
    # ELBO = E_q[log p(x|z)] + E_q[log p(z)] + H(q), all closed form.
    expected_ll = model.log_likelihood(x, q_mean) - torch.trace(model.w @ q_cov @ model.w.T) / (
        2 * model.s**2
    )
    expected_prior = log_standard_normal(q_mean) - 0.5 * torch.trace(q_cov)
    elbo = expected_ll + expected_prior + MultivariateNormal(q_mean, q_cov).entropy()
    assert float((exact - elbo).min()) > 0.2  # the proposal is far enough off to matter
    assert (estimate > elbo + 0.1).all()
    assert ((estimate - exact).abs() < 5 * standard_error).all()
    assert float(standard_error.max()) < 0.1


def test_importance_weighted_ll_chunks_merge_exactly():
    weights = torch.randn(500, 9, generator=torch.Generator().manual_seed(6), dtype=F64) * 50
    served = 0

    def log_weights(k: int) -> torch.Tensor:
        nonlocal served
        served += k
        return weights[served - k : served]

    estimate = importance_weighted_log_likelihood(log_weights, 9, num_samples=500, chunk=7)
    assert served == 500
    torch.testing.assert_close(estimate, torch.logsumexp(weights, 0) - math.log(500))


def test_importance_weighted_ll_rejects_a_wrong_shape():
    with pytest.raises(ValueError, match="expected"):
        importance_weighted_log_likelihood(lambda k: torch.zeros(k, 3), num_examples=4)


# With 2 x 8 samples (DG-VAE) the log of the mean is biased low by about Var(w) / (2 * 16);
# that is negligible for the exact posterior, and a mismatched q needs more samples.
@pytest.mark.parametrize(("inflate", "num_samples"), [(1.0, 8), (1.5, 64)])
def test_prior_and_posterior_ll_match_closed_forms(inflate, num_samples):
    model = LinearGaussian.random(latent=2, observed=4, s=0.5, seed=7)
    n = 3000
    x = model.sample_x(n, seed=8)
    post_mean, post_cov = model.posterior(x)
    q_mean, q_cov = post_mean, inflate * post_cov
    q = MultivariateNormal(q_mean, q_cov)
    generator = torch.Generator().manual_seed(9)

    def sample_prior(k: int) -> torch.Tensor:
        return torch.randn(k, n, 2, generator=generator, dtype=F64)

    def sample_posterior(k: int) -> torch.Tensor:
        noise = torch.randn(k, n, 2, generator=generator, dtype=F64)
        return q_mean + noise @ torch.linalg.cholesky(q_cov).T

    prior_ll, post_ll = prior_posterior_log_likelihood(
        lambda z: model.log_likelihood(x, z),
        sample_prior,
        sample_posterior,
        log_standard_normal,
        q.log_prob,
        num_samples=num_samples,
    )
    assert prior_ll.shape == post_ll.shape == (n,)
    exact_prior_ll = model.log_marginal(x)
    exact_post_ll = model.log_expected_likelihood(x, q_mean, q_cov)
    assert float(prior_ll.mean()) == pytest.approx(float(exact_prior_ll.mean()), abs=0.03)
    assert float(post_ll.mean()) == pytest.approx(float(exact_post_ll.mean()), abs=0.03)
    # The two quantities differ (postLL > log p(x) here), so swapping them would be caught.
    assert float((exact_post_ll - exact_prior_ll).mean()) > 0.5
