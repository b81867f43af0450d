"""Benchmark: training throughput of train.fit's loop against a bare PyTorch loop, and NLL cost.

Prints one JSON object. The bare loop trains the same model (built by the same code) on the
same in-memory data with the same batch size and optimiser, with nothing else: no schedules,
no per-epoch bookkeeping. Epochs of the two are interleaved so machine noise hits both.
Target (issue 2): fit / bare >= 0.95.

    python bench/train_throughput.py [--epochs 10] [--device auto]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from vaesweep.config import resolve_config
from vaesweep.data.batching import batch_indices, trim
from vaesweep.evaluation import importance_weighted_nll
from vaesweep.train import Trainer

CASES = {
    "mlp_digits": ("vae", "digits", {}),
    "lstm_synthetic_text": ("vae", "synthetic_text", {"data.max_train": 4000}),
}


def bare_epoch(trainer: Trainer, optimiser: torch.optim.Optimizer, generator: torch.Generator) -> None:
    """The textbook loop: encode, sample, decode, ELBO, (clip,) step."""
    model, train = trainer.model, trainer.dataset.train
    model.train()
    lengths_cpu = None if train.lengths is None else train.lengths.cpu()
    for index in batch_indices(
        len(train), trainer.config.train.batch_size, generator, lengths_cpu, device=train.x.device
    ):
        x, lengths = train.x[index], None
        if train.lengths is not None:
            lengths = train.lengths[index]
            x = trim(x, lengths)
        out = model(x, lengths)
        loss = -out.log_px.mean() + out.kl_mean
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if trainer.config.optim.grad_clip > 0:  # part of the paper's recipe, so both loops clip
            torch.nn.utils.clip_grad_norm_(model.parameters(), trainer.config.optim.grad_clip)
        optimiser.step()


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def throughput(method: str, dataset: str, overrides: dict, epochs: int, device: str) -> dict:
    config = resolve_config(method, dataset, {**overrides, "train.device": device, "epochs": 1000})
    fit_trainer = Trainer(config)
    bare_trainer = Trainer(config)
    optimiser = bare_trainer.optimiser  # fit's own (fused Adam, or SGD): only the loop differs
    generator = torch.Generator().manual_seed(0)
    n = len(fit_trainer.dataset.train)
    fit_trainer.train_epoch()  # warm-up: allocator, kernels, caches
    bare_epoch(bare_trainer, optimiser, generator)
    fit_times, bare_times = [], []
    for _ in range(epochs):
        synchronise(fit_trainer.device)
        start = time.perf_counter()
        fit_trainer.train_epoch()
        synchronise(fit_trainer.device)
        fit_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        bare_epoch(bare_trainer, optimiser, generator)
        synchronise(bare_trainer.device)
        bare_times.append(time.perf_counter() - start)
    fit_rate = n / statistics.median(fit_times)
    bare_rate = n / statistics.median(bare_times)
    return {
        "examples_per_epoch": n,
        "fit_examples_per_s": round(fit_rate, 1),
        "bare_examples_per_s": round(bare_rate, 1),
        "ratio_fit_over_bare": round(fit_rate / bare_rate, 3),
    }


def nll_time(method: str, dataset: str, overrides: dict, device: str, examples: int = 1000) -> dict:
    config = resolve_config(
        method,
        dataset,
        {**overrides, "train.device": device, "eval.nll_samples": 500, "eval.max_examples": examples},
    )
    trainer = Trainer(config)
    split = trainer.dataset.train  # the largest split, so 1,000 examples exist for digits too
    synchronise(trainer.device)
    start = time.perf_counter()
    nll = importance_weighted_nll(trainer.model, split, config)
    synchronise(trainer.device)
    return {"examples": int(nll.shape[0]), "samples": 500, "seconds": round(time.perf_counter() - start, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    results = {
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        },
        "throughput": {name: throughput(*case, args.epochs, args.device) for name, case in CASES.items()},
        "nll_k500_1000_examples": {name: nll_time(*case, args.device) for name, case in CASES.items()},
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
