"""Decoder smoothness around the encoded means (AR-ELBO section 3.2 and appendix C).

``decode_mean(z)`` maps latents [B, D] to decoder means [B, ...] row by row (put the model in
eval mode first, so that no example's output depends on another's). Both metrics are taken at
z = mu_phi(x), the posterior means [N, D], and processed in batches of ``batch_size`` rows.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.func import jvp


def expected_local_smoothness(
    decode_mean: Callable[[Tensor], Tensor],
    mean: Tensor,
    batch_size: int = 1024,
) -> float:
    """Expected local smoothness ELS = E_x ||J_mu_theta(mu_phi(x))||_F^2 (AR-ELBO eq. 6).

    Exact, by forward-mode autodiff: one Jacobian-vector product per latent basis vector e_d,
    batched over examples, gives the column J e_d of every example's Jacobian; ||J||_F^2 is the
    sum of their squared norms. Costs D decoder passes, against one backward pass per output
    element for reverse mode.
    """
    total = torch.zeros((), dtype=torch.float64, device=mean.device)
    with torch.no_grad():
        for block in mean.split(batch_size):
            for d in range(block.shape[1]):
                direction = torch.zeros_like(block)
                direction[:, d] = 1.0
                _, column = jvp(decode_mean, (block,), (direction,))
                total += column.to(torch.float64).square().sum()
    return float(total / mean.shape[0])


def expected_gap(
    decode_mean: Callable[[Tensor], Tensor],
    mean: Tensor,
    s2: float,
    num_pairs: int = 1,
    generator: torch.Generator | None = None,
    batch_size: int = 1024,
) -> float:
    """Expected gap Delta^2(s2) of AR-ELBO eq. (5).

    E_x E ||mu_theta(mu_phi(x) + e) - mu_theta(mu_phi(x) + e')||^2 with e, e' ~ N(0, s2 I)
    independent, ``num_pairs`` pairs per example. For small s2, Delta^2(s2) ~= 2 s2 ELS
    (AR-ELBO eq. 28; exact in expectation for a linear decoder).
    """
    total = torch.zeros((), dtype=torch.float64, device=mean.device)
    std = s2**0.5
    with torch.no_grad():
        for block in mean.split(batch_size):
            for _ in range(num_pairs):
                noise = torch.randn(
                    (2, *block.shape),
                    generator=generator,
                    dtype=block.dtype,
                    device=block.device,
                )
                gap = decode_mean(block + std * noise[0]) - decode_mean(block + std * noise[1])
                total += gap.to(torch.float64).square().sum()
    return float(total / (mean.shape[0] * num_pairs))
