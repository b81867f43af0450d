"""``vaesweep data fetch|prepare|list``: get the real data sets into the cache the loaders read.

The cache is ``--cache-dir``, else ``$VAESWEEP_DATA``, else ``~/.cache/vaesweep``; a run whose
``data.path`` is empty reads ``<cache>/<data.name>`` (``vaesweep.data.cache``).
"""

from __future__ import annotations

import argparse
import json

from vaesweep.data import acquire
from vaesweep.data.cache import ENV_VAR


def command_fetch(args: argparse.Namespace) -> int:
    options = acquire.FetchOptions(
        timeout=args.timeout, seed=args.seed, vocab_size=args.vocab_size, hub_id=args.hub_id
    )
    directory, summary = acquire.fetch(args.name, args.cache_dir, options)
    print(f"{args.name}: ready in {directory}")
    print(json.dumps(summary, indent=2, sort_keys=True, default=str))
    return 0


def command_prepare(args: argparse.Namespace) -> int:
    directory, summary = acquire.prepare(args.name, args.source, args.cache_dir)
    print(f"{args.name}: ready in {directory}")
    print(json.dumps(summary, indent=2, sort_keys=True, default=str))
    return 0


def command_list(args: argparse.Namespace) -> int:
    rows = []
    for name in sorted(acquire.ACQUISITIONS):
        directory, state = acquire.status(name, args.cache_dir, full=args.verify)
        rows.append({"name": name, "status": state, "path": str(directory), **acquire.describe(name)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"{row['name']:<14s} {row['status']:<10s} {row['path']}")
        print(f"{'':<14s} fetch: {row['source']}")
        print(f"{'':<14s} files: {row['layout']}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group to the ``vaesweep`` parser."""
    data = subparsers.add_parser(
        "data",
        help=f"fetch, prepare and list the real data sets (cache: ${ENV_VAR} or ~/.cache/vaesweep)",
    )
    commands = data.add_subparsers(dest="data_command", required=True)
    names = sorted(acquire.ACQUISITIONS)

    fetch = commands.add_parser("fetch", help="download a data set into the cache (checked)")
    fetch.add_argument("name", choices=names)
    fetch.add_argument("--cache-dir", help=f"cache root (default ${ENV_VAR} or ~/.cache/vaesweep)")
    fetch.add_argument(
        "--timeout", type=float, default=acquire.DEFAULT_TIMEOUT, help="seconds to wait for a host"
    )
    fetch.add_argument("--seed", type=int, default=0, help="text: seed of the train/valid/test sample")
    fetch.add_argument("--vocab-size", type=int, help="text: vocabulary size incl. 4 special tokens")
    fetch.add_argument("--hub-id", help="text: another Hugging Face dataset id with the same columns")
    fetch.set_defaults(handler=command_fetch)

    prepare = commands.add_parser("prepare", help="prepare a data set from a local copy into the cache")
    prepare.add_argument("name", choices=names)
    prepare.add_argument("--from", dest="source", required=True, help="the local files (directory or file)")
    prepare.add_argument("--cache-dir", help=f"cache root (default ${ENV_VAR} or ~/.cache/vaesweep)")
    prepare.set_defaults(handler=command_prepare)

    listing = commands.add_parser("list", help="which data sets are in the cache, and how to get the others")
    listing.add_argument("--cache-dir", help=f"cache root (default ${ENV_VAR} or ~/.cache/vaesweep)")
    listing.add_argument("--verify", action="store_true", help="check every file's SHA-256 too")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=command_list)
