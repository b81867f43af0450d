"""The papers' tables rebuilt from runs, with the published numbers and the difference beside.

One builder serves every table: the experiment preset (vaesweep.search_spaces.presets) gives
the data sets, reference files, metric names and unsupported rows, and its ``layout`` what only
the printed table knows (whether data sets or metrics form stacked row blocks, and whether a
cell is the mean over seeds or the selected model of several random starts). Rows are the paper's
rows, matched to runs through (method, posterior, hparams) by ``reference.row_matches``; runs
of a table's methods that match no paper row (other settings) follow as extra rows.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from vaesweep import metric_registry
from vaesweep.analysis import schema
from vaesweep.analysis.reference import (
    Printed,
    parse_hparams,
    printed_keys,
    reference_method,
    reference_rows,
    row_matches,
)
from vaesweep.analysis.render import Grid, render
from vaesweep.methods import METHODS
from vaesweep.search_spaces.definitions import Experiment, TableView, expand
from vaesweep.search_spaces.presets import EXPERIMENTS, experiment

# IGP Tables 6/12: "the best ELBO (lowest reconstruction loss for AE) of 5 random starts".
SELECT_OVERRIDES = {"ae": ("rec", "min")}

# Rows the papers print that are not vaesweep methods (a classifier on real text, a language
# model on real text, methods not implemented); a method's own label is in its spec.
TABLE_ROW_LABELS = {"sa_vae": "SA-VAE", "agg_vae": "Agg-VAE", "original": "Original", "real": "Real"}
POSTERIOR_TAGS = {"diagonal": "DGP", "isotropic": "IGP", "none": "deterministic", "iaf": "IAF"}


SUMMARY_METRICS = ("rec", "kl", "nll", "mi", "au", "cu")


@dataclass
class Table:
    """A built table: ``cells`` is the long frame behind every output format."""

    name: str
    title: str
    caption: str  # what the title does not say (runs on another data set), or ""
    status: str  # "ok", "partial" or "not run"
    notes: list[str]
    cells: pd.DataFrame
    blocks: str | None = None
    compared: bool = True  # paper values beside ours (the summary has none)
    ordering: pd.DataFrame = field(default_factory=pd.DataFrame)  # on other data: rank agreement

    def frame(self) -> pd.DataFrame:
        """Wide view: one row per table row, columns (dataset, metric, param, field)."""
        shown = self.cells[self.cells["shown"]]
        if shown.empty:
            return pd.DataFrame()
        fields = ["mean", "std", "n", "paper_mean", "paper_std", "diff", "best"]
        keys = ["dataset", "metric", "param"]
        order = shown.sort_values(["dataset_order", "column_order"]).drop_duplicates(keys)[keys]
        rows = shown.sort_values("row_order")["row"].unique()
        wide = shown.set_index(["row", *keys])[fields].unstack(keys)
        columns = [(*key, field) for key in order.itertuples(index=False) for field in fields]
        wide = wide.reorder_levels([1, 2, 3, 0], axis=1).reindex(
            index=rows, columns=pd.MultiIndex.from_tuples(columns)
        )
        wide.columns.names = [*keys, "field"]
        return wide

    def grid(self) -> Grid | None:
        return _grid(self) if self.status != "not run" else None

    def render(self, fmt: str) -> str:
        """The table alone in md, html, latex or csv (the long cells frame)."""
        if fmt == "csv":
            return self.cells.to_csv(index=False)
        grid = self.grid()
        return render(grid, fmt) if grid is not None else ""


# -- formatting -------------------------------------------------------------------------------


def _decimals(text: Any) -> int | None:
    """Decimals of a printed number; None for scientific notation or nothing printed."""
    if not isinstance(text, str) or not text or "e" in text.lower():
        return None
    return len(text.split(".")[1]) if "." in text else 0


def default_decimals(value: float) -> int | None:
    """Decimals for a number the paper did not print (None: scientific notation)."""
    magnitude = abs(value) if pd.notna(value) else 0.0
    if magnitude and (magnitude < 1e-3 or magnitude >= 1e5):
        return None
    return 1 if magnitude >= 100 else 2 if magnitude >= 1 or magnitude == 0 else 3


def fmt_number(value: float, decimals: int | None) -> str:
    if value is None or pd.isna(value):
        return "-"
    return f"{value:.3g}" if decimals is None else f"{value:.{decimals}f}"


def method_label(method: str) -> str:
    if method in METHODS:
        return METHODS[method].label
    return TABLE_ROW_LABELS.get(method, method)


def metric_label(metric: str) -> str:
    return metric_registry.label(metric)


# -- building ---------------------------------------------------------------------------------


def _finished(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs[schema.STATUS] == schema.FINISHED]


def _with_row_ids(ref: pd.DataFrame) -> pd.DataFrame:
    """Give every reference row the id of the table row it is printed in.

    A table row is (method, posterior, n-th row of that method in its data set): DU-VAE
    Table 1 prints "BN-VAE (0.6/0.6/0.5)" once though its gamma differs per data set.
    """
    entries = ref.drop_duplicates(["dataset", "method", "posterior", "row_hparams"]).copy()
    occurrence = entries.groupby(["dataset", "method", "posterior"]).cumcount()
    entries["row_id"] = list(zip(entries["method"], entries["posterior"], occurrence, strict=True))
    keys = ["dataset", "method", "posterior", "row_hparams"]
    return ref.merge(entries[[*keys, "row_id"]], on=keys, how="left")


def _row_label(printed: pd.DataFrame, posteriors_per_method: dict[str, int]) -> str:
    """The paper's row name: method, posterior where the table varies it, printed settings."""
    first = printed.iloc[0]
    label = method_label(first["method"])
    if posteriors_per_method[first["method"]] > 1 and first["posterior"]:
        label += f", {POSTERIOR_TAGS.get(first['posterior'], first['posterior'])}"
    settings = printed.drop_duplicates("dataset")["row_hp"].tolist()
    keys = list(dict.fromkeys(key for hp in settings for key in hp))
    values = {key: [hp.get(key, "-") for hp in settings] for key in keys}
    shown = [f"{key}={v[0] if len(set(v)) == 1 else '/'.join(v)}" for key, v in values.items()]
    return f"{label} ({', '.join(shown)})" if shown else label


