"""A sweep's report: its tables beside the papers', the claims ledger and the figures.

``build_report`` gathers everything from a run source; ``write_report`` lays it out as a
self-contained directory (report.md with figures beside it, report.html with the figures
embedded, report.tex, one CSV per table (and per table run on other data, its rows' ordering
against the paper's), the ledger, the claims' verdicts across data sets of one kind and the run
frame); ``render_report`` gives
the same text for one format, which the CLI prints.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from vaesweep.analysis import schema
from vaesweep.analysis.carryover import AGREEMENTS, compare_across_datasets, render_carryover
from vaesweep.analysis.claims import VERDICTS, evaluate_claims, render_ledger
from vaesweep.analysis.plots import Plot, make_figures
from vaesweep.analysis.render import latex_escape, render_list
from vaesweep.analysis.runs import RunSource
from vaesweep.analysis.study import StudySection, study_section
from vaesweep.analysis.tables import Table, tables_for

_HTML_STYLE = """
body { font-family: sans-serif; margin: 2em; max-width: 1600px; }
table { border-collapse: collapse; font-size: 12px; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #bbb; padding: 2px 6px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
tr.block th { background: #eee; text-align: left; }
.status { font-weight: bold; }
img { max-width: 100%; border: 1px solid #ddd; }
"""


CARRYOVER_TITLE = "Claims across data sets"


@dataclass
class Report:
    """Everything a report shows, gathered once and written in every format."""

    title: str
    source: str
    runs: pd.DataFrame
    tables: list[Table]
    ledger: pd.DataFrame
    plots: list[Plot]
    directory: Path
    # the ledger's verdicts on one data set against another of its kind (none: one data set)
    carryover: pd.DataFrame = field(default_factory=pd.DataFrame)
    study: StudySection | None = None  # an Optuna sweep's study: importances and its figures

    @property
    def parent_run_id(self) -> str | None:
        """The sweep's parent run (the latest, when the report spans several sweeps)."""
        parents = self.runs.dropna(subset=[schema.PARENT_ID]).sort_values(schema.SWEEP_START)
        return None if parents.empty else parents[schema.PARENT_ID].iloc[-1]

    def summary_lines(self) -> list[str]:
        outcomes = self.runs.apply(_outcome, axis=1) if len(self.runs) else pd.Series(dtype=str)
        lines = [
            f"source: {self.source}",
            "trials: " + ", ".join(f"{n} {s}" for s, n in outcomes.value_counts().to_dict().items()),
        ]
        verdicts = self.ledger["verdict"].value_counts().to_dict()
        lines.append("claims: " + ", ".join(f"{verdicts.get(v, 0)} {v}" for v in VERDICTS))
        if not self.carryover.empty:
            counts = self.carryover["agreement"].value_counts().to_dict()
            lines.append(
                "claims across data sets: " + ", ".join(f"{counts.get(a, 0)} {a}" for a in AGREEMENTS)
            )
        if (outcomes == "stopped").any():
            lines.append(
                "trials stopped early by a scheduler (judged on a mid-run value) have no final "
                "evaluation: the tables and claims leave them out"
            )
        others = self.runs[self.runs[schema.STATUS] != schema.FINISHED]
        for row, outcome in zip(others.itertuples(), outcomes[others.index], strict=True):
            reason = next(
                (
                    r
                    for r in (row.stop_reason, row.failure_reason)
                    if isinstance(r, str) and r not in ("", "None")
                ),
                "no reason recorded",
            )
            lines.append(f"{outcome} trial {row.run_id[:8]} ({row.arm}, seed {row.seed}): {reason}")
        return lines


def _outcome(run: pd.Series) -> str:
    """A trial's outcome in the platform's word (stopped, interrupted, ...) where it set one."""
    word = run.get("trial_status")
    if run[schema.STATUS] != schema.FINISHED and isinstance(word, str) and word not in ("", "None"):
        return word
    return str(run[schema.STATUS]).lower()


def build_report(source: RunSource, runs: pd.DataFrame, directory: Path, title: str) -> Report:
    """Tables, ledger and figures (drawn into ``directory``/figures) for ``runs``."""
    histories = source.histories(runs[schema.RUN_ID])
    plots = make_figures(runs, histories, source.artifact, directory / "figures")
    ledger = evaluate_claims(runs)
    report = Report(
        title,
        source.description,
        runs,
        tables_for(runs),
        ledger,
        plots,
        directory,
        compare_across_datasets(ledger),
    )
    parent = report.parent_run_id
    params = source.parent_params(parent) if parent is not None else {}
    report.study = study_section(params, params.get("metric", "objective"), directory / "figures")
    if report.study is not None:
        report.plots = [*plots, *report.study.plots]
    return report


# -- formats ----------------------------------------------------------------------------------


def _markdown(report: Report) -> str:
    out = [f"# {report.title}", "", render_list(report.summary_lines(), "md"), ""]
    if report.study is not None:
        out += [
            "## Optuna study: hyper-parameter importances",
            "",
            render_list(report.study.lines(), "md"),
            "",
        ]
    for table in report.tables:
        out += [f"## {table.title}", ""] + ([f"*{table.caption}*", ""] if table.caption else [])
        out += [f"**status: {table.status}**", ""]
        out += [render_list(table.notes, "md"), ""]
        if table.status != "not run":
            out += [table.render("md"), ""]
    out += ["## Claims ledger", "", render_ledger(report.ledger, "md"), ""]
    if not report.carryover.empty:
        out += [f"## {CARRYOVER_TITLE}", "", render_carryover(report.carryover, "md"), ""]
    out += ["## Figures", ""]
    for plot in report.plots:
        if plot.path is None:
            out += [f"- **{plot.title}**: {plot.note}"]
        else:
            out += [f"### {plot.title}", "", plot.note, "", f"![{plot.title}](figures/{plot.path.name})", ""]
    return "\n".join(out) + "\n"


def _html(report: Report) -> str:
    body = [f"<h1>{html.escape(report.title)}</h1>", render_list(report.summary_lines(), "html")]
    if report.study is not None:
        body += [
            "<h2>Optuna study: hyper-parameter importances</h2>",
            render_list(report.study.lines(), "html"),
        ]
    for table in report.tables:
        body += [
            f"<h2>{html.escape(table.title)}</h2>",
            f"<p><i>{html.escape(table.caption)}</i></p>",
            f'<p class="status">status: {table.status}</p>',
            render_list(table.notes, "html"),
        ]
        if table.status != "not run":
            body.append(table.render("html"))
    body += ["<h2>Claims ledger</h2>", render_ledger(report.ledger, "html")]
    if not report.carryover.empty:
        body += [f"<h2>{CARRYOVER_TITLE}</h2>", render_carryover(report.carryover, "html")]
    body.append("<h2>Figures</h2>")
    for plot in report.plots:
        if plot.path is None:
            body.append(f"<p><b>{html.escape(plot.title)}</b>: {html.escape(plot.note)}</p>")
            continue
        data = base64.b64encode(plot.path.read_bytes()).decode("ascii")
        body += [
            f"<h3>{html.escape(plot.title)}</h3>",
            f"<p>{html.escape(plot.note)}</p>",
            f'<img alt="{html.escape(plot.title)}" src="data:image/png;base64,{data}">',
        ]
    head = f'<meta charset="utf-8"><title>{html.escape(report.title)}</title><style>{_HTML_STYLE}</style>'
    return f"<!DOCTYPE html>\n<html><head>{head}</head><body>\n" + "\n".join(body) + "\n</body></html>\n"


def _latex(report: Report) -> str:
    out = [
        r"\documentclass{article}",
        r"\usepackage[margin=1.5cm,landscape]{geometry}",
        r"\usepackage{booktabs,graphicx}",
        r"\begin{document}",
        rf"\section*{{{latex_escape(report.title)}}}",
        render_list(report.summary_lines(), "latex"),
    ]
    if report.study is not None:
        out += [
            r"\subsection*{Optuna study: hyper-parameter importances}",
            render_list(report.study.lines(), "latex"),
        ]
    for table in report.tables:
        out += [
            rf"\subsection*{{{latex_escape(table.title)}}}",
            latex_escape(f"{table.caption} Status: {table.status}."),
        ]
        out.append(render_list(table.notes, "latex"))
        if table.status != "not run":
            out += [r"\resizebox{\textwidth}{!}{%", table.render("latex"), "}"]
    out += [r"\subsection*{Claims ledger}", render_ledger(report.ledger, "latex")]
    if not report.carryover.empty:
        out += [rf"\subsection*{{{CARRYOVER_TITLE}}}", render_carryover(report.carryover, "latex")]
    for plot in report.plots:
        if plot.path is not None:
            out += [
                r"\begin{figure}[h]\centering",
                rf"\includegraphics[width=0.9\textwidth]{{figures/{plot.path.name}}}",
                rf"\caption{{{latex_escape(plot.title)}}}",
                r"\end{figure}",
            ]
    return "\n".join([*out, r"\end{document}", ""])


def _csv(report: Report) -> str:
    parts = [f"# table: {t.name} ({t.status})\n{t.render('csv')}" for t in report.tables]
    parts.append(f"# claims ledger\n{render_ledger(report.ledger, 'csv')}")
    if not report.carryover.empty:
        parts.append(f"# claims across data sets\n{render_carryover(report.carryover, 'csv')}")
    return "\n".join(parts)


def render_report(report: Report, fmt: str) -> str:
    """The whole report as text in one format (md, html, latex, csv)."""
    return {"md": _markdown, "html": _html, "latex": _latex, "csv": _csv}[fmt](report)


def write_report(report: Report) -> Path:
    """Write every format into the report directory (figures are already in figures/)."""
    directory = report.directory
    directory.mkdir(parents=True, exist_ok=True)
    for fmt, name in (("md", "report.md"), ("html", "report.html"), ("latex", "report.tex")):
        (directory / name).write_text(render_report(report, fmt), encoding="utf-8")
    (directory / "tables").mkdir(exist_ok=True)
    for table in report.tables:
        (directory / "tables" / f"{table.name}.csv").write_text(table.render("csv"), encoding="utf-8")
        if not table.ordering.empty:  # on other data: rank agreement of each column with the paper's
            table.ordering.to_csv(directory / "tables" / f"{table.name}_ordering.csv", index=False)
    (directory / "ledger.csv").write_text(render_ledger(report.ledger, "csv"), encoding="utf-8")
    if not report.carryover.empty:
        report.carryover.to_csv(directory / "ledger_across_datasets.csv", index=False)
    report.runs.to_csv(directory / "runs.csv", index=False)
    return directory
