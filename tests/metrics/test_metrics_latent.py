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
    conditional_entropy_dropout,
    dimension_summary,
    is_active,
    latent,
    mutual_information,
    mutual_information_per_batch,
    mutual_posterior_diversity,
    mutual_posterior_diversity_dropout,
    pairwise_symmetric_kl,
    unit_activity,
)
from vaesweep.models.posteriors import ALPHA_FLOOR

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


def test_active_means_above_the_threshold_as_the_papers_define_it():
    # activity exactly at the threshold (binary-exact values): the papers' > leaves it out,
    # the >= of He et al.'s code counts it
    mean = torch.tensor([[0.0], [0.125], [0.25]], dtype=F64)  # variance (N - 1) = 0.015625
    assert float(unit_activity(mean)[0]) == 0.015625
    assert active_units(mean, threshold=0.015625) == 0
    assert active_units(mean, threshold=0.015625, strict=False) == 1
    activity = torch.tensor([0.005, 0.01, 0.02], dtype=F64)
    assert is_active(activity).tolist() == [False, False, True]
    assert is_active(activity, strict=False).tolist() == [False, True, True]
    summary = dimension_summary(mean, torch.zeros_like(mean), threshold=0.015625, strict=False)
    assert summary["active"].tolist() == [True]


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


def standard_kl_to_gaussian(a: float, b: float) -> float:
    """KL(N(a, b) || N(0, 1)), b the variance."""
    return 0.5 * (b + a * a - 1.0 - math.log(b))


# qbar of the far dims is about N(3, 0.2): KL(qbar || p) about 4.9; KL(p || qbar) about 24
# (more in the finite mixture's tail).
@pytest.mark.parametrize(("direction", "far_kl"), [("qbar_p", 4.0), ("p_qbar", 10.0)])
def test_collapsed_units_when_aggregate_equals_prior_or_not(direction, far_kl):
    n, s2 = 4000, 0.5
    g = gen(11)
    matched = torch.randn(n, 2, generator=g, dtype=F64) * math.sqrt(1 - s2)
    far = 3.0 + torch.randn(n, 2, generator=g, dtype=F64) * math.sqrt(0.1)
    mean = torch.cat([matched, far], dim=1)
    logvar = torch.cat([torch.full((n, 2), math.log(s2)), torch.full((n, 2), math.log(0.1))], dim=1).to(F64)
    result = collapsed_units(
        mean, logvar, rounds=20, samples_per_round=128, generator=gen(12), direction=direction
    )
    kl = result["kl_per_dim"]
    assert kl.shape == (4,)
    assert (kl[:2].abs() < 0.01).all()
    assert (kl[2:] > far_kl).all()
    assert result["cu"] == {0.01: 2, 0.03: 2, 0.05: 2, 0.1: 2}
    matched_only = collapsed_units(
        mean[:, :2], logvar[:, :2], rounds=20, generator=gen(12), direction=direction
    )
    assert matched_only["cu"][0.03] == 2


@pytest.mark.parametrize(("a", "b"), [(0.5, 1.5), (-1.0, 0.3)])
def test_collapsed_units_kl_matches_closed_form_for_identical_posteriors(a, b):
    mean = torch.full((500, 1), a, dtype=F64)
    logvar = torch.full((500, 1), math.log(b), dtype=F64)
    rounds, per_round = 100, 128
    # KL(p || qbar), the authors' code: log p(z) - log q(z) = c2 z^2 + c1 z + c0 with
    # z ~ N(0, 1), variance 2 c2^2 + c1^2.
    kl = collapsed_units(mean, logvar, rounds=rounds, generator=gen(13), direction="p_qbar")["kl_per_dim"]
    c2, c1 = 0.5 / b - 0.5, -a / b
    standard_error = math.sqrt((2 * c2**2 + c1**2) / (rounds * per_round))
    assert float(kl[0]) == pytest.approx(gaussian_kl_to_standard(a, b), abs=4 * standard_error)
    # KL(qbar || p), the poster's definition and the default: with z = a + sqrt(b) e, log q(z) -
    # log p(z) = const + e^2 (b - 1) / 2 + a sqrt(b) e, variance (b - 1)^2 / 2 + a^2 b.
    kl = collapsed_units(mean, logvar, rounds=rounds, generator=gen(13))["kl_per_dim"]
    standard_error = math.sqrt(((b - 1) ** 2 / 2 + a * a * b) / (rounds * per_round))
    assert float(kl[0]) == pytest.approx(standard_kl_to_gaussian(a, b), abs=4 * standard_error)