def _unsupported_reason(experiment: Experiment, method: str) -> str:
    """The preset's own word on why a method is not run ("... not implemented")."""
    for text in experiment.unsupported:
        names, _, why = text.partition(":")
        if re.search(rf"\b{re.escape(method)}\b", names):
            return why.strip()
    return "no runs"


def _assign_rows(
    runs: pd.DataFrame, ref: pd.DataFrame, printed: Printed, paper_of: dict[str, str], table: str
) -> list[Any]:
    """The paper row each run is, or ("extra", its arm label) when it is none of them."""
    entries = ref.drop_duplicates(["dataset", "row_id"])
    assigned: list[Any] = []
    for row in runs.to_dict("records"):
        candidates = entries[entries["dataset"] == paper_of[row["dataset"]]]
        found = next(
            (
                e.row_id
                for e in candidates.itertuples()
                if row_matches(row, e.method, e.posterior, e.row_hp, printed, table)
            ),
            None,
        )
        arm = row.get("arm")
        assigned.append(found or ("extra", arm if isinstance(arm, str) else method_label(row["method"])))
    return assigned


def _select(group: pd.DataFrame, select: tuple[str, str] | None) -> pd.DataFrame:
    """The one run the paper would report among random starts (all runs when no selection)."""
    if select is None or group.empty:
        return group
    metric, direction = SELECT_OVERRIDES.get(group["method"].iloc[0], select)
    values = group[metric] if metric in group else pd.Series(np.nan, index=group.index)
    if values.notna().any():
        return group.loc[[values.idxmax() if direction == "max" else values.idxmin()]]
    return group


CELL_COLUMNS = [
    "dataset",
    "dataset_order",
    "paper_dataset",
    "row",
    "row_order",
    "metric",
    "param",
    "column_order",
    "our_metric",
    "mean",
    "std",
    "n",
    "starts",
    "paper_mean",
    "paper_std",
    "paper_text",
    "diff",
]


