"""`layerlab.cli.registry`: the one list of `python -m layerlab` commands. No engine needed.

The registry is the only wiring between the command modules and the parser, so what `--help`
shows must be exactly what it lists, in its order, each with help text; and `--help` must stay
cheap: no `docker` import, no engine to reach.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

import pytest

from layerlab.cli import build_parser
from layerlab.cli.registry import COMMANDS
from support import ROOT, run_cli

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/layerlab-test.sock"}


def shown_commands(help_text: str) -> list[str]:
    """The command names in the `{a,b,...}` choices line of `python -m layerlab --help`."""
    found = re.search(r"^\s*\{([a-z,-]+)\}\s*$", help_text, re.MULTILINE)
    assert found, help_text
    return found.group(1).split(",")


def test_help_shows_exactly_the_registry_in_its_order():
    done = run_cli("--help", env=NO_ENGINE)
    assert done.returncode == 0, done.stderr
    assert shown_commands(done.stdout) == [command.name for command in COMMANDS]


def test_every_command_has_help_text_and_runs_through_its_registry_entry():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: choice.help for choice in subparsers._choices_actions}
    assert list(helps) == [command.name for command in COMMANDS]
    for command in COMMANDS:
        assert helps[command.name] and helps[command.name].strip(), f"{command.name} has no help text"
        assert subparsers.choices[command.name].get_default("handler") is command.run
        assert command.run.__module__.startswith("layerlab.cli."), command.run.__module__


def test_registry_names_are_unique():
    names = [command.name for command in COMMANDS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("argv", [["--help"]] + [[command.name, "--help"] for command in COMMANDS],
                         ids=lambda argv: " ".join(argv))
def test_help_does_not_import_docker(argv):
    # As `python -m layerlab ARGV` runs it (through __main__), then look at what got imported.
    probe = (
        "import runpy, sys\n"
        f"sys.argv = ['layerlab', *{argv!r}]\n"
        "try:\n"
        "    runpy.run_module('layerlab', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as stop:\n"
        "    assert stop.code in (0, None), stop.code\n"
        "heavy = sorted(m for m in ('docker', 'requests', 'nbclient', 'nbformat') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
    )
    env = dict(os.environ, **NO_ENGINE)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "usage: python -m layerlab" in done.stdout
    assert "HEAVY=\n" in done.stderr, done.stderr
