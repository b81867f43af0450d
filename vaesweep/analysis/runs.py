"""MLflow runs (or an export of them) as pandas frames: one row per trial, and per-epoch histories.

Two sources give the same frames: a live tracking store (``MlflowSource``) and a directory or
file written by ``export`` (``ExportSource``), so a sweep run on a cluster can be analysed on a
laptop. Both type their columns the same way (``typed``): config parameters come back as
numbers and booleans, using RunConfig's field types; metrics as floats.
"""

from __future__ import annotations

import abc
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from vaesweep.analysis import schema
from vaesweep.config import RunConfig

CONFIG_DEFAULTS: dict[str, Any] = {k: v for k, v in RunConfig().flatten().items() if k != "method"}
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


class AnalysisError(ValueError):
    """A target (preset, sweep, export) that cannot be found or read."""


# -- typing -----------------------------------------------------------------------------------


def _cast_config(column: pd.Series, default: Any) -> pd.Series:
    """Cast a config column (strings from MLflow or CSV) back to its RunConfig field type."""
    if isinstance(default, bool):
        lowered = column.map(lambda v: str(v).strip().lower() if pd.notna(v) else v)
        values = lowered.map({"true": True, "false": False, "1": True, "0": False})
        return values.astype(bool) if values.notna().all() else values.astype(object)
    if isinstance(default, (int, float)):
        numbers = pd.to_numeric(column, errors="raise")
        if isinstance(default, int) and numbers.notna().all():
            return numbers.astype("int64")
        return numbers.astype("float64")
    if isinstance(default, tuple):
        return _strings(column.map(_tuple_text))
    return _strings(column)


