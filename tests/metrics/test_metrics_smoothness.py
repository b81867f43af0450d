"""Expected local smoothness and expected gap (AR-ELBO eqs. 5, 6 and 28)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vaesweep.metrics import expected_gap, expected_local_smoothness

F64 = torch.float64

# torch's forward-mode AD loads its decompositions through torch.jit.script on first use.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def linear_decoder(seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(seed)
    decoder = nn.Linear(3, 6).to(F64)
    return decoder, decoder.weight.detach()


def tanh_decoder(seed: int = 1) -> nn.Module:
    """A nonlinear decoder with image-shaped output [B, 2, 3]."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 6), nn.Unflatten(1, (2, 3))).to(F64)


def test_els_of_a_linear_decoder_is_the_frobenius_norm():
    decoder, w = linear_decoder()
    mean = torch.randn(50, 3, generator=gen(2), dtype=F64) * 3
    assert expected_local_smoothness(decoder, mean) == pytest.approx(float(w.square().sum()), rel=1e-12)


def test_els_matches_brute_force_jacobians_of_a_nonlinear_decoder():
    decoder = tanh_decoder()
    mean = torch.randn(20, 3, generator=gen(3), dtype=F64)
    brute = sum(
        float(torch.autograd.functional.jacobian(lambda z: decoder(z[None]), row).square().sum())
        for row in mean
    ) / len(mean)
    assert expected_local_smoothness(decoder, mean, batch_size=7) == pytest.approx(brute, rel=1e-10)


def test_expected_gap_of_a_linear_decoder():
    decoder, w = linear_decoder()
    mean = torch.randn(4000, 3, generator=gen(4), dtype=F64)
    s2 = 0.1
    gap = expected_gap(decoder, mean, s2, num_pairs=2, generator=gen(5), batch_size=1000)
    assert gap == pytest.approx(2 * s2 * float(w.square().sum()), rel=0.05)


def test_expected_gap_approaches_twice_s2_times_els_for_small_s2():
    decoder = tanh_decoder()
    mean = torch.randn(2000, 3, generator=gen(6), dtype=F64)
    s2 = 1e-6
    ratio = expected_gap(decoder, mean, s2, generator=gen(7)) / (2 * s2)
    assert ratio == pytest.approx(expected_local_smoothness(decoder, mean), rel=0.05)