def _cells(
    runs: pd.DataFrame,
    pairs: list[tuple[str, str]],
    rows: dict[Any, str],
    columns: list[tuple[str, str]],
    metric_map: dict[str, str],
    paper: dict[tuple, tuple[float, float, str]],
    select: tuple[str, str] | None,
) -> pd.DataFrame:
    """The long frame: one record per (data set, row, metric, param) that has ours or the paper's."""
    records = []
    for dataset, paper_dataset in pairs:
        for order, (row_id, label) in enumerate(rows.items()):
            group = runs[(runs["dataset"] == dataset) & (runs["row_id"] == row_id)]
            chosen = _select(group, select)
            for column_order, (metric, param) in enumerate(columns):
                ours = metric_map.get(metric, metric).format(**parse_hparams(param))
                values = chosen[ours].dropna().to_numpy(dtype=float) if ours in chosen else np.array([])
                printed = paper.get((row_id, paper_dataset, metric, param))
                if not len(values) and printed is None:
                    continue
                paper_mean, paper_std, paper_text = printed or (np.nan, np.nan, "")
                mean = values.mean() if len(values) else np.nan
                std = values.std() if len(values) else np.nan  # population std, as the IGP paper prints
                record = [dataset, pairs.index((dataset, paper_dataset)), paper_dataset, label, order, metric]
                record += [param, column_order, ours, mean, std, len(values), len(group)]
                # a number of another data set is shown for reference: no difference against it
                diff = mean - paper_mean if dataset == paper_dataset else np.nan
                records.append([*record, paper_mean, paper_std, paper_text, diff])
    cells = pd.DataFrame.from_records(records, columns=CELL_COLUMNS)
    column = ["dataset", "metric", "param"]
    cells["best"] = _best(cells, "mean", column)
    cells["paper_best"] = _best(cells, "paper_mean", column)
    cells["shown"] = cells.groupby(column)["n"].transform("sum") > 0  # columns nobody measured are left out
    return cells


def _best(cells: pd.DataFrame, value: str, column: list[str]) -> pd.Series:
    """True where a cell holds its column's best value (direction by metric; none for KL)."""
    direction = cells["metric"].map(metric_registry.direction)
    best_max = cells.groupby(column)[value].transform("max")
    best_min = cells.groupby(column)[value].transform("min")
    return ((direction == "max") & (cells[value] == best_max)) | (
        (direction == "min") & (cells[value] == best_min)
    )


