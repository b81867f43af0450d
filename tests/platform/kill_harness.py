"""Kill-point harness: run a small sweep (beta-VAE's grid: 3 trials of 4 epochs, one at a time)
as a user does, SIGKILL its driver at a named point (vaesweep.faults) or after some seconds,
optionally damage the checkpoints Tune would resume from, run ``--resume``, and check that the
sweep ends exactly as an uninterrupted one: every trial finished once, one FINISHED MLflow
child run per trial with every epoch logged once and the final metrics of an uninterrupted
run, no run left RUNNING, and a run that finished before the kill left untouched.

Used by tests/platform/test_kill_points.py (a handful of points) and bench/kill_points.py
(many random points, by hand).
"""

from __future__ import annotations

import glob
import math
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.platform.support import TINY

EPOCHS = 4
SETTINGS = {**TINY, "train.epochs": str(EPOCHS)}
TARGET = "beta_vae"
SWEEP = "killed"
ARMS = ("beta_vae (beta=0.2)", "beta_vae (beta=0.4)", "beta_vae (beta=0.8)")
EPOCH_METRICS = ("epoch", "train_loss", "train_kl", "valid_rec", "valid_kl")
RESULTS_PER_TRIAL = EPOCHS + 1  # one per epoch and the final evaluation


@dataclass(frozen=True)
class KillCase:
    """Where to kill: a vaesweep.faults point ``POINT[:N]``, or after ``after_s`` seconds; with
    ``damage``, every checkpoint Tune registered as a trial's latest is truncated before
    the resume (a copy cut short), so the trial must fall back to the one before."""

    point: str | None = None
    after_s: float | None = None
    damage: bool = False
    pack: str = "off"  # --pack: "off", one process per trial; "3": the three trials as one pack

    @property
    def label(self) -> str:
        if self.point is None and self.after_s is None:
            return "no kill"
        where = self.point if self.point is not None else f"after {self.after_s:.1f}s"
        return (
            where
            + (" +damaged checkpoint" if self.damage else "")
            + (" packed" if self.pack != "off" else "")
        )


@dataclass
class CaseResult:
    case: KillCase
    killed: bool = False
    killed_after_s: float = 0.0
    resume_code: int | None = None
    finished_before_kill: int = 0
    finished_children: int = 0
    damaged: list[str] = field(default_factory=list)  # "arm@epoch" of each truncated checkpoint
    resumed_from: dict[str, str] = field(default_factory=dict)  # arm -> resumed_from_epoch tag
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def sweep_command(runs: Path, *extra: str, pack: str = "off") -> list[str]:
    settings = [f"{k}={v}" for k, v in SETTINGS.items()]
    return [
        sys.executable, "-m", "vaesweep.cli", "sweep", TARGET, "--seeds", "1", "--max-concurrent", "1",
        "--runs-dir", str(runs), "--pack", pack, "--set", *settings, *extra,
    ]  # fmt: skip


def _environment(kill_at: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "VAESWEEP_KILL_AT")}
    if kill_at is not None:
        env["VAESWEEP_KILL_AT"] = kill_at
    return env


def reference_results(packed: bool = False) -> dict[str, float]:
    """Each trial's final NLL from an uninterrupted ``fit`` (one thread, as a trial runs), or
    with ``packed`` from an uninterrupted ``fit_pack`` of the three trials."""
    import torch

    from vaesweep.packing.trainer import fit_pack
    from vaesweep.search_spaces.definitions import expand
    from vaesweep.search_spaces.grids import method_experiment
    from vaesweep.train import fit

    trials = expand(method_experiment(TARGET, "digits"), overrides=SETTINGS, seeds=(0,))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if packed:
            results = fit_pack([spec.config() for spec in trials])
            return {spec.arm: result.metrics["nll"] for spec, result in zip(trials, results, strict=True)}
        return {spec.arm: fit(spec.config())["nll"] for spec in trials}
    finally:
        torch.set_num_threads(threads)


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            content = Path(cmdline).read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in content:
            found.append(content)
    return found


