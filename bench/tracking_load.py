"""Tracking under load: N writer processes log like trials through one ``mlflow server``, then
every row is counted. Prints JSON.

Each writer is a trial's tracker as sweeps use it (vaesweep.platform.tracking.TrialRun over
BufferedClient): it opens its child run (the resolved configuration as params), logs
``--epochs`` epochs of ``--metrics`` metrics, then a final batch, an artifact and a checkpoint.
Afterwards the database is counted: metric rows, params, artifacts per run; nothing may be
lost or doubled, and no error may reach a writer (a call the server refuses for a while, e.g.
SQLite's "database is locked", is retried by the buffer: ``retries`` counts them).

    python bench/tracking_load.py                                # SQLite and PostgreSQL, N = 8, 32, 64
    python bench/tracking_load.py --stores sqlite --writers 8 --epochs 50

PostgreSQL runs as a throwaway cluster (tests/platform/postgres.py; Debian's ``postgresql``).
The server runs ``--server-workers`` processes (4, as cluster.yaml's). Numbers are noisy on a
shared machine: compare stores within one run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.platform

from tests.platform.postgres import PostgresCluster
from vaesweep.platform.server import TrackingServer
from vaesweep.platform.tracking import SweepRun, TrialRun
from vaesweep.search_spaces.definitions import expand
from vaesweep.search_spaces.presets import EXPERIMENTS

FINAL_METRICS = 30
ARTIFACT_BYTES = 64 * 1024
CHECKPOINT_BYTES = 1024 * 1024


def _parent_target(uri: str, name: str, queue) -> None:  # pragma: no cover - a child process
    queue.put(SweepRun(uri, "tracking-load", name, resume=False, tags={"bench": "tracking_load"}).target)


def _writer(
    index: int, target, epochs: int, metrics: int, scratch: str, start, queue
) -> None:  # pragma: no cover
    """One trial's logging; reports its call latencies, retries and any error that reached it."""
    spec = dataclasses.replace(expand(EXPERIMENTS["demo"])[0], seed=1000 + index)
    report = {
        "index": index,
        "log_epoch_s": [],
        "finish_s": None,
        "retries": 0,
        "error": None,
        "run_id": None,
    }
    try:
        run = TrialRun(target, spec, spec.config(), f"load_{index:05d}")
        artifacts = Path(scratch, f"artifacts{index}")
        artifacts.mkdir()
        (artifacts / "samples.bin").write_bytes(os.urandom(ARTIFACT_BYTES))
        checkpoint = Path(scratch, f"checkpoint{index}.pt")
        checkpoint.write_bytes(os.urandom(CHECKPOINT_BYTES))
        start.wait()
        run.open()
        for epoch in range(1, epochs + 1):
            values = {f"metric_{j:02d}": index + epoch / (j + 1) for j in range(metrics - 1)}
            values["epoch"] = float(epoch)
            began = time.perf_counter()
            run.log_epoch(epoch, values)
            report["log_epoch_s"].append(time.perf_counter() - began)
        final = {f"final_{j:02d}": float(j) for j in range(FINAL_METRICS)}
        began = time.perf_counter()
        run.finish(final, artifacts, checkpoint)
        report["finish_s"] = time.perf_counter() - began
        report["retries"] = run.buffer.retries
        report["run_id"] = run.run_id
    except Exception as error:
        report["error"] = f"{type(error).__name__}: {error}"[:500]
    queue.put(report)


