"""Nobody else in: a tracking server started with authentication (MLflow's basic-auth app, the
credentials from the environment) refuses a request without them, and a sweep whose driver and
trials carry them logs as it always does."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from mlflow.tracking import MlflowClient

from tests.platform.support import TINY
from vaesweep.platform.server import CREDENTIALS_ENV, TrackingServer
from vaesweep.platform.tracking import TrackingUnavailable, check_tracking

pytestmark = pytest.mark.slow

USER = "sweeper"


@pytest.fixture(scope="module")
def credentials() -> dict[str, str]:
    return {"MLFLOW_TRACKING_USERNAME": USER, "MLFLOW_TRACKING_PASSWORD": secrets.token_urlsafe(16)}


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory, credentials):
    with pytest.MonkeyPatch.context() as patch:
        for name, value in credentials.items():
            patch.setenv(name, value)
        server = TrackingServer(tmp_path_factory.mktemp("auth-store"), auth=True)
        server.start()
    yield server
    server.stop()


def _status(uri: str, user: str | None = None, password: str | None = None) -> int:
    request = urllib.request.Request(f"{uri}/api/2.0/mlflow/experiments/search?max_results=1")
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_request_without_the_credentials_is_refused(auth_server, credentials):
    assert _status(auth_server.uri) == 401
    assert _status(auth_server.uri, USER, "not-the-password") == 401
    assert _status(auth_server.uri, USER, credentials["MLFLOW_TRACKING_PASSWORD"]) == 200


def test_the_sweep_check_names_missing_or_wrong_credentials(auth_server, credentials, monkeypatch):
    for name in CREDENTIALS_ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(TrackingUnavailable, match="refused a request without MLFLOW_TRACKING_USERNAME"):
        check_tracking(auth_server.uri)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", USER)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "not-the-password")
    with pytest.raises(TrackingUnavailable, match="refused the credentials in"):
        check_tracking(auth_server.uri)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", credentials["MLFLOW_TRACKING_PASSWORD"])
    check_tracking(auth_server.uri)


def test_a_sweep_with_the_credentials_logs_normally(auth_server, credentials, tmp_path):
    settings = [f"{k}={v}" for k, v in TINY.items()]
    command = [
        sys.executable, "-m", "vaesweep.cli", "sweep", "vae", "--seeds", "1", "--name", "authed",
        "--tracking-uri", auth_server.uri, "--runs-dir", str(tmp_path), "--set", *settings,
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env={**os.environ, **credentials}
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with pytest.MonkeyPatch.context() as patch:
        for name, value in credentials.items():
            patch.setenv(name, value)
        client = MlflowClient(auth_server.uri)
        experiment = client.get_experiment_by_name("vae")
        runs = client.search_runs([experiment.experiment_id], filter_string="tags.sweep = 'authed'")
        (child,) = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
        history = client.get_metric_history(child.info.run_id, "train_loss")
    assert child.info.status == "FINISHED" and "nll" in child.data.metrics
    assert sorted(m.step for m in history) == [1, 2]


def test_the_server_remembers_a_verified_password_instead_of_rehashing_it_per_request(auth_server):
    """Without MLflow's cache every request re-derives the PBKDF2 hash (0.25-0.4 s here), and
    this file's one-trial sweep took over four minutes; with it a repeated request costs ms."""
    import configparser

    from vaesweep.platform.server import AUTH_CONFIG

    config = configparser.ConfigParser()
    config.read(auth_server.directory / AUTH_CONFIG)
    assert config.getint("mlflow", "auth_cache_ttl_seconds") > 0