def build_table(view: TableView | str, runs: pd.DataFrame) -> Table:
    """Rebuild a paper table from a run frame, the paper's numbers and the difference beside.

    Never fails for missing runs: a table with none is "not run" and says what is missing.
    """
    view = TableView(view) if isinstance(view, str) else view
    preset = experiment(view.name)
    layout = preset.layout
    ref = _with_row_ids(reference_rows(preset.reference))
    runs = _finished(runs)
    if view.dataset is not None:
        runs = runs[runs["dataset"] == view.dataset]
    printed = printed_keys(ref)
    runs = runs[
        np.array([reference_method(row, printed) in printed for row in runs.to_dict("records")], dtype=bool)
    ]

    paper_datasets = [d for d in preset.datasets if d in set(ref["dataset"])]
    run_datasets = list(dict.fromkeys(runs["dataset"]))
    pairs = [(d, d) for d in paper_datasets if d in run_datasets]
    pairs += [(d, paper_datasets[0]) for d in run_datasets if d not in paper_datasets]
    caption = ""
    substituted = [d for d, p in pairs if d != p]
    if substituted:
        caption = (
            f"Run on {', '.join(substituted)}, not on the paper's data sets: the paper's numbers "
            f"beside ours are its {paper_datasets[0]} numbers (its first data set), for reference "
            "and without a difference; what carries across data sets, the ordering of the rows in "
            "each column, is compared with the paper's in the notes."
        )
    notes = [f"not supported: {text}" for text in preset.unsupported]
    if not pairs:
        missing = f"no runs on {view.dataset or ', '.join(paper_datasets)}"
        return Table(view.name, preset.title, caption, "not run", [missing, *notes], pd.DataFrame())
    absent = [] if substituted else [d for d in paper_datasets if d not in run_datasets]
    if absent:
        notes.insert(0, f"no runs on {', '.join(absent)}")

    runs = runs.assign(row_id=_assign_rows(runs, ref, printed, dict(pairs), view.name))
    posteriors = ref.groupby("method")["posterior"].nunique().to_dict()
    rows = {rid: _row_label(ref[ref["row_id"] == rid], posteriors) for rid in dict.fromkeys(ref["row_id"])}
    extra = {
        rid: f"{rid[1]} (not in the paper)" for rid in dict.fromkeys(runs["row_id"]) if rid[0] == "extra"
    }
    metrics = [m for m in preset.metrics if m in set(ref["metric"])]
    metrics += [m for m in dict.fromkeys(ref["metric"]) if m not in metrics]
    metrics += [m for m in view.extra_metrics if m not in metrics]
    columns = [(m, p) for m in metrics for p in dict.fromkeys(ref.loc[ref["metric"] == m, "param"])]
    columns += [(m, "") for m in metrics if m not in set(ref["metric"])]
    paper = {(r.row_id, r.dataset, r.metric, r.param): (r.mean, r.std, r.mean_text) for r in ref.itertuples()}
    cells = _cells(runs, pairs, {**rows, **extra}, columns, dict(preset.metric_map), paper, layout.select)

    not_run = []
    for rid, label in rows.items():
        printed_on = set(ref.loc[ref["row_id"] == rid, "dataset"])
        expected = [d for d, p in pairs if p in printed_on]
        missing = [d for d in expected if not ((runs["row_id"] == rid) & (runs["dataset"] == d)).any()]
        if missing and len(missing) == len(expected):
            not_run.append(f"{label} ({_unsupported_reason(preset, rid[0])})")
        elif missing:
            not_run.append(f"{label} (no runs on {', '.join(missing)})")
    if not_run:
        notes.insert(0, "rows not run: " + "; ".join(not_run))
    ordering = pd.DataFrame()
    if substituted:  # on other data the paper's rows we did not run are only listed, not drawn
        cells = cells[cells["row"].isin(set(cells.loc[cells["n"] > 0, "row"]))]
        ordering = ordering_agreement(cells)
    unmeasured = cells.loc[~cells["shown"]].drop_duplicates(["dataset", "metric", "param"])
    for dataset, group in unmeasured.groupby("dataset", sort=False):
        names = [
            metric_label(m) + (f" [{p}]" if p else "")
            for m, p in zip(group["metric"], group["param"], strict=True)
        ]
        notes.append(f"not measured on {dataset}: {', '.join(names)}")
    if extra:
        notes.append("rows marked 'not in the paper' are this sweep's own settings of the table's methods")
    if layout.select:
        metric, direction = layout.select
        notes.append(
            f"each cell is the one run with the {'highest' if direction == 'max' else 'lowest'} {metric} "
            "among its seeds (random starts), as the paper reports; lowest rec for AE"
        )
    else:
        paper = "for reference" if substituted else "(Δ = ours - paper)"
        notes.append(f"ours: mean ± std (population) over seeds; paper value as printed, {paper}")
    if preset.description:
        notes.append(preset.description)
    notes += ordering_notes(ordering) + metric_rule_notes(runs, set(cells.loc[cells["shown"], "metric"]))
    status = "partial" if not_run or absent else "ok"
    blocks = layout.blocks if len(pairs) > 1 or layout.blocks == "metric" else None
    return Table(view.name, preset.title, caption, status, notes, cells, blocks, ordering=ordering)


def summary_table(
    runs: pd.DataFrame,
    metrics: tuple[str, ...] = SUMMARY_METRICS,
    preset: Experiment | None = None,
) -> Table:
    """Every arm of a sweep, mean ± std over seeds, per data set: what ran, whatever the preset.
    Rows and data sets follow ``preset``'s arms and data sets where it has them, then the order
    the runs started in: members of a pack start together, so start times alone would order a
    packed sweep's rows differently from the same sweep unpacked."""
    runs = _finished(runs)
    arms = runs["arm"].where(runs["arm"].notna(), runs["method"].map(method_label))
    runs = runs.assign(row_id=[("extra", arm) for arm in arms])
    arm_order = [t.arm for t in expand(preset)] if preset is not None else []
    dataset_order = list(preset.datasets) if preset is not None else []
    rows = {rid: rid[1] for rid in _in_order(runs["row_id"], [("extra", arm) for arm in arm_order])}
    pairs = [(d, d) for d in _in_order(runs["dataset"], dataset_order)]
    cells = _cells(runs, pairs, rows, [(m, "") for m in metrics], {}, {}, None)
    status = "ok" if len(cells) else "not run"
    notes = ["mean ± std (population) over seeds"] if len(cells) else ["no finished runs"]
    notes += metric_rule_notes(runs, set(metrics))
    title = "Every arm of the sweep"
    blocks = "dataset" if len(pairs) > 1 else None
    return Table("summary", title, "", status, notes, cells, blocks, compared=False)


