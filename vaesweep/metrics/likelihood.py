"""Marginal log-likelihood estimators: importance-weighted NLL and DG-VAE's priorLL / postLL.

The estimators are model-agnostic: the caller passes closures over its model, so this module
knows nothing about encoders or decoders. Log-weights are combined in float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor


def log_mean_exp(x: Tensor, dim: int) -> Tensor:
    """log(mean(exp(x), dim)), computed stably through logsumexp."""
    return torch.logsumexp(x, dim=dim) - math.log(x.shape[dim])


def importance_weighted_log_likelihood(
    log_weights_fn: Callable[[int], Tensor],
    num_examples: int,
    num_samples: int = 500,
    chunk: int = 100,
) -> Tensor:
    """Importance-weighted estimate of log p(x_n) for every example (Burda et al.; DU-VAE NLL).

    log p(x) ~= logsumexp_k [log p(x, z_k) - log q(z_k|x)] - log K with K = ``num_samples``
    (DU-VAE: K = 500 in chunks of 100). ``log_weights_fn(k)`` draws k fresh z per example and
    returns their log-weights as a [k, num_examples] tensor. The chunks are merged with a
    running logsumexp, so memory stays at one chunk whatever K is.

    Returns a float64 tensor [num_examples] on the device of the weights.
    """
    if num_samples < 1 or chunk < 1:
        raise ValueError(f"num_samples ({num_samples}) and chunk ({chunk}) must be >= 1")
    total: Tensor | None = None
    done = 0
    while done < num_samples:
        k = min(chunk, num_samples - done)
        log_w = log_weights_fn(k)
        if log_w.shape != (k, num_examples):
            raise ValueError(
                f"log_weights_fn({k}) returned shape {tuple(log_w.shape)}, expected ({k}, {num_examples})"
            )
        chunk_lse = torch.logsumexp(log_w.to(torch.float64), dim=0)
        total = chunk_lse if total is None else torch.logaddexp(total, chunk_lse)
        done += k
    return total - math.log(num_samples)


def prior_posterior_log_likelihood(
    log_px_given_z: Callable[[Tensor], Tensor],
    sample_prior: Callable[[int], Tensor],
    sample_posterior: Callable[[int], Tensor],
    log_prior: Callable[[Tensor], Tensor],
    log_posterior: Callable[[Tensor], Tensor],
    num_samples: int = 8,
) -> tuple[Tensor, Tensor]:
    """DG-VAE priorLL and postLL per example (DG-VAE poster, section 3a).

    priorLL(x) = log E_p(z)[p(x|z)] (= log p(x)) and postLL(x) = log E_q(z|x)[p(x|z)], both
    estimated by importance sampling from the 50/50 mixture Q = (p(z) + q(z|x)) / 2:
    ``num_samples`` z from the prior and ``num_samples`` from q(z|x) per example (a stratified
    draw from Q), log Q = logaddexp(log p, log q) - log 2, and

        priorLL = logmeanexp over the 2S z of [log p(x|z) + log p(z)   - log Q(z)]
        postLL  = logmeanexp over the 2S z of [log p(x|z) + log q(z|x) - log Q(z)].

    Shapes (N examples, S samples, latent shape [D] or any trailing shape):

    - ``sample_prior(S)`` and ``sample_posterior(S)`` -> z of shape [S, N, D]; the posterior
      sample z[s, n] is drawn from q(z|x_n);
    - ``log_px_given_z(z)``, ``log_prior(z)``, ``log_posterior(z)`` take z [M, N, D] and return
      [M, N]: log p(x_n|z[m, n]), log p(z[m, n]) and log q(z[m, n]|x_n).

    Returns (priorLL, postLL), two float64 tensors [N]; the paper reports their means.
    """
    z = torch.cat([sample_prior(num_samples), sample_posterior(num_samples)], dim=0)
    log_lik = log_px_given_z(z).to(torch.float64)
    log_p = log_prior(z).to(torch.float64)
    log_q = log_posterior(z).to(torch.float64)
    log_proposal = torch.logaddexp(log_p, log_q) - math.log(2.0)
    prior_ll = log_mean_exp(log_lik + log_p - log_proposal, dim=0)
    post_ll = log_mean_exp(log_lik + log_q - log_proposal, dim=0)
    return prior_ll, post_ll
