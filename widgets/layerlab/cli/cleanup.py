"""`python -m layerlab cleanup [--lesson L] [--all]`: remove what the course made for you."""

from __future__ import annotations


def add_parser(commands):
    cleanup = commands.add_parser("cleanup", help="remove what the course made for you")
    cleanup.add_argument("--lesson", help="only this lesson's objects (e.g. 01-layers)")
    cleanup.add_argument("--all", action="store_true", help="also the prepared base images")
    return cleanup


def run(args) -> int:
    from ..engine import connect
    from ..engine.cleanup import cleanup

    engine = connect()
    report = cleanup(engine, lesson=args.lesson, include_bases=args.all)
    for line in report.lines():
        print(line)
    return 0
