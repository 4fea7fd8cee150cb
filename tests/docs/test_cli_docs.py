"""Every CLI command appears in docs/cli.md with its current help text.

Regenerate the file after changing a command: ``python -m tests.docs.test_cli_docs``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.cli import build_parser as agent_parser
from cloud.cli import build_parser as cloud_parser

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
HEADER = """# Command line

Every command of `vafa-agent` (the terminal) and `vafa-cloud` (HQ), with its help text.
This file is checked by `tests/docs/test_cli_docs.py`; regenerate it with
`python -m tests.docs.test_cli_docs`.
"""


def _walk(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _walk(child)


def render() -> str:
    """Return the Markdown of every command's help."""
    os.environ["COLUMNS"] = "100"
    parts = [HEADER]
    for parser in (agent_parser(), cloud_parser()):
        for command in _walk(parser):
            parts.append(f"\n## `{command.prog}`\n\n```\n{command.format_help().rstrip()}\n```\n")
    return "".join(parts)


def test_cli_reference_is_current(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert DOC.read_text() == render(), (
        "docs/cli.md is stale: run python -m tests.docs.test_cli_docs"
    )


@pytest.mark.parametrize("parser", [agent_parser(), cloud_parser()], ids=["agent", "cloud"])
def test_every_command_has_help(parser: argparse.ArgumentParser) -> None:
    for command in _walk(parser):
        with pytest.raises(SystemExit) as done:
            command.parse_args(["--help"])
        assert done.value.code == 0
        assert command.description or command.format_usage()


if __name__ == "__main__":
    DOC.write_text(render())
