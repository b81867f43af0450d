"""Every command's ``--help``: plain text (no reStructuredText), a description, and examples
that the parser itself accepts."""

from __future__ import annotations

import argparse
import shlex

import pytest

from vaesweep.cli import build_parser


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, parser) for every command and sub-command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands(build_parser()))


def test_the_top_level_help_lists_every_command_and_shows_examples():
    text = build_parser().format_help()
    assert "``" not in text and "examples:\n  vaesweep train" in text
    for path in COMMANDS:
        if len(path) == 1:
            assert f"\n    {path[0]} " in text, path


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_each_command_has_a_description_and_examples_the_parser_accepts(path):
    text = COMMANDS[path].format_help()
    assert "`" not in text, text
    description = text.split("\n\n")[1]
    assert not description.startswith(("usage", "positional", "options")), text
    examples = text.split("examples:\n", 1)[1].splitlines()
    runnable = [
        line.split("#")[0].split(">")[0].strip() for line in examples if line.startswith("  vaesweep ")
    ]
    assert runnable, text
    for example in runnable:
        words = shlex.split(example)[1:]
        args = build_parser().parse_args(words)  # exits (SystemExit) on a wrong example
        assert callable(args.handler), example
    assert any(shlex.split(e)[1 : 1 + len(path)] == list(path) for e in runnable), (
        "no example of the command itself"
    )
