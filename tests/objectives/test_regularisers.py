"""Regulariser units and schedules, each against its paper's formula."""

import math

import pytest
import torch

from vaesweep.config import AnnealingConfig, RegulariserConfig
from vaesweep.models.posteriors import Posterior
from vaesweep.models.vae import ForwardOutput
from vaesweep.objectives.regularisers import (
    FreeBitsRegulariser,
    KLRegulariser,
    LatentL2Regulariser,
    MAERegulariser,
    TargetKLRegulariser,
)
from vaesweep.objectives.schedules import kl_weight, target_kl


def _output(mean, logvar, kl_per_dim=None):
    posterior = Posterior(mean, logvar)
    kl_per_dim = posterior.kl_to_standard_normal() if kl_per_dim is None else kl_per_dim
    zeros = torch.zeros(1, mean.shape[0])
    return ForwardOutput(
        posterior, mean.unsqueeze(0), zeros, zeros, zeros, zeros, kl_per_dim.sum(-1), kl_per_dim
    )


def test_target_kl_is_per_example_absolute_gap():
    """IGP eq. 2 is per example: two examples at C +- 1 cost 1 each, not |mean - C| = 0."""
    kl_per_dim = torch.tensor([[4.0], [6.0]])
    out = _output(torch.zeros(2, 1), torch.zeros(2, 1), kl_per_dim)
    unit = TargetKLRegulariser(RegulariserConfig(kind="target_kl", target_kl=5.0, beta=0.5))
    assert float(unit(out, target=5.0)) == pytest.approx(0.5 * 1.0)
    assert float(KLRegulariser(RegulariserConfig(beta=0.4))(out)) == pytest.approx(0.4 * 5.0)


def test_free_bits_hinge_per_dimension_on_batch_means():
    kl_per_dim = torch.tensor([[0.0, 1.0, 0.3], [0.1, 3.0, 0.1]])
    out = _output(torch.zeros(2, 3), torch.zeros(2, 3), kl_per_dim)
    unit = FreeBitsRegulariser(RegulariserConfig(kind="free_bits", free_bits=0.5))
    # batch means: 0.05, 2.0, 0.2 -> max(0.5, .) = 0.5 + 2.0 + 0.5
    assert float(unit(out)) == pytest.approx(3.0)


def test_mae_rewards_diverse_posteriors():
    config = RegulariserConfig(kind="mae", mae_gamma=1.0, mae_eta=0.0)
    unit = MAERegulariser(config)
    logvar = torch.zeros(8, 2)
    close, far = torch.randn(8, 2) * 0.1, torch.randn(8, 2) * 3
    # same KL part removed: compare only the diversity term
    close_term = float(unit(_output(close, logvar))) - float(_output(close, logvar).kl.mean())
    far_term = float(unit(_output(far, logvar))) - float(_output(far, logvar).kl.mean())
    assert far_term < close_term


def test_linear_and_cyclic_annealing():
    linear = AnnealingConfig(schedule="linear", warmup_epochs=2.0, start_weight=0.0)
    assert kl_weight(linear, 0, 10, 100) == 0.0
    assert kl_weight(linear, 10, 10, 100) == pytest.approx(0.5)
    assert kl_weight(linear, 25, 10, 100) == 1.0
    cyclic = AnnealingConfig(schedule="cyclic", cycles=4, cycle_ratio=0.5)
    weights = [kl_weight(cyclic, s, 10, 100) for s in range(100)]
    assert weights[0] == 0.0 and weights[25] == 0.0 and weights[50] == 0.0  # restarts
    assert weights[6] == pytest.approx(0.48) and weights[20] == 1.0
    assert kl_weight(AnnealingConfig(), 0, 10, 100) == 1.0


def test_target_kl_ramp():
    assert target_kl(15.0, 5000, 0) == 0.0
    assert target_kl(15.0, 5000, 2500) == pytest.approx(7.5)
    assert target_kl(15.0, 5000, 10_000) == 15.0
    assert target_kl(15.0, 0, 0) == 15.0
    assert math.isclose(target_kl(5.0, 100, 50), 2.5)


def test_latent_l2_is_half_the_squared_norm_of_the_codes():
    mean = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    out = _output(mean, torch.zeros(2, 2))
    assert float(LatentL2Regulariser(RegulariserConfig(kind="latent_l2"))(out)) == pytest.approx(6.25)
