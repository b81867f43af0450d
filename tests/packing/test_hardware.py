"""The matmul-rate probe: a finite positive rate, and bad arguments named before any work."""

import math

import pytest

from vaesweep.packing.hardware import matmul_gflops


def test_rate_is_finite_and_positive():
    rate = matmul_gflops(size=64, seconds=0.05)
    assert math.isfinite(rate) and rate > 0


@pytest.mark.parametrize(("size", "seconds"), [(0, 1.0), (64, 0.0)])
def test_bad_arguments_are_refused(size, seconds):
    with pytest.raises(ValueError, match="must be positive"):
        matmul_gflops(size=size, seconds=seconds)
