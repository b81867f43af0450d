"""Analysis: MLflow runs -> pandas -> the papers' tables, a claims ledger, plots and a report.

Reads only MLflow (or an export of it), never the training code: ``load_runs`` and
``load_histories`` give the frames, ``build_table`` rebuilds a paper table beside the published
numbers, ``evaluate_claims`` checks the papers' claims, ``make_figures`` redraws their figures
and ``build_report``/``write_report`` put it all in one directory (``vaesweep report``).

Names are imported on first use: every ``vaesweep`` command builds the CLI parser, which
imports this package, and must not pay for pandas and matplotlib unless it analyses.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load_runs": "runs",
    "load_histories": "runs",
    "export_runs": "runs",
    "open_source": "runs",
    "select_sweeps": "runs",
    "Table": "tables",
    "TableView": "tables",
    "build_table": "tables",
    "summary_table": "tables",
    "tables_for": "tables",
    "CLAIMS": "claims",
    "evaluate_claims": "claims",
    "make_figures": "plots",
    "build_report": "report",
    "render_report": "report",
    "write_report": "report",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
