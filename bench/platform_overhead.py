"""Benchmark: what the platform (Ray Tune + MLflow) costs around ``train.fit``, and sweep throughput.

Prints one JSON object:
- ``startup``: the fixed cost of a sweep: starting a local Ray and a local ``mlflow server``;
- ``one_trial``: one trial of a fresh sweep (Ray and the server already up) against ``fit``
  alone on the same config in this process (without and with the per-epoch checkpoints and the
  artifacts the trainable asks ``fit`` for), so the overhead splits into fit's own I/O and
  Tune + MLflow (actor start, reporting, HTTP logging, artifact upload);
- ``throughput``: trials/minute of a grid of identical-size trials with 1, 2 and 4 concurrent
  trials sharing this machine's CPUs (cpus_per_trial = CPUs / concurrency).

    python bench/platform_overhead.py [--epochs 3] [--trials 8]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from vaesweep.config import resolve_config
from vaesweep.platform.plan import SweepOptions, plan_sweep
from vaesweep.platform.server import TrackingServer
from vaesweep.platform.sweep import run_sweep
from vaesweep.search_spaces.definitions import Arm, Experiment
from vaesweep.train import fit

EVAL = {"eval.nll_samples": 50, "eval.cu_rounds": 20, "eval.probes": False, "eval.smoothness": False}


def timed(function) -> tuple[float, object]:
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def fit_alone(overrides: dict, threads: int, scratch: Path) -> dict[str, float]:
    torch.set_num_threads(threads)
    config = resolve_config("vae", "digits", overrides)
    fit(config)  # warm-up: imports, data set cache, allocator
    bare, _ = timed(lambda: fit(config))
    with_io, _ = timed(
        lambda: fit(config, checkpoint_dir=scratch / "checkpoint", artifacts_dir=scratch / "artifacts")
    )
    return {"fit_s": bare, "fit_with_checkpoints_and_artifacts_s": with_io}


def sweep_seconds(
    uri: str, storage: Path, overrides: dict, trials: int, concurrent: int, cpus: float
) -> float:
    experiment = Experiment(
        "bench", "platform benchmark", ("digits",), (Arm("vae", "VAE"),), seeds=tuple(range(trials))
    )
    options = SweepOptions(
        target="bench",
        tracking_uri=uri,
        storage=str(storage),
        overrides={k: str(v) for k, v in overrides.items()},
        cpus_per_trial=cpus,
        max_concurrent=concurrent,
        name=f"bench-{trials}x{concurrent}-{time.time_ns()}",
    )
    plan = plan_sweep(options, experiment)
    seconds, outcome = timed(lambda: run_sweep(plan, out=io.StringIO()))
    assert outcome.status == "FINISHED", outcome.status
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--trials", type=int, default=8)
    args = parser.parse_args()
    cpus = os.cpu_count() or 1
    overrides = {"train.epochs": args.epochs, **EVAL}
    scratch = Path(tempfile.mkdtemp(prefix="vaesweep-bench-"))

    import ray

    ray_s, _ = timed(
        lambda: ray.init(
            address="local",
            num_cpus=cpus,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
        )
    )
    server = TrackingServer(scratch / "runs")
    server_s, uri = timed(server.start)
    try:
        alone = fit_alone(overrides, cpus, scratch)
        platform_s = sweep_seconds(uri, scratch / "tune", overrides, trials=1, concurrent=1, cpus=cpus)
        throughput = []
        for concurrent in (1, 2, 4):
            seconds = sweep_seconds(
                uri, scratch / "tune", overrides, args.trials, concurrent, cpus=cpus / concurrent
            )
            throughput.append(
                {
                    "concurrent": concurrent,
                    "cpus_per_trial": cpus / concurrent,
                    "trials": args.trials,
                    "wall_s": round(seconds, 2),
                    "trials_per_minute": round(60 * args.trials / seconds, 2),
                    "seconds_per_trial": round(seconds / args.trials, 2),
                }
            )
    finally:
        server.stop()
        ray.shutdown()
    print(
        json.dumps(
            {
                "machine": {"cpus": cpus, "python": platform.python_version(), "torch": torch.__version__},
                "trial": {"method": "vae", "dataset": "digits", **overrides},
                "startup": {"ray_init_s": round(ray_s, 2), "mlflow_server_start_s": round(server_s, 2)},
                "one_trial": {
                    **{k: round(v, 2) for k, v in alone.items()},
                    "sweep_of_one_trial_s": round(platform_s, 2),
                    "platform_overhead_s": round(
                        platform_s - alone["fit_with_checkpoints_and_artifacts_s"], 2
                    ),
                    "platform_over_fit": round(platform_s / alone["fit_s"], 2),
                },
                "throughput": throughput,
                "fit_trials_per_minute_sequential": round(
                    60 / alone["fit_with_checkpoints_and_artifacts_s"], 2
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
