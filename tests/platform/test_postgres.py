"""Tracking on PostgreSQL, and under load: a sweep's local server on a PostgreSQL database
(``--backend-store-uri``), and concurrent trial-like writers through one server on SQLite and
on PostgreSQL, every row counted afterwards (bench/tracking_load.py at a small size)."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

from bench.tracking_load import load_test
from tests.platform.support import TINY
from vaesweep.errors import ConfigError
from vaesweep.platform.plan import SweepOptions, plan_sweep
from vaesweep.platform.sweep import run_sweep
from vaesweep.search_spaces.definitions import Arm, Experiment

pytestmark = pytest.mark.slow


def test_a_sweeps_local_server_keeps_its_runs_in_postgresql(postgres, local_ray, tmp_path):
    database = postgres.create_database("sweep_store")
    experiment = Experiment("on_postgres", "two seeds", ("digits",), (Arm("vae", "VAE"),), seeds=(0, 1))
    plan = plan_sweep(
        SweepOptions(
            experiment.name,
            backend_store_uri=database,
            runs_dir=str(tmp_path / "runs"),
            overrides=dict(TINY),
        ),
        experiment,
    )
    outcome = run_sweep(plan)
    assert outcome.status == "FINISHED"
    assert not (tmp_path / "runs" / "mlflow.db").exists()  # not SQLite: the database given
    client = MlflowClient(database)  # the runs, read from PostgreSQL itself
    runs = client.search_runs([outcome.experiment_id], filter_string=f"tags.sweep = '{plan.name}'")
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 2 and all(r.info.status == "FINISHED" for r in children)
    for run in children:
        assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "valid_rec")) == [1, 2]


def test_a_backend_store_is_a_database_uri_and_only_for_the_local_server(tmp_path):
    with pytest.raises(ConfigError, match="--backend-store-uri"):
        plan_sweep(SweepOptions("vae", backend_store_uri="mysql://x/y", storage=str(tmp_path)))
    with pytest.raises(ConfigError, match="only without --tracking-uri"):
        plan_sweep(
            SweepOptions(
                "vae",
                backend_store_uri="sqlite:///x.db",
                tracking_uri="http://127.0.0.1:1",
                storage=str(tmp_path),
            )
        )


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_concurrent_writers_lose_nothing_and_see_no_error(store, request):
    if store == "postgresql":
        request.getfixturevalue("postgres")  # skipped (or, in CI, failed) without PostgreSQL
    result = load_test(store, writers=6, epochs=15, metrics=20, server_workers=4)
    assert result["errors_reaching_writers"] == []
    assert result["runs_finished"] == 6 and result["child_runs"] == 6  # one run per writer
    assert result["metric_rows"] == result["metric_rows_expected"]
    assert result["runs_with_every_metric_once"] == 6  # no row lost or doubled
    assert result["runs_with_every_param"] == 6 and result["runs_with_their_artifacts"] == 6
