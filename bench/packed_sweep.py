"""Benchmark: packed sweeps (``--pack auto``, the default) against ``--pack off``, as a user runs
them (``vaesweep sweep`` in a subprocess: local Ray and MLflow server included), in one run; JSON.

- ``grid20``: ``vaesweep sweep du_vae --dataset digits --seeds 1 --set train.epochs=10`` (20
  trials) packed and unpacked: wall time (issue 10's target: packed at most half) and the
  FINISHED MLflow children of each (target: the same 20);
- ``grid100``: ``vaesweep sweep du_vae --dataset digits --seeds 0,1,2,3,4 --set train.epochs=2``
  (100 trials) packed: wall time against the members' ``fit`` time over the slots. The fit time
  is measured by running ``--fit-samples`` of the 100 configurations (spread over the grid's
  arms and seeds) with ``fit`` alone in this process, one thread each as a trial has, and
  scaling their mean to 100; efficiency = (sum of fit times / slots) / wall time;
- ``demo``: ``vaesweep sweep demo`` packed and unpacked, wall time, and whether ``vaesweep
  report demo`` has the same layout (headings, tables' rows) after each.

The machine is shared (other sessions' jobs run beside it): timings are noisy; each pair runs
back to back in the same conditions.

    python bench/packed_sweep.py [--fit-samples 6] [--skip-demo]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from vaesweep.platform.packs import pack_units, slots
from vaesweep.platform.plan import SweepOptions, parse_seeds, plan_sweep

GRID20 = ["du_vae", "--dataset", "digits", "--seeds", "1", "--set", "train.epochs=10"]
GRID100 = ["du_vae", "--dataset", "digits", "--seeds", "0,1,2,3,4", "--set", "train.epochs=2"]
DEMO = ["demo"]


def _sweep(arguments: list[str], runs: Path, pack: str) -> dict[str, object]:
    """Run ``vaesweep sweep`` as a user does; its wall time and its children's statuses."""
    command = [sys.executable, "-m", "vaesweep.cli", "sweep", *arguments, "--pack", pack]
    command += ["--runs-dir", str(runs)]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-2000:]}")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")
    runs_found = client.search_runs([e.experiment_id for e in client.search_experiments()])
    children = [r for r in runs_found if "mlflow.parentRunId" in r.data.tags]
    packing = [line for line in done.stderr.splitlines() if "packing:" in line]
    return {
        "wall_s": round(seconds, 1),
        "children": len(children),
        "finished_children": sum(r.info.status == "FINISHED" for r in children),
        "child_names": sorted(r.info.run_name for r in children),
        "packing": packing[0].split("] ", 1)[-1] if packing else "off",
    }


def _report_layout(preset: str, runs: Path) -> list[str]:
    """``vaesweep report`` of the sweep in ``runs`` (Markdown): its tables' header lines and
    row labels, i.e. the layout without the numbers."""
    command = [
        sys.executable,
        "-m",
        "vaesweep.cli",
        "report",
        preset,
        "--runs-dir",
        str(runs),
        "--format",
        "md",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-2000:]}")
    lines = done.stdout.splitlines()
    # every heading but the title, which names the sweep (its name differs between two sweeps)
    layout = [line for line in lines if line.startswith("#") and not line.startswith("# vaesweep report")]
    layout += [line.split("|")[1].strip() for line in lines if line.startswith("|") and "---" not in line]
    return layout


def _pair(arguments: list[str], scratch: Path, name: str, report: bool = False) -> dict[str, object]:
    packed = _sweep(arguments, scratch / f"{name}-packed", "auto")
    alone = _sweep(arguments, scratch / f"{name}-off", "off")
    same = packed.pop("child_names") == alone.pop("child_names")
    found = {
        "command": "vaesweep sweep " + " ".join(arguments),
        "packed": packed,
        "off": alone,
        "speedup": round(alone["wall_s"] / packed["wall_s"], 2),
        "same_children": same,
    }
    if report:
        layouts = [_report_layout(arguments[0], scratch / f"{name}-{side}") for side in ("packed", "off")]
        found["report_lines"] = len(layouts[0])
        found["same_report_layout"] = layouts[0] == layouts[1]
    return found


def _fit_seconds(arguments: list[str], samples: int) -> dict[str, float]:
    """The mean ``fit`` time of ``samples`` of the sweep's trials, alone, one thread."""
    from vaesweep.train import fit

    seeds = parse_seeds(arguments[arguments.index("--seeds") + 1])
    overrides = dict(a.split("=", 1) for a in arguments[arguments.index("--set") + 1 :])
    plan = plan_sweep(
        SweepOptions(
            arguments[0], dataset="digits", seeds=seeds, overrides=overrides, storage=tempfile.mkdtemp()
        )
    )
    step = max(1, len(plan.trials) // samples)
    chosen = list(plan.trials)[::step][:samples]
    torch.set_num_threads(1)
    fit(chosen[0].config())  # warm-up: imports, data cache
    times = []
    for spec in chosen:
        started = time.perf_counter()
        fit(spec.config())
        times.append(time.perf_counter() - started)
    mean = statistics.mean(times)
    units = pack_units(plan.trials, plan.packing)
    return {
        "trials": len(plan.trials),
        "sampled": len(chosen),
        "fit_s_mean": round(mean, 3),
        "fit_s_sum_scaled": round(mean * len(plan.trials), 1),
        "packs": [len(u) for u in units],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit-samples", type=int, default=6)
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    n_slots = slots(1.0, 0.0, None)
    out: dict[str, object] = {
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "slots": n_slots,
            "torch_threads_per_trial": 1,
            "note": "shared machine: other sessions ran jobs beside this benchmark; timings are noisy",
        }
    }
    with tempfile.TemporaryDirectory(prefix="bench-packed-") as scratch:
        scratch = Path(scratch)
        out["grid20"] = _pair(GRID20, scratch, "grid20")
        packed100 = _sweep(GRID100, scratch / "grid100", "auto")
        packed100.pop("child_names")
        fits = _fit_seconds(GRID100, args.fit_samples)
        ideal = fits["fit_s_sum_scaled"] / n_slots
        out["grid100"] = {
            "command": "vaesweep sweep " + " ".join(GRID100),
            "packed": packed100,
            "fit_alone": fits,
            "sum_fit_over_slots_s": round(ideal, 1),
            "efficiency": round(ideal / packed100["wall_s"], 3),
            "how": "(mean fit time of the sampled trials alone, 1 thread, x trials) / slots / wall",
        }
        if not args.skip_demo:
            out["demo"] = _pair(DEMO, scratch, "demo", report=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
