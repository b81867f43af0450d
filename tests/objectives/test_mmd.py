"""WAE-MMD's regulariser (Tolstikhin et al. 2018, Algorithm 2): the unbiased U-statistic of
MMD^2 with inverse multiquadratic kernels, against a double sum, the population value for two
Gaussians, and its own expectation."""

import math
from types import SimpleNamespace

import pytest
import torch
from scipy import integrate

from vaesweep.config import RegulariserConfig, resolve_config
from vaesweep.models.posteriors.heads import Posterior
from vaesweep.models.vae import ForwardOutput
from vaesweep.noise import GlobalNoise
from vaesweep.objectives.regularisers import REGULARISERS, mmd_imq

SCALES = RegulariserConfig().mmd_scales


def _double_sum(x, y, scales):
    """MMD^2 U-statistic written as the loops of its definition."""
    dim = x.shape[1]

    def k(a, b):
        return sum(2 * dim * s / (2 * dim * s + float((a - b).pow(2).sum())) for s in scales)

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


def test_mmd_is_the_u_statistic_of_its_definition():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(7, 3, generator=generator, dtype=torch.float64)
    y = torch.randn(5, 3, generator=generator, dtype=torch.float64) + 0.7
    assert float(mmd_imq(x, y, SCALES)) == pytest.approx(_double_sum(x, y, SCALES), rel=1e-10)
    assert float(mmd_imq(x, y, (1.0,))) == pytest.approx(_double_sum(x, y, (1.0,)), rel=1e-10)


def test_mmd_of_a_sample_set_with_itself_is_only_the_diagonal_correction():
    """U(z, z) = 2 (mean off-diagonal kernel - k(z, z)) / n: ~0, of order 1/n, never positive."""
    z = torch.randn(1000, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    n, dim = z.shape
    distances = torch.cdist(z, z).pow(2)
    gram = sum(2 * dim * s / (2 * dim * s + distances) for s in SCALES)
    off_diagonal = (gram.sum() - gram.diagonal().sum()) / (n * (n - 1))
    value = float(mmd_imq(z, z, SCALES))
    assert value == pytest.approx(float(2 * (off_diagonal - len(SCALES)) / n), rel=1e-9)
    assert -2 * len(SCALES) / n <= value <= 0.0


def _population_mmd(shift: float, dim: int, scales) -> float:
    """MMD^2 between N(0, I) and N(shift * e_1, I) for the IMQ kernel, in closed form up to a
    1-d integral: C/(C + r^2) = int_0^inf exp(-t) exp(-t r^2 / C) dt, and for w ~ N(delta, 2I),
    E exp(-a ||w||^2) = (1 + 4a)^(-d/2) exp(-a ||delta||^2 / (1 + 4a))."""
    total = 0.0
    for s in scales:
        c = 2.0 * dim * s

        def integrand(t, c=c):
            same = (1 + 4 * t / c) ** (-dim / 2)
            return math.exp(-t) * same * (1 - math.exp(-t * shift**2 / (c + 4 * t)))

        total += 2 * integrate.quad(integrand, 0, math.inf)[0]
    return total


def test_mmd_of_two_gaussians_matches_the_closed_form_and_grows_with_their_distance():
    generator = torch.Generator().manual_seed(2)
    draws, n, dim = 50000, 5, 2  # many small sets: their mean has a small standard error
    values = []
    for shift in (0.5, 1.0, 2.0):
        x = torch.randn(draws, n, dim, generator=generator, dtype=torch.float64)
        y = torch.randn(draws, n, dim, generator=generator, dtype=torch.float64)
        y[..., 0] += shift
        estimates = mmd_imq(x, y, SCALES)
        mean, standard_error = float(estimates.mean()), float(estimates.std()) / math.sqrt(draws)
        population = _population_mmd(shift, dim, SCALES)
        assert abs(mean - population) < 4 * standard_error, (shift, mean, population, standard_error)
        assert mean == pytest.approx(population, rel=0.03), shift
        values.append(mean)
    assert values[0] < values[1] < values[2]


def test_mmd_u_statistic_is_unbiased_when_both_sets_come_from_one_distribution():
    draws = 20000
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(draws, 6, 2, generator=generator, dtype=torch.float64)
    y = torch.randn(draws, 6, 2, generator=generator, dtype=torch.float64)
    values = mmd_imq(x, y, SCALES)  # one statistic per draw
    assert values.shape == (draws,)
    standard_error = float(values.std()) / math.sqrt(draws)
    assert abs(float(values.mean())) < 4 * standard_error
    assert float(values.min()) < 0  # an unbiased estimate of 0 must go negative
    assert float((values < 0).float().mean()) > 0.2


def test_the_regulariser_weighs_the_codes_against_as_many_prior_samples():
    z = torch.randn(16, 3, generator=torch.Generator().manual_seed(4))
    zeros = torch.zeros(1, 16)
    out = ForwardOutput(Posterior(z, None), z.unsqueeze(0), zeros, zeros, zeros, zeros, zeros[0], None)
    unit = REGULARISERS["mmd"](resolve_config("wae_mmd", "digits"))
    values = SimpleNamespace(mmd_weight=10.0)
    torch.manual_seed(5)
    value = float(unit(out, values, GlobalNoise())["mmd"])
    torch.manual_seed(5)
    expected = 10.0 * float(mmd_imq(z, torch.randn_like(z), SCALES))
    assert value == pytest.approx(expected, rel=1e-6)
    one = ForwardOutput(Posterior(z[:1], None), z[:1].unsqueeze(0), zeros[:, :1], zeros[:, :1],
                        zeros[:, :1], zeros[:, :1], zeros[0, :1], None)  # fmt: skip
    assert float(unit(one, values, GlobalNoise())["mmd"]) == 0.0  # a batch of one has no pairs
