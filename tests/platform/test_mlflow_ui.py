"""MLflow as its users know it, after a tiny real sweep: the experiment opens on its training
runs, every trial's data set is an MLflow input (the runs table's Dataset column), ``vaesweep ui``
links the latest sweep, and the UI itself, rendered by headless Chromium, lists the runs."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import urllib.parse

import pytest
from mlflow.tracking import MlflowClient

from tests.platform.support import children, sweep
from vaesweep.platform.commands import sweep_links
from vaesweep.platform.tracking import EXPERIMENT_KIND_TAG, TRAINING_KIND, run_url
from vaesweep.search_spaces.definitions import Arm, Experiment

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("local_ray")]

TWO_ARMS = Experiment(
    "ui_two_arms",
    "two beta-VAE arms, one seed",
    ("digits",),
    (Arm("beta_vae", "beta-VAE", grid={"beta": (0.2, 0.4)}),),
    seeds=(0,),
)


@pytest.fixture(scope="module")
def swept(tracking_server, tmp_path_factory):
    outcome, progress = sweep(TWO_ARMS, tmp_path_factory.mktemp("ui"), tracking_server.uri)
    assert outcome.status == "FINISHED", progress
    return outcome


def _chromium() -> str:
    found = next(
        (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None
    )
    if found is None:
        reason = "headless Chromium is not installed (Debian: apt-get install chromium)"
        if os.environ.get("VAESWEEP_REQUIRE_CHROMIUM"):
            pytest.fail(reason + ", and VAESWEEP_REQUIRE_CHROMIUM is set (CI)")
        pytest.skip(reason)
    return found


def _page_text(chromium: str, url: str) -> str:
    """The text the MLflow UI (a React app) shows at ``url`` once rendered."""
    dom = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=15000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    ).stdout
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom)))


def test_the_sweeps_experiment_is_a_training_experiment(tracking_server, swept):
    experiment = MlflowClient(tracking_server.uri).get_experiment(swept.experiment_id)
    assert experiment.tags[EXPERIMENT_KIND_TAG] == TRAINING_KIND == "custom_model_development"


def test_every_trial_logs_its_data_set_as_an_input_with_its_split_sizes(tracking_server, swept):
    from sklearn.datasets import load_digits

    runs = children(tracking_server.uri, swept)
    assert len(runs) == 2
    digests = set()
    for run in runs:
        (logged,) = run.inputs.dataset_inputs
        dataset = logged.dataset
        assert dataset.name == "digits" and json.loads(dataset.source) == {"uri": "vaesweep:digits"}
        splits = json.loads(dataset.profile)["splits"]
        assert sum(splits.values()) == len(load_digits().target) and min(splits.values()) > 0
        digests.add(dataset.digest)
    assert len(digests) == 1  # the same data in both trials


def test_vaesweep_ui_links_the_latest_sweeps_parent_run(tracking_server, swept):
    lines = sweep_links(tracking_server.uri)
    link = run_url(tracking_server.uri, swept.experiment_id, swept.parent_run_id)
    assert f"latest sweep {swept.plan.name}: {link}" in lines
    assert link == (
        f"{tracking_server.uri}/#/experiments/{swept.experiment_id}/runs/{swept.parent_run_id}"
        "?workflowType=machine_learning"
    )


def test_the_mlflow_ui_in_chromium_shows_the_sweep_and_its_trials(tracking_server, swept):
    chromium = _chromium()
    names = [run.info.run_name for run in children(tracking_server.uri, swept)]
    table = _page_text(chromium, run_url(tracking_server.uri, swept.experiment_id))
    assert swept.plan.name in table and "Run Name" in table and "Dataset" in table, table[:2000]
    assert "Token Usage" not in table  # not the GenAI overview
    # ordered by name, the table lists the children flat (nested under their parent otherwise)
    query = urllib.parse.urlencode(
        {"workflowType": "machine_learning", "orderByKey": "attributes.run_name", "orderByAsc": "true"}
    )
    flat = _page_text(chromium, f"{tracking_server.uri}/#/experiments/{swept.experiment_id}/runs?{query}")
    assert all(name in flat for name in [swept.plan.name, *names]), flat[:2000]
    digest = children(tracking_server.uri, swept)[0].inputs.dataset_inputs[0].dataset.digest
    assert f"digits ({digest})" in flat, flat[:2000]  # the Dataset column
    parent = _page_text(chromium, run_url(tracking_server.uri, swept.experiment_id, swept.parent_run_id))
    assert all(name in parent for name in names), parent[:2000]
