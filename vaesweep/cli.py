"""The ``vaesweep`` command line: one entry point, one module per group of commands.

``vaesweep --help`` shows ``DESCRIPTION`` and ``EXAMPLES``; each command's help has its own
description and examples (``vaesweep.command_help``).

Bad input ends the command with exit status 2 and one line naming the field, the value and
what is allowed, before any data is loaded or Ray is started.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from vaesweep.command_help import add_command
from vaesweep.config import RunConfig, param_of, parse_assignments, resolve_config
from vaesweep.errors import ConfigError, DataError
from vaesweep.plugins import load_plugins

# Command groups that live beside the packages they drive; each module has register(subparsers).
COMMAND_GROUPS: tuple[str, ...] = (
    "vaesweep.data.commands",
    "vaesweep.platform.commands",
    "vaesweep.analysis.commands",
)

# Beside each axis's unit (its registry key), the switches that add a part to a method.
SWITCH_KEYS = (
    "regulariser.bow_weight",
    "likelihood.variance",
    "likelihood.variance_parameterisation",
    "model.decoder_skip",
)


def axis_keys() -> tuple[str, ...]:
    """The keys that say which unit a method uses on each axis."""
    from vaesweep.config.rules import registries

    return (*(registry.key for registry in registries()), *SWITCH_KEYS)


def _allowed(key: str) -> str:
    """What a field accepts, as ``vaesweep methods`` prints it."""
    param = param_of(key)
    if param.choices:
        return "|".join(map(str, param.choices))
    allowed = param.allowed()
    return "any" if allowed.startswith("any") else allowed


def resolved_overrides(args: argparse.Namespace) -> dict[str, str]:
    """``--set`` assignments plus the shortcut flags a command offers."""
    overrides = parse_assignments(args.set or [])
    for flag, key in (("epochs", "train.epochs"), ("seed", "train.seed"), ("device", "train.device")):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[key] = value
    return overrides


def command_train(args: argparse.Namespace) -> int:
    from vaesweep.train import fit
    from vaesweep.train_progress import TrainProgress, final_metric_lines

    config = resolve_config(args.method, args.dataset, resolved_overrides(args))
    progress = TrainProgress(config.train.epochs, config.eval.split, quiet=args.json)
    try:
        metrics = fit(
            config,
            progress.epoch_done,
            checkpoint_dir=args.checkpoint_dir,
            resume_from=args.resume,
            artifacts_dir=args.artifacts_dir,
            on_step=progress.step,
        )
    finally:
        progress.close()
    if args.json:
        print(
            json.dumps(
                {**metrics, "method": config.method, "dataset": config.data.name, "config": config.to_dict()},
                sort_keys=True,
            )
        )
    else:
        print("\n".join(final_metric_lines(metrics)))
    return 0


def command_methods(args: argparse.Namespace) -> int:
    from vaesweep.methods import METHODS

    defaults = RunConfig()
    if args.fields:
        rows = [
            {"key": k, "default": v, "allowed": _allowed(k), "doc": param_of(k).doc}
            for k, v in defaults.flatten().items()
            if k != "method"
        ]
        if args.json:
            print(json.dumps(rows, default=str))
        else:
            for row in rows:
                print(f"{row['key']:<40s} {row['default']!s:<14s} {row['allowed']:<40s} {row['doc']}")
        return 0
    catalogue = []
    for method in METHODS.values():
        flat = RunConfig.from_dict({**defaults.flatten(), **method.settings}).flatten()
        axes = {key: flat[key] for key in axis_keys()}
        hyper = {key: {"default": flat[key], "allowed": _allowed(key)} for key in method.hyperparameters}
        catalogue.append(
            {
                "method": method.name,
                "title": method.title,
                "source": method.source,
                "paper": method.paper,
                "label": method.label,
                "data": list(method.data_kinds),
                "axes": axes,
                "hyperparameters": hyper,
            }
        )
    if args.json:
        print(json.dumps(catalogue, indent=2, default=str))
        return 0
    for entry in catalogue:
        print(f"{entry['method']}: {entry['title']} — {entry['source']}")
        print(f"    data: {', '.join(entry['data'])}")
        print("    axes: " + ", ".join(f"{k}={v}" for k, v in entry["axes"].items()))
        for key, info in entry["hyperparameters"].items():
            print(f"    hyper-parameter {key} = {info['default']} (allowed {info['allowed']})")
    return 0


DESCRIPTION = """\
Sweep, compare and reproduce VAE methods against posterior collapse (IGP, DU-VAE, DG-VAE,
AR-ELBO and their baselines): one run, a sweep on Ray Tune tracked in MLflow, and the papers'
tables from the logged runs. A bad option fails at once with one line naming it."""

EXAMPLES = """\
examples:
  vaesweep train --method igp --dataset digits --set C=15 --epochs 20
  vaesweep sweep demo                  # the demo sweep (45 trials), then: vaesweep report demo
  vaesweep data add mycorpus --kind text --from sentences.txt
  vaesweep sweep du_vae --dataset mycorpus --seeds 1
  vaesweep report du_vae
  vaesweep ui                          # the MLflow UI on the runs

