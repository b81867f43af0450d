"""Benchmark: a pack's final evaluation with its members' probes trained together (what
``fit_pack`` does) against the members evaluated one by one (each with its own probes), in one
run, as JSON.

K DU-VAE members on digits (gamma and p per member, seeds 0..K-1) train one epoch; then the same
trained pack is evaluated both ways (each draws what the member's fit run draws), and the JSON gives the
seconds per member of each, the probes' own seconds, and whether every member's metrics are
bitwise the same both ways (they must be: tests/packing checks it too). On the CPU the MLP
probes are compute-bound and train one member at a time (``runs_per_batch``), so only the
linear probes batch; on an accelerator every member's probes train as one batch.

    python bench/packed_evaluation.py [--device cuda] [--members 4,16] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from unittest import mock

import torch

from vaesweep.config import resolve_config
from vaesweep.packing import trainer as packing
from vaesweep.packing.trainer import PackedTrainer

GAMMAS = (0.4, 0.5, 0.6, 0.7)
KEEP_PROBS = (0.9, 0.8, 0.7, 0.6)


def _configs(members: int, device: str):
    grid = [(g, p) for g in GAMMAS for p in KEEP_PROBS]
    return [
        resolve_config(
            "du_vae",
            "digits",
            {
                "seed": k,
                "epochs": 1,
                "device": device,
                "posterior.gamma": grid[k % len(grid)][0],
                "posterior.keep_prob": grid[k % len(grid)][1],
            },
        )
        for k in range(members)
    ]


def _timed_evaluation(
    trainer: PackedTrainer, groups: list[list[int]], device: str
) -> tuple[float, float, list]:
    """Evaluate every member, ``groups`` at a time; (seconds, the probes' seconds, metrics)."""
    probe_seconds = 0.0
    probe_metrics = packing.probe_metrics

    def timed_probes(runs):
        nonlocal probe_seconds
        _synchronise(device)
        started = time.perf_counter()
        scores = probe_metrics(runs)
        _synchronise(device)
        probe_seconds += time.perf_counter() - started
        return scores

    results = []
    _synchronise(device)
    started = time.perf_counter()
    with mock.patch.object(packing, "probe_metrics", timed_probes):
        for group in groups:
            results += trainer.final_metrics(group)
    _synchronise(device)
    return time.perf_counter() - started, probe_seconds, results


def _synchronise(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _untimed(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if k not in ("train_seconds", "seconds_per_epoch")}


def measure(members: int, device: str) -> dict[str, object]:
    trainer = PackedTrainer(_configs(members, device))
    trainer.run(None, None)
    # Evaluation draws from a copy of each member's generator, so every evaluation of the same
    # pack draws the same.
    trainer.final_metrics([0])  # first calls (lazy imports, allocations) out of the timings
    everyone = list(range(members))
    together_s, together_probes_s, together = _timed_evaluation(trainer, [everyone], device)
    alone_s, alone_probes_s, alone = _timed_evaluation(trainer, [[k] for k in everyone], device)
    return {
        "members": members,
        "together_s_per_member": round(together_s / members, 4),
        "one_by_one_s_per_member": round(alone_s / members, 4),
        "speedup": round(alone_s / together_s, 3),
        "probes_together_s_per_member": round(together_probes_s / members, 4),
        "probes_one_by_one_s_per_member": round(alone_probes_s / members, 4),
        "same_metrics": all(
            _untimed(a[0]) == _untimed(b[0]) and a[1] == b[1] for a, b in zip(together, alone, strict=True)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--members", default="4,16")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (a trial's: 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for members in args.members.split(","):
        rows.append(measure(int(members), args.device))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)  # kept if a time limit cuts the run
    machine = {"processor": platform.processor() or platform.machine(), "threads": args.threads}
    if args.device.startswith("cuda"):
        machine["gpu"] = torch.cuda.get_device_name()
    print(json.dumps({"machine": machine, "device": args.device, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
