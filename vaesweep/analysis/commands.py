"""CLI commands of the analysis: ``vaesweep export``, ``vaesweep report`` and ``vaesweep demo``.

Without ``--tracking-uri`` they read the platform's local store (the run directory that a sweep
without ``--tracking-uri`` logs to) through the platform's own local ``mlflow server``, so that
the runs' proxied artifacts can be read and the report logged back to the sweep. Imports of
pandas, MLflow and matplotlib stay inside the handlers: every command builds this parser.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from vaesweep.analysis.render import REPORT_FORMATS
from vaesweep.command_help import add_command

if TYPE_CHECKING:
    from vaesweep.analysis.runs import RunSource


def _fail(error: Exception) -> int:
    print(f"vaesweep: error: {error}", file=sys.stderr)
    return 2


@contextlib.contextmanager
def tracking_uri(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    """(URI, store name): ``--tracking-uri``, else the platform's local server on the run
    directory for as long as it is in use."""
    if args.tracking_uri:
        yield args.tracking_uri, args.tracking_uri
        return
    from vaesweep.analysis.runs import AnalysisError
    from vaesweep.platform.server import DATABASE, TrackingServer, runs_dir

    directory = runs_dir(args.runs_dir)
    if not (directory / DATABASE).exists():
        raise AnalysisError(f"no MLflow store in {directory}: run a sweep first, or give --tracking-uri")
    with TrackingServer(directory) as uri:
        yield uri, f"local store {directory}"


def command_export(args: argparse.Namespace) -> int:
    from vaesweep.analysis.runs import AnalysisError, export_runs

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        with tracking_uri(args) as (uri, _):
            path = export_runs(args.target, args.out, tracking_uri=uri, all_sweeps=not args.latest_sweep)
    except AnalysisError as error:
        return _fail(error)
    print(f"exported {args.target} to {path}", file=sys.stderr)
    return 0


def command_report(args: argparse.Namespace) -> int:
    from vaesweep.analysis.runs import AnalysisError, open_source

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        if args.from_file:
            return _report(args, open_source(from_file=args.from_file))
        with tracking_uri(args) as (uri, store):
            return _report(args, open_source(args.target, tracking_uri=uri, store=store))
    except AnalysisError as error:
        return _fail(error)


def _report(args: argparse.Namespace, source: RunSource) -> int:
    """Build, write, log (to the sweep's parent run, where the source allows) and print."""
    from vaesweep.analysis.report import build_report, render_report, write_report
    from vaesweep.analysis.runs import select_sweeps
    from vaesweep.platform.server import runs_dir

    runs = select_sweeps(source.runs, args.target, all_sweeps=args.all_sweeps)
    presets = list(dict.fromkeys(runs["preset"].dropna()))
    name = args.target or (presets[0] if presets else Path(args.from_file).stem)
    directory = (
        Path(args.out) if args.out else runs_dir(args.runs_dir) / "reports" / re.sub(r"[^\w.-]+", "_", name)
    )
    sweeps = ", ".join(dict.fromkeys(runs["sweep"].dropna())) or "-"
    report = build_report(source, runs, directory, f"vaesweep report: {name} (sweep {sweeps})")
    write_report(report)
    logged = source.log_report(directory, report.parent_run_id) if report.parent_run_id else None
    print(render_report(report, args.format))
    print(f"report written to {directory}" + (f"; logged to {logged}" if logged else ""), file=sys.stderr)
    return 0


def command_demo(args: argparse.Namespace) -> int:
    """``vaesweep sweep demo`` (the platform's command), then ``vaesweep report demo``."""
    from vaesweep import cli

    sweep = ["sweep", "demo"]
    for flag in ("tracking_uri", "runs_dir", "seeds"):
        if getattr(args, flag):
            sweep += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    if args.set:
        sweep += ["--set", *args.set]
    status = cli.main(sweep)
    if status:
        return status
    args.target, args.from_file, args.all_sweeps = "demo", None, False
    return command_report(args)


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tracking-uri", help="MLflow server (default: the local store in the run directory)"
    )
    parser.add_argument("--runs-dir", help="run directory (default $VAESWEEP_RUNS_DIR or ./runs)")


def _report_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=REPORT_FORMATS, default="md", help="what to print (all are written)"
    )
    parser.add_argument("--out", help="report directory (default RUNS_DIR/reports/NAME)")
    _store_options(parser)


def register(subparsers: argparse._SubParsersAction) -> None:
    export = add_command(
        subparsers,
        "export",
        summary="write a preset's or sweep's runs, histories and plot artifacts for offline analysis",
        description=(
            "Write the runs of a preset (all its sweeps, or --latest-sweep) or of one sweep as\n"
            "Parquet frames with their metric histories and plot artifacts; vaesweep report\n"
            "--from-file reads them on a machine without the MLflow store."
        ),
        examples=(
            "vaesweep export demo --out demo-runs/",
            "vaesweep export igp_table9 --out runs.parquet --latest-sweep",
        ),
    )
    export.add_argument("target", metavar="PRESET_OR_SWEEP", help="a preset, a method or a sweep name")
    export.add_argument(
        "--out", required=True, help="a directory, or a .parquet/.csv file (histories beside it)"
    )
    export.add_argument("--latest-sweep", action="store_true", help="only the preset's latest sweep")
    _store_options(export)
    export.set_defaults(handler=command_export)

    report = add_command(
        subparsers,
        "report",
        summary="the papers' tables, the claims ledger and figures for a preset or sweep",
        description=(
            "Build the report of a preset's latest sweep (or one sweep, or all with --all-sweeps) from\n"
            "MLflow: each table in the paper's layout, mean +- std over seeds, the published numbers\n"
            "beside ours, the claims ledger and the figures. Written as Markdown, HTML, LaTeX and CSV\n"
            "(RUNS_DIR/reports/NAME or --out) and logged to the sweep's parent run."
        ),
        examples=(
            "vaesweep report demo",
            "vaesweep report igp_table9 --format latex --out paper-tables/",
            "vaesweep report du_vae            # a method sweep, e.g. on an added data set",
            "vaesweep report --from-file demo-runs/",
        ),
    )
    report.add_argument("target", metavar="PRESET_OR_SWEEP", nargs="?", help="optional with --from-file")
    report.add_argument("--from-file", help="an export (directory or file) instead of MLflow")
    report.add_argument("--all-sweeps", action="store_true", help="every sweep of the preset, not the latest")
    _report_options(report)
    report.set_defaults(handler=command_report)

    demo = add_command(
        subparsers,
        "demo",
        summary="run the demo sweep (vaesweep sweep demo), then print its report",
        description=(
            "Run the demo preset (45 trials on the embedded data, about 10 minutes on 2 cores), then\n"
            "print its tables and claims ledger, as vaesweep sweep demo and vaesweep report demo do."
        ),
        examples=("vaesweep demo", "vaesweep demo --seeds 1 --set train.epochs=10"),
    )
    demo.add_argument("--set", nargs="+", action="extend", metavar="KEY=VALUE", help="passed to the sweep")
    demo.add_argument("--seeds", help="passed to the sweep: N (seeds 0..N-1) or a comma-separated list")
    _report_options(demo)
    demo.set_defaults(handler=command_demo)
