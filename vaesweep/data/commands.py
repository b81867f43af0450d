"""``vaesweep data fetch|prepare|add|list``: get data sets into the cache the loaders read.

The cache is ``--cache-dir``, else ``$VAESWEEP_DATA``, else ``~/.cache/vaesweep``; a run whose
``data.path`` is empty reads ``<cache>/<data.name>`` (``vaesweep.data.cache``). ``fetch`` and
``prepare`` bring the papers' data sets; ``add`` registers a data set of the user's own
(``vaesweep.data.user``), after which ``--dataset NAME`` works in every command.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path
from typing import Any

from vaesweep.command_help import add_command
from vaesweep.data import acquire
from vaesweep.data.cache import ENV_VAR, cache_root
from vaesweep.data.profiles import TEXT_PROTOCOLS, describe_profile
from vaesweep.data.registry import added_names, added_section

CACHE = {"metavar": "DIR", "help": f"cache root (default ${ENV_VAR} or ~/.cache/vaesweep)"}


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


def _added_lines(added: dict[str, Any]) -> list[str]:
    """What ``add`` and ``list`` show of an added data set: size, profile and why."""
    return [
        f"{added['kind']}: {added['description'].partition(': ')[2]}",
        f"profile: {describe_profile(added['architecture'], added['profile'])}",
        f"why: {added['rule']}",
    ]


def command_add(args: argparse.Namespace) -> int:
    from vaesweep.data.user import AddOptions, add_dataset, parse_split

    options = AddOptions(
        labels=None if args.labels is None else Path(args.labels),
        vocab=None if args.vocab is None else Path(args.vocab),
        split=parse_split(args.split),
        seed=args.seed,
        protocol=args.protocol,
        replace=args.replace,
    )
    directory, summary = add_dataset(args.name, args.kind, args.source, args.cache_dir, options)
    if args.json:
        print(json.dumps({"name": args.name, "path": str(directory), **summary}, indent=2))
        return 0
    print(f"{args.name}: added to {directory}")
    for line in _added_lines(summary["added"]):
        print(f"  {line}")
    print(f"  next: vaesweep train --method vae --dataset {args.name}  (any field: --set KEY=VALUE)")
    if cache_root(args.cache_dir) != cache_root():
        print(f"  runs read the cache {cache_root()}: set {ENV_VAR}={cache_root(args.cache_dir)} to use it")
    return 0


def command_list(args: argparse.Namespace) -> int:
    rows = []
    for name in sorted(acquire.ACQUISITIONS):
        directory, state = acquire.status(name, args.cache_dir, full=args.verify)
        rows.append({"name": name, "status": state, "path": str(directory), **acquire.describe(name)})
    added = []
    for name in added_names(args.cache_dir):
        directory, state = acquire.status(name, args.cache_dir, full=args.verify)
        section = added_section(name, args.cache_dir)
        added.append(
            {"name": name, "status": state.replace("ready", "added", 1), "path": str(directory), **section}
        )
    if args.json:
        print(json.dumps(rows + added, indent=2))
        return 0
    for row in rows:
        print(f"{row['name']:<14s} {row['status']:<10s} {row['path']}")
        print(f"{'':<14s} fetch: {row['source']}")
        print(f"{'':<14s} files: {row['layout']}")
    for row in added:
        print(f"{row['name']:<14s} {row['status']:<10s} {row['path']}")
        for line in _added_lines(row):
            print(f"{'':<14s} {line}")
    return 0


def _names_line(names: list[str]) -> str:
    return textwrap.fill("Data sets: " + ", ".join(names) + ".", width=90)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group to the ``vaesweep`` parser."""
    data = add_command(
        subparsers,
        "data",
        summary="fetch, prepare, add and list data sets in the cache",
        description=(
            "Put data sets into the cache the runs read (--cache-dir, else $VAESWEEP_DATA, else\n"
            "~/.cache/vaesweep): the papers' data sets (fetch, prepare) and your own (add)."
        ),
        examples=(
            "vaesweep data list",
            "vaesweep data add mycorpus --kind text --from sentences.txt",
            "vaesweep data fetch mnist",
        ),
    )
    commands = data.add_subparsers(title="commands", dest="data_command", required=True, metavar="COMMAND")
    names = sorted(acquire.ACQUISITIONS)

    fetch = add_command(
        commands,
        "fetch",
        summary="download one of the papers' data sets into the cache (checked)",
        description=(
            "Download a paper data set into the cache, check it and write its manifest. Offline it\n"
            "says where to put the files instead.\n" + _names_line(names)
        ),
        examples=("vaesweep data fetch mnist", "vaesweep data fetch yahoo --seed 0 --vocab-size 20001"),
    )
    fetch.add_argument("name", choices=names, metavar="NAME", help="the data set")
    fetch.add_argument("--cache-dir", **CACHE)
    fetch.add_argument(
        "--timeout", type=float, default=acquire.DEFAULT_TIMEOUT, help="seconds to wait for a host"
    )
    fetch.add_argument("--seed", type=int, default=0, help="text: seed of the train/valid/test sample")
    fetch.add_argument("--vocab-size", type=int, help="text: vocabulary size incl. 4 special tokens")
    fetch.add_argument("--hub-id", help="text: another Hugging Face dataset id with the same columns")
    fetch.set_defaults(handler=command_fetch)

    prepare = add_command(
        commands,
        "prepare",
        summary="prepare one of the papers' data sets from a local copy into the cache",
        description=(
            "Copy and check a paper data set from files you have (the authors' files, or CelebA's\n"
            "aligned JPEGs), so that its paper's presets run on it.\n" + _names_line(names)
        ),
        examples=(
            "vaesweep data prepare omniglot --from ~/chardata.mat",
            "vaesweep data prepare ptb --from ~/ptb/",
        ),
    )
    prepare.add_argument("name", choices=names, metavar="NAME", help="the data set")
    prepare.add_argument("--from", dest="source", required=True, help="the local files (directory or file)")
    prepare.add_argument("--cache-dir", **CACHE)
    prepare.set_defaults(handler=command_prepare)

    add = add_command(
        commands,
        "add",
        summary="register a data set of your own, with an architecture and protocol chosen for it",
        description=(
            "Check your data, split it, write it into the cache as NAME and choose its profile\n"
            "(architecture, sizes, optimiser, schedule, decoder) from its kind and size; from then\n"
            "on --dataset NAME works in train and sweep, and --set overrides any profile field.\n"
            "text: one sentence per line (tokens separated by spaces; 'label<TAB>sentence' for\n"
            "  labels), as one file split by --split, or a directory of split files\n"
            "  (NAME.train.txt / train.txt, valid, test; optional vocab.txt, <split>_class_label.txt).\n"
            "image: a .npy array [N, H, W], [N, C, H, W] or [N, H, W, C] (uint8, or floats in [0, 1]),\n"
            "  a .npz (x, y or train_x, test_x, ...), IDX files, or a folder of PNG/JPEG images\n"
            "  (class folders give labels; train/ valid/ test/ folders give the split)."
        ),
        examples=(
            "vaesweep data add mycorpus --kind text --from sentences.txt --split 0.8,0.1,0.1 --seed 0",
            "vaesweep data add reviews --kind text --from reviews/        # train.txt, valid.txt, test.txt",
            "vaesweep data add shapes --kind image --from shapes.npy --labels shape_labels.npy",
            "vaesweep data add scans --kind image --from scans/           # scans/<class>/*.png",
            "vaesweep sweep igp_table7 --dataset mycorpus --seeds 1",
        ),
    )
    add.add_argument("name", metavar="NAME", help="the data set's name in --dataset")
    add.add_argument("--kind", required=True, choices=("text", "image"), help="what the data are")
    add.add_argument("--from", dest="source", required=True, metavar="PATH", help="the file or directory")
    add.add_argument(
        "--labels",
        metavar="FILE",
        help="labels of a single file (text: one integer per line; images: .npy or IDX)",
    )
    add.add_argument(
        "--vocab", metavar="FILE", help="text: the vocabulary, one token per line (every token must be in it)"
    )
    add.add_argument(
        "--split",
        default="0.8,0.1,0.1",
        metavar="TRAIN,VALID,TEST",
        help="shares of a single pool (default 0.8,0.1,0.1); stratified by label when labelled",
    )
    add.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    add.add_argument(
        "--protocol",
        choices=("auto", *TEXT_PROTOCOLS),
        default="auto",
        help="text: He et al. SGD or IGP Adam (default: by corpus size)",
    )
    add.add_argument("--replace", action="store_true", help="overwrite an added data set of the same name")
    add.add_argument("--cache-dir", **CACHE)
    add.add_argument("--json", action="store_true", help="print the manifest entry as JSON")
    add.set_defaults(handler=command_add)

    listing = add_command(
        commands,
        "list",
        summary="the data sets in the cache: the papers' (and how to get them) and your own",
        examples=("vaesweep data list", "vaesweep data list --verify --json"),
    )
    listing.add_argument("--cache-dir", **CACHE)
    listing.add_argument("--verify", action="store_true", help="check every file's SHA-256 too")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    listing.set_defaults(handler=command_list)
