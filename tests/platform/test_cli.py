"""``vaesweep sweep`` / ``presets`` / ``ui`` as a user runs them: bad input fails in one line
before Ray starts; a sweep whose driver is killed (SIGKILL) resumes to exactly its runs."""

from __future__ import annotations

import glob
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.platform.support import TINY
from vaesweep.search_spaces.definitions import expand
from vaesweep.search_spaces.presets import EXPERIMENTS

pytestmark = pytest.mark.slow

HARNESS = r"""
import contextlib, io, json, sys, time
from vaesweep.cli import main
results = []
for args in json.loads(sys.argv[1]):
    err, start = io.StringIO(), time.monotonic()
    with contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as exit:
            code = exit.code
    results.append({"code": code, "stderr": err.getvalue(), "seconds": time.monotonic() - start})
print(json.dumps({"results": results, "ray_imported": "ray" in sys.modules}))
"""


def test_bad_input_fails_with_one_line_naming_the_problem_before_ray_starts(tmp_path):
    runs = str(tmp_path / "runs")
    cases = [
        (["sweep", "no_such_preset"], "preset='no_such_preset'"),
        (["sweep", "demo", "--set", "p=2.0"], "posterior.keep_prob"),
        (["sweep", "demo", "--set", "epochs=many"], "train.epochs"),
        (["sweep", "igp", "--dataset", "no_such_data"], "data.name"),
        (["sweep", "demo", "--num-samples", "5"], "--num-samples"),
        (["sweep", "demo", "--scheduler", "asha", "--metric", "bleu2", "--mode", "max"], "--metric"),
        (["sweep", "demo", "--metric", "rec"], "--mode"),
        (["sweep", "demo", "--metric", "nll_typo", "--mode", "min"], "--metric='nll_typo'"),
        (["sweep", "demo", "--resume", "--name", "never_ran"], "--resume"),
        (["sweep", "demo", "--search", "bayes"], "--search"),
        (["sweep", "demo", "--seeds", "x"], "--seeds"),
        (["sweep", "demo", "--cpus-per-trial", "0"], "--cpus-per-trial"),
        (["ui", "--runs-dir", str(tmp_path / "nothing")], "--runs-dir"),
    ]
    argv = [[*args, "--runs-dir", runs] if args[0] == "sweep" else args for args, _ in cases]
    done = subprocess.run(
        [sys.executable, "-c", HARNESS, json.dumps(argv)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for (args, fragment), result in zip(cases, report["results"], strict=True):
        lines = result["stderr"].strip().splitlines()
        assert result["code"] == 2, (args, result)
        assert len(lines) == 1 and fragment in lines[0], (args, lines)
        assert result["seconds"] < 30, (args, result["seconds"])
    assert not report["ray_imported"]  # so no Ray was started
    assert not Path(runs).exists()  # and no tracking server either


def test_presets_lists_every_preset_with_its_size_and_the_method_grids():
    done = subprocess.run(
        [sys.executable, "-m", "vaesweep.cli", "presets", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    sizes = {p["preset"]: p["trials"] for p in listing["presets"]}
    assert sizes == {name: len(expand(e)) for name, e in EXPERIMENTS.items()}
    setups = {p["preset"]: p["setup"] for p in listing["presets"]}  # the paper's data and configuration
    assert setups["duvae_table1"]["yahoo"].startswith("lstm 512/1024 (he decoder), z 32; sgd lr 1, batch 32")
    assert "resnet_pixelcnn" in setups["duvae_table3"]["omniglot"]
    assert "per_character_probes" in setups["duvae_table3"]["omniglot"]
    assert setups["igp_table9"]["snli"].startswith(
        "lstm 50/128 (igp decoder), z 8; adam lr 0.0005, batch 128"
    )
    assert "--set eval.fid_network=PATH" in setups["arelbo_table3"]["celeba"]
    grids = {g["method"]: g for g in listing["method_grids"]}
    assert grids["du_vae"]["trials"] == 4 * 5 * 3 and grids["igp"]["grid"] == {
        "regulariser.target_kl": [5.0, 15.0, 50.0]
    }


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


def _sweep_command(runs: Path, *extra: str) -> list[str]:
    settings = [f"{k}={v}" for k, v in {**TINY, "train.epochs": "6"}.items()]
    return [
        sys.executable, "-m", "vaesweep.cli", "sweep", "beta_vae", "--seeds", "1", "--max-concurrent", "1",
        "--runs-dir", str(runs), "--set", *settings, *extra,
    ]  # fmt: skip


def _second_trial_checkpointed_twice(tune_dir: Path, first: str) -> bool:
    """Whether a trial other than ``first`` has reported (and checkpointed) its second epoch."""
    first_slug = re.sub(r"[^A-Za-z0-9_.=-]+", "_", first)
    for trial_dir in tune_dir.glob("*_beta_vae*"):
        if first_slug not in trial_dir.name and any(
            int(c.name.split("_")[1]) >= 1 for c in trial_dir.glob("checkpoint_*")
        ):
            return True
    return False


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_a_driver_killed_mid_sweep_resumes_to_exactly_the_expected_runs(tmp_path):
    runs = tmp_path / "runs"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    driver = subprocess.Popen(
        _sweep_command(runs, "--name", "killed"), stderr=subprocess.PIPE, text=True, env=env
    )
    progress: list[str] = []
    reader = threading.Thread(target=lambda: progress.extend(driver.stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + 300
    while not any("finished  " in line for line in progress):
        assert driver.poll() is None and time.monotonic() < deadline, "".join(progress)
        time.sleep(0.1)
    finished_first = next(line for line in progress if "finished  " in line).split("finished  ")[1]
    finished_first = finished_first.split(": ")[0]
    while not _second_trial_checkpointed_twice(runs / "tune" / "killed", finished_first):
        assert driver.poll() is None and time.monotonic() < deadline, "".join(progress)
        time.sleep(0.1)  # the second trial trains ...
    time.sleep(1.0)
    driver.send_signal(signal.SIGKILL)  # ... when its driver dies without any cleanup
    driver.wait()
    killed_at = time.time()
    time.sleep(5)
    assert not _processes_mentioning(str(runs)), "the local MLflow server outlived its sweep"
    assert not _processes_mentioning(f"_{driver.pid}/"), "Ray processes outlived their driver"
    finished_first = finished_first.split(" | ")[0]

    resumed = subprocess.run(
        _sweep_command(runs, "--resume"), capture_output=True, text=True, timeout=600, env=env
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming sweep killed" in resumed.stderr and "FINISHED" in resumed.stdout

    client = MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("beta_vae")
    everything = client.search_runs([experiment.experiment_id])
    parents = [r for r in everything if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in everything if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(r.data.tags["arm"] for r in children) == [
        "beta_vae (beta=0.2)", "beta_vae (beta=0.4)", "beta_vae (beta=0.8)"
    ]  # fmt: skip
    assert all(r.info.status == "FINISHED" for r in children)
    by_arm = {r.data.tags["arm"]: r for r in children}
    before = by_arm[finished_first]
    assert before.data.tags["attempts"] == "1" and before.info.end_time / 1000 < killed_at  # not re-run
    continued = [r for r in children if r.data.tags["attempts"] == "2"]
    assert len(continued) == 1 and int(continued[0].data.tags["resumed_from_epoch"]) >= 2
    history = client.get_metric_history(continued[0].info.run_id, "train_loss")
    assert sorted(m.step for m in history) == [1, 2, 3, 4, 5, 6]


def test_ui_serves_the_run_directorys_store_on_loopback(tracking_server):
    import urllib.request

    from vaesweep.platform.server import free_port

    client = MlflowClient(tracking_server.uri)
    experiment = client.create_experiment("ui-check")
    parent = client.create_run(experiment, run_name="sweep").info.run_id
    client.create_run(experiment, tags={"mlflow.parentRunId": parent}, run_name="trial")
    port = free_port()
    ui = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vaesweep.cli",
            "ui",
            "--runs-dir",
            str(tracking_server.directory),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
                    assert page.status == 200 and b"MLflow" in page.read()
                break
            except OSError:
                assert ui.poll() is None and time.monotonic() < deadline, "the UI did not come up"
                time.sleep(1)
        runs = MlflowClient(f"http://127.0.0.1:{port}").search_runs([experiment])
        assert {r.info.run_name for r in runs} == {"sweep", "trial"}  # the same store, through the UI
    finally:
        ui.send_signal(signal.SIGINT)
        ui.wait(timeout=30)
    assert "127.0.0.1" in ui.stderr.read().decode()
