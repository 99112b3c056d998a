"""`python -m layerlab watch CONTAINER [--json]`: a container's R/W layer, line by line.

Each change prints as it happens: the path, added/changed/deleted, its size, and for a
changed or deleted path the image layer it was copied up from (or hidden in, by a whiteout)
with that layer's instruction. With `--json`, one JSON object per change on stdout. It runs
until you press Ctrl-C or the container stops or goes away; status lines go to stderr.
"""

from __future__ import annotations

import json
import sys
import threading

from ..core.copyup import DEFAULT_FULL_EVERY, DEFAULT_INTERVAL, MAX_INTERVAL, MIN_INTERVAL
from ..core.errors import LayerlabError
from ..core.i18n import _
from ..core.model import human_size


def add_parser(commands):
    watch = commands.add_parser("watch", help=_("show a running container's R/W layer changing, line by line"))
    watch.add_argument("container", help=_("container name or id (see `docker ps`)"))
    watch.add_argument("--json", action="store_true", help=_("one JSON object per change"))
    watch.add_argument("--interval", type=float, default=None, metavar="S",
                       help=_("seconds between polls of SizeRw (default {default:g}; {least:g} to {most:g})").format(
                           default=DEFAULT_INTERVAL, least=MIN_INTERVAL, most=MAX_INTERVAL))
    watch.add_argument("--full-every", type=float, default=None, metavar="S",
                       help=_("seconds between full diffs when SizeRw stays the same (default {default:g})").format(
                           default=DEFAULT_FULL_EVERY))
    return watch


def event_line(event) -> str:
    stamp = f"+{event.at:7.2f}s"
    rw = "" if event.size_rw is None else f"  [R/W {human_size(event.size_rw)}]"
    initial = "  " + _("(already there)") if event.initial else ""
    return f"{stamp}  {event.describe()}{rw}{initial}"


def run(args) -> int:
    from ..engine import connect
    from ..engine.watch import CopyUpWatcher
    from ..views.banner import source_banner_text

    engine = connect(ask_buildx=False)
    lock = threading.Lock()

    def show(state, events) -> None:
        with lock:
            for event in events:
                if args.json:
                    print(json.dumps(event.as_dict()), flush=True)
                else:
                    print(event_line(event), flush=True)

    watcher = CopyUpWatcher(
        engine,
        args.container,
        interval=DEFAULT_INTERVAL if args.interval is None else args.interval,
        full_every=DEFAULT_FULL_EVERY if args.full_every is None else args.full_every,
        on_update=show,
    )
    banner = source_banner_text(engine)
    if banner:
        print(banner, file=sys.stderr)
    print(_("watching the R/W layer of {name} ({image}); Ctrl-C to stop").format(
        name=watcher.state.name, image=watcher.state.image), file=sys.stderr, flush=True)
    watcher.start()
    try:
        while not watcher.join(0.2):
            pass
    except KeyboardInterrupt:
        watcher.stop()
        print(_("stopped watching {name}").format(name=watcher.state.name), file=sys.stderr)
        return 0
    finally:
        watcher.stop()
        engine.close()
    state = watcher.state
    print(_("{status}; R/W layer was {size}, {count} change(s) seen").format(
        status=state.status.text, size=human_size(state.size_rw or 0), count=state.events_total), file=sys.stderr)
    if state.status.name == "FAILED":
        raise LayerlabError(_("Watching {name} failed: {error}").format(name=state.name, error=state.error),
                            _("Check the engine with `python -m layerlab doctor`."))
    return 0
