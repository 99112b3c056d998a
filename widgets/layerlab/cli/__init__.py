"""`python -m layerlab`: the course's command line.

Each command lives in a module of this package that exposes two functions: one adds the
command's subparser (its name, options and help), the other runs it. `registry.COMMANDS` lists
them, in the order `--help` shows them; `build_parser` wires exactly those and nothing else.
Command modules import the engine (and with it `docker`) inside the function that runs
them, so `--help` is fast and needs no engine; only the module of the command given is
imported at all.

Every failure the course knows prints one message with the fix and exits non-zero.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ..core.errors import LayerlabError
from ..core.i18n import _
from .registry import COMMANDS


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    names = {command.name for command in COMMANDS}
    parser = build_parser(only=argv[0] if argv and argv[0] in names else None)
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except LayerlabError as error:
        print(f"layerlab: {error.what}", file=sys.stderr)
        if error.fix:
            print("  " + _("what to do:") + f" {error.fix}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("layerlab: " + _("interrupted"), file=sys.stderr)
        return 130
    except Exception as error:  # the engine refused something: one line, not a traceback
        if not type(error).__module__.startswith(("docker", "requests", "urllib3")):
            raise
        message = getattr(error, "explanation", None) or str(error)
        print(f"layerlab: the engine refused: {message}", file=sys.stderr)
        print("  what to do: check `python -m layerlab doctor`; if the engine is fine, this is a bug", file=sys.stderr)
        return 1


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with `only`, that command's in full and the others as bare names (their
    modules are not imported: what `main` builds once it knows the command)."""
    parser = argparse.ArgumentParser(prog="python -m layerlab", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(title="commands")
    for command in COMMANDS:
        if only is not None and command.name != only:
            commands.add_parser(command.name)
            continue
        subparser = command.add_parser(commands)
        if commands.choices.get(command.name) is not subparser:
            raise RuntimeError(f"{command.add_parser.__qualname__} did not add the command {command.name!r}")
        subparser.set_defaults(handler=command.run)
    return parser
