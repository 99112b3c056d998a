"""`python -m layerlab prepare [--only BASE] [--if-engine]`: provide the base images (pull, or
build local stand-ins)."""

from __future__ import annotations


def add_parser(commands):
    prepare = commands.add_parser("prepare", help="provide every base image the course uses")
    prepare.add_argument("--only", action="append", metavar="BASE", help="only this base (repeatable)")
    prepare.add_argument(
        "--if-engine", action="store_true",
        help="when no engine answers, say so and exit 0 (used by `make lab`)",
    )
    return prepare


def run(args) -> int:
    from ..core.errors import EngineError
    from ..engine import connect
    from ..engine.prepare import prepare

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