def _tuple_text(value: Any) -> Any:
    """Tuples are kept as text, written one way whichever store they went through."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return value
    items = value if isinstance(value, (list, tuple)) else str(value).strip("()[] ").split(",")
    return "(" + ", ".join(str(item).strip() for item in items if str(item).strip()) + ")"


def _strings(column: pd.Series) -> pd.Series:
    return column.map(lambda v: v if pd.notna(v) and str(v) != "" else None).astype("str")


def _numeric_or_text(column: pd.Series) -> pd.Series:
    try:
        return pd.to_numeric(column, errors="raise").astype("float64")
    except (TypeError, ValueError):
        return _strings(column)


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Give every column of a run frame its type and put columns and rows in a fixed order.

    Identity columns first, then config parameters in RunConfig order, then anything else
    (metrics and unknown parameters) sorted by name; rows by sweep, start time and run id.
    """
    frame = frame.copy()
    for column in schema.IDENTITY_COLUMNS:
        if column not in frame:
            frame[column] = None
    out: dict[str, pd.Series] = {}
    for column in schema.IDENTITY_COLUMNS:
        if column in schema.INTEGER_IDENTITY:
            out[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
        else:
            out[column] = _strings(frame[column])
    for key, default in CONFIG_DEFAULTS.items():
        if key in frame:
            out[key] = _cast_config(frame[key], default)
    for column in sorted(set(frame.columns) - set(out)):
        out[column] = _numeric_or_text(frame[column])
    result = pd.DataFrame(out, index=frame.index)
    result = result.sort_values([schema.SWEEP_START, schema.START_TIME, schema.RUN_ID], na_position="first")
    return result.reset_index(drop=True)


def typed_histories(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.loc[:, list(schema.HISTORY_COLUMNS)].copy()
    frame["run_id"] = _strings(frame["run_id"])
    frame["metric"] = _strings(frame["metric"])
    frame["step"] = pd.to_numeric(frame["step"]).astype("int64")
    frame["value"] = pd.to_numeric(frame["value"]).astype("float64")
    return frame.sort_values(["run_id", "metric", "step"]).reset_index(drop=True)


def _empty_histories() -> pd.DataFrame:
    return typed_histories(pd.DataFrame({c: [] for c in schema.HISTORY_COLUMNS}))


# -- choosing a sweep -------------------------------------------------------------------------


def select_sweeps(runs: pd.DataFrame, target: str | None, all_sweeps: bool = False) -> pd.DataFrame:
    """The runs of one sweep: ``target`` names a sweep (parent run id or name) or a preset.

    For a preset the latest sweep is taken (by its parent's start time) unless ``all_sweeps``.
    """
    if target is not None:
        by_sweep = runs[(runs[schema.PARENT_ID] == target) | (runs[schema.SWEEP] == target)]
        if len(by_sweep):
            return by_sweep.reset_index(drop=True)
        runs = runs[(runs["preset"] == target) | (runs[schema.EXPERIMENT] == target)]
        if runs.empty:
            raise AnalysisError(f"no runs of a preset or sweep named {target!r}")
    if all_sweeps or runs.empty:
        return runs.reset_index(drop=True)
    latest = runs[schema.SWEEP_START].max()
    if pd.isna(latest):
        return runs.reset_index(drop=True)
    return runs[runs[schema.SWEEP_START] == latest].reset_index(drop=True)


# -- sources ----------------------------------------------------------------------------------


class RunSource(abc.ABC):
    """Runs, histories and artifacts of one preset, from wherever they are stored."""

    description: str
    runs: pd.DataFrame

    @abc.abstractmethod
    def histories(self, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Per-epoch metrics (run_id, step, metric, value) of these runs (all when None)."""

    @abc.abstractmethod
    def artifact(self, run_id: str, name: str) -> Path | None:
        """Local path of a trial's artifact, or None when the run has none of that name."""

    def log_report(self, directory: Path, parent_run_id: str) -> str | None:
        """Attach the report to the sweep's parent run; None where the source cannot."""
        return None

    def parent_params(self, parent_run_id: str) -> dict[str, str]:
        """The sweep's options as its parent run logged them (empty where the source has none)."""
        return {}


class MlflowSource(RunSource):
    """A live tracking server or store. ``target`` is a preset (experiment) or a sweep;
    ``store`` names the store in messages where the URI is a passing one (a local server)."""

    def __init__(self, target: str, tracking_uri: str | None = None, store: str | None = None):
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri)
        self.store = store or self.client.tracking_uri
        experiment = self.client.get_experiment_by_name(target) or self._experiment_of_sweep(target)
        if experiment is None:
            raise AnalysisError(f"no MLflow experiment or sweep named {target!r} at {self.store}")
        self.experiment = experiment
        self.description = f"MLflow {self.store}, experiment {experiment.name!r}"
        self._metric_keys: dict[str, list[str]] = {}
        self.runs = typed(pd.DataFrame(self._rows()))
        self._downloads = tempfile.TemporaryDirectory(prefix="vaesweep-artifacts-")  # removed with the source
        self._listing: dict[str, dict[str, str]] = {}
        self._local: dict[tuple[str, str], Path] = {}

    def _experiment_of_sweep(self, target: str):
        from mlflow.exceptions import MlflowException

        if _RUN_ID.match(target):
            try:
                return self.client.get_experiment(self.client.get_run(target).info.experiment_id)
            except MlflowException:
                return None
        experiments = [e.experiment_id for e in self.client.search_experiments()]
        found = self.client.search_runs(experiments, f"attributes.run_name = '{target}'", max_results=1)
        return self.client.get_experiment(found[0].info.experiment_id) if found else None

    def _all_runs(self) -> list:
        from mlflow.entities import ViewType

        runs, token = [], None
        while True:
            page = self.client.search_runs(
                [self.experiment.experiment_id],
                run_view_type=ViewType.ACTIVE_ONLY,
                max_results=1000,
                page_token=token,
            )
            runs += list(page)
            token = page.token
            if not token:
                return runs

    def _rows(self) -> list[dict[str, Any]]:
        everything = self._all_runs()
        parents = {r.info.run_id: r for r in everything if schema.PARENT_RUN_TAG not in r.data.tags}
        rows = []
        for run in everything:
            parent_id = run.data.tags.get(schema.PARENT_RUN_TAG)
            if parent_id is None:
                continue
            parent = parents.get(parent_id)
            row: dict[str, Any] = {
                schema.RUN_ID: run.info.run_id,
                schema.PARENT_ID: parent_id,
                schema.SWEEP: parent.info.run_name if parent else None,
                schema.SWEEP_START: parent.info.start_time if parent else None,
                schema.EXPERIMENT: self.experiment.name,
                schema.STATUS: run.info.status,
                schema.START_TIME: run.info.start_time,
                schema.END_TIME: run.info.end_time,
            }
            row.update({column: run.data.tags.get(tag) for tag, column in schema.TAGS.items()})
            params = dict(run.data.params)
            row["method"] = row["method"] or params.get("method")
            row["dataset"] = row["dataset"] or params.get("data.name")
            row["seed"] = row["seed"] if row["seed"] is not None else params.get("train.seed")
            params.pop("method", None)
            row.update(params)
            row.update(run.data.metrics)
            rows.append(row)
            self._metric_keys[run.info.run_id] = list(run.data.metrics)
        return rows

    def histories(self, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
        wanted = set(self.runs[schema.RUN_ID] if run_ids is None else run_ids)
        records = []
        for run_id in sorted(wanted):
            for key in self._metric_keys.get(run_id, []):
                if key in schema.EPOCH_METRICS or key.startswith("valid_"):
                    records += [
                        (run_id, m.step, key, m.value) for m in self.client.get_metric_history(run_id, key)
                    ]
        if not records:
            return _empty_histories()
        return typed_histories(pd.DataFrame(records, columns=list(schema.HISTORY_COLUMNS)))

    def _files(self, run_id: str) -> dict[str, str]:
        """Artifact file name -> its path in the run, wherever the platform put it."""
        if run_id not in self._listing:
            files: dict[str, str] = {}
            pending = [None]
            while pending:
                for item in self.client.list_artifacts(run_id, pending.pop()):
                    if item.is_dir:
                        pending.append(item.path)
                    else:
                        files.setdefault(Path(item.path).name, item.path)
            self._listing[run_id] = files
        return self._listing[run_id]

    def artifact(self, run_id: str, name: str) -> Path | None:
        path = self._files(run_id).get(name)
        if path is None:
            return None
        if (run_id, name) not in self._local:  # figures and export read the same files: download once
            directory = Path(self._downloads.name) / run_id
            directory.mkdir(parents=True, exist_ok=True)
            self._local[run_id, name] = Path(self.client.download_artifacts(run_id, path, str(directory)))
        return self._local[run_id, name]

    def parent_params(self, parent_run_id: str) -> dict[str, str]:
        return dict(self.client.get_run(parent_run_id).data.params)

    def log_report(self, directory: Path, parent_run_id: str) -> str | None:
        self.client.log_artifacts(parent_run_id, str(directory), schema.REPORT_ARTIFACT_PATH)
        return f"{self.store} run {parent_run_id}, artifacts/{schema.REPORT_ARTIFACT_PATH}"


class ExportSource(RunSource):
    """What ``export`` wrote: a directory (runs, histories, artifacts) or a runs file."""

    def __init__(self, path: str | Path):
        path = Path(path)
        if path.is_dir():
            runs_file = next(
                (path / f"runs{s}" for s in (".parquet", ".csv") if (path / f"runs{s}").exists()), None
            )
            if runs_file is None:
                raise AnalysisError(f"{path} holds no runs.parquet or runs.csv")
            self._artifacts: Path | None = path / "artifacts"
        elif path.exists():
            runs_file, self._artifacts = path, None
        else:
            raise AnalysisError(f"no export at {path}")
        self._histories_file = _histories_path(runs_file)
        self.description = f"export {path}"
        self.runs = typed(_read(runs_file))

    def histories(self, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
        if not self._histories_file.exists():
            return _empty_histories()
        frame = typed_histories(_read(self._histories_file))
        if run_ids is not None:
            frame = frame[frame["run_id"].isin(set(run_ids))].reset_index(drop=True)
        return frame

    def artifact(self, run_id: str, name: str) -> Path | None:
        if self._artifacts is None:
            return None
        candidate = self._artifacts / run_id / name
        return candidate if candidate.exists() else None


def _histories_path(runs_file: Path) -> Path:
    """runs.parquet -> histories.parquet; sweep.csv -> sweep.histories.csv."""
    if runs_file.stem == "runs":
        return runs_file.with_name(f"histories{runs_file.suffix}")
    return runs_file.with_name(f"{runs_file.stem}.histories{runs_file.suffix}")


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _write(frame: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def open_source(
    target: str | None = None,
    *,
    tracking_uri: str | None = None,
    from_file: str | Path | None = None,
    store: str | None = None,
) -> RunSource:
    """The source for ``target`` (preset or sweep): an export when ``from_file`` is given."""
    if from_file is not None:
        return ExportSource(from_file)
    if target is None:
        raise AnalysisError("name a preset or a sweep to read from MLflow")
    return MlflowSource(target, tracking_uri, store)


def load_runs(
    target: str | None = None,
    *,
    tracking_uri: str | None = None,
    from_file: str | Path | None = None,
    parent_run_id: str | None = None,
    latest_sweep_only: bool = False,
) -> pd.DataFrame:
    """One row per trial of a preset (MLflow experiment) or of one sweep (``parent_run_id``).

    Columns: identity (run id, sweep, status, tags), typed config parameters (dotted keys),
    final metrics and the last value of each per-epoch metric.
    """
    source = open_source(target or parent_run_id, tracking_uri=tracking_uri, from_file=from_file)
    if parent_run_id is not None:
        return select_sweeps(source.runs, parent_run_id)
    return select_sweeps(source.runs, target, all_sweeps=not latest_sweep_only)


def load_histories(
    target: str | None = None,
    *,
    tracking_uri: str | None = None,
    from_file: str | Path | None = None,
    run_ids: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Per-epoch metrics as a long frame (run_id, step, metric, value); step is the epoch."""
    source = open_source(target, tracking_uri=tracking_uri, from_file=from_file)
    return source.histories(run_ids)


def export_runs(
    target: str,
    out: str | Path,
    *,
    tracking_uri: str | None = None,
    all_sweeps: bool = True,
) -> Path:
    """Write a preset's (or a sweep's) runs, histories and plot artifacts for offline analysis.

    ``out`` ending in .parquet or .csv: the runs frame there and the histories beside it
    (``NAME.histories.parquet``), no artifacts. Otherwise a directory with runs.parquet,
    histories.parquet and artifacts/RUN_ID/{dimension_summary.json, latents.npz}.
    """
    source = MlflowSource(target, tracking_uri)
    runs = select_sweeps(source.runs, target, all_sweeps=all_sweeps)
    histories = source.histories(runs[schema.RUN_ID])
    out = Path(out)
    if out.suffix in (".parquet", ".csv"):
        out.parent.mkdir(parents=True, exist_ok=True)
        _write(runs, out)
        _write(histories, _histories_path(out))
        return out
    out.mkdir(parents=True, exist_ok=True)
    _write(runs, out / "runs.parquet")
    _write(histories, out / "histories.parquet")
    for run_id in runs[schema.RUN_ID]:
        for name in schema.ANALYSIS_ARTIFACTS:
            local = source.artifact(run_id, name)
            if local is not None:
                (out / "artifacts" / run_id).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(local, out / "artifacts" / run_id / name)
    return out
