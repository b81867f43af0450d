"""Benchmark: K MLP VAEs trained packed (one vmapped model) against K sequential plain models.

Digits shapes (issue 10): input 64, encoder 128-128 tanh, latent 16 (Gaussian), decoder
128-128 tanh, Bernoulli likelihood, batch 64, Adam. Every variant runs the whole training step
(noise, forward, backward, optimiser) for K members, each on its own batch; one JSON object out.

- sequential: K nn.Modules, each with its own fused torch.optim.Adam, one after the other (K
  unpacked trials in one process, without a trial's platform costs);
- packed_backward: vmap(functional_call) gives the K losses, losses.sum().backward() fills the
  stacked gradients, MemberAdam steps;
- packed_grad: vmap(torch.func.grad_and_value) gives the gradients directly, MemberAdam steps;
- packed_backward_compiled (--compile): packed_backward with the vmapped loss under
  torch.compile.
Packed members draw their noise from one torch.Generator each (as reproducing `fit` needs).
Variants are interleaved round by round, so machine noise hits all of them; the rate is the
median round. ``fraction_of_matmul`` relates the packed model's FLOP rate to the machine's
fp32 matrix-multiply rate, measured in the same run.

    python bench/packed_mlp.py [--members 1,4,16,64] [--rounds 5] [--compile] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

from vaesweep.packing.hardware import matmul_gflops
from vaesweep.packing.optim import MemberAdam

INPUT, HIDDEN, LATENT, BATCH, EXAMPLES = 64, 128, 16, 64, 1797
LAYERS = [
    (INPUT, HIDDEN),
    (HIDDEN, HIDDEN),
    (HIDDEN, 2 * LATENT),
    (LATENT, HIDDEN),
    (HIDDEN, HIDDEN),
    (HIDDEN, INPUT),
]
# forward 2*in*out per layer; backward twice that, less the input gradient of the first layer
FLOPS_PER_EXAMPLE = 6 * sum(i * o for i, o in LAYERS) - 2 * INPUT * HIDDEN


class MLPVAE(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(INPUT, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, HIDDEN), nn.Tanh()
        )
        self.head = nn.Linear(HIDDEN, 2 * LATENT)
        self.decoder = nn.Sequential(
            nn.Linear(LATENT, HIDDEN),
            nn.Tanh(),
            nn.Linear(HIDDEN, HIDDEN),
            nn.Tanh(),
            nn.Linear(HIDDEN, INPUT),
        )

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Negative ELBO per example averaged over the batch (Bernoulli p(x|z), N(0, I) prior)."""
        mean, logvar = self.head(self.encoder(x)).chunk(2, dim=-1)
        z = mean + torch.exp(0.5 * logvar) * noise
        logits = self.decoder(z)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(-1)
        return (rec + kl).mean()


class Sequential:
    """K unpacked trials: each its own model and torch.optim.Adam, noise from the global RNG."""

    def __init__(self, models: list[MLPVAE]) -> None:
        self.models = models
        self.optimisers = [torch.optim.Adam(m.parameters(), lr=1e-3, fused=True) for m in models]  # as fit

    def step(self, batches: torch.Tensor) -> None:
        for model, optimiser, x in zip(self.models, self.optimisers, batches, strict=True):
            loss = model(x, torch.randn(BATCH, LATENT))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()


class Packed:
    """The K models as one: stacked parameters, per-member noise generators, MemberAdam."""

    def __init__(self, models: list[MLPVAE], mode: str) -> None:
        params, _ = stack_module_state(models)
        self.names = list(params)
        self.params = [params[n] for n in self.names]
        self.optimiser = MemberAdam(self.params, lr=[1e-3] * len(models))
        self.generators = [torch.Generator().manual_seed(k) for k in range(len(models))]
        base = MLPVAE().to("meta")

        def member_loss(
            params: dict[str, torch.Tensor], x: torch.Tensor, noise: torch.Tensor
        ) -> torch.Tensor:
            return functional_call(base, params, (x, noise))

        self.mode = mode
        if mode == "packed_grad":
            self.loss = vmap(grad_and_value(member_loss))
        else:
            self.loss = vmap(member_loss)
            if mode == "packed_backward_compiled":
                torch._dynamo.reset()  # a fresh, static compilation per case
                self.loss = torch.compile(self.loss)

    def step(self, batches: torch.Tensor) -> None:
        noise = torch.stack([torch.randn(BATCH, LATENT, generator=g) for g in self.generators])
        params = dict(zip(self.names, self.params, strict=True))
        self.optimiser.zero_grad()
        if self.mode == "packed_grad":
            grads, _ = self.loss(params, batches, noise)
            for p, n in zip(self.params, self.names, strict=True):
                p.grad = grads[n]
        else:
            self.loss(params, batches, noise).sum().backward()
        self.optimiser.step()


def measure(members: int, rounds: int, compile_: bool, data: torch.Tensor, shuffle: torch.Generator) -> dict:
    torch.manual_seed(members)
    models = [MLPVAE() for _ in range(members)]
    runners = {"sequential": Sequential([MLPVAE() for _ in range(members)])}
    modes = ["packed_backward", "packed_grad"] + (["packed_backward_compiled"] if compile_ else [])
    for mode in modes:
        runners[mode] = Packed(models, mode)
    steps = max(2, 64 // members)

    def batches() -> torch.Tensor:
        return data[torch.randint(0, EXAMPLES, (members, BATCH), generator=shuffle)]

    result: dict = {"members": members, "steps_per_round": steps}
    for name, runner in runners.items():  # warm-up (and compilation)
        start = time.perf_counter()
        for _ in range(2):
            runner.step(batches())
        result[f"{name}_warmup_s"] = round(time.perf_counter() - start, 3)
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, runner in runners.items():
            inputs = [batches() for _ in range(steps)]
            start = time.perf_counter()
            for x in inputs:
                runner.step(x)
            times[name].append((time.perf_counter() - start) / steps)
    for name, values in times.items():
        rate = members * BATCH / statistics.median(values)
        result[f"{name}_examples_per_s"] = round(rate)
        result[f"{name}_gflops"] = round(rate * FLOPS_PER_EXAMPLE / 1e9, 2)
    for mode in modes:
        result[f"{mode}_speedup"] = round(
            result[f"{mode}_examples_per_s"] / result["sequential_examples_per_s"], 2
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", default="1,4,16,64")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="also time the torch.compile'd packed loss")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = (torch.rand(EXAMPLES, INPUT, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    shuffle = torch.Generator().manual_seed(1)
    gflops_before = matmul_gflops()
    cases = [measure(int(k), args.rounds, args.compile, data, shuffle) for k in args.members.split(",")]
    matmul = max(gflops_before, matmul_gflops())
    for case in cases:
        best = max(v for k, v in case.items() if k.startswith("packed") and k.endswith("_gflops"))
        case["best_packed_fraction_of_matmul"] = round(best / matmul, 3)
    print(
        json.dumps(
            {
                "benchmark": "packed_mlp",
                "machine": platform.processor() or platform.machine(),
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "matmul_gflops_fp32": round(matmul, 1),
                "flops_per_example": FLOPS_PER_EXAMPLE,
                "cases": cases,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
