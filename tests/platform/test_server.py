"""The local store's database is created whole or not at all: a start killed while MLflow
created its tables leaves only a temporary file, which the next start replaces."""

from __future__ import annotations

import sqlite3

from vaesweep.platform.server import DATABASE, create_database


def test_a_database_creation_cut_short_leaves_nothing_the_next_start_cannot_replace(tmp_path):
    path = tmp_path / DATABASE
    leftover = tmp_path / f"{DATABASE}.new-4242"
    leftover.write_bytes(b"SQLite format 3\x00 half of a database")  # a start killed mid-way
    create_database(path)
    assert not leftover.exists() and not list(tmp_path.glob(f"{DATABASE}.new-*"))
    with sqlite3.connect(path) as connection:  # complete: MLflow's schema at its latest version
        (version,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert version and {"runs", "metrics", "params", "tags", "experiments"} <= tables