def _wait_for_teardown(runs: Path, driver_pid: int, problems: list[str], timeout_s: float = 60) -> None:
    """The local MLflow server and the driver's Ray processes must die with the driver."""
    deadline = time.monotonic() + timeout_s
    while True:
        server = _processes_mentioning(str(runs))
        ray = _processes_mentioning(f"_{driver_pid}/")
        if not server and not ray:
            return
        if time.monotonic() > deadline:
            if server:
                problems.append("the local MLflow server outlived its driver")
            if ray:
                problems.append("Ray processes outlived their driver")
            return
        time.sleep(0.5)


def _client(runs: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")


def _all_runs(runs: Path) -> list:
    from mlflow.entities import ViewType

    if not (runs / "mlflow.db").exists():
        return []
    client = _client(runs)
    experiment = client.get_experiment_by_name(TARGET)
    if experiment is None:
        return []
    return client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL)


def _damage_latest_checkpoints(runs: Path) -> list[str]:
    """Truncate the checkpoint that Tune's stored state names as each unfinished trial's latest."""
    from ray.tune import ExperimentAnalysis

    path = runs / "tune" / SWEEP
    if not list(path.glob("experiment_state-*.json")):
        return []
    damaged = []
    for trial in ExperimentAnalysis(str(path)).trials:
        checkpoint = trial.checkpoint
        if trial.status == "TERMINATED" or checkpoint is None:
            continue
        packed = len(trial.config.get("pack", [None])) > 1
        file = Path(checkpoint.path) / ("pack.pt" if packed else "checkpoint.pt")
        if file.exists():
            data = file.read_bytes()
            file.write_bytes(data[: len(data) // 2])
            for spec in trial.config.get("pack") or [trial.config["trial"]]:
                damaged.append(f"{spec['arm']}@{checkpoint.get_metadata().get('epoch')}")
    return damaged


def run_case(case: KillCase, directory: Path, reference: dict[str, float]) -> CaseResult:
    """Run, kill, (damage,) resume and check one case in ``directory`` (created fresh)."""
    started = time.monotonic()
    result = CaseResult(case)
    runs = directory / "runs"
    directory.mkdir(parents=True, exist_ok=True)
    first = subprocess.Popen(
        sweep_command(runs, "--name", SWEEP, pack=case.pack),
        stdout=subprocess.DEVNULL,
        stderr=(directory / "first.err").open("w"),
        env=_environment(case.point),
    )
    try:
        first.wait(timeout=case.after_s if case.after_s is not None else 600)
    except subprocess.TimeoutExpired:
        first.send_signal(signal.SIGKILL)
        first.wait()
    result.killed = first.returncode == -signal.SIGKILL
    result.killed_after_s = time.monotonic() - started
    if not result.killed and case.point is not None:  # a timed kill may come after the end: fine
        result.problems.append(
            f"the driver was not killed (exit {first.returncode}): the point was never reached"
        )
    _wait_for_teardown(runs, first.pid, result.problems)
    before = {
        r.data.tags.get("arm"): r
        for r in _all_runs(runs)
        if "mlflow.parentRunId" in r.data.tags and r.info.status == "FINISHED"
    }
    result.finished_before_kill = len(before)
    if case.damage:
        result.damaged = _damage_latest_checkpoints(runs)

    resumed = subprocess.run(
        sweep_command(runs, "--resume", pack=case.pack),
        capture_output=True,
        text=True,
        timeout=900,
        env=_environment(None),
    )
    result.resume_code = resumed.returncode
    (directory / "resume.err").write_text(resumed.stderr)
    (directory / "resume.out").write_text(resumed.stdout)
    if not (runs / "tune" / SWEEP / "vaesweep-sweep.json").exists() and not _all_runs(runs):
        # killed before the sweep was defined: nothing started, nothing to resume, and --resume says so
        if resumed.returncode != 2 or "--resume" not in resumed.stderr:
            result.problems.append(f"--resume of a sweep never defined: exit {resumed.returncode}")
        result.seconds = time.monotonic() - started
        return result
    if resumed.returncode != 0 or "FINISHED" not in resumed.stdout:
        result.problems.append(f"the resumed sweep exited {resumed.returncode}: {resumed.stderr[-1500:]}")
    result.problems += _check_report(resumed.stdout)
    result.problems += _check_runs(runs, reference, before, result)
    result.seconds = time.monotonic() - started
    return result


def _check_report(stdout: str) -> list[str]:
    """The resumed sweep's table: each arm finished once, none failed."""
    problems = []
    for arm in ARMS:
        row = re.search(re.escape(arm) + r"\s+(\d+)\s+(\d+)", stdout)
        if row is None or row.groups() != ("1", "0"):
            problems.append(f"report row of {arm}: {row.group(0) if row else 'missing'}")
    return problems


def _check_runs(runs: Path, reference: dict[str, float], before: dict, result: CaseResult) -> list[str]:
    client = _client(runs)
    everything = _all_runs(runs)
    problems = []
    running = [r.info.run_name for r in everything if r.info.status == "RUNNING"]
    if running:
        problems.append(f"runs left RUNNING: {running}")
    deleted = [r for r in everything if r.info.lifecycle_stage == "deleted"]
    if any(r.data.params or r.data.metrics for r in deleted):  # only an empty twin may go
        problems.append(f"runs deleted: {[r.info.run_name for r in deleted]}")
    everything = [r for r in everything if r.info.lifecycle_stage != "deleted"]
    parents = [r for r in everything if "mlflow.parentRunId" not in r.data.tags]
    if len(parents) != 1 or parents[0].info.status != "FINISHED":
        problems.append(f"parent runs: {[(r.info.run_name, r.info.status) for r in parents]}")
    children = [r for r in everything if "mlflow.parentRunId" in r.data.tags]
    arms = sorted(r.data.tags.get("arm", "?") for r in children)
    if arms != sorted(ARMS):
        problems.append(f"child runs: {arms}")
    for run in children:
        arm = run.data.tags.get("arm")
        result.resumed_from[arm] = run.data.tags.get("resumed_from_epoch", "-")
        if run.info.status != "FINISHED" or run.data.tags.get("status") != "finished":
            problems.append(f"{arm}: {run.info.status} / {run.data.tags.get('status')}")
            continue
        result.finished_children += 1
        for key in EPOCH_METRICS:
            steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, key))
            if steps != list(range(1, EPOCHS + 1)):
                problems.append(f"{arm}: {key} logged at steps {steps}")
        nll = client.get_metric_history(run.info.run_id, "nll")
        if len(nll) != 1 or not math.isclose(nll[0].value, reference[arm], rel_tol=1e-9):
            problems.append(f"{arm}: nll {[m.value for m in nll]}, uninterrupted {reference[arm]}")
        earlier = before.get(arm)
        if earlier is not None and (
            earlier.info.run_id != run.info.run_id
            or earlier.info.end_time != run.info.end_time
            or earlier.data.tags.get("attempts") != run.data.tags.get("attempts")
        ):
            problems.append(f"{arm}: finished before the kill, yet run again")
    return problems


def table(results: list[CaseResult]) -> str:
    """One line per case, for the long mode."""
    header = (
        f"{'#':>3} {'kill point':<34} {'killed':>7} {'resume':>6} {'done@kill':>9} {'finished':>8} "
        f"{'resumed from (epoch per arm)':<30} {'s':>5}  verdict"
    )
    lines = [header, "-" * len(header)]
    for i, r in enumerate(results, 1):
        resumed = ",".join(r.resumed_from.get(arm, "?") for arm in ARMS)
        killed = f"{r.killed_after_s:.0f}s" if r.killed else "no"
        verdict = "ok" if r.ok else "FAIL: " + "; ".join(r.problems)[:300]
        if r.damaged:
            verdict += f" (truncated {', '.join(r.damaged)})"
        lines.append(
            f"{i:>3} {r.case.label:<34} {killed:>7} {r.resume_code!s:>6} {r.finished_before_kill:>9} "
            f"{r.finished_children:>8} {resumed:<30} {r.seconds:>5.0f}  {verdict}"
        )
    return "\n".join(lines)
