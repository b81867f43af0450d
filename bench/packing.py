"""Benchmark: K trials trained packed (vaesweep.packing, one vectorised model) against the same K
trials trained one after the other by ``fit``'s own loop, in one run; JSON out.

Both sides run vaesweep's real training epoch (``PackedTrainer.train_epoch`` and
``Trainer.train_epoch``: batches, noise, forward, backward, optimiser, epoch metrics) on the
same configurations, seeds 0..K-1; rounds interleave them so the machine's noise hits both, and
each rate is the median round. The sequential side is linear in K (one trial after another), so
above ``--sequential-cap`` trials it times that many and scales. ``fraction_of_matmul`` relates
the pack's matrix-multiply FLOP rate (counted with torch's FlopCounterMode on one trial's step)
to the machine's matrix-multiply rate measured in the same run (fp32; on CUDA in the training's
default precision, TF32). ``per_member`` is the speedup over K: the issue's GPU target is 0.75
until the device saturates.

The papers' shapes (``mlp_mnist``: MNIST's 784 inputs, MLP 200-200, z 32, batch 128;
``lstm_yahoo``: Yahoo's 20,000 words and ~79-token sentences, embeddings 512, LSTM 1024, z 32,
batch 32) run on files of those shapes that ``bench/paper_shapes.py`` writes, so they need no
download. A pack that does not fit the device's memory is reported as such and ends that
model's larger K. Each row is also printed to stderr as it is measured.

    python bench/packing.py                         # MLP on digits and LSTM on synthetic text
    python bench/packing.py --device cuda --models mlp_digits,mlp_mnist --members 1,4,16,64,256
    python bench/packing.py --models mlp_digits --compile   # eager and torch.compile, side by side
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from paper_shapes import write_mnist, write_yahoo
from torch.utils.flop_counter import FlopCounterMode

from vaesweep.config import resolve_config
from vaesweep.packing.hardware import matmul_gflops
from vaesweep.packing.memory import first_training_step
from vaesweep.packing.trainer import PackedTrainer
from vaesweep.train import Trainer

MODELS = {
    # the demo's digits VAE (MLP 128-128 tanh, z 16, batch 64) and DU-VAE appendix E's LSTM
    # (embeddings 50, LSTM 50, z 2, vocabulary 1,000, batch 32; 2,000 training sentences per epoch)
    "mlp_digits": ("c_vae", "digits", {}),
    "lstm_synthetic_text": ("vae", "synthetic_text", {"data.max_train": 2000}),
    # the papers' shapes; an epoch here is 10,000 images, and 320 sentences (10 batches)
    "mlp_mnist": ("c_vae", "mnist", {}),
    "lstm_synthetic_text_h256": (  # the same sentences through a PTB-sized LSTM (256, 256)
        "vae",
        "synthetic_text",
        {"data.max_train": 2000, "model.embed_dim": 256, "model.lstm_hidden": 256},
    ),
    "lstm_yahoo": ("vae", "yahoo", {"data.max_train": 320}),
}
WRITERS = {  # files of the papers' shapes, written once per run
    "mnist": lambda directory: write_mnist(directory, train=15_000, test=1_000),
    "yahoo": lambda directory: write_yahoo(directory, train=2_000, valid=200, test=200),
}
MATMUL_SIZE = {"cpu": 1024, "cuda": 8192}  # large enough for the device's full rate


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_flops(trainer: Trainer) -> float:
    """Matrix-multiply FLOPs of one training step of one trial (forward and backward)."""
    counter = FlopCounterMode(display=False)
    with counter:
        first_training_step(
            trainer.model, trainer.objective, trainer.dataset.train, trainer.config.train.batch_size
        )
    trainer.optimiser.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def measure(
    name: str, members: int, rounds: int, device: str, sequential_cap: int, files: Path, compiled: bool
) -> dict:
    method, dataset, overrides = MODELS[name]
    overrides = {**overrides, "train.compile": compiled}
    if dataset in WRITERS:
        overrides = {**overrides, "data.path": str(files / dataset)}
        if not (files / dataset).exists():
            WRITERS[dataset](files / dataset)
    configs = [
        resolve_config(method, dataset, {**overrides, "train.device": device, "seed": seed, "epochs": 1000})
        for seed in range(members)
    ]
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    pack = PackedTrainer(configs)
    timed = min(members, sequential_cap)
    trainers = [Trainer(config) for config in configs[:timed]]
    examples = len(pack.dataset.train)
    for member in pack.members:
        member.state.epoch = 1
    pack.train_epoch()  # warm-up: allocations, first calls, compilation of every batch shape
    for trainer in trainers:
        trainer.train_epoch()
    packed, sequential = [], []
    for _ in range(rounds):
        _synchronise(pack.device)
        start = time.perf_counter()
        pack.train_epoch()
        _synchronise(pack.device)
        packed.append(members * examples / (time.perf_counter() - start))
        start = time.perf_counter()
        for trainer in trainers:
            trainer.train_epoch()
        _synchronise(pack.device)
        sequential.append(timed * examples / (time.perf_counter() - start))
    packed_rate, sequential_rate = statistics.median(packed), statistics.median(sequential)
    flops_per_example = step_flops(trainers[0]) / configs[0].train.batch_size
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None
    return {
        "model": name,
        "members": members,
        "compiled": compiled,
        "examples_per_epoch": examples,
        "packed_examples_per_s": round(packed_rate),
        "sequential_examples_per_s": round(sequential_rate),
        "sequential_trials_timed": timed,
        "speedup": round(packed_rate / sequential_rate, 2),
        "per_member": round(packed_rate / sequential_rate / members, 3),
        "packed_matmul_gflops": round(packed_rate * flops_per_example / 1e9, 2),
        **({} if peak is None else {"peak_device_gib": round(peak, 2)}),
    }


def _out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", default="1,4,16,64", help="pack sizes K, comma-separated")
    parser.add_argument("--models", default=",".join(MODELS), help=f"of {', '.join(MODELS)}")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--sequential-cap", type=int, default=16, help="sequential trials timed at most")
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also each K with train.compile on both sides (the pack's whole step; fit's modules)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = args.device.startswith("cuda")
    torch.backends.cuda.matmul.allow_tf32 = cuda  # the yardstick in the training's default precision
    machine = matmul_gflops(MATMUL_SIZE["cuda" if cuda else "cpu"], device=args.device)
    rows = []
    with tempfile.TemporaryDirectory() as files:
        for name in args.models.split(","):
            for compiled in (False, True) if args.compile else (False,):
                for members in (int(k) for k in args.members.split(",")):
                    try:
                        settings = (args.rounds, args.device, args.sequential_cap, Path(files), compiled)
                        row = measure(name, members, *settings)
                    except RuntimeError as error:  # torch.OutOfMemoryError is one
                        if not _out_of_memory(error):
                            raise
                        row = {"model": name, "members": members, "error": "out of device memory"}
                    else:
                        row["fraction_of_matmul"] = round(row["packed_matmul_gflops"] / machine, 3)
                    rows.append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
                    if "error" in row:
                        break  # a larger pack of this model does not fit either
    print(
        json.dumps(
            {
                "benchmark": "packing",
                "device": args.device,
                "torch_threads": torch.get_num_threads(),
                "machine": platform.processor() or platform.machine(),
                "device_name": torch.cuda.get_device_name() if cuda else None,
                "torch": torch.__version__,
                "matmul_gflops": round(machine, 1),
                "matmul_precision": "tf32" if cuda else "fp32",
                "rows": rows,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
