"""How many redraws does the copy-up monitor send to the front end under a burst of changes?

    .venv/bin/python benchmarks/redraw_rate.py [--seconds 4] [--rates 5,20,50]

The monitor (`views.copyup.CopyUpMonitor`, the widget lesson 02 shows) is fed by a stand-in
watcher at each rate of changes per second. Each change updates the monitor three times, as
the real watcher does when a write lands (the path's event, then SizeRw, then the poll's
end). Every redraw sets the widget's `value`, which is one comm message to the front end; the
benchmark counts them with the widget's own `observe`. The monitor draws the union mount each
time it sends, so the figures also give the time one drawing takes.

No engine, no browser: figures only, no assertions. The target is at most one redraw per
100 ms (10 messages a second) whatever the burst, and the last change always drawn.
"""

from __future__ import annotations

import argparse
import threading
import time
from types import SimpleNamespace

from layerlab.core.copyup import CopyUpState, PathState, WatchStatus
from layerlab.core.model import ChangeKind
from layerlab.views.copyup import REDRAW_EVERY, CopyUpMonitor
from layerlab.views.overlay import union_mount_svg


class StandInWatcher:
    def __init__(self):
        self.state = CopyUpState(container_id="c" * 64, name="bench", image="bench:latest",
                                 status=WatchStatus.WATCHING)
        self.lock = threading.RLock()
        self.on_update = None
        self.running = True

    def start(self):
        pass

    def stop(self):
        pass


def drive(rate: float, seconds: float) -> tuple[float, int, int, bool]:
    watcher = StandInWatcher()
    monitor = CopyUpMonitor(watcher, SimpleNamespace(live=True, source=None, facts=None), start=False)
    monitor.widget  # noqa: B018 - build the widget: redraws go to it
    sent = []
    monitor._html.observe(lambda change: sent.append(time.monotonic()), names="value")
    changes = int(rate * seconds)
    started = time.monotonic()
    for number in range(changes):
        due = started + number / rate
        time.sleep(max(0.0, due - time.monotonic()))
        with watcher.lock:
            path = f"/data/file{number}"
            watcher.state.paths[path] = PathState(path, ChangeKind.ADDED, size=number, first_seen=number)
            watcher.state.version += 1
        for _ in range(3):  # the event, SizeRw, the end of the poll
            with watcher.lock:
                watcher.state.size_rw = 1000 + number
            monitor._updated(watcher.state, [])
    time.sleep(REDRAW_EVERY * 3)  # let the last due redraw go out
    elapsed = time.monotonic() - started
    last = f'data-size-rw="{1000 + changes - 1}"' in monitor._html.value
    return len(sent) / elapsed, changes * 3, len(sent), last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rates", default="5,20,50")
    args = parser.parse_args()
    state = StandInWatcher().state
    for number in range(10):
        state.paths[f"/f{number}"] = PathState(f"/f{number}", ChangeKind.ADDED, size=number * 1000)
    started = time.perf_counter()
    for _ in range(50):
        union_mount_svg(state)
    draw_ms = (time.perf_counter() - started) / 50 * 1000
    print(f"one union-mount drawing (10 files): {draw_ms:.2f} ms")
    figures = []
    for rate in (float(r) for r in args.rates.split(",")):
        per_second, updates, sent, last = drive(rate, args.seconds)
        print(f"{rate:>5.0f} changes/s: {updates} updates, {sent} redraws sent, {per_second:.1f} messages/s, "
              f"last change drawn: {last}")
        figures.append(f"{rate:.0f}/s -> {per_second:.1f} msg/s{'' if last else ' (LAST NOT DRAWN)'}")
    print(f"redraw_rate: {', '.join(figures)} (cap {1 / REDRAW_EVERY:.0f}/s), draw {draw_ms:.2f} ms")


if __name__ == "__main__":
    main()