def _in_order(values: pd.Series, known: list) -> list:
    """The distinct ``values``: those in ``known`` in its order, then the rest as they come."""
    present = list(dict.fromkeys(values))
    position = {value: i for i, value in enumerate(dict.fromkeys(known))}
    return sorted(present, key=lambda v: (position.get(v, len(position)), present.index(v)))


def _order(difference: float) -> str:
    return ">" if difference > 0 else "<"


def ordering_agreement(cells: pd.DataFrame) -> pd.DataFrame:
    """Per column of a table run on other data, how our ordering of its rows matches the paper's.

    A number does not carry across data sets (60 nats of rec on CBT against 20 on digits says
    nothing), but a claim that one method beats another does: for each column with two or more
    rows measured by both, Kendall's tau-b between our means and the paper's, and the pairs of
    rows whose order flips (a higher here and lower in the paper, or the reverse; ties are no flip).
    """
    columns = ["dataset", "paper_dataset", "metric", "param", "rows", "tau", "flipped"]
    both = cells[
        cells["mean"].notna() & cells["paper_mean"].notna() & (cells["dataset"] != cells["paper_dataset"])
    ]
    records = []
    for (dataset, paper_dataset, metric, param), column in both.groupby(
        ["dataset", "paper_dataset", "metric", "param"], sort=False
    ):
        column = column.sort_values("row_order")
        if len(column) < 2:
            continue
        ours, paper, rows = column["mean"].to_numpy(), column["paper_mean"].to_numpy(), column["row"].tolist()
        flipped = [
            f"{rows[i]} {_order(ours[i] - ours[j])} {rows[j]} (paper {_order(paper[i] - paper[j])})"
            for i, j in itertools.combinations(range(len(rows)), 2)
            if (ours[i] - ours[j]) * (paper[i] - paper[j]) < 0
        ]
        tau = float(kendalltau(ours, paper).statistic)  # tau-b: ties allowed, NaN for a flat column
        records.append([dataset, paper_dataset, metric, param, len(rows), tau, flipped])
    return pd.DataFrame.from_records(records, columns=columns)


def ordering_notes(ordering: pd.DataFrame) -> list[str]:
    """One line per compared column: tau and the flipped pairs."""
    notes = []
    for row in ordering.itertuples():
        name = metric_label(row.metric) + (f" [{row.param}]" if row.param else "")
        tau = "undefined (ties)" if pd.isna(row.tau) else f"{row.tau:+.2f}"
        flips = "; flipped: " + ", ".join(row.flipped) if row.flipped else "; no pair flips"
        notes.append(
            f"ordering of {name} on {row.dataset} vs the paper's on {row.paper_dataset}: Kendall's tau "
            f"{tau} over {row.rows} rows{flips}"
        )
    return notes


# How AU and CU were counted, by the runs' eval.au_strict and eval.cu_direction; runs logged
# before these options existed used the authors'-code rules (>= 0.01; KL(p || qbar)).
METRIC_RULES = {
    "au": (
        "eval.au_strict",
        {True: "activity > 0.01 (the papers)", False: "activity >= 0.01 (He et al. code)"},
        False,
    ),
    "cu": (
        "eval.cu_direction",
        {
            "qbar_p": "KL(qbar(z_d) || p(z_d)) < tau (DG-VAE poster)",
            "p_qbar": "KL(p(z_d) || qbar(z_d)) < tau (DG-VAE code)",
        },
        "p_qbar",
    ),
}


def metric_rule_notes(runs: pd.DataFrame, metrics: set[str]) -> list[str]:
    """Which definition of AU and of CU the table's runs used (eval.au_strict, eval.cu_direction)."""
    notes = []
    for metric, (key, words, before) in METRIC_RULES.items():
        if metric in metrics and len(runs):
            used = runs[key].tolist() if key in runs else [before]
            label = " and ".join(words[value] for value in dict.fromkeys(used))
            notes.append(f"{metric_label(metric)}: {label} ({key})")
    return notes


def tables_for(runs: pd.DataFrame) -> list[Table]:
    """The tables a preset stands for (its own paper table, or those its ``tables`` name: the
    demo's echo four papers), then a summary; a method sweep or a sweep built in code gets the
    summary alone."""
    presets = list(dict.fromkeys(runs["preset"].dropna()))
    if not presets or presets[0] not in EXPERIMENTS:
        return [summary_table(runs)]
    preset = EXPERIMENTS[presets[0]]
    views = preset.tables or ((TableView(preset.name),) if preset.reference else ())
    return [build_table(view, runs) for view in views] + [summary_table(runs, preset.metrics, preset)]


