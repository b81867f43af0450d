"""A node lost mid-trial: on a real 2-node Ray cluster, the trial resumes from its last
checkpoint on another node and its MLflow run continues (no fork, no epoch lost or doubled)."""

from __future__ import annotations

import glob
import logging
import threading
import time

import pytest
from mlflow.tracking import MlflowClient

from tests.platform.support import children, sweep
from vaesweep.search_spaces.definitions import Arm, Experiment

pytestmark = pytest.mark.slow

EPOCHS = 8


@pytest.fixture
def cluster():
    """A head without CPUs (trials cannot run there) and one worker node with 1 CPU."""
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False, logging_level=logging.WARNING)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def test_a_trial_whose_node_dies_finishes_from_its_checkpoint_on_another_node(
    cluster, tracking_server, tmp_path
):
    experiment = Experiment(
        "node_loss", "one trial, one node lost", ("digits",), (Arm("vae", "VAE"),), seeds=(0,)
    )
    result: dict = {}

    def run() -> None:
        result["outcome"], result["progress"] = sweep(
            experiment, tmp_path, tracking_server.uri, {"train.epochs": EPOCHS}
        )

    runner = threading.Thread(target=run)
    runner.start()
    deadline = time.monotonic() + 300
    while not glob.glob(str(tmp_path / "tune" / "*" / "*" / "checkpoint_000001")):  # two epochs done
        assert runner.is_alive() and time.monotonic() < deadline, result.get("progress")
        time.sleep(0.1)
    (worker,) = [node for node in cluster.worker_nodes]
    cluster.remove_node(worker)  # the trial's node dies mid-training
    cluster.add_node(num_cpus=1)  # ... and the autoscaler (here: the test) brings another
    runner.join(timeout=300)
    outcome, progress = result["outcome"], result["progress"]
    assert outcome.status == "FINISHED", progress
    assert [r.outcome.state for r in outcome.records] == ["finished"]
    assert "retrying  VAE | digits | seed 0 from its last checkpoint" in progress

    (run,) = children(tracking_server.uri, outcome)  # one run: continued, not forked
    assert run.info.status == "FINISHED" and run.data.tags["attempts"] == "2"
    assert int(run.data.tags["resumed_from_epoch"]) >= 2
    history = MlflowClient(tracking_server.uri).get_metric_history(run.info.run_id, "train_loss")
    assert sorted(m.step for m in history) == list(range(1, EPOCHS + 1))
    assert run.data.metrics["epochs_run"] == EPOCHS and "nll" in run.data.metrics