def _count_rows(backend_uri: str, run_ids: list[str]) -> dict[str, dict[str, int]]:
    """Rows per run in MLflow's tables, read from the database itself."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(backend_uri)
    counts: dict[str, dict[str, int]] = {
        run: {"metrics": 0, "distinct_metrics": 0, "params": 0} for run in run_ids
    }
    with engine.connect() as connection:
        for table, column in (("metrics", "metrics"), ("params", "params")):
            rows = connection.execute(
                sqlalchemy.text(f"SELECT run_uuid, count(*) FROM {table} GROUP BY run_uuid")
            )
            for run, count in rows:
                if run in counts:
                    counts[run][column] = count
        distinct = "SELECT DISTINCT run_uuid, key, step FROM metrics"
        rows = connection.execute(
            sqlalchemy.text(f"SELECT run_uuid, count(*) FROM ({distinct}) AS d GROUP BY run_uuid")
        )
        for run, count in rows:
            if run in counts:
                counts[run]["distinct_metrics"] = count
    engine.dispose()
    return counts


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def load_test(store: str, writers: int, epochs: int, metrics: int, server_workers: int) -> dict:
    """One store at one N: start it, run the writers, count every row."""
    # spawn, not fork: a fork of a threaded parent (a test session holds Ray's, MLflow's and
    # torch's threads) can copy a lock another thread held, and the writer then waits forever
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="vaesweep-load-") as scratch:
        cluster = PostgresCluster().start() if store == "postgresql" else None
        try:
            backend = cluster.create_database("mlflow") if cluster else f"sqlite:///{scratch}/mlflow.db"
            server = TrackingServer(Path(scratch, "store"), workers=server_workers, backend_store_uri=backend)
            uri = server.start()
            try:
                queue = context.Queue()
                # the parent makes no HTTP call itself: each writer has its own connections
                maker = context.Process(target=_parent_target, args=(uri, f"{store}-{writers}", queue))
                maker.start()
                target = queue.get(timeout=120)
                maker.join()
                start = context.Barrier(writers + 1)
                processes = [
                    context.Process(target=_writer, args=(i, target, epochs, metrics, scratch, start, queue))
                    for i in range(writers)
                ]
                for process in processes:
                    process.start()
                start.wait()
                began = time.perf_counter()
                reports = [queue.get(timeout=3600) for _ in processes]
                wall = time.perf_counter() - began
                for process in processes:
                    process.join()
                run_ids = [r["run_id"] for r in reports if r["run_id"]]
                rows = _count_rows(backend, run_ids)
                from mlflow.tracking import MlflowClient

                client = MlflowClient(uri)
                # the driver's end of a sweep: a create retried after a timeout may leave an empty twin
                sweep = SweepRun(uri, "tracking-load", f"{store}-{writers}", resume=True, tags={})
                children_before = len(sweep.children())
                sweep.reconcile({}, interrupted=False)
                children_after = len(sweep.children())
                artifacts_ok = sum(
                    {a.path for a in client.list_artifacts(run)} == {"samples.bin", "checkpoint"}
                    for run in run_ids
                )
                statuses = [client.get_run(run).info.status for run in run_ids]
            finally:
                server.stop()
        finally:
            if cluster is not None:
                cluster.stop()
    expected_metrics = epochs * metrics + FINAL_METRICS
    params = len(expand(EXPERIMENTS["demo"])[0].config().flatten())
    latencies = [s for r in reports for s in r["log_epoch_s"]]
    total_rows = sum(r["metrics"] for r in rows.values())
    return {
        "store": store,
        "writers": writers,
        "server_workers": server_workers,
        "epochs": epochs,
        "metrics_per_epoch": metrics,
        "errors_reaching_writers": [r["error"] for r in reports if r["error"]],
        "runs_finished": statuses.count("FINISHED"),
        "child_runs": children_after,
        "empty_twins_deleted": children_before - children_after,
        "metric_rows": total_rows,
        "metric_rows_expected": writers * expected_metrics,
        "runs_with_every_metric_once": sum(
            r["metrics"] == expected_metrics and r["distinct_metrics"] == expected_metrics
            for r in rows.values()
        ),
        "runs_with_every_param": sum(r["params"] == params for r in rows.values()),
        "runs_with_their_artifacts": artifacts_ok,
        "retried_calls": sum(r["retries"] for r in reports),
        "seconds": round(wall, 2),
        "metrics_per_s": round(total_rows / wall, 1),
        "log_epoch_ms_p50": round(1000 * statistics.median(latencies), 2) if latencies else None,
        "log_epoch_ms_p99": round(1000 * _percentile(latencies, 0.99), 2),
        "finish_s_p99": round(
            _percentile([r["finish_s"] for r in reports if r["finish_s"] is not None], 0.99), 3
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--stores", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"]
    )
    parser.add_argument("--writers", nargs="+", type=int, default=[8, 32, 64])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--metrics", type=int, default=20, help="metrics per epoch")
    parser.add_argument("--server-workers", type=int, default=4)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    results = [
        load_test(store, n, args.epochs, args.metrics, args.server_workers)
        for store in args.stores
        for n in args.writers
    ]
    out = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "results": results}
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    lost = any(
        r["errors_reaching_writers"]
        or r["metric_rows"] != r["metric_rows_expected"]
        or r["runs_finished"] != r["writers"]
        for r in results
    )
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
