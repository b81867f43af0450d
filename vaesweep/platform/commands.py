"""CLI commands of the platform: ``vaesweep sweep``, ``vaesweep presets`` and ``vaesweep ui``.

Imports stay inside the handlers: every ``vaesweep`` command builds this parser, and a bad
sweep argument must fail in a second, before Ray, MLflow or a server is touched.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import TYPE_CHECKING

from vaesweep.command_help import add_command
from vaesweep.errors import ConfigError

if TYPE_CHECKING:
    from vaesweep.config import RunConfig


def _one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Argument errors as one line (not usage + error), like every other vaesweep error."""

    def error(message: str) -> None:
        print(f"vaesweep: error: {parser.prog.split()[-1]}: {message}", file=sys.stderr)
        sys.exit(2)

    parser.error = error  # type: ignore[method-assign]
    return parser


def command_sweep(args: argparse.Namespace) -> int:
    from vaesweep.config import parse_assignments
    from vaesweep.platform.plan import SweepOptions, parse_seeds, plan_sweep

    options = SweepOptions(
        target=args.target,
        search=args.search,
        num_samples=args.num_samples,
        metric=args.metric,
        mode=args.mode,
        scheduler=args.scheduler,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        max_concurrent=args.max_concurrent,
        max_failures=args.max_failures,
        address=args.address,
        tracking_uri=args.tracking_uri,
        backend_store_uri=args.backend_store_uri,
        storage=args.storage,
        runs_dir=args.runs_dir,
        dataset=args.dataset,
        overrides=parse_assignments(args.set or []),
        seeds=parse_seeds(args.seeds) if args.seeds is not None else None,
        name=args.name,
        resume=args.resume,
        pack=args.pack,
    )
    plan = plan_sweep(options)  # every trial validated here: ConfigError before Ray starts

    from vaesweep.platform.sweep import run_sweep
    from vaesweep.platform.tracking import TrackingUnavailable

    try:
        outcome = run_sweep(plan)  # a tracking server that does not answer: before Ray is imported
    except TrackingUnavailable as error:
        print(f"vaesweep: error: {error}", file=sys.stderr)
        return 1
    from vaesweep.platform.results import report_lines

    print("\n".join(report_lines(outcome)))
    return {"FINISHED": 0, "KILLED": 130}.get(outcome.status, 1)