def test_collapsed_units_rejects_an_unknown_direction():
    with pytest.raises(ValueError, match="qbar_p"):
        collapsed_units(torch.zeros(3, 1), torch.zeros(3, 1), rounds=1, direction="pq")


def test_collapsed_units_underflow_fallback_for_far_tight_aggregate():
    # Every prior sample is ~50 / 0.01 standard deviations from every component: the shifted
    # exponentials underflow and the logsumexp fallback must take over.
    mean = torch.full((300, 1), 50.0, dtype=F64)
    logvar = torch.full((300, 1), math.log(1e-4), dtype=F64)
    result = collapsed_units(mean, logvar, rounds=10, generator=gen(14), direction="p_qbar")
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


def _du_posteriors(n: int = 300, d: int = 3) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Means, raw variances s2 and the evaluation-time log(s2 + alpha) of a DU head."""
    mean = torch.randn(n, d, generator=gen(30), dtype=F64)
    raw = torch.exp(torch.randn(n, d, generator=gen(31), dtype=F64) - 1.0)
    return mean, raw, torch.log(raw + ALPHA_FLOOR)


def test_dropout_mpd_and_ce_are_the_expectation_over_dropout_masks():
    # DU-VAE eq. 6: s^2 = g s2 + alpha, g ~ Bernoulli(p) / p. Draw many masks: every (x, mask)
    # is one posterior; MPD over independent pairs and CE are then Monte Carlo estimates of
    # MPD_{p_D . B} and H_{q . B} of Proposition 1.
    mean, raw, logvar = _du_posteriors()
    p, draws = 0.6, 300
    keep = torch.bernoulli(torch.full((draws * mean.shape[0], mean.shape[1]), p), generator=gen(32))
    dropped = torch.log(keep.to(F64) * raw.repeat(draws, 1) / p + ALPHA_FLOOR)
    sampled_mpd = mutual_posterior_diversity(mean.repeat(draws, 1), dropped)
    sampled_ce = conditional_entropy(dropped)
    expected_mpd = mutual_posterior_diversity_dropout(mean, logvar, ALPHA_FLOOR, p)
    assert expected_mpd == pytest.approx(sampled_mpd, rel=0.01)
    assert conditional_entropy_dropout(logvar, ALPHA_FLOOR, p) == pytest.approx(sampled_ce, abs=0.01)


@pytest.mark.parametrize("p", [0.9, 0.5, 0.1])
def test_proposition_1_dropout_raises_mpd_and_lowers_ce(p):
    mean, _, logvar = _du_posteriors()
    mpd, ce = mutual_posterior_diversity(mean, logvar), conditional_entropy(logvar)
    mpd_drop = mutual_posterior_diversity_dropout(mean, logvar, ALPHA_FLOOR, p)
    ce_drop = conditional_entropy_dropout(logvar, ALPHA_FLOOR, p)
    assert mpd_drop > mpd and ce_drop < ce
    # eq. 8: MPD_{p_D . B} > (1 - p) / alpha * sum_d Var[mu_d] (the variance over the data)
    assert mpd_drop > (1 - p) / ALPHA_FLOOR * float(mean.var(dim=0, correction=0).sum())
    # the gaps grow as p falls (Proposition 1, "greater as p decreases to 0")
    lower = p / 2
    assert mutual_posterior_diversity_dropout(mean, logvar, ALPHA_FLOOR, lower) > mpd_drop
    assert conditional_entropy_dropout(logvar, ALPHA_FLOOR, lower) < ce_drop


def test_dropout_metrics_without_dropout_are_the_plain_ones():
    mean, _, logvar = _du_posteriors()
    assert mutual_posterior_diversity_dropout(mean, logvar, ALPHA_FLOOR, 1.0) == pytest.approx(
        mutual_posterior_diversity(mean, logvar), rel=1e-12
    )
    assert conditional_entropy_dropout(logvar, ALPHA_FLOOR, 1.0) == pytest.approx(
        conditional_entropy(logvar), rel=1e-12
    )
    with pytest.raises(ValueError, match="floor"):
        mutual_posterior_diversity_dropout(mean, logvar, 0.0, 0.5)


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


@pytest.mark.parametrize(("a", "b"), [(0.5, 1.5), (-1.0, 0.3), (2.0, 0.01)])
def test_collapsed_units_quadrature_equals_the_closed_form_for_identical_posteriors(a, b):
    """With every posterior N(a, b), qbar is that Gaussian: both directed KLs have closed forms,
    which the trapezoid sum reaches to 1e-9 (the samples only to their Monte Carlo error)."""
    mean = torch.full((50, 1), a, dtype=F64)
    logvar = torch.full((50, 1), math.log(b), dtype=F64)
    forward = collapsed_units(mean, logvar, estimator="quadrature")
    backward = collapsed_units(mean, logvar, estimator="quadrature", direction="p_qbar")
    assert forward["sampled_dims"] == backward["sampled_dims"] == 0
    assert float(forward["kl_per_dim"][0]) == pytest.approx(standard_kl_to_gaussian(a, b), abs=1e-9)
    assert float(backward["kl_per_dim"][0]) == pytest.approx(gaussian_kl_to_standard(a, b), abs=1e-9)


@pytest.mark.parametrize("direction", ["qbar_p", "p_qbar"])
def test_collapsed_units_quadrature_agrees_with_the_sampled_estimate_on_a_spiky_mixture(direction):
    """A mixture of narrow, unequal, well-separated posteriors (the hole problem's shape): the
    deterministic integral lies within four standard errors of the authors' Monte Carlo mean,
    whose standard error comes from the same samples, and a twice finer grid moves it by < 1e-9 relative."""
    g = gen(40)
    mean = torch.cat(
        [
            torch.randn(200, 2, generator=g, dtype=F64) * 0.1 - 2,
            2 + torch.rand(100, 2, generator=g, dtype=F64),
        ]
    )
    logvar = torch.log(torch.rand(300, 2, generator=g, dtype=F64) * 0.02 + 0.001)
    exact = collapsed_units(mean, logvar, estimator="quadrature", direction=direction)["kl_per_dim"]
    for d in range(2):
        size = 200 * 128
        if direction == "p_qbar":
            z = torch.randn(size, generator=gen(41 + d), dtype=F64)
        else:
            z = latent._sample_marginal_aggregate(mean[:, d], logvar[:, d], size, gen(41 + d))
        log_ratio = latent._log_marginal_aggregate(z, mean[:, d], logvar[:, d], 2**19, F64) + 0.5 * (
            z * z + math.log(2 * math.pi)
        )
        log_ratio = -log_ratio if direction == "p_qbar" else log_ratio
        standard_error = float(log_ratio.std()) / math.sqrt(size)
        assert float(exact[d]) == pytest.approx(float(log_ratio.mean()), abs=4 * standard_error)
        grid = latent._quadrature_grid(mean[:, d], logvar[:, d], direction, 10**7)
        finer = torch.linspace(float(grid[0]), float(grid[-1]), 2 * len(grid) - 1, dtype=F64)
        twice_finer = latent._quadrature_kl(finer, mean[:, d], logvar[:, d], direction, 2**19)
        assert float(twice_finer) == pytest.approx(float(exact[d]), rel=1e-9)


def test_collapsed_units_quadrature_falls_back_to_samples_for_a_posterior_too_narrow_to_grid():
    mean = torch.tensor([[-3.0], [3.0]], dtype=F64)
    logvar = torch.full((2, 1), math.log(1e-12), dtype=F64)
    result = collapsed_units(mean, logvar, rounds=5, generator=gen(44), estimator="quadrature")
    assert result["sampled_dims"] == 1
    assert float(result["kl_per_dim"][0]) > 5.0  # two spikes far from N(0, 1)


def test_collapsed_units_rejects_an_unknown_estimator():
    with pytest.raises(ValueError, match="quadrature"):
        collapsed_units(torch.zeros(3, 1), torch.zeros(3, 1), estimator="exact")
