"""An Optuna sweep keeps its study in an RDB storage next to the MLflow store, named after the
sweep: where it goes, that a sweep killed mid-way continues the same study on --resume (what was
told before the kill is kept, nothing twice), and that optuna-dashboard opens it."""

from __future__ import annotations

import dataclasses
import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest

from tests.platform.kill_harness import SETTINGS, _environment, _wait_for_teardown
from vaesweep.platform.plan import SweepOptions, plan_sweep
from vaesweep.platform.server import free_port
from vaesweep.platform.study import open_study, shown_storage, study_name, study_storage

SWEEP = "study-resume"


def _plan(tmp_path: Path, **options):
    return plan_sweep(
        SweepOptions(target="beta_vae", search="optuna", num_samples=2, runs_dir=str(tmp_path), **options)
    )


def test_the_study_lies_beside_the_mlflow_store_named_after_the_sweep(tmp_path):
    local = _plan(tmp_path, name="s1")
    assert (
        study_storage(local) == f"sqlite:///{tmp_path.resolve() / 'optuna.db'}" and study_name(local) == "s1"
    )
    remote = _plan(tmp_path, tracking_uri="http://127.0.0.1:1", storage=str(tmp_path / "tune"))
    assert study_storage(remote) == f"sqlite:///{tmp_path / 'tune' / 'optuna.db'}"
    on_s3 = dataclasses.replace(remote, storage="s3://bucket/tune")  # no S3 here: not planned
    assert study_storage(on_s3) == f"sqlite:///{tmp_path.resolve() / 'optuna.db'}"
    postgres = _plan(tmp_path, backend_store_uri="postgresql://me:secret@127.0.0.1:5432/mlflow")
    assert study_storage(postgres) == (
        "postgresql://me:secret@127.0.0.1:5432/mlflow?options=-csearch_path%3Doptuna"
    )
    assert "secret" not in shown_storage(study_storage(postgres))


def test_a_study_in_postgresql_has_its_own_schema_beside_mlflows_tables(postgres, tmp_path):
    """MLflow and Optuna both keep an alembic_version table: in one schema, one would overwrite
    the other's revision."""
    import sqlalchemy

    from vaesweep.platform.server import TrackingServer

    uri = postgres.create_database("shared")
    with TrackingServer(tmp_path, backend_store_uri=uri):
        pass  # MLflow creates its tables in the public schema
    plan = _plan(tmp_path, backend_store_uri=uri, name="pg-study")
    study = open_study(plan)
    study.add_trial(optuna.create_trial(params={}, distributions={}, value=1.5))
    engine = sqlalchemy.create_engine(uri)
    try:
        with engine.connect() as connection:
            revisions = dict(
                connection.execute(
                    sqlalchemy.text(
                        "select table_schema, count(*) from information_schema.tables "
                        "where table_name = 'alembic_version' group by table_schema"
                    )
                ).all()
            )
    finally:
        engine.dispose()
    assert revisions == {"public": 1, "optuna": 1}
    assert optuna.load_study(study_name="pg-study", storage=study_storage(plan)).best_value == 1.5


def _sweep_command(runs: Path, *extra: str) -> list[str]:
    settings = [f"{k}={v}" for k, v in SETTINGS.items()]
    return [
        sys.executable, "-m", "vaesweep.cli", "sweep", "beta_vae", "--search", "optuna",
        "--num-samples", "3", "--seeds", "1", "--max-concurrent", "1", "--runs-dir", str(runs),
        "--name", SWEEP, "--set", *settings, *extra,
    ]  # fmt: skip


def _told(storage: str) -> dict[int, tuple[dict, float]]:
    study = optuna.load_study(study_name=SWEEP, storage=storage)
    return {
        t.number: (t.params, t.value) for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE
    }


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    """An Optuna sweep of 3 trials killed after Tune told the second, then resumed."""
    runs = tmp_path_factory.mktemp("study")
    storage = f"sqlite:///{runs / 'optuna.db'}"
    first = subprocess.Popen(
        _sweep_command(runs), env=_environment("trial_complete:2"), stderr=subprocess.PIPE, text=True
    )
    _, errors = first.communicate(timeout=600)
    assert first.returncode == -signal.SIGKILL, errors[-3000:]
    problems: list[str] = []
    _wait_for_teardown(runs, first.pid, problems)
    assert not problems, problems
    before = _told(storage)
    second = subprocess.run(
        [*_sweep_command(runs), "--resume"],
        env=_environment(None),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert second.returncode == 0, second.stderr[-3000:]
    return runs, storage, before, second.stdout


@pytest.mark.slow
def test_resume_continues_the_same_study_keeping_what_was_told_before_the_kill(resumed):
    runs, storage, before, report = resumed
    assert len(before) == 2  # Tune tells its searcher before the callbacks hear of a trial's end
    study = optuna.load_study(study_name=SWEEP, storage=storage)
    after = _told(storage)
    assert {n: after[n] for n in before} == before  # kept as they were, under the same numbers
    assert len(study.trials) == len(after) == 3  # the third trial once, nothing asked twice
    assert len({json.dumps(params, sort_keys=True) for params, _ in after.values()}) == 3
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")
    (parent,) = client.search_runs(
        [client.get_experiment_by_name("beta_vae").experiment_id], f"attributes.run_name = '{SWEEP}'"
    )
    assert parent.data.params["optuna_study"] == SWEEP and parent.data.params["optuna_storage"] == storage
    assert f"optuna-dashboard {storage}" in report


@pytest.mark.slow
def test_optuna_dashboard_opens_the_sweeps_study(resumed):
    _, storage, _, _ = resumed
    executable = shutil.which("optuna-dashboard", path=str(Path(sys.executable).parent))
    assert executable, "optuna-dashboard is in the dev and tracking-server extras"
    port = free_port()
    dashboard = subprocess.Popen(
        [executable, storage, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline, studies = time.monotonic() + 60, None
        while studies is None:
            try:
                studies = _get(port, "/api/studies")["study_summaries"]
            except OSError:
                assert dashboard.poll() is None, dashboard.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "optuna-dashboard did not answer in 60 s"
                time.sleep(0.5)
        (study,) = [s for s in studies if s["study_name"] == SWEEP]
        assert study["directions"] == ["minimize"]
        detail = _get(port, f"/api/studies/{study['study_id']}")
        assert len(detail["trials"]) == 3 and all(t["state"] == "Complete" for t in detail["trials"])
    finally:
        dashboard.terminate()
        dashboard.wait(timeout=20)


def _get(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as answer:
        return json.loads(answer.read())


@pytest.mark.slow
def test_the_report_of_the_sweep_adds_its_studys_importances_and_figures(resumed, tmp_path):
    from vaesweep import cli

    runs, storage, _, _ = resumed
    assert cli.main(["report", SWEEP, "--runs-dir", str(runs), "--out", str(tmp_path / "report")]) == 0
    text = (tmp_path / "report" / "report.md").read_text()
    assert "## Optuna study: hyper-parameter importances" in text
    assert f"- study '{SWEEP}' in {storage} (open it with  optuna-dashboard {storage})" in text
    assert "- beta_vae: regulariser.beta 1.00" in text  # the method's one sampled hyper-parameter
    for figure in ("optuna_history.png", "optuna_parallel.png"):
        assert (tmp_path / "report" / "figures" / figure).stat().st_size > 10_000
        assert f"](figures/{figure})" in text
