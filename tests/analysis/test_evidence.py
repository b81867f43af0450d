"""Seed-aware comparisons against hand-computed means, standard errors and seed counts."""

from __future__ import annotations

import math

import pytest

from vaesweep.analysis.evidence import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    decide,
    difference,
    linear,
    paired,
    threshold,
    within,
)


def test_difference_of_means_against_two_welch_standard_errors():
    # means 2 and 0; sample variances 1 and 0.25 over 3 and 4 seeds
    c = difference([1.0, 2.0, 3.0], [-0.5, 0.0, 0.0, 0.5 + 0.0], "x", "nats")
    var_b = (0.25 + 0 + 0 + 0.25) / 3
    assert c.margin == pytest.approx(2.0)
    assert c.noise == pytest.approx(2 * math.sqrt(1 / 3 + var_b / 4))
    assert c.variance == pytest.approx(1 + var_b) and c.verdict == HOLDS


def test_inconclusive_inside_the_noise_and_the_seeds_that_would_settle_it():
    c = difference([0.0, 1.0, 2.0], [0.0, 0.5, 1.0], "x", "u")  # margin 0.5, var 1 + 0.25
    assert c.verdict == INCONCLUSIVE and c.noise == pytest.approx(2 * math.sqrt(1.25 / 3))
    # 2 sqrt(1.25 / n) < 0.5  <=>  n > 20
    assert c.seeds_needed() == 21
    assert difference([5.0], [5.0], "x", "u").seeds_needed() is None  # one seed: spread unknown


def test_a_side_with_one_seed_borrows_the_others_spread():
    c = difference([1.0, 3.0], [0.0], "x", "u")  # var 2 on both sides, n = 2 and 1
    assert c.margin == 2.0 and c.noise == pytest.approx(2 * math.sqrt(2 / 2 + 2 / 1))
    unknown = difference([3.0], [1.0], "x", "u")
    assert unknown.noise == 0.0 and not unknown.spread_known and unknown.verdict == HOLDS


def test_thresholds_and_the_boundary():
    assert threshold([0.5, 0.5], 0.5, "kl", "nats", above=False).verdict == HOLDS  # "at most" holds at it
    assert threshold([16.0] * 3, 16.0, "au", "units", above=True, inclusive=False).verdict == FAILS
    below = threshold([0.2, 0.3, 0.4], 0.5, "kl", "nats", above=False)
    assert below.margin == pytest.approx(0.2) and below.noise == pytest.approx(2 * 0.1 / math.sqrt(3))
    assert linear([(0.5, [4.0]), (-1.0, [1.0])], "x", "u", offset=0.25).margin == 1.25


def test_within_a_tolerance_of_a_constant_or_of_another_arm():
    near = within([14.9, 15.0, 15.1], 15.0, 0.5, "kl", "nats")
    assert near.margin == pytest.approx(0.5) and near.verdict == HOLDS
    far = within([3.5, 3.5], [2.0, 2.0], 1.0, "au", "units")
    assert far.margin == pytest.approx(-0.5) and far.verdict == FAILS


def test_paired_comparison_removes_the_shared_run_noise():
    a, b = [1.0, 5.0, 9.0], [0.5, 4.5, 8.5]  # large spread between runs, constant gap 0.5
    assert paired(a, b, "mpd", "nats").verdict == HOLDS
    assert difference(a, b, "mpd", "nats").verdict == INCONCLUSIVE
    with pytest.raises(ValueError):
        paired([1.0], [1.0, 2.0], "x", "u")


def test_decide_takes_the_weakest_comparison():
    strong = difference([5.0, 6.0, 7.0], [0.0, 0.0, 0.0], "strong", "u")
    weak = difference([1.0, 2.0, 3.0], [0.0, 1.0, 2.0], "weak", "u")
    failing = difference([0.0, 0.0], [3.0, 3.0], "failing", "u")
    decision = decide([strong, weak])
    assert decision.verdict == INCONCLUSIVE and decision.deciding.where == "weak"
    assert decision.seeds_needed == weak.seeds_needed()
    assert decide([strong, weak, failing]).verdict == FAILS
    assert decide([strong]).verdict == HOLDS and decide([strong]).seeds_needed is None
