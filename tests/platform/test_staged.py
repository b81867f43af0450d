"""A staged sweep (IGP Table 7) killed between its stages, or during its second, resumes to
exactly one run per trial: each stage runs once, and the later stage's run names the run whose
final model it started from."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.platform.support import TINY
from vaesweep.platform.sweep import tune_state_restorable
from vaesweep.search_spaces.presets.igp import BASE_DGP, BASE_IGP

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")]
FIRST_STAGE = {"C = 5, DGP", "C = 5, IGP", BASE_IGP}


def _command(runs: Path, *extra: str, settings: dict[str, str] | None = None) -> list[str]:
    settings = [f"{k}={v}" for k, v in {**TINY, "train.epochs": "4", **(settings or {})}.items()]
    return [
        sys.executable, "-m", "vaesweep.cli", "sweep", "igp_table7", "--dataset", "digits", "--seeds", "1",
        "--max-concurrent", "1", "--runs-dir", str(runs), "--set", *settings, *extra,
    ]  # fmt: skip


def _process_tree(root: int) -> list[int]:
    """``root`` and every process descended from it (read from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(stat.parent.name))
    tree, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        tree.append(pid)
        frontier += children.get(pid, [])
    return tree


def _kill_when(
    runs: Path, ready, settings: dict[str, str] | None = None, whole_tree: bool = False, **driver_env: str
) -> float:
    """Start the sweep, SIGKILL its driver once ``ready(progress lines)`` (``whole_tree``: with
    its local server and Ray's processes, as when the head node dies); the kill time."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    driver = subprocess.Popen(
        _command(runs, "--name", "staged", settings=settings),
        stderr=subprocess.PIPE,
        text=True,
        env={**env, **driver_env},
    )
    progress: list[str] = []
    threading.Thread(target=lambda: progress.extend(driver.stderr), daemon=True).start()
    deadline = time.monotonic() + 400
    while not ready(progress):
        assert driver.poll() is None and time.monotonic() < deadline, "".join(progress)
        time.sleep(0.05)
    for pid in _process_tree(driver.pid) if whole_tree else [driver.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    driver.wait()
    killed_at = time.time()
    time.sleep(5)  # the local server and Ray's processes notice their driver is gone
    resumed = subprocess.run(
        _command(runs, "--resume", settings=settings), capture_output=True, text=True, timeout=900, env=env
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming sweep staged" in resumed.stderr and "FINISHED" in resumed.stdout
    return killed_at


def _children(runs: Path) -> dict[str, object]:
    client = MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("igp_table7")
    everything = client.search_runs([experiment.experiment_id])
    parents = [r for r in everything if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in everything if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(r.data.tags["arm"] for r in children) == sorted([*FIRST_STAGE, BASE_DGP])  # one run each
    assert all(r.info.status == "FINISHED" for r in children)
    return {r.data.tags["arm"]: r for r in children}


def test_killed_between_stages_each_stage_runs_once(tmp_path):
    runs = tmp_path / "runs"
    killed_at = _kill_when(runs, lambda lines: any("stage 2:" in line for line in lines))
    by_arm = _children(runs)
    for arm in FIRST_STAGE:  # the first stage had ended: not run again
        run = by_arm[arm]
        assert run.data.tags["attempts"] == "1" and run.info.end_time / 1000 < killed_at, arm
    second = by_arm[BASE_DGP]
    assert second.info.start_time / 1000 > killed_at and second.data.tags["attempts"] == "1"
    assert second.data.tags["started_from_run"] == by_arm[BASE_IGP].info.run_id
    assert second.data.tags["started_from_arm"] == BASE_IGP
    assert (runs / "tune" / "staged" / "stage-2").is_dir()


@pytest.mark.long  # a kill mid-trial is in the default suite (test_kill_points.py)
def test_killed_during_the_second_stage_it_continues_from_its_checkpoint(tmp_path):
    runs = tmp_path / "runs"
    stage_two = runs / "tune" / "staged" / "stage-2"

    def second_epoch_stored(lines) -> bool:
        """A checkpoint of epoch 2 or later that Tune's stored state already lists (a kill before
        it does resumes from an older checkpoint, or with no state from the start)."""
        try:  # Tune deletes older checkpoints and states as it goes
            checkpoints = [
                c.stat().st_mtime for c in stage_two.glob("*/checkpoint_*") if int(c.name.split("_")[1]) >= 1
            ]
            states = [s.stat().st_mtime for s in stage_two.glob("experiment_state-*.json")]
        except FileNotFoundError:
            return False
        if not checkpoints or not states or not tune_state_restorable(str(stage_two)):
            return False
        return max(states) > min(checkpoints) + 0.5

    # Tune stores its state after every result, but its file can come seconds after the result:
    # tiny epochs (a quarter of a second) can all be over by then. A long final evaluation (3,000
    # importance samples, a few seconds) holds the trial unfinished after its last checkpoint, and
    # the whole process tree dies at once, so no worker outlives the driver to finish the trial
    # (a finished run would be reported as it is: correct, but not what this test is about).
    killed_at = _kill_when(
        runs,
        second_epoch_stored,
        settings={"eval.nll_samples": "3000"},
        whole_tree=True,
        TUNE_GLOBAL_CHECKPOINT_S="0",
    )
    by_arm = _children(runs)
    for arm in FIRST_STAGE:
        assert by_arm[arm].data.tags["attempts"] == "1" and by_arm[arm].info.end_time / 1000 < killed_at
    second = by_arm[BASE_DGP]  # continued (not restarted) from its own checkpoint, not the base's
    assert second.data.tags["attempts"] == "2" and int(second.data.tags["resumed_from_epoch"]) >= 2
    assert second.data.tags["started_from_run"] == by_arm[BASE_IGP].info.run_id
    client = MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")
    history = client.get_metric_history(second.info.run_id, "train_loss")
    assert sorted(m.step for m in history) == [1, 2, 3, 4]