# -- rendering --------------------------------------------------------------------------------


def _header_levels(keys: list[tuple[str, ...]], width: int) -> list[list[tuple[str, int]]]:
    """Column keys (outer to inner) -> header levels with spans of consecutive equal prefixes;
    each key spans ``width`` grid columns."""
    levels = []
    for depth in range(len(keys[0])):
        level: list[tuple[str, int]] = []
        previous = None
        for key in keys:
            prefix = key[: depth + 1]
            if prefix == previous:
                level[-1] = (level[-1][0], level[-1][1] + width)
            else:
                level.append((key[depth], width))
            previous = prefix
        levels.append(level)
    return levels


def _grid(table: Table) -> Grid:
    cells = table.cells[table.cells["shown"]]
    datasets = list(dict.fromkeys(zip(cells["dataset"], cells["paper_dataset"], strict=True)))
    name = {d: d if d == p else f"{d} (paper: {p})" for d, p in datasets}

    def param_label(metric: str, param: str) -> str:
        return metric_label(metric) + (f" [{param}]" if param else "")

    cells = cells.assign(
        dataset_label=cells["dataset"].map(name),
        column=[param_label(m, p) for m, p in zip(cells["metric"], cells["param"], strict=True)],
    )
    column_order = list(dict.fromkeys(cells.sort_values("column_order")["column"]))
    if table.blocks == "dataset":
        block_key, column_keys = "dataset_label", ["column"]
    elif table.blocks == "metric":
        block_key, column_keys = "column", ["dataset_label"]
    else:
        block_key, column_keys = None, (["dataset_label", "column"] if len(datasets) > 1 else ["column"])
    sort_keys = {"dataset_label": list(name.values()), "column": column_order}
    keys = list(
        dict.fromkeys(
            sorted(
                zip(*(cells[k] for k in column_keys), strict=True),
                key=lambda key: [sort_keys[k].index(v) for k, v in zip(column_keys, key, strict=True)],
            )
        )
    )
    width = 2 if table.compared else 1
    header = [[("", 1), *level] for level in _header_levels(keys, width)]
    if table.compared:
        paper = "paper (Δ)" if table.cells["diff"].notna().any() else "paper (for reference)"
        header.append([("Model", 1)] + [("ours", 1), (paper, 1)] * len(keys))
    else:
        header[-1][0] = ("Model", 1)
    grid = Grid(header)
    blocks = list(dict.fromkeys(cells[block_key])) if block_key else [None]
    for block in blocks:
        part = cells if block is None else cells[cells[block_key] == block]
        if block is not None:
            grid.body.append(block)
        for _, row_cells in part.groupby("row_order", sort=True):
            by_key = {tuple(c[k] for k in column_keys): c for c in row_cells.to_dict("records")}
            body: list[str] = [row_cells["row"].iloc[0]]
            for j, key in enumerate(keys):
                cell = by_key.get(key)
                body += cell_text(cell, table.compared) if cell else ["-"] * width
                if cell and cell["best"]:
                    grid.bold.add((len(grid.body), 1 + width * j))
            grid.body.append(body)
    return grid


def cell_text(cell: dict[str, Any], compared: bool) -> list[str]:
    """A cell record as ["ours ± std", "paper ± std (Δ)"], at the paper's printed precision
    (["ours ± std"] where nothing is compared)."""
    decimals = _decimals(cell["paper_text"]) if cell["paper_text"] else default_decimals(cell["mean"])
    ours = fmt_number(cell["mean"], decimals)
    if cell["n"] > 1:
        ours += f" ± {fmt_number(cell['std'], decimals)}"
    if not compared:
        return [ours]
    if not cell["paper_text"]:
        return [ours, "-"]
    paper = cell["paper_text"]
    if pd.notna(cell["paper_std"]):
        paper += f" ± {fmt_number(cell['paper_std'], decimals)}"
    if pd.notna(cell["diff"]):
        diff = fmt_number(cell["diff"], decimals)
        paper += f" ({'' if diff.startswith('-') else '+'}{diff})"
    return [ours, paper]
