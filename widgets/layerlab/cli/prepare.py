"""`python -m layerlab prepare [--only BASE] [--if-engine] [--from FILE | --export FILE]`:
provide the base images (pull, or build local stand-ins, or import them from a bases file),
or write the bases file a class imports from."""

from __future__ import annotations

from ..core.i18n import _


def add_parser(commands):
    prepare = commands.add_parser("prepare", help=_("provide every base image the course uses"))
    prepare.add_argument("--only", action="append", metavar="BASE", help=_("only this base (repeatable)"))
    prepare.add_argument(
        "--if-engine", action="store_true",
        help=_("when no engine answers, say so and exit 0 (used by `make lab`)"),
    )
    source = prepare.add_mutually_exclusive_group()
    source.add_argument(
        "--from", dest="bundle", metavar="FILE",
        help=_("build the stand-in bases from this bases file (made with --export) instead of on this "
               "machine; LAYERLAB_BASES=FILE does the same"),
    )
    source.add_argument(
        "--export", metavar="FILE",
        help=_("as root, once for a class: write the stand-ins' root filesystems to FILE, for learners "
               "who are not root to import with --from (no engine needed)"),
    )
    return prepare


def _printer():
    last = {}

    def show(key: str, fraction: float, message: str) -> None:
        percent = int(fraction * 100)
        if last.get(key) != (percent, message):
            last[key] = (percent, message)
            print(f"[{percent:3d}%] {message}", flush=True)

    return show


def run(args) -> int:
    from ..core.errors import EngineError
    from ..engine import connect
    from ..engine.prepare import prepare

    show = _printer()
    if args.export:
        import os

        from ..host.bundle import export_bases

        entries = export_bases(args.export, os.environ, keys=args.only,
                               say=lambda fraction, message: show(message.split(":", 1)[0], fraction, message))
        size = os.path.getsize(args.export) / 1e6
        print(_("wrote {path} ({size:.0f} MB): {bases}").format(
            path=args.export, size=size, bases=", ".join(f"{e.key} ({e.versions})" for e in entries)))
        print("  " + _("Each learner imports it with `python -m layerlab prepare --from {path}`,\n"
                       "  or with LAYERLAB_BASES={path} set for the class.").format(path=args.export))
        return 0
    try:
        engine = connect()
    except EngineError as error:
        if not args.if_engine:
            raise
        print("layerlab: " + _("no engine, so no base images prepared ({reason})").format(reason=error.what))
        print("  " + _("The course opens from its recordings; start an engine to run it live."))
        return 0
    results = prepare(engine, keys=args.only, progress=lambda p: show(p.key, p.fraction, p.message),
                      bundle=args.bundle)
    for result in results:
        print(result.explain())
    return 0
