"""What a sweep prints at its end: mean ± std over seeds per arm, the experiment's metrics.

Built from Tune's last result of each trial, so it needs no tracking server; the full analysis
(published numbers beside ours, claims, plots) reads MLflow: ``vaesweep report``.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence

import pandas as pd

from vaesweep.platform.sweep import SweepOutcome
from vaesweep.platform.tracking import run_url
from vaesweep.platform.trials import TrialRecord, comparison_group, trial_label
from vaesweep.trainables import FINAL


def results_frame(records: Sequence[TrialRecord]) -> pd.DataFrame:
    """One row per trial: identity, outcome and (for finished trials) the final metrics."""
    rows = []
    for record in records:
        row = {
            "dataset": record.spec.dataset,
            "arm": record.spec.arm,
            "method": record.spec.method,
            "seed": record.spec.seed,
            "state": record.outcome.state,
        }
        if record.result.get(FINAL):
            row |= {
                k: float(v) for k, v in record.result.items() if isinstance(v, int | float) and k not in row
            }
        rows.append(row)
    return pd.DataFrame(rows)


def _mean_std(values: pd.Series) -> str:
    values = values.dropna()
    if values.empty:
        return "-"
    if len(values) == 1 or math.isnan(values.std()):
        return f"{values.mean():.4g}"
    return f"{values.mean():.4g} ± {values.std():.2g}"


def table_metrics(outcome: SweepOutcome) -> list[str]:
    """The objective, then the experiment's metrics under the names ``fit`` reports them."""
    experiment = outcome.plan.experiment
    names = [experiment.metric_map.get(m, m) for m in experiment.metrics]
    return list(dict.fromkeys([outcome.plan.metric, *(n for n in names if "{" not in n)]))


def summary_table(
    frame: pd.DataFrame, metrics: Sequence[str], sort: tuple[str, str] | None = None
) -> pd.DataFrame:
    """Per data set and arm: finished, stopped (by the scheduler, before their final evaluation)
    and failed trials, and mean ± std over seeds of each metric (finished trials only: a stopped
    trial's numbers are mid-run values). ``sort`` = (metric, mode) orders rows best first."""
    if frame.empty:
        return pd.DataFrame()
    groups = frame.groupby(["dataset", "arm"], sort=False)
    table = pd.DataFrame(
        {
            "finished": groups["state"].agg(lambda s: int((s == "finished").sum())),
            "stopped": groups["state"].agg(lambda s: int((s == "stopped").sum())),
            "failed": groups["state"].agg(lambda s: int((s == "failed").sum())),
        }
    )
    present = [m for m in metrics if m in frame]
    for metric in present:
        table[metric] = groups[metric].agg(_mean_std)
    if sort is not None and sort[0] in frame:
        order = groups[sort[0]].mean().sort_values(ascending=sort[1] == "min", na_position="last")
        table = table.loc[order.index]
    return table


def best_records(outcome: SweepOutcome) -> dict[tuple[str, str], TrialRecord]:
    """The finished trial with the best objective value per (data set, decoder likelihood):
    an NLL under a Gaussian decoder (a density) and under a Bernoulli one are not comparable."""
    metric, mode = outcome.plan.metric, outcome.plan.mode
    groups: dict[tuple[str, str], list[TrialRecord]] = {}
    for record in outcome.records:
        if record.result.get(FINAL) and math.isfinite(record.result.get(metric, math.nan)):
            key = comparison_group(record.spec)
            groups.setdefault(key, []).append(record)
    pick = min if mode == "min" else max
    return {key: pick(group, key=lambda r: r.result[metric]) for key, group in groups.items()}


def reproduce_command(record: TrialRecord) -> str:
    """The ``vaesweep train`` command that runs this trial alone."""
    words = ["vaesweep", "train", "--method", record.spec.method, "--dataset", record.spec.dataset]
    for key, value in record.spec.overrides.items():
        shown = ",".join(map(str, value)) if isinstance(value, tuple | list) else value
        words += ["--set", f"{key}={shown}"]
    return shlex.join(words)


def report_lines(outcome: SweepOutcome) -> list[str]:
    """The end of a sweep: results table, the best trial, where the runs are."""
    plan = outcome.plan
    frame = results_frame(outcome.records)
    sort = (plan.metric, plan.mode) if plan.space is not None else None
    table = summary_table(frame, table_metrics(outcome), sort)
    lines = [f"sweep {plan.name}: {outcome.status} in {outcome.seconds:.0f}s"]
    lines += [table.to_string() if not table.empty else "(no trial finished)"]
    for record in outcome.records:
        if record.outcome.state in ("stopped", "failed"):
            lines.append(
                f"{record.outcome.state} {trial_label(record.spec.as_dict())}: {record.outcome.reason}"
            )
    bests = best_records(outcome)
    for (dataset, likelihood), best in bests.items():
        among = f" (best among {likelihood} decoders on {dataset})" if len(bests) > 1 else ""
        lines += [
            f"best {plan.metric}={best.result[plan.metric]:.4g}: {best.spec.arm} | {dataset} | "
            f"seed {best.spec.seed}{among}",
            f"  reproduce: {reproduce_command(best)}",
        ]
        if best.spec.start_from is not None:  # a staged trial: train alone cannot give it its start
            start = best.spec.start_from
            lines.append(f"  (it starts from the final model of run {start.get('run_id')}, {start['arm']})")
    if plan.space is not None:
        from vaesweep.platform.study import shown_storage, study_name, study_storage

        storage = shown_storage(study_storage(plan))
        lines.append(f"Optuna study {study_name(plan)}: open it with  optuna-dashboard {storage}")
    if outcome.status == "KILLED":
        lines.append(
            f"interrupted: continue with  vaesweep sweep {plan.options.target} --resume --name {plan.name}"
        )
    where = f"experiment '{plan.experiment.name}', parent run {outcome.parent_run_id}"
    if outcome.local_store is not None:
        lines.append(f"MLflow runs: {where}; open the UI with  vaesweep ui --runs-dir {outcome.local_store}")
    else:
        link = run_url(outcome.tracking_uri, outcome.experiment_id, outcome.parent_run_id)
        lines.append(f"MLflow runs: {where}; in the UI: {link}")
    return lines
