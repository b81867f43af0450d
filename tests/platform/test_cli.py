"""``vaesweep sweep`` / ``presets`` / ``ui`` as a user runs them: bad input, and a tracking
server that does not answer, fail in one line before Ray starts. (A sweep whose driver is
killed: test_kill_points.py.)"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from vaesweep.platform.server import free_port
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


def test_an_unreachable_tracking_server_fails_fast_with_one_line_before_ray_starts(tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"
    runs = str(tmp_path / "runs")
    argv = [["sweep", "vae", "--seeds", "1", "--runs-dir", runs, "--tracking-uri", uri]]
    done = subprocess.run(
        [sys.executable, "-c", HARNESS, json.dumps(argv)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    (result,) = report["results"]
    lines = result["stderr"].strip().splitlines()
    assert result["code"] == 1 and len(lines) == 1, lines
    assert uri in lines[0] and "start it, or fix --tracking-uri" in lines[0]
    assert result["seconds"] < 15  # planning and one refused call, not a minute of retries
    assert not report["ray_imported"]
    assert not Path(runs, "tune").exists()  # nothing stored: the sweep never started


def _interruptible() -> None:  # runs in the child, before exec
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ui_serves_the_run_directorys_store_on_loopback(tracking_server):
    import urllib.request

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
        # Ctrl-C reaches the UI as it reaches a program in a terminal's foreground, even when this
        # suite runs in the background of a script (where the shell ignores SIGINT, and children
        # inherit that: the UI would never see the signal below)
        preexec_fn=_interruptible,
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
