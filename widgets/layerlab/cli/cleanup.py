"""`python -m layerlab cleanup [--lesson L] [--all]`: remove what the course made for you."""

from __future__ import annotations

from ..core.i18n import _


def add_parser(commands):
    cleanup = commands.add_parser("cleanup", help=_("remove what the course made for you"))
    cleanup.add_argument("--lesson", help=_("only this lesson's objects (e.g. 01-layers)"))
    cleanup.add_argument("--all", action="store_true", help=_("also the prepared base images"))
    return cleanup


def run(args) -> int:
    from ..engine import connect
    from ..engine.cleanup import cleanup

    engine = connect()
    report = cleanup(engine, lesson=args.lesson, include_bases=args.all)
    for line in report.lines():
        print(line)
    return 0
