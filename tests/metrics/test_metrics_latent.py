"""Latent metrics against closed forms and constructed posteriors."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import kl_divergence

from vaesweep.metrics import (
    active_units,
    aggregate_posterior_stats,
    collapsed_units,
    conditional_entropy,
    dimension_summary,
    mutual_information,
    mutual_information_per_batch,
    mutual_posterior_diversity,
    pairwise_symmetric_kl,
    unit_activity,
)

F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def standardised_column(n: int, seed: int = 0) -> torch.Tensor:
    """A column whose variance with denominator n - 1 is exactly 1 (to float error)."""
    r = torch.randn(n, generator=gen(seed), dtype=F64)
    return (r - r.mean()) / r.std(correction=1)


def test_unit_activity_and_active_units_straddle_threshold():
    # Small N, so an N denominator (0.8x) would move 0.0105 below the threshold.
    n = 5
    activities = torch.tensor([0.0, 0.005, 0.0095, 0.0105, 0.02, 1.0], dtype=F64)
    mean = standardised_column(n)[:, None] * activities.sqrt() + 3.0
    torch.testing.assert_close(unit_activity(mean), activities, rtol=1e-10, atol=1e-12)
    assert active_units(mean) == 3
    assert active_units(mean, threshold=0.001) == 5
    assert active_units(mean.float()) == 3


def test_mutual_information_zero_when_posteriors_ignore_x():
    row_mean = torch.randn(1, 4, generator=gen(1), dtype=F64)
    row_logvar = torch.randn(1, 4, generator=gen(2), dtype=F64)
    mean, logvar = row_mean.expand(2000, 4), row_logvar.expand(2000, 4)
    # Sampling noise of the closed-form entropy term: sd sqrt(D / 2N) = 0.03.
    assert abs(mutual_information(mean, logvar, generator=gen(3))) < 0.15


def well_separated(n: int = 256, d: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.rand(n, d, generator=gen(4), dtype=F64) * 2000 - 1000
    return mean, torch.full((n, d), math.log(1e-2), dtype=F64)


def test_mutual_information_log_n_for_separated_posteriors():
    mean, logvar = well_separated()
    mi = mutual_information(mean, logvar, generator=gen(5))
    assert mi == pytest.approx(math.log(256), abs=0.25)


def test_mutual_information_chunking_does_not_change_the_value():
    mean = torch.randn(300, 3, generator=gen(6), dtype=F64)
    logvar = torch.randn(300, 3, generator=gen(7), dtype=F64) - 1
    whole = mutual_information(mean, logvar, generator=gen(8))
    chunked = mutual_information(mean, logvar, generator=gen(8), chunk_size=7 * 300)
    one_row = mutual_information(mean, logvar, generator=gen(8), chunk_size=1)
    assert chunked == pytest.approx(whole, abs=1e-10)
    assert one_row == pytest.approx(whole, abs=1e-10)
    assert mutual_information(mean.float(), logvar.float(), generator=gen(8)) == pytest.approx(
        whole, abs=1e-4
    )


def test_per_batch_mutual_information_is_biased_low_and_bounded_by_log_batch():
    mean, logvar = well_separated()
    per_batch = mutual_information_per_batch(mean, logvar, batch_size=32, generator=gen(5))
    assert per_batch == pytest.approx(math.log(32), abs=0.25)
    assert per_batch < mutual_information(mean, logvar, generator=gen(5)) - 1.0

    # Overlapping posteriors: same z samples (same seed), fewer mixture components per batch.
    mean = torch.randn(1000, 2, generator=gen(9), dtype=F64)
    logvar = torch.full((1000, 2), math.log(0.1), dtype=F64)
    full = mutual_information(mean, logvar, generator=gen(10))
    for batch_size in (10, 50):
        per_batch = mutual_information_per_batch(mean, logvar, batch_size, generator=gen(10))
        assert per_batch < full
        assert per_batch <= math.log(batch_size) + 0.1
    assert mutual_information_per_batch(mean, logvar, 1000, generator=gen(10)) == pytest.approx(
        full, abs=1e-10
    )


def gaussian_kl_to_standard(a: float, b: float) -> float:
    """KL(N(0, 1) || N(a, b)), b the variance."""
    return 0.5 * (math.log(b) + (1.0 + a * a) / b - 1.0)


def test_collapsed_units_when_aggregate_equals_prior_or_not():
    n, s2 = 4000, 0.5
    g = gen(11)
    matched = torch.randn(n, 2, generator=g, dtype=F64) * math.sqrt(1 - s2)
    far = 3.0 + torch.randn(n, 2, generator=g, dtype=F64) * math.sqrt(0.1)
    mean = torch.cat([matched, far], dim=1)
    logvar = torch.cat([torch.full((n, 2), math.log(s2)), torch.full((n, 2), math.log(0.1))], dim=1).to(F64)
    result = collapsed_units(mean, logvar, rounds=20, samples_per_round=128, generator=gen(12))
    kl = result["kl_per_dim"]
    assert kl.shape == (4,)
    assert (kl[:2].abs() < 0.01).all()
    # qbar of the far dims is about N(3, 0.2), KL about 24 (more in the finite mixture's tail).
    assert (kl[2:] > 10).all()
    assert result["cu"] == {0.01: 2, 0.03: 2, 0.05: 2, 0.1: 2}
    assert collapsed_units(mean[:, :2], logvar[:, :2], rounds=20, generator=gen(12))["cu"][0.03] == 2


@pytest.mark.parametrize(("a", "b"), [(0.5, 1.5), (-1.0, 0.3)])
def test_collapsed_units_kl_matches_closed_form_for_identical_posteriors(a, b):
    mean = torch.full((500, 1), a, dtype=F64)
    logvar = torch.full((500, 1), math.log(b), dtype=F64)
    rounds, per_round = 100, 128
    kl = collapsed_units(mean, logvar, rounds=rounds, generator=gen(13))["kl_per_dim"]
    # log p(z) - log q(z) = c2 z^2 + c1 z + c0 with z ~ N(0, 1): variance 2 c2^2 + c1^2.
    c2, c1 = 0.5 / b - 0.5, -a / b
    standard_error = math.sqrt((2 * c2**2 + c1**2) / (rounds * per_round))
    assert float(kl[0]) == pytest.approx(gaussian_kl_to_standard(a, b), abs=4 * standard_error)


def test_collapsed_units_underflow_fallback_for_far_tight_aggregate():
    # Every prior sample is ~50 / 0.01 standard deviations from every component: the shifted
    # exponentials underflow and the logsumexp fallback must take over.
    mean = torch.full((300, 1), 50.0, dtype=F64)
    logvar = torch.full((300, 1), math.log(1e-4), dtype=F64)
    result = collapsed_units(mean, logvar, rounds=10, generator=gen(14))
    assert float(result["kl_per_dim"][0]) == pytest.approx(gaussian_kl_to_standard(50.0, 1e-4), rel=1e-3)
    assert result["cu"][0.1] == 0


def test_collapsed_units_float32_kernel_and_chunking_agree_with_float64():
    mean = torch.randn(700, 3, generator=gen(15), dtype=F64)
    logvar = torch.randn(700, 3, generator=gen(16), dtype=F64) - 1.0
    runs = [
        collapsed_units(mean, logvar, rounds=5, generator=gen(17), **kwargs)["kl_per_dim"]
        for kwargs in ({}, {"dtype": F64}, {"chunk_size": 1}, {"chunk_size": 10**9})
    ]
    for other in runs[1:]:
        torch.testing.assert_close(other, runs[0], rtol=0, atol=1e-5)


def test_mpd_moment_formula_equals_pairwise_mean():
    mean = torch.randn(7, 3, generator=gen(18), dtype=F64) * 2 + 5
    logvar = torch.randn(7, 3, generator=gen(19), dtype=F64)
    pairwise = pairwise_symmetric_kl(mean, logvar)
    assert mutual_posterior_diversity(mean, logvar) == pytest.approx(float(pairwise.mean()), rel=1e-12)
    assert mutual_posterior_diversity(mean, logvar) > 0


def test_pairwise_symmetric_kl_is_the_mean_of_both_directed_kls():
    mean = torch.randn(4, 3, generator=gen(20), dtype=F64)
    logvar = torch.randn(4, 3, generator=gen(21), dtype=F64)
    q = torch.distributions.Normal(mean, torch.exp(0.5 * logvar))
    pairwise = pairwise_symmetric_kl(mean, logvar)
    for i in range(4):
        for j in range(4):
            qi = torch.distributions.Normal(q.loc[i], q.scale[i])
            qj = torch.distributions.Normal(q.loc[j], q.scale[j])
            directed = kl_divergence(qi, qj) + kl_divergence(qj, qi)
            assert float(pairwise[i, j]) == pytest.approx(0.5 * float(directed.sum()), abs=1e-12)


def test_mpd_is_zero_for_identical_posteriors():
    mean = torch.randn(1, 5, generator=gen(22), dtype=F64).expand(30, 5)
    logvar = torch.randn(1, 5, generator=gen(23), dtype=F64).expand(30, 5)
    assert mutual_posterior_diversity(mean, logvar) == pytest.approx(0.0, abs=1e-12)


def test_conditional_entropy_closed_form():
    logvar = torch.randn(50, 6, generator=gen(24), dtype=F64)
    expected = torch.distributions.Normal(0.0, torch.exp(0.5 * logvar)).entropy().sum(1).mean()
    assert conditional_entropy(logvar) == pytest.approx(float(expected), rel=1e-12)
    # The DU-VAE floor alpha = 1/(2 pi e) gives zero entropy per dimension.
    floor = torch.full((3, 4), -math.log(2 * math.pi * math.e), dtype=F64)
    assert conditional_entropy(floor) == pytest.approx(0.0, abs=1e-12)


def test_aggregate_posterior_stats_on_constructed_points():
    # Near-deterministic posteriors: z = mean. Sample covariance diag(2/3, 8/3), mean (3, 4).
    mean = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]], dtype=F64)
    mean = mean + torch.tensor([3.0, 4.0], dtype=F64)
    logvar = torch.full((4, 2), -60.0, dtype=F64)
    stats = aggregate_posterior_stats(mean, logvar, generator=gen(25))
    assert stats["mu_sqnorm"] == pytest.approx(25.0, rel=1e-9)
    assert stats["logdet_cov"] == pytest.approx(math.log(16 / 9), rel=1e-9)
    assert stats["sigma_z2"] == pytest.approx(math.exp(-60.0), rel=1e-9)


def test_aggregate_posterior_stats_samples_with_the_posterior_variance():
    n, d, var = 20000, 3, 0.25
    mean = torch.zeros(n, d, dtype=F64)
    logvar = torch.full((n, d), math.log(var), dtype=F64)
    stats = aggregate_posterior_stats(mean, logvar, generator=gen(26))
    assert stats["logdet_cov"] == pytest.approx(d * math.log(var), abs=0.08)
    assert stats["mu_sqnorm"] < 1e-3
    assert stats["sigma_z2"] == pytest.approx(var, rel=1e-12)


def test_dimension_summary_quantiles_and_activity():
    column = torch.tensor([4.0, 0.0, 3.0, 1.0, 2.0], dtype=F64)
    mean = torch.stack([column, 0.01 * column], dim=1)
    logvar = torch.log(torch.stack([column + 1, 2 * column + 1], dim=1))
    summary = dimension_summary(mean, logvar)
    expected = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0], dtype=F64)
    torch.testing.assert_close(summary["mean_quantiles"][:, 0], expected)
    torch.testing.assert_close(summary["mean_quantiles"][:, 1], 0.01 * expected)
    torch.testing.assert_close(summary["variance_quantiles"][:, 0], expected + 1)
    torch.testing.assert_close(summary["variance_quantiles"][:, 1], 2 * expected + 1)
    torch.testing.assert_close(summary["activity"], torch.tensor([2.5, 2.5e-4], dtype=F64))
    assert summary["active"].tolist() == [True, False]
