"""The machine's fp32 matrix-multiply rate, the yardstick for packed throughput (issue 10: at
K = 64 a pack should reach a stated fraction of it)."""

from __future__ import annotations

import time

import torch


def matmul_gflops(
    size: int = 1024,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    seconds: float = 1.0,
) -> float:
    """Best rate (GFLOP/s, 2 n^3 per product) of square n x n products over about ``seconds``,
    with torch's current thread count. The best of many short products, so that a shared
    machine's interruptions count as little as possible (n = 1024 is large enough for MKL's
    full rate and short enough, about 20 ms a product on one core, to fit between them)."""
    if size < 1 or seconds <= 0:
        raise ValueError(f"size={size} and seconds={seconds} must be positive")
    device = torch.device(device)
    generator = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(size, size, device=device, dtype=dtype, generator=generator)
    b = torch.randn(size, size, device=device, dtype=dtype, generator=generator)
    out = torch.empty_like(a)

    def synchronise() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    torch.mm(a, b, out=out)  # warm-up: threads, caches, kernel choice
    synchronise()
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        synchronise()
        best = max(best, 2 * size**3 / (time.perf_counter() - start) / 1e9)
    return best
