"""The local store's database is created whole or not at all: a start killed while MLflow
created its tables leaves only a temporary file, which the next start replaces. New stores are
copies of one empty store per MLflow version, which is what ``mlflow db upgrade`` makes."""

from __future__ import annotations

import contextlib
import importlib.metadata
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

from vaesweep.data.cache import ENV_VAR as DATA_CACHE_ENV
from vaesweep.platform.server import (
    DATABASE,
    STORE_TEMPLATES,
    TrackingServer,
    create_database,
    store_template,
)


def _schema(path: Path) -> tuple[str, set[tuple[str, tuple[str, ...]]]]:
    """The store's schema version and every table, index and trigger with its SQL's clauses.
    Clauses are compared as a set: MLflow's migrations list a table's constraints in an order
    that changes from one ``mlflow db upgrade`` to the next (Python's string hashing)."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        (version,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        objects = connection.execute("SELECT name, sql FROM sqlite_master").fetchall()
    clauses = {
        name: tuple(sorted(line.strip().rstrip(",") for line in (sql or "").splitlines()))
        for name, sql in objects
    }
    return version, set(clauses.items())


def test_a_database_creation_cut_short_leaves_nothing_the_next_start_cannot_replace(tmp_path):
    path = tmp_path / DATABASE
    leftover = tmp_path / f"{DATABASE}.new-4242"
    leftover.write_bytes(b"SQLite format 3\x00 half of a database")  # a start killed mid-way
    create_database(path)
    assert not leftover.exists() and not list(tmp_path.glob(f"{DATABASE}.new-*"))
    version, objects = _schema(path)  # complete: MLflow's schema at its latest version
    tables = {name for name, _ in objects}
    assert version and {"runs", "metrics", "params", "tags", "experiments"} <= tables


def test_a_new_store_is_a_copy_of_the_template_and_equals_what_mlflow_db_upgrade_makes(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_CACHE_ENV, str(tmp_path / "cache"))
    create_database(tmp_path / "first.db")
    template = store_template()
    made = template.stat().st_mtime_ns
    create_database(tmp_path / "second.db")
    assert template.stat().st_mtime_ns == made  # the second store was copied, not upgraded again
    upgraded = tmp_path / "upgraded.db"
    subprocess.run([sys.executable, "-m", "mlflow", "db", "upgrade", f"sqlite:///{upgraded}"], check=True)
    reference = _schema(upgraded)
    assert _schema(tmp_path / "first.db") == reference and _schema(tmp_path / "second.db") == reference
    with contextlib.closing(sqlite3.connect(tmp_path / "second.db")) as connection:
        assert connection.execute("SELECT count(*) FROM experiments").fetchone() == (0,)  # nothing of a run


def test_a_damaged_template_is_made_again_and_without_a_cache_the_store_is_made_in_place(
    tmp_path, monkeypatch
):
    monkeypatch.setenv(DATA_CACHE_ENV, str(tmp_path / "cache"))
    template = tmp_path / "cache" / STORE_TEMPLATES / f"mlflow-{importlib.metadata.version('mlflow')}.db"
    template.parent.mkdir(parents=True)
    template.write_bytes(b"SQLite format 3\x00 cut short by a full disk")
    create_database(tmp_path / "store.db")
    assert _schema(template) == _schema(tmp_path / "store.db")

    blocked = tmp_path / "a-file"
    blocked.write_text("the cache root cannot be a directory here")
    monkeypatch.setenv(DATA_CACHE_ENV, str(blocked / "cache"))
    assert store_template() is None
    create_database(tmp_path / "in-place.db")
    assert _schema(tmp_path / "in-place.db") == _schema(template)


def test_a_server_whose_chosen_port_was_taken_meanwhile_starts_on_another(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = TrackingServer(tmp_path / "runs")
        server.port = taken.getsockname()[1]  # another program bound it after the server chose it
        try:
            uri = server.start()
            assert server.port != taken.getsockname()[1]
            with urllib.request.urlopen(f"{uri}/health", timeout=10) as response:
                assert response.status == 200
            server.terminate()  # asked to stop, it shuts down cleanly while the caller goes on
            server.stop()
            assert server.process.returncode == 0
        finally:
            server.stop()
