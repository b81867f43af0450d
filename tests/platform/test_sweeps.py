"""Sweeps on a real local Ray (2 CPUs) logging to a real MLflow server: grid, Optuna with
ASHA, failing trials, and the tracking server going away mid-sweep."""

from __future__ import annotations

import glob
import threading
import time

import pytest
from mlflow.tracking import MlflowClient

from tests.platform.support import children, igp_or_du_vae, sweep
from vaesweep.platform.results import report_lines
from vaesweep.platform.server import TrackingServer, free_port
from vaesweep.search_spaces.definitions import Arm, Experiment

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("local_ray")]

EPOCH_METRICS = ("train_loss", "train_rec", "train_kl", "valid_rec", "valid_kl", "valid_elbo", "valid_au")
FINAL_METRICS = ("rec", "kl", "elbo", "nll", "mi", "au", "cu")


def test_grid_of_two_methods_two_values_two_seeds_gives_eight_finished_child_runs(tracking_server, tmp_path):
    grid = Experiment(
        "grid_2x2x2",
        "two methods x two values x two seeds",
        ("digits",),
        (Arm("igp", "IGP", grid={"C": (5.0, 15.0)}), Arm("beta_vae", "beta-VAE", grid={"beta": (0.2, 0.4)})),
        seeds=(0, 1),
    )
    outcome, progress = sweep(grid, tmp_path, tracking_server.uri)
    assert outcome.status == "FINISHED", progress
    client = MlflowClient(tracking_server.uri)
    parent = client.get_run(outcome.parent_run_id)
    assert parent.info.status == "FINISHED" and parent.info.run_name == outcome.plan.name
    runs = children(tracking_server.uri, outcome)
    assert len(runs) == 8
    assert {(r.data.tags["arm"], r.data.tags["seed"]) for r in runs} == {
        (arm, seed)
        for arm in (
            "IGP (target_kl=5)",
            "IGP (target_kl=15)",
            "beta-VAE (beta=0.2)",
            "beta-VAE (beta=0.4)",
        )
        for seed in ("0", "1")
    }
    for run in runs:
        tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
        assert run.info.status == "FINISHED" and tags["status"] == "finished"
        assert tags["preset"] == "grid_2x2x2" and tags["dataset"] == "digits" and tags["ray_trial_id"]
        assert tags["method"] in ("igp", "beta_vae") and tags["git_commit"]
        assert params["method"] == tags["method"] and params["train.seed"] == tags["seed"]
        assert params["train.epochs"] == "2" and len(params) > 50  # the flattened resolved config
        for key in EPOCH_METRICS:
            history = client.get_metric_history(run.info.run_id, key)
            assert sorted(m.step for m in history) == [1, 2], key
        assert all(key in metrics for key in FINAL_METRICS)
        files = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"metrics.json", "config.json", "latents.npz", "reconstructions.png", "samples.png"} <= files
        assert [a.path for a in client.list_artifacts(run.info.run_id, "checkpoint")] == [
            "checkpoint/checkpoint.pt"
        ]
    assert {r.data.params["regulariser.target_kl"] for r in runs if r.data.tags["method"] == "igp"} == {
        "5.0",
        "15.0",
    }
    text = "\n".join(report_lines(outcome))
    assert "IGP (target_kl=15)" in text and "beta-VAE (beta=0.4)" in text and "±" in text
    assert progress.count("finished  ") == 8


def test_optuna_with_a_conditional_space_and_asha_reports_its_best_config(tracking_server, tmp_path):
    outcome, progress = sweep(
        igp_or_du_vae("optuna_two"),
        tmp_path,
        tracking_server.uri,
        {"train.epochs": "3"},
        search="optuna",
        num_samples=5,
        scheduler="asha",
        pack="off",  # one trial per Tune trial (StoredStudySearch); packed: test_packed_sweep.py
    )
    assert outcome.status == "FINISHED", progress
    assert len(outcome.records) == 5
    for record in outcome.records:
        sampled = {k for k in record.spec.overrides if k.startswith(("regulariser.target_kl", "posterior."))}
        expected = (
            {"regulariser.target_kl"}
            if record.spec.method == "igp"
            else {"posterior.gamma", "posterior.keep_prob"}
        )
        assert sampled == expected, record.spec  # only the chosen method's hyper-parameters
    finished = [r for r in outcome.records if r.outcome.state == "finished"]
    assert finished
    best = min(finished, key=lambda r: r.result["nll"])
    lines = report_lines(outcome)
    assert any(line.startswith(f"best nll={best.result['nll']:.4g}: {best.spec.arm}") for line in lines)
    assert any("reproduce: vaesweep train --method " + best.spec.method in line for line in lines)
    statuses = {r.data.tags["ray_trial_id"]: r.info.status for r in children(tracking_server.uri, outcome)}
    for record in outcome.records:  # an ASHA-stopped trial is KILLED, never left RUNNING
        expected = "FINISHED" if record.outcome.state == "finished" else "KILLED"
        assert statuses[record.outcome.trial_id] == expected


