"""`python -m layerlab`: the course's command line.

    doctor               what engine the course talks to, and whether it will work
    prepare              provide the base images (pull, or build local stand-ins)
    cleanup              remove what the course made for you (--lesson L, --all)

Every failure the course knows prints one message with the fix and exits non-zero.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Sequence

from .core.errors import LayerlabError

EXTRA_COMMAND_MODULES = (
    "layerlab.cli_layers",   # layers, which
    "layerlab.cli_watch",    # watch
    "layerlab.cli_command",  # command
    "layerlab.cli_record",   # record
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except LayerlabError as error:
        print(f"layerlab: {error.what}", file=sys.stderr)
        if error.fix:
            print(f"  what to do: {error.fix}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("layerlab: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # the engine refused something: one line, not a traceback
        if not type(error).__module__.startswith(("docker", "requests", "urllib3")):
            raise
        message = getattr(error, "explanation", None) or str(error)
        print(f"layerlab: the engine refused: {message}", file=sys.stderr)
        print("  what to do: check `python -m layerlab doctor`; if the engine is fine, this is a bug", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m layerlab", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(title="commands")

    doctor = commands.add_parser("doctor", help="show the engine's facts and check they suit the course")
    doctor.add_argument("--json", action="store_true", help="print the facts as JSON")
    doctor.set_defaults(handler=cmd_doctor)

    prepare = commands.add_parser("prepare", help="provide every base image the course uses")
    prepare.add_argument("--only", action="append", metavar="BASE", help="only this base (repeatable)")
    prepare.add_argument(
        "--if-engine", action="store_true",
        help="when no engine answers, say so and exit 0 (used by `make lab`)",
    )
    prepare.set_defaults(handler=cmd_prepare)

    cleanup = commands.add_parser("cleanup", help="remove what the course made for you")
    cleanup.add_argument("--lesson", help="only this lesson's objects (e.g. 01-layers)")
    cleanup.add_argument("--all", action="store_true", help="also the prepared base images")
    cleanup.set_defaults(handler=cmd_cleanup)

    # Lessons add their own commands from modules of their own (each has `register(commands)`).
    for module_name in EXTRA_COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                continue
            raise
        module.register(commands)
    return parser


def cmd_doctor(args) -> int:
    from .engine import connect
    from .engine.prepare import base_reference, find_base
    from .core.bases import BASES

    engine = connect()
    facts = engine.facts
    ns = engine.namespace("base")
    bases = {}
    for key in BASES:
        found = [base_reference(engine, image) for image in find_base(engine, key)]
        bases[key] = found[0] if found else None
    if args.json:
        data = {name: value for name, value in facts.__dict__.items()}
        data["storage_kind"] = facts.storage_kind.value
        data["flavour"] = facts.flavour
        data["learner"] = ns.learner
        data["bases"] = bases
        print(json.dumps(data, indent=2))
        return 0
    print("layerlab doctor: a Docker engine answers.")
    for label, value in facts.lines():
        print(f"  {label:<12} {value}")
    print(f"  {'learner':<12} {ns.learner} (set LAYERLAB_LEARNER to change)")
    for key, reference in bases.items():
        print(f"  {'base ' + key:<12} {reference or 'not prepared yet: run `python -m layerlab prepare`'}")
    print(facts.explain_storage())
    return 0


def cmd_prepare(args) -> int:
    from .core.errors import EngineError
    from .engine import connect
    from .engine.prepare import prepare

    try:
        engine = connect()
    except EngineError as error:
        if not args.if_engine:
            raise
        print(f"layerlab: no engine, so no base images prepared ({error.what})")
        print("  The course opens from its recordings; start an engine to run it live.")
        return 0
    last = {}

    def show(progress) -> None:
        percent = int(progress.fraction * 100)
        if last.get(progress.key) != (percent, progress.message):
            last[progress.key] = (percent, progress.message)
            print(f"[{percent:3d}%] {progress.message}", flush=True)

    results = prepare(engine, keys=args.only, progress=show)
    for result in results:
        print(result.explain())
    return 0


def cmd_cleanup(args) -> int:
    from .engine import connect
    from .engine.cleanup import cleanup

    engine = connect()
    report = cleanup(engine, lesson=args.lesson, include_bases=args.all)
    for line in report.lines():
        print(line)
    return 0
