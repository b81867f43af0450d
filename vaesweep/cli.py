"""The ``vaesweep`` command line: one entry point, one module per group of commands.

Bad input ends the command with exit status 2 and one line naming the field, the value and
what is allowed, before any data is loaded or Ray is started.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from vaesweep.config import RunConfig, param_of, parse_assignments, resolve_config
from vaesweep.errors import ConfigError, DataError

# Command groups that live beside the packages they drive; each module has register(subparsers).
COMMAND_GROUPS: tuple[str, ...] = (
    "vaesweep.analysis.commands",
    "vaesweep.data.commands",
    "vaesweep.platform.commands",
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
    from vaesweep.train import EpochReport, fit

    config = resolve_config(args.method, args.dataset, resolved_overrides(args))

    def progress(report: EpochReport) -> None:
        if not args.json:
            shown = {
                k: round(v, 3)
                for k, v in report.metrics.items()
                if k in ("train_loss", "valid_rec", "valid_kl", "valid_au", "valid_mi")
            }
            print(f"epoch {report.epoch}: {shown}", file=sys.stderr, flush=True)

    metrics = fit(
        config,
        progress,
        checkpoint_dir=args.checkpoint_dir,
        resume_from=args.resume,
        artifacts_dir=args.artifacts_dir,
    )
    if args.json:
        print(
            json.dumps(
                {**metrics, "method": config.method, "dataset": config.data.name, "config": config.to_dict()},
                sort_keys=True,
            )
        )
    else:
        for key in sorted(metrics):
            print(f"{key:>20s}  {metrics[key]:.4f}")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vaesweep", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train one method on one data set, print final metrics")
    train.add_argument("--method", required=True)
    train.add_argument("--dataset", default="digits")
    train.add_argument(
        "--set",
        action="extend",
        nargs="+",
        metavar="KEY=VALUE",
        help="override fields by dotted key or paper symbol (--set C=15 p=0.8); repeatable",
    )
    train.add_argument("--epochs", type=int)
    train.add_argument("--seed", type=int)
    train.add_argument("--device")
    train.add_argument("--json", action="store_true", help="print one JSON object")
    train.add_argument("--checkpoint-dir")
    train.add_argument("--resume", help="checkpoint (file or directory) to continue from")
    train.add_argument("--artifacts-dir")
    train.set_defaults(handler=command_train)

    methods = commands.add_parser("methods", help="list method presets, their axes and hyper-parameters")
    methods.add_argument("--json", action="store_true")
    methods.add_argument("--fields", action="store_true", help="list every configuration field instead")
    methods.set_defaults(handler=command_methods)

    for module in COMMAND_GROUPS:
        importlib.import_module(module).register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (ConfigError, DataError) as error:
        print(f"vaesweep: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
