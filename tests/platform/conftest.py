"""Fixtures of the platform tests: a real ``mlflow server`` on 127.0.0.1 and a real local Ray
with 2 CPUs, started once (per session, per module: each costs seconds)."""

from __future__ import annotations

import logging

import pytest

from vaesweep.platform.server import TrackingServer


@pytest.fixture(scope="session")
def tracking_server(tmp_path_factory) -> TrackingServer:
    server = TrackingServer(tmp_path_factory.mktemp("mlflow"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
    )
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL cluster on a loopback port (tests/platform/postgres.py). Skipped
    where PostgreSQL is not installed, except in CI (.ci/run installs it and requires it)."""
    import os

    from tests.platform.postgres import PostgresCluster, postgres_bindir

    if postgres_bindir() is None:
        reason = "PostgreSQL is not installed (Debian: apt-get install postgresql)"
        if os.environ.get("VAESWEEP_REQUIRE_POSTGRES"):
            pytest.fail(reason + ", and VAESWEEP_REQUIRE_POSTGRES is set (CI)")
        pytest.skip(reason)
    with PostgresCluster() as cluster:
        yield cluster
