"""How each ``vaesweep`` command presents itself in ``--help``: one line in the list of
commands, a description in plain words, and worked examples shown as written."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def add_command(
    subparsers: argparse._SubParsersAction,
    name: str,
    *,
    summary: str,
    description: str = "",
    examples: Sequence[str] = (),
) -> argparse.ArgumentParser:
    """A sub-command whose help shows ``description`` (default: the summary) and ``examples``."""
    epilog = "examples:\n" + "\n".join(f"  {example}" for example in examples) if examples else None
    return subparsers.add_parser(
        name,
        help=summary,
        description=description or f"{summary[0].upper()}{summary[1:]}.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