def _shown(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


PROTOCOL_FLAGS = (
    "fid",
    "language_model",
    "agreement",
    "label_budget_probes",
    "few_shot_probes",
    "per_character_probes",
)


def describe_setup(config: RunConfig) -> str:
    """One line of what a trial runs: network, optimiser, schedule and evaluation protocols
    (of a resolved config, whose architecture is never 'auto')."""
    model, optim, train = config.model, config.optim, config.train
    architecture = model.architecture
    if architecture == "lstm":
        network = f"lstm {model.embed_dim}/{model.lstm_hidden} ({model.text_decoder} decoder)"
    elif architecture == "mlp":
        network = f"mlp {'x'.join(map(str, model.hidden_sizes))} {model.activation}"
    else:
        network = architecture
    protocols = [flag for flag in PROTOCOL_FLAGS if getattr(config.eval, flag)]
    if config.eval.nll_samples:
        protocols.insert(0, f"nll K={config.eval.nll_samples}")
    return (
        f"{network}, z {model.latent_dim}; {optim.name} lr {optim.lr:g}, batch {train.batch_size}, "
        f"{train.epochs} epochs; eval: {', '.join(protocols) or 'standard metrics'}"
    )


def _setups(experiment) -> dict[str, str]:
    """Each paper data set of a preset -> the configuration its first trial resolves to."""
    from vaesweep.search_spaces.definitions import expand

    setups = {}
    for trial in expand(experiment, seeds=experiment.seeds[:1]):
        if trial.dataset not in setups:
            try:
                setups[trial.dataset] = describe_setup(trial.config())
            except ConfigError as error:  # the FID network: a file only the user has
                if error.field != "eval.fid_network":
                    raise
                with_network = dataclasses.replace(trial, overrides={**trial.overrides, error.field: "PATH"})
                setups[trial.dataset] = f"{describe_setup(with_network.config())} (--set {error.field}=PATH)"
    return setups


def command_presets(args: argparse.Namespace) -> int:
    from vaesweep.search_spaces.definitions import expand
    from vaesweep.search_spaces.grids import PAPER_GRIDS, method_experiment
    from vaesweep.search_spaces.presets import EXPERIMENTS

    presets = [
        {
            "preset": e.name,
            "trials": len(expand(e)),
            "datasets": list(e.datasets),
            "seeds": list(e.seeds),
            "title": e.title,
            "setup": _setups(e),
        }
        for e in EXPERIMENTS.values()
    ]
    grids = [
        {"method": m, "trials": len(expand(method_experiment(m))), "grid": {k: list(v) for k, v in g.items()}}
        for m, g in PAPER_GRIDS.items()
    ]
    if args.json:
        print(json.dumps({"presets": presets, "method_grids": grids}, indent=2))
        return 0
    print(f"{'preset':<16s} {'trials':>6s}  {'data sets':<34s} title")
    for p in presets:
        print(f"{p['preset']:<16s} {p['trials']:>6d}  {', '.join(p['datasets']):<34s} {p['title']}")
        for dataset, setup in p["setup"].items():
            print(f"{'':<24s} {dataset}: {setup}; seeds {','.join(map(str, p['seeds']))}")
    print("\nmethod grids (vaesweep sweep METHOD [--dataset D], default digits, 3 seeds):")
    for g in grids:
        shown = "; ".join(f"{k} in {', '.join(map(_shown, v))}" for k, v in g["grid"].items()) or "no grid"
        print(f"{g['method']:<16s} {g['trials']:>6d}  {shown}")
    return 0


def command_ui(args: argparse.Namespace) -> int:
    from vaesweep.platform.server import BACKEND_SCHEMES, DATABASE, TrackingServer, runs_dir

    directory = runs_dir(args.runs_dir)
    if args.backend_store_uri is not None and not args.backend_store_uri.startswith(BACKEND_SCHEMES):
        raise ConfigError(
            "--backend-store-uri",
            args.backend_store_uri,
            f"a database URI ({' or '.join(BACKEND_SCHEMES)}...)",
        )
    if args.backend_store_uri is None and not (directory / DATABASE).exists():
        raise ConfigError(
            "--runs-dir", str(directory), f"a run directory holding {DATABASE} (run a sweep first)"
        )
    server = TrackingServer(
        directory,
        args.host,
        args.port,
        workers=args.workers,
        backend_store_uri=args.backend_store_uri,
        auth=args.auth,
        artifacts_destination=args.artifacts_destination,
    )
    print(f"MLflow UI on {server.uri} for {directory} (Ctrl-C stops it)", file=sys.stderr)
    return server.serve(on_ready=lambda uri: print("\n".join(sweep_links(uri)), file=sys.stderr))


def sweep_links(uri: str) -> list[str]:
    """What ``vaesweep ui`` adds once its server answers, when the store holds a sweep: the link
    to the latest sweep's parent run and to its runs table (in the UI's training view)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from vaesweep.platform.tracking import latest_sweep, run_url

    try:
        parent = latest_sweep(MlflowClient(uri))
    except MlflowException as error:  # e.g. credentials the UI's users have and this shell lacks
        return [f"(could not look up the latest sweep: {str(error).splitlines()[0][:160]})"]
    if parent is None:
        return []
    experiment = parent.info.experiment_id
    return [
        f"latest sweep {parent.info.run_name}: {run_url(uri, experiment, parent.info.run_id)}",
        f"its runs table: {run_url(uri, experiment)}",
    ]


def register(subparsers: argparse._SubParsersAction) -> None:
    sweep = _one_line_errors(
        add_command(
            subparsers,
            "sweep",
            summary="run a preset's trials (or a method's paper grid) on Ray Tune, tracked in MLflow",
            description=(
                "Sweep an experiment preset (a paper table: vaesweep presets) or a method's paper grid\n"
                "on Ray Tune: a local Ray with this machine's CPUs, or a cluster with --address. Every\n"
                "trial is validated before Ray starts and logged to MLflow (a local server on the run\n"
                "directory unless --tracking-uri). --dataset moves a preset to another data set,\n"
                "built-in or added with vaesweep data add."
            ),
            examples=(
                "vaesweep sweep demo",
                "vaesweep sweep igp_table9 --dataset digits --seeds 2 --set train.epochs=20",
                "vaesweep sweep du_vae --dataset mycorpus --seeds 1",
                "vaesweep sweep demo --search optuna --num-samples 30 --metric nll --scheduler asha",
                "vaesweep sweep duvae_table1 --address auto --gpus-per-trial 0.5",
                "vaesweep sweep demo --resume",
                "vaesweep sweep du_vae --dataset digits --seeds 1 --pack off",
            ),
        )
    )
    sweep.add_argument(
        "target", metavar="PRESET", help="experiment preset, or a method name for its paper grid"
    )
    sweep.add_argument(
        "--search", choices=("grid", "optuna"), default="grid", help="the preset's grid, or Optuna's TPE"
    )
    sweep.add_argument("--num-samples", type=int, help="Optuna trials (default 20)")
    sweep.add_argument("--metric", help="objective (default: the preset's, e.g. nll)")
    sweep.add_argument("--mode", choices=("min", "max"), help="minimise or maximise --metric")
    sweep.add_argument("--scheduler", choices=("asha",), help="early stopping of poor trials")
    sweep.add_argument(
        "--cpus-per-trial", type=float, default=1.0, help="CPUs each trial reserves (default 1)"
    )
    sweep.add_argument("--gpus-per-trial", type=float, default=0.0, help="fractions share a GPU")
    sweep.add_argument("--max-concurrent", type=int, help="trials at once (default: as resources allow)")
    sweep.add_argument(
        "--max-failures", type=int, default=2, help="retries of a failed trial from its checkpoint"
    )
    sweep.add_argument(
        "--address", help="join this Ray cluster ('auto' on a cluster node); default: local Ray"
    )
    sweep.add_argument("--tracking-uri", help="MLflow server; default: a local server on the run directory")
    sweep.add_argument(
        "--backend-store-uri",
        help="the local server's database: sqlite:///PATH (default RUNS_DIR/mlflow.db) or "
        "postgresql://USER@HOST:PORT/DB (password in ~/.pgpass or $PGPASSWORD); not stored for --resume",
    )
    sweep.add_argument(
        "--storage", help="Tune storage path or URI (s3://... on a cluster); default RUNS_DIR/tune"
    )
    sweep.add_argument("--runs-dir", help="run directory (default $VAESWEEP_RUNS_DIR or ./runs)")
    sweep.add_argument(
        "--dataset",
        help="run the preset on this data set, built-in or added (a method's grid: default digits)",
    )
    sweep.add_argument(
        "--set", action="extend", nargs="+", metavar="KEY=VALUE", help="override fields of every trial"
    )
    sweep.add_argument("--seeds", help="N (seeds 0..N-1) or a comma-separated list")
    sweep.add_argument(
        "--pack",
        default="auto",
        metavar="auto|off|K",
        help="train trials of one architecture as one packed model: auto (default: packs that fill "
        "the slots; Optuna: K asked at once), at most K a pack, or off (one process per trial)",
    )
    sweep.add_argument("--name", help="sweep name (default PRESET-SEARCH-TIME)")
    sweep.add_argument(
        "--resume", action="store_true", help="continue the sweep --name (default: the latest)"
    )
    sweep.set_defaults(handler=command_sweep)

    presets = _one_line_errors(
        add_command(
            subparsers,
            "presets",
            summary="list the experiment presets (with their size and setup) and the method grids",
            examples=("vaesweep presets", "vaesweep presets --json"),
        )
    )
    presets.add_argument("--json", action="store_true", help="print the list as JSON")
    presets.set_defaults(handler=command_presets)

    ui = _one_line_errors(
        add_command(
            subparsers,
            "ui",
            summary="serve the MLflow UI on the local run directory",
            description=(
                "Serve the MLflow UI over the run directory's store (runs/mlflow.db): one experiment\n"
                "per preset, a parent run per sweep with a child run per trial. Ctrl-C stops it.\n"
                "cluster.yaml runs the head's tracking server with it (PostgreSQL, --auth)."
            ),
            examples=("vaesweep ui", "vaesweep ui --host 0.0.0.0 --port 8080 --runs-dir /data/runs"),
        )
    )
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    ui.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    ui.add_argument("--workers", type=int, default=1, help="server worker processes (default 1)")
    ui.add_argument("--runs-dir", help="run directory (default $VAESWEEP_RUNS_DIR or ./runs)")
    ui.add_argument("--backend-store-uri", help="the database the sweeps used (default RUNS_DIR/mlflow.db)")
    ui.add_argument(
        "--artifacts-destination", help="where artifacts go, e.g. s3://... (default RUNS_DIR/mlartifacts)"
    )
    ui.add_argument(
        "--auth",
        action="store_true",
        help="require the user and password in $MLFLOW_TRACKING_USERNAME/_PASSWORD (MLflow basic-auth)",
    )
    ui.set_defaults(handler=command_ui)
