"""Where an Optuna sweep keeps its study, so Optuna's own tools (``optuna-dashboard``,
``optuna.load_study``) open it and ``--resume`` continues it.

The study lives in an RDB storage next to the MLflow store, named after the sweep:

- the local server on SQLite (the default): ``sqlite:///RUNS_DIR/optuna.db``;
- the local server on PostgreSQL (``--backend-store-uri postgresql://...``): the same database,
  in its own schema ``optuna`` (MLflow and Optuna both keep an ``alembic_version`` table, so
  they cannot share one schema);
- a remote tracking server (``--tracking-uri``): ``optuna.db`` beside Tune's state when that is
  a local directory (``RUNS_DIR/tune`` by default), else ``RUNS_DIR/optuna.db`` on the driver,
  which is the only process that asks and tells the study.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from vaesweep.platform.plan import SweepPlan
from vaesweep.platform.server import runs_dir

if TYPE_CHECKING:
    import optuna

STUDY_FILE = "optuna.db"
POSTGRES_SCHEMA = "optuna"


def study_name(plan: SweepPlan) -> str:
    """The study's name: the sweep's (the MLflow parent run's name)."""
    return plan.name


def study_storage(plan: SweepPlan) -> str:
    """The RDB URL of the sweep's study (see the module docstring for where)."""
    options = plan.options
    backend = options.backend_store_uri
    if options.tracking_uri is None and backend and backend.startswith("postgresql://"):
        separator = "&" if "?" in backend else "?"
        return f"{backend}{separator}options=-csearch_path%3D{POSTGRES_SCHEMA}"
    if options.tracking_uri is not None and "://" not in plan.storage:
        return f"sqlite:///{Path(plan.storage) / STUDY_FILE}"
    return f"sqlite:///{runs_dir(options.runs_dir) / STUDY_FILE}"


def shown_storage(url: str) -> str:
    """The storage URL as logged and printed: any password in it masked."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """The RDB storage at ``url``, its SQLite directory or PostgreSQL schema made first."""
    import optuna
    import sqlalchemy

    address = sqlalchemy.engine.make_url(url)
    if address.get_backend_name() == "sqlite" and address.database:
        Path(address.database).parent.mkdir(parents=True, exist_ok=True)
    elif address.get_backend_name() == "postgresql":
        engine = sqlalchemy.create_engine(address.difference_update_query(["options"]))
        try:
            with engine.begin() as connection:
                connection.execute(sqlalchemy.text(f"CREATE SCHEMA IF NOT EXISTS {POSTGRES_SCHEMA}"))
        finally:
            engine.dispose()
    return optuna.storages.RDBStorage(url)


def open_study(plan: SweepPlan, sampler: optuna.samplers.BaseSampler | None = None) -> optuna.Study:
    """The sweep's study, created on first use and loaded as it is afterwards (``--resume``)."""
    import optuna

    return optuna.create_study(
        storage=open_storage(study_storage(plan)),
        study_name=study_name(plan),
        direction="minimize" if plan.mode == "min" else "maximize",
        sampler=sampler,
        load_if_exists=True,
    )