def test_a_raising_and_a_diverging_trial_fail_with_their_reasons_while_the_others_finish(
    tracking_server, tmp_path
):
    empty = tmp_path / "no_mnist_here"
    empty.mkdir()
    failing = Experiment(
        "failures",
        "one good, one diverging, one without its data",
        ("digits", "mnist"),
        (
            Arm("vae", "good", datasets=("digits",)),
            Arm("vae", "diverging", {"optim.lr": 1e6}, datasets=("digits",)),
            Arm("vae", "missing data", {"data.path": str(empty)}, datasets=("mnist",)),
        ),
        seeds=(0,),
    )
    # unpacked: a diverged trial is retried from its checkpoint (a diverged pack member is not)
    outcome, progress = sweep(failing, tmp_path, tracking_server.uri, max_failures=1, pack="off")
    assert outcome.status == "FINISHED", progress  # the sweep went on
    states = {r.spec.arm: r.outcome for r in outcome.records}
    assert states["good"].state == "finished"
    assert states["diverging"].state == "failed" and "DivergedError" in states["diverging"].reason
    assert states["missing data"].state == "failed" and "DataError" in states["missing data"].reason
    runs = {r.data.tags["arm"]: r for r in children(tracking_server.uri, outcome)}
    assert len(runs) == 3  # a retried trial continued its run, it did not fork
    assert runs["good"].info.status == "FINISHED"
    diverged = runs["diverging"]
    assert diverged.info.status == "FAILED" and diverged.data.tags["status"] == "diverged"
    assert (
        diverged.data.tags["diverged_epoch"] == "1"
        and "DivergedError" in diverged.data.tags["failure_reason"]
    )
    assert diverged.data.tags["attempts"] == "2"  # max_failures=1: one retry, same run
    missing = runs["missing data"]
    assert missing.info.status == "FAILED" and missing.data.tags["status"] == "failed"
    assert (
        "DataError" in missing.data.tags["failure_reason"]
        and str(empty) in missing.data.tags["failure_reason"]
    )
    assert "FAILED    diverging" in progress and "FAILED    missing data" in progress


def test_no_final_metric_is_lost_while_the_tracking_server_restarts(tmp_path):
    server = TrackingServer(tmp_path / "store", port=free_port())
    server.start()
    experiment = Experiment(
        "outage", "trials that log through a server restart", ("digits",), (Arm("vae", "VAE"),), seeds=(0, 1)
    )
    window: dict[str, float] = {}

    def restart_after_first_epoch() -> None:
        # any checkpoint: Tune keeps the newest few, so checkpoint_000000 of a fast trial can be
        # gone before a poll sees it (the restart then never came and the test failed)
        deadline = time.monotonic() + 300
        while not glob.glob(str(tmp_path / "tune" / "*" / "*" / "checkpoint_*")):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        window["down"] = time.time()
        server.stop()
        time.sleep(3)
        server.start()
        window["up"] = time.time()

    restarter = threading.Thread(target=restart_after_first_epoch)
    restarter.start()
    try:
        # 12 epochs: the trials must still be logging during the 3 s outage (a tiny epoch is
        # a quarter of a second)
        outcome, progress = sweep(experiment, tmp_path, server.uri, {"train.epochs": "12"})
        restarter.join()
        assert outcome.status == "FINISHED", progress
        client = MlflowClient(server.uri)
        runs = children(server.uri, outcome)
        assert len(runs) == 2
        logged_during_outage = 0
        for run in runs:
            assert run.info.status == "FINISHED"
            assert all(key in run.data.metrics for key in FINAL_METRICS)
            history = client.get_metric_history(run.info.run_id, "valid_rec")
            assert sorted(m.step for m in history) == list(range(1, 13))
            logged_during_outage += sum(window["down"] <= m.timestamp / 1000 <= window["up"] for m in history)
            assert "reconstructions.png" in {a.path for a in client.list_artifacts(run.info.run_id)}
        assert logged_during_outage > 0  # these epochs were buffered and sent after the restart
    finally:
        restarter.join()
        server.stop()
