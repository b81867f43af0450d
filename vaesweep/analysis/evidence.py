"""Seed-aware evidence: how far a claim's numbers lie from its threshold, against the seeds' spread.

A ``Comparison`` reduces runs to a margin, how far the evidence lies on the claim's side of
its threshold in the claim's units (negative: on the other side), and the noise of that
margin, two standard errors from the spread over seeds. A margin above its noise "holds", one
below minus its noise "fails"; in between the runs cannot tell: "inconclusive", with the
number of seeds that would settle it if the effect and the spread stay as observed.

Runs of two different models are independent samples (Welch's standard error of a
difference): the same seed gives two methods the same batch order but different initial
weights, so seeds do not pair their noise. Two numbers measured on one run (one encoder
evaluated two ways) are paired by run. A side with a single seed borrows the spread of the
sides that have several (equal spread assumed); where no side has two seeds the spread is
unknown, and the verdict is the sign of the margin, which the evidence says.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

HOLDS, FAILS, INCONCLUSIVE = "holds", "fails", "inconclusive"


@dataclass(frozen=True)
class Comparison:
    """One comparison of a claim, e.g. IGP's probe accuracy against DGP's at C = 5.

    ``noise`` = 2 sqrt(``variance`` / n) with n seeds per arm: ``variance`` is the margin's
    variance for one seed per arm (NaN where the spread is unknown, and then ``noise`` = 0).
    ``inclusive``: the threshold itself satisfies the claim ("at most", not "more than").
    """

    where: str
    margin: float
    noise: float
    variance: float
    unit: str
    inclusive: bool = False

    @property
    def spread_known(self) -> bool:
        return not math.isnan(self.variance)

    @property
    def verdict(self) -> str:
        if self.noise > 0 and abs(self.margin) <= self.noise:
            return INCONCLUSIVE
        return HOLDS if self.margin > 0 or (self.margin == 0 and self.inclusive) else FAILS

    @property
    def strength(self) -> float:
        """Margin in units of its noise (infinite where the noise is 0): lowest = weakest."""
        if self.noise > 0:
            return self.margin / self.noise
        return math.inf if self.verdict == HOLDS else -math.inf

    def seeds_needed(self) -> int | None:
        """Seeds per arm for the margin to exceed two standard errors, if the effect and the
        spread stay as observed; None where no number can (no effect, or spread unknown)."""
        if not self.spread_known or self.margin == 0:
            return None
        return math.floor(4.0 * self.variance / self.margin**2) + 1


def _stats(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, sample variance (NaN for one value) and count of the finite values."""
    array = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    variance = float(array.var(ddof=1)) if len(array) > 1 else math.nan
    return float(array.mean()), variance, len(array)


def linear(
    terms: Sequence[tuple[float, Sequence[float]]],
    where: str,
    unit: str,
    *,
    offset: float = 0.0,
    inclusive: bool = False,
) -> Comparison:
    """margin = sum_k c_k * mean(values_k) + offset over independent samples (seeds)."""
    stats = [(coefficient, *_stats(values)) for coefficient, values in terms]
    known = [variance for _, _, variance, _ in stats if not math.isnan(variance)]
    pooled = float(np.mean(known)) if known else math.nan
    margin = sum(c * mean for c, mean, _, _ in stats) + offset
    if not known:
        return Comparison(where, margin, 0.0, math.nan, unit, inclusive)
    spread = [(c, pooled if math.isnan(v) else v, n) for c, _, v, n in stats]
    noise = 2.0 * math.sqrt(sum(c * c * v / n for c, v, n in spread))
    return Comparison(where, margin, noise, sum(c * c * v for c, v, _ in spread), unit, inclusive)


def difference(
    a: Sequence[float],
    b: Sequence[float],
    where: str,
    unit: str,
    *,
    offset: float = 0.0,
    inclusive: bool = False,
) -> Comparison:
    """Is mean(a) - mean(b) + offset above 0? (independent samples)"""
    return linear([(1.0, a), (-1.0, b)], where, unit, offset=offset, inclusive=inclusive)


def threshold(
    values: Sequence[float], bound: float, where: str, unit: str, *, above: bool, inclusive: bool = True
) -> Comparison:
    """Is the mean over seeds above (``above``) or below ``bound``?"""
    sign = 1.0 if above else -1.0
    return linear([(sign, values)], where, unit, offset=-sign * bound, inclusive=inclusive)


def within(
    a: Sequence[float], b: Sequence[float] | float, tolerance: float, where: str, unit: str
) -> Comparison:
    """Is |mean(a) - mean(b)| at most ``tolerance``? (``b`` a list of seeds or a constant)"""
    terms = [(1.0, a)] + ([] if isinstance(b, (int, float)) else [(-1.0, b)])
    gap = linear(terms, where, unit, offset=-float(b) if isinstance(b, (int, float)) else 0.0)
    return Comparison(where, tolerance - abs(gap.margin), gap.noise, gap.variance, unit, inclusive=True)


def paired(
    a: Sequence[float],
    b: Sequence[float],
    where: str,
    unit: str,
    *,
    offset: float = 0.0,
    inclusive: bool = False,
) -> Comparison:
    """Is the mean of a_i - b_i + offset above 0, with a_i and b_i measured on the same run i?"""
    differences = [x - y for x, y in zip(a, b, strict=True)]
    return linear([(1.0, differences)], where, unit, offset=offset, inclusive=inclusive)


@dataclass(frozen=True)
class Decision:
    """A claim's verdict from its comparisons: the weakest one decides (and is reported)."""

    verdict: str
    deciding: Comparison
    seeds_needed: int | None  # inconclusive: seeds per arm that would settle every open comparison


def decide(comparisons: Sequence[Comparison]) -> Decision:
    """fails if any comparison fails, else inconclusive if any is, else holds."""
    verdicts = {c.verdict for c in comparisons}
    verdict = FAILS if FAILS in verdicts else INCONCLUSIVE if INCONCLUSIVE in verdicts else HOLDS
    deciding = min(comparisons, key=lambda c: (c.strength, c.margin))
    counts = [c.seeds_needed() for c in comparisons if c.verdict == INCONCLUSIVE]
    known = [n for n in counts if n is not None]
    needed = max(known) if known and len(known) == len(counts) else None
    return Decision(verdict, deciding, needed)
