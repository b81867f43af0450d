"""Fixtures: a real ``mlflow server`` on 127.0.0.1 and the planted sweep logged into it."""

from __future__ import annotations

import pytest

from tests.analysis.sweeps import log_sweep, planted_sweep
from vaesweep.analysis import export_runs
from vaesweep.platform.server import TrackingServer


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory) -> str:
    """The platform's local tracking server (``mlflow server``, SQLite store, proxied artifacts)."""
    with TrackingServer(tmp_path_factory.mktemp("runs")) as uri:
        yield uri


@pytest.fixture(scope="session")
def planted():
    """(runs, histories, artifacts) of the planted demo-like sweep: two seeds, one failed trial."""
    return planted_sweep()


@pytest.fixture(scope="session")
def logged(mlflow_server, tmp_path_factory):
    """The planted sweep at one seed (each MLflow request costs) logged to the server.

    Returns (tracking uri, parent run id, the planted runs, histories and artifacts).
    """
    runs, histories, artifacts = planted_sweep(seeds=(0,))
    parent = log_sweep(mlflow_server, runs, histories, artifacts, tmp_path_factory.mktemp("artifacts"))
    return mlflow_server, parent, runs, histories, artifacts


@pytest.fixture(scope="session")
def exported(logged, tmp_path_factory):
    """``export_runs`` of the logged sweep to a directory (runs, histories, artifacts)."""
    return export_runs("demo", tmp_path_factory.mktemp("export") / "demo", tracking_uri=logged[0])
