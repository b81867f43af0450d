"""Latent-space metrics computed from posterior parameters alone.

Every function takes ``mean`` and ``logvar`` [N, D] of diagonal Gaussian posteriors q(z|x_n)
(an isotropic posterior simply has equal columns) and works on their device. Sampling uses
the optional ``generator``, which must live on that device. Pairwise quantities over the N
posteriors are evaluated in blocks of query rows against all N posteriors, each block holding
at most ``chunk_size`` elements (at least one row), so memory stays at O(chunk_size + N D) and
never O(N^2 D).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from vaesweep.metrics.likelihood import log_mean_exp
from vaesweep.models.priors import LOG_2PI

QUANTILE_LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)  # rows of dimension_summary's quantile tensors


def _rows_per_block(chunk_size: int, num_posteriors: int) -> int:
    """Query rows per [rows, N] block so that a block holds at most ``chunk_size`` elements."""
    return max(1, chunk_size // num_posteriors)


def _sample_posterior(mean: Tensor, logvar: Tensor, generator: torch.Generator | None) -> Tensor:
    """One z per example from q(z|x_n) = N(mean_n, diag(exp(logvar_n))), in float64."""
    mean, logvar = mean.to(torch.float64), logvar.to(torch.float64)
    noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    return mean + torch.exp(0.5 * logvar) * noise


def unit_activity(mean: Tensor) -> Tensor:
    """Activity A_d = Var_x(E_q[z_d]) of each latent dimension (Burda et al.; IGP footnote 2).

    Variance over examples with denominator N - 1. Returns a float64 tensor [D].
    """
    return mean.to(torch.float64).var(dim=0, correction=1)


def is_active(activity: Tensor, threshold: float = 0.01, strict: bool = True) -> Tensor:
    """Which units are active: activity > ``threshold`` as the IGP, DU-VAE and DG-VAE papers
    (and the IGP code) define it; ``strict=False``: activity >= threshold, the rule of the
    evaluation code of He et al. 2019 that the DU-VAE and DG-VAE code build on."""
    return activity > threshold if strict else activity >= threshold


def active_units(mean: Tensor, threshold: float = 0.01, strict: bool = True) -> int:
    """Number of active units AU: dimensions whose activity passes ``threshold`` (see is_active)."""
    return int(is_active(unit_activity(mean), threshold, strict).sum())


def _log_aggregate_density(z: Tensor, mean: Tensor, logvar: Tensor, chunk_size: int) -> Tensor:
    """log q(z_j) = log (1/N) sum_n N(z_j; mean_n, diag(exp(logvar_n))) for every row z_j.

    The squared Mahalanobis distances come from two matrix products per block of at most
    ``chunk_size`` elements. Everything is first shifted by the mean of the posterior means,
    which keeps the expanded square well conditioned.
    """
    mean, logvar = mean.to(torch.float64), logvar.to(torch.float64)
    centre = mean.mean(dim=0)
    z, mean = z.to(torch.float64) - centre, mean - centre
    inv_var = torch.exp(-logvar)  # [N, D]
    scaled_mean = mean * inv_var
    const = -0.5 * ((mean * scaled_mean).sum(1) + logvar.sum(1) + mean.shape[1] * LOG_2PI)
    out = []
    for block in z.split(_rows_per_block(chunk_size, mean.shape[0])):
        log_density = (block * block) @ inv_var.T * -0.5 + block @ scaled_mean.T + const
        out.append(log_mean_exp(log_density, dim=1))
    return torch.cat(out)


def _negative_entropy(logvar: Tensor) -> Tensor:
    """E_x E_q(z|x)[log q(z|x)] in closed form: -0.5 * sum_d (log 2pi + 1 + logvar_d)."""
    logvar = logvar.to(torch.float64)
    return -0.5 * (logvar.shape[1] * (LOG_2PI + 1.0) + logvar.sum(1)).mean()


def mutual_information(
    mean: Tensor,
    logvar: Tensor,
    generator: torch.Generator | None = None,
    chunk_size: int = 2**22,
) -> float:
    """I(x, z) under q(x, z) = p_data(x) q(z|x), as in the DU-VAE and DG-VAE evaluation code.

    I = E_x E_q(z|x)[log q(z|x)] - E_z[log q(z)], with the first term in closed form (as the
    authors' code does), one z_j ~ q(z|x_j) per example, and log q(z_j) the log-mean-exp of
    the densities of ALL N posteriors at z_j. Bounded above by log N (up to sampling noise).
    """
    z = _sample_posterior(mean, logvar, generator)
    log_qz = _log_aggregate_density(z, mean, logvar, chunk_size)
    return float(_negative_entropy(logvar) - log_qz.mean())


def mutual_information_per_batch(
    mean: Tensor,
    logvar: Tensor,
    batch_size: int,
    generator: torch.Generator | None = None,
    chunk_size: int = 2**22,
) -> float:
    """The older per-batch MI estimator (He et al. 2019 code), kept for comparison only.

    Like :func:`mutual_information`, but log q(z_j) mixes only the posteriors of z_j's own
    batch of ``batch_size`` consecutive examples; the per-batch values are averaged with
    weights equal to the batch sizes. Each batch's estimate is at most about log(batch_size),
    so it is biased low. With the same ``generator`` state the z samples equal those of
    :func:`mutual_information`.
    """
    z = _sample_posterior(mean, logvar, generator)
    log_qz = torch.cat(
        [
            _log_aggregate_density(zb, mb, lb, chunk_size)
            for zb, mb, lb in zip(
                z.split(batch_size),
                mean.split(batch_size),
                logvar.split(batch_size),
                strict=True,
            )
        ]
    )
    return float(_negative_entropy(logvar) - log_qz.mean())


def _log_marginal_aggregate(
    z: Tensor, mean: Tensor, logvar: Tensor, chunk_size: int, dtype: torch.dtype
) -> Tensor:
    """log qbar(z_j) = log (1/N) sum_n N(z_j; mean_n, var_n) for 1-D z [S] and mixture [N].

    Each block is shifted by the largest log-normaliser, so every exponent is <= 0 and the
    exponentials cannot overflow; this saves the max pass of a logsumexp. Rows whose sum
    underflows (z far from every component) are recomputed with a full logsumexp.
    """
    mean, logvar = mean.to(dtype), logvar.to(dtype)
    neg_half_inv_var = -0.5 * torch.exp(-logvar)
    log_norm = -0.5 * (logvar + LOG_2PI)
    shift = log_norm.max()
    shifted_norm = log_norm - shift

    def exponents(rows: Tensor) -> Tensor:  # [rows, N], all <= 0
        return torch.addcmul(shifted_norm, (rows[:, None] - mean).square_(), neg_half_inv_var)

    out = []
    for block in z.to(dtype).split(_rows_per_block(chunk_size, mean.shape[0])):
        sums = exponents(block).exp_().sum(dim=1)
        log_sum = sums.to(torch.float64).log()
        tiny = sums < 1e-30
        if bool(tiny.any()):
            log_sum[tiny] = torch.logsumexp(exponents(block[tiny]), dim=1).to(torch.float64)
        out.append(log_sum)
    return torch.cat(out) + float(shift) - math.log(mean.shape[0])


CU_DIRECTIONS = ("qbar_p", "p_qbar")  # KL(qbar || p) as the DG-VAE poster; KL(p || qbar) as its code
CU_ESTIMATORS = ("quadrature", "sampled")
QUADRATURE_REACH = 9.0  # half-width of the integration range, in standard deviations
QUADRATURE_STEP = 0.25  # grid spacing, in units of the narrowest posterior's standard deviation
QUADRATURE_MAX_POINTS = 2**17  # about the sampled default's 1000 x 128: never costlier than it


def _sample_marginal_aggregate(
    mean: Tensor, logvar: Tensor, size: int, generator: torch.Generator | None
) -> Tensor:
    """``size`` float64 draws from qbar(z_d) = (1/N) sum_n N(mean_n, exp(logvar_n)), 1-D inputs."""
    component = torch.randint(mean.shape[0], (size,), generator=generator, device=mean.device)
    noise = torch.randn(size, generator=generator, dtype=torch.float64, device=mean.device)
    return mean.to(torch.float64)[component] + torch.exp(0.5 * logvar.to(torch.float64))[component] * noise


def _sampled_kl(
    mean: Tensor,
    logvar: Tensor,
    direction: str,
    size: int,
    generator: torch.Generator | None,
    chunk_size: int,
    dtype: torch.dtype,
) -> Tensor:
    """The Monte Carlo KL of one dimension (1-D inputs) from ``size`` samples, as DG-VAE's code."""
    if direction == "p_qbar":
        z = torch.randn(size, generator=generator, dtype=torch.float64, device=mean.device)
    else:
        z = _sample_marginal_aggregate(mean, logvar, size, generator)
    log_qbar = _log_marginal_aggregate(z, mean, logvar, chunk_size, dtype)
    log_p = -0.5 * (z * z + LOG_2PI)
    return (log_p - log_qbar if direction == "p_qbar" else log_qbar - log_p).mean()


def _quadrature_grid(mean: Tensor, logvar: Tensor, direction: str, max_points: int) -> Tensor | None:
    """The integration grid of one dimension's KL, or None when it would need more than
    ``max_points`` points (a posterior too narrow for the range it must cover)."""
    std = torch.exp(0.5 * logvar.to(torch.float64))
    mean = mean.to(torch.float64)
    low, high = float((mean - QUADRATURE_REACH * std).min()), float((mean + QUADRATURE_REACH * std).max())
    if direction == "p_qbar":  # weighted by the prior: cover it too
        low, high = min(low, -QUADRATURE_REACH), max(high, QUADRATURE_REACH)
    points = math.ceil((high - low) / (QUADRATURE_STEP * float(std.min()))) + 1
    if points > max_points:
        return None
    return torch.linspace(low, high, points, dtype=torch.float64, device=mean.device)


def _quadrature_kl(z: Tensor, mean: Tensor, logvar: Tensor, direction: str, chunk_size: int) -> Tensor:
    """One dimension's KL as a trapezoid sum over the grid ``z``. On a uniform grid the trapezoid
    rule converges exponentially for smooth, fast-decaying integrands: at a spacing of a quarter
    of the narrowest standard deviation, halving it moves the KL of a spiky mixture by less
    than 1e-9 relative (tests/metrics/test_metrics_latent.py)."""
    log_qbar = _log_marginal_aggregate(z, mean, logvar, chunk_size, torch.float64)
    log_p = -0.5 * (z * z + LOG_2PI)
    if direction == "p_qbar":
        integrand = torch.exp(log_p) * (log_p - log_qbar)
    else:
        integrand = torch.exp(log_qbar) * (log_qbar - log_p)
    return torch.trapezoid(integrand, z)


def collapsed_units(
    mean: Tensor,
    logvar: Tensor,
    thresholds: tuple[float, ...] = (0.01, 0.03, 0.05, 0.1),
    rounds: int = 1000,
    samples_per_round: int = 128,
    generator: torch.Generator | None = None,
    chunk_size: int = 2**19,
    dtype: torch.dtype = torch.float32,
    direction: str = "qbar_p",
    estimator: str = "sampled",
) -> dict[str, Any]:
    """Collapsed units CU(tau) of DG-VAE (the hole problem; poster, section 3a).

    For each dimension d, the KL between the aggregate posterior qbar(z_d) =
    (1/N) sum_n N(z_d; mean_nd, exp(logvar_nd)) and the prior p = N(0, 1). ``direction``
    "qbar_p" is KL(qbar || p), the poster's definition (CU = |{i : KL(q(z_i) || p(z_i)) <
    0.03}|); "p_qbar" is KL(p || qbar), what the authors' code computes. CU(tau) counts the
    dimensions with KL < tau (the paper uses tau = 0.03): many units = aggregate matches the
    prior, few = holes.

    ``estimator`` "sampled" is the authors' Monte Carlo mean over ``rounds * samples_per_round``
    samples (their code: 1000 x 128; of qbar for "qbar_p", of the prior for "p_qbar"), in
    ``dtype`` (float32 by default: about 1e-6 relative error on log qbar, two to three times
    faster than float64 on CPU) and [samples, N] blocks of at most ``chunk_size`` elements.
    "quadrature" computes the same one-dimensional integral deterministically, by the
    trapezoid rule in float64 on a grid a quarter of the narrowest posterior's standard
    deviation apart: the value the samples estimate, without their noise, at a small fraction
    of their cost; a dimension whose grid would need more than ``QUADRATURE_MAX_POINTS`` (a
    posterior narrower than about 1e-4 of the range) falls back to sampling. Both cost
    (points) * N density evaluations per dimension.

    Returns {"kl_per_dim": float64 Tensor [D], "cu": {tau: int}, "sampled_dims": int}.
    """
    if direction not in CU_DIRECTIONS:
        raise ValueError(f"direction must be one of {CU_DIRECTIONS}, not {direction!r}")
    if estimator not in CU_ESTIMATORS:
        raise ValueError(f"estimator must be one of {CU_ESTIMATORS}, not {estimator!r}")
    size = rounds * samples_per_round
    kl = torch.empty(mean.shape[1], dtype=torch.float64, device=mean.device)
    sampled = 0
    for d in range(mean.shape[1]):
        grid = None
        if estimator == "quadrature":
            grid = _quadrature_grid(mean[:, d], logvar[:, d], direction, QUADRATURE_MAX_POINTS)
        if grid is not None:
            kl[d] = _quadrature_kl(grid, mean[:, d], logvar[:, d], direction, chunk_size)
        else:
            sampled += 1
            kl[d] = _sampled_kl(mean[:, d], logvar[:, d], direction, size, generator, chunk_size, dtype)
    cu = {tau: int((kl < tau).sum()) for tau in thresholds}
    return {"kl_per_dim": kl, "cu": cu, "sampled_dims": sampled}


def pairwise_symmetric_kl(mean: Tensor, logvar: Tensor) -> Tensor:
    """D_SKL[q(z|x_i) || q(z|x_j)] for all pairs, summed over dimensions: float64 [N, N].

    D_SKL is the mean of the two directed KLs (DU-VAE eq. 2); per dimension
    4 D_SKL = (mu_i - mu_j)^2 (1/s_i^2 + 1/s_j^2) + s_i^2/s_j^2 + s_j^2/s_i^2 - 2 (DU-VAE S11).
    Materialises [N, N, D]: for small N only (the tests' check of the moment formula).
    """
    mean, var = mean.to(torch.float64), torch.exp(logvar.to(torch.float64))
    sq_diff = (mean[:, None, :] - mean[None, :, :]).square()
    var_i, var_j = var[:, None, :], var[None, :, :]
    skl4 = sq_diff * (1 / var_i + 1 / var_j) + var_i / var_j + var_j / var_i - 2
    return 0.25 * skl4.sum(dim=2)


def _diversity(mean: Tensor, variance: Tensor, inverse_variance: Tensor) -> float:
    """MPD from per-example moments of the variances: 2 MPD_d = E[(mu_1 - mu_2)^2 w_1] +
    E[v] E[w] - 1 with v = E[s^2] and w = E[1/s^2] per example (DU-VAE eq. 3 and S20)."""
    square = (mean - mean.mean(dim=0)).square()
    spread = (square * inverse_variance).mean(0) + inverse_variance.mean(0) * square.mean(0)
    ratio = variance.mean(0) * inverse_variance.mean(0)
    return float(0.5 * (spread + ratio - 1.0).sum())


def mutual_posterior_diversity(mean: Tensor, logvar: Tensor) -> float:
    """Mutual posterior diversity MPD (DU-VAE eq. 3; Ma et al. 2018), exactly in O(N D).

    MPD = E_{x1, x2 iid} D_SKL[q(z|x1) || q(z|x2)] over the empirical distribution (pairs
    i = j included, as for two independent draws). Taking the expectation of DU-VAE S11 gives,
    per dimension, 2 MPD_d = E[(mu_1 - mu_2)^2 / s_1^2] + E[s^2] E[1/s^2] - 1, and with
    centred means m (shift invariance) E[(m_1 - m_2)^2 / s_1^2] = E[m^2/s^2] + E[1/s^2] E[m^2]
    since E[m] = 0. Note the "- 1" is per dimension: the paper's eq. 3 prints it once outside
    the sum, which contradicts its own S11. Equals pairwise_symmetric_kl(...).mean().
    """
    mean, logvar = mean.to(torch.float64), logvar.to(torch.float64)
    return _diversity(mean, torch.exp(logvar), torch.exp(-logvar))


def conditional_entropy(logvar: Tensor) -> float:
    """Conditional entropy H_q(z|x) (DU-VAE eq. 5): E_x sum_d 0.5 * log(2 pi e s_{x,d}^2)."""
    return float(-_negative_entropy(logvar))


def _dropout_moments(logvar: Tensor, floor: float, keep_prob: float) -> tuple[Tensor, Tensor, Tensor]:
    """E_B[s^2], E_B[1/s^2] and E_B[log s^2] under DU-VAE's variance dropout (eq. 6, S14).

    ``logvar`` is the encoder's evaluation-time log-variance log(s2 + alpha), s2 the raw
    variance and alpha the floor. Dropout keeps s2 with probability p, rescaled by 1/p:
    s^2 = s2/p + alpha with probability p, alpha otherwise, so E_B[s^2] = s2 + alpha.
    """
    if keep_prob < 1.0 and floor <= 0.0:
        raise ValueError("variance dropout without a floor (alpha = 0) leaves zero variances")
    variance = torch.exp(logvar.to(torch.float64))
    kept = (variance - floor).clamp_min(0.0) / keep_prob + floor
    inverse = keep_prob / kept + ((1.0 - keep_prob) / floor if keep_prob < 1.0 else 0.0)
    log_variance = keep_prob * torch.log(kept) + (
        (1.0 - keep_prob) * math.log(floor) if keep_prob < 1.0 else 0.0
    )
    return variance, inverse, log_variance


def mutual_posterior_diversity_dropout(mean: Tensor, logvar: Tensor, floor: float, keep_prob: float) -> float:
    """MPD of the same encoder with its training-time variance dropout, in expectation over the
    masks: MPD_{p_D . B}[z] of DU-VAE Proposition 1 (eq. 7, proof S20), exactly in O(N D).

    ``logvar``: evaluation-time log(s2 + alpha) of a DU head with floor ``floor`` = alpha and
    keep probability ``keep_prob`` = p. Proposition 1: larger than MPD without dropout
    (:func:`mutual_posterior_diversity` of the same ``logvar``) for p < 1; equal at p = 1.
    """
    variance, inverse, _ = _dropout_moments(logvar, floor, keep_prob)
    return _diversity(mean.to(torch.float64), variance, inverse)


def conditional_entropy_dropout(logvar: Tensor, floor: float, keep_prob: float) -> float:
    """CE of the same encoder with its variance dropout, in expectation over the masks:
    H_{q . B}(z|x) of DU-VAE Proposition 1 (eq. 5 with E_B[log s^2] of S14). Smaller than
    :func:`conditional_entropy` of the same ``logvar`` for p < 1; equal at p = 1."""
    _, _, log_variance = _dropout_moments(logvar, floor, keep_prob)
    return float(0.5 * (log_variance.shape[1] * (LOG_2PI + 1.0) + log_variance.sum(1)).mean())


def aggregate_posterior_stats(
    mean: Tensor, logvar: Tensor, generator: torch.Generator | None = None
) -> dict[str, float]:
    """Summaries of the aggregated posterior q(z) (IGP Table 8; AR-ELBO sigma_z^2).

    One z_n ~ q(z|x_n) per example (unbiased samples of q(z), IGP appendix):
    ``mu_sqnorm`` = ||mean of the z_n||^2 and ``logdet_cov`` = log det of their sample
    covariance (denominator N - 1; -inf when singular). ``sigma_z2`` is the mean posterior
    variance exp(logvar) over examples and dimensions (AR-ELBO Table 1).
    """
    z = _sample_posterior(mean, logvar, generator)
    sign, logabsdet = torch.linalg.slogdet(torch.atleast_2d(torch.cov(z.T, correction=1)))
    return {
        "sigma_z2": float(torch.exp(logvar.to(torch.float64)).mean()),
        "mu_sqnorm": float(z.mean(dim=0).square().sum()),
        "logdet_cov": float(logabsdet) if sign > 0 else -math.inf,
    }


def dimension_summary(
    mean: Tensor, logvar: Tensor, threshold: float = 0.01, strict: bool = True
) -> dict[str, Tensor]:
    """Per-dimension statistics behind IGP Fig. 1 (boxplots of posterior means and variances).

    Returns float64 tensors: ``activity`` [D] (:func:`unit_activity`), ``active`` [D] bool
    (:func:`is_active`), and ``mean_quantiles`` / ``variance_quantiles`` [5, D], whose
    rows are the min, first quartile, median, third quartile and max across examples of the
    posterior means and of the posterior variances exp(logvar) (levels: QUANTILE_LEVELS).
    """
    activity = unit_activity(mean)
    levels = torch.tensor(QUANTILE_LEVELS, dtype=torch.float64, device=mean.device)
    return {
        "activity": activity,
        "active": is_active(activity, threshold, strict),
        "mean_quantiles": torch.quantile(mean.to(torch.float64), levels, dim=0),
        "variance_quantiles": torch.quantile(torch.exp(logvar.to(torch.float64)), levels, dim=0),
    }