Run vaesweep COMMAND --help for a command's options and examples."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vaesweep",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")

    train = add_command(
        commands,
        "train",
        summary="train one method on one data set and print its final metrics",
        description=(
            "Train one method preset (vaesweep methods) on one data set, with the data set's\n"
            "profile (architecture, optimiser, schedule) and any field overridden by --set. Shows\n"
            "progress bars on a terminal and one line per epoch; prints the final metrics on the\n"
            "evaluation split (eval.split, default test)."
        ),
        examples=(
            "vaesweep train --method igp --dataset digits --set C=15 --epochs 50 --seed 0",
            "vaesweep train --method du_vae --dataset synthetic_text --set gamma=1.0 p=0.5",
            "vaesweep train --method dg_vae --dataset digits --set posterior.family=isotropic b=8",
            "vaesweep train --method vae --dataset mycorpus --json > result.json",
        ),
    )
    train.add_argument("--method", required=True, help="a method preset (list: vaesweep methods)")
    train.add_argument(
        "--dataset",
        default="digits",
        help="a built-in or added data set (vaesweep data list); default digits",
    )
    train.add_argument(
        "--set",
        action="extend",
        nargs="+",
        metavar="KEY=VALUE",
        help="override fields by dotted key or paper symbol (--set C=15 p=0.8); repeatable",
    )
    train.add_argument("--epochs", type=int, help="train.epochs")
    train.add_argument("--seed", type=int, help="train.seed")
    train.add_argument("--device", help="train.device: auto, cpu, cuda, cuda:1, ...")
    train.add_argument("--json", action="store_true", help="print one JSON object and nothing else")
    train.add_argument("--checkpoint-dir", metavar="DIR", help="write a checkpoint there after every epoch")
    train.add_argument(
        "--resume", metavar="CHECKPOINT", help="checkpoint (file or directory) to continue from"
    )
    train.add_argument("--artifacts-dir", metavar="DIR", help="write metrics, latents and pictures there")
    train.set_defaults(handler=command_train)

    methods = add_command(
        commands,
        "methods",
        summary="list the method presets, their axes and hyper-parameters (or every config field)",
        examples=("vaesweep methods", "vaesweep methods --fields", "vaesweep methods --json"),
    )
    methods.add_argument("--json", action="store_true", help="print the list as JSON")
    methods.add_argument("--fields", action="store_true", help="list every configuration field instead")
    methods.set_defaults(handler=command_methods)

    for module in COMMAND_GROUPS:
        importlib.import_module(module).register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        load_plugins()  # before the parser and the registries are read (their choices include them)
    except ConfigError as error:
        print(f"vaesweep: error: {error}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (ConfigError, DataError) as error:
        print(f"vaesweep: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
