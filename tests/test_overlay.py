"""View tier (no engine): the seed's figures drawn from core objects.

The union mount of a container, several containers over one image, and the rebuild figure:
each is a pure function of its state, well-formed SVG with stable class names, and the monitor
sends at most one redraw per REDRAW_EVERY to the front end, whatever the burst.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ElementTree
from datetime import datetime, timezone

from test_buildsteps import CLASSIC_REBUILD, DOCKERFILE
from test_copyup import INSTRUCTIONS, MB, api, image_files

from layerlab.core.buildstream import parse_classic_stream
from layerlab.core.copyup import Attributor, CopyUpState, WatchStatus, changes_from_api
from layerlab.core.model import ChangeKind, ContainerLayer, HistoryRecord, build_stack
from layerlab.views.buildcache import BuildCacheState, build_cache_html
from layerlab.views.cachepicture import cache_picture_svg, cache_picture_text, previous_build
from layerlab.views.overlay import shared_layers_svg, union_mount_svg, union_mount_text

A, C, D = ChangeKind.ADDED, ChangeKind.CHANGED, ChangeKind.DELETED
T = datetime(2024, 11, 11, tzinfo=timezone.utc)
SVG = "{http://www.w3.org/2000/svg}"


def stack():
    rows = [("/bin/sh -c #(nop) ADD file:abc in / ", 1_000_017, False), ('/bin/sh -c #(nop)  CMD ["sh"]', 0, True),
            ("/bin/sh -c dd if=/dev/zero of=/data/big.bin bs=1M count=20", 20 * MB, False),
            ("/bin/sh -c echo notes", 42, False)]
    records = [HistoryRecord(created_by=c, size=s, created=T, comment="", image_id="sha256:" + str(i) * 64, empty_layer=e)
               for i, (c, s, e) in enumerate(rows)]
    return build_stack("sha256:" + "9" * 64, ["you/02-cow:latest"], records, ["sha256:" + c * 64 for c in "123"],
                       size=sum(r[1] for r in rows))


def watched_state():
    """A copy-up of big.bin, then a new file and a deleted note, as the watcher would see them."""
    attributor = Attributor(image_files(), INSTRUCTIONS)
    state = CopyUpState(container_id="c" * 64, name="box", image="you/02-cow:latest", stack=stack())
    state.apply(changes_from_api(api(("/data", C), ("/data/big.bin", C))), at=0.1, size_rw=20 * MB + 1,
                attributor=attributor)
    state.apply(changes_from_api(api(("/data", C), ("/data/big.bin", C), ("/data/new.txt", A),
                                     ("/data/old-note.txt", D))), at=0.2, size_rw=20 * MB + 9, attributor=attributor,
                sizes={"/data/new.txt": (8, False)})
    return state


def groups(svg: str, css: str):
    root = ElementTree.fromstring(svg)
    return [g for g in root.iter() if css in (g.get("class") or "").split()]


def test_the_union_mount_draws_each_change_where_it_lands():
    state = watched_state()
    svg = union_mount_svg(state)
    assert svg == union_mount_svg(state)  # a pure function of the state
    assert len(groups(svg, "image-layer")) == 3 and len(groups(svg, "rw-layer")) == 1
    copied = [g for g in groups(svg, "copy-up") if g.get("data-path") == "/data/big.bin"]
    assert len(copied) == 1 and copied[0].get("data-size") == str(20 * MB)
    assert len(groups(svg, "copy-up-connector")) == 1  # joined to the layer it came from
    assert [g.get("data-path") for g in groups(svg, "new-file")] == ["/data/new.txt"]
    hidden = [g for g in groups(svg, "lower-file") if g.get("data-hidden") == "true"]
    assert [g.get("data-path") for g in hidden] == ["/data/old-note.txt"]  # it stays in its layer...
    marks = [g for g in groups(svg, "whiteout-mark")]
    assert [g.get("data-path") for g in marks] == ["/data/old-note.txt"]  # ...with the whiteout over it
    bar = groups(svg, "size-rw-bar")[0]
    assert bar.get("data-size-rw") == str(20 * MB + 9) and 0.9 < float(bar.get("data-share")) <= 1.0
    # the last changes are highlighted; motion only where the reader has not asked for less
    assert {g.get("data-path") for g in groups(svg, "recent")} == {"/data/new.txt", "/data/old-note.txt"}
    assert "@media (prefers-reduced-motion: no-preference)" in svg and "(prefers-reduced-motion: reduce)" in svg
    assert "what the container sees" in svg and "/data/old-note.txt: gone (layer 3 keeps it)" in svg
    assert union_mount_text(state).splitlines()[1:] == [
        "  /data/big.bin: copied up from layer 2", "  /data/new.txt: new in the R/W layer",
        "  /data/old-note.txt: whiteout; the file stays in layer 3"]


def test_the_size_bar_grows_with_size_rw():
    state = watched_state()
    before = float(groups(union_mount_svg(state), "size-rw-bar")[0].get("data-share"))
    state.size_rw = 1_000
    assert float(groups(union_mount_svg(state), "size-rw-bar")[0].get("data-share")) < before


def test_a_state_without_its_stack_yet_still_draws_the_rw_layer():
    state = CopyUpState(container_id="c" * 64, name="box")
    svg = union_mount_svg(state)
    assert len(groups(svg, "rw-layer")) == 1 and not groups(svg, "image-layer")
    assert "files, unchanged" in svg


def test_several_containers_share_one_stack():
    layers = [ContainerLayer(c * 64, f"twin{c}", "x", size, 0) for c, size in (("a", 21_000_000), ("b", 12))]
    svg = shared_layers_svg(stack(), layers)
    assert len(groups(svg, "rw-layer")) == 2 and len(groups(svg, "image-layer")) == 3
    assert [g.get("data-size-rw") for g in groups(svg, "rw-layer")] == ["21000000", "12"]
    assert len(groups(svg, "shares-connector")) == 2


def rebuilt_state():
    first = parse_classic_stream([line.replace(" ---> Using cache\n", " ---> Running in aaaaaaaaaaaa\n")
                                  for line in CLASSIC_REBUILD], DOCKERFILE, image_id="sha256:" + "e" * 64)
    second = parse_classic_stream(CLASSIC_REBUILD, DOCKERFILE, image_id="sha256:" + "f6" * 32)
    for record, layers in ((first, "123"), (second, "145")):
        for step, layer in zip([s for s in record.steps if s.keyword in ("RUN", "COPY")], layers):
            step.layer, step.makes_layer = "sha256:" + layer * 64, True
        for step in record.steps:
            if step.keyword in ("CMD", "LABEL"):
                step.makes_layer = False
    state = BuildCacheState(title="build 2", history=[first, second])
    state.put(second)
    return state, first, second


def test_the_rebuild_figure_keeps_hits_in_place_and_draws_misses_new():
    state, first, second = rebuilt_state()
    assert previous_build(state.history, second) is first and previous_build(state.history, first) is None
    svg = cache_picture_svg(state)
    now = [g for g in groups(svg, "cache-now")][0]
    hits = [g for g in now.iter() if "cache-hit" in (g.get("class") or "").split()]
    misses = [g for g in now.iter() if "cache-miss" in (g.get("class") or "").split()]
    assert [g.get("data-index") for g in hits] == ["2"] and [g.get("data-index") for g in misses] == ["3", "4"]
    before = [g for g in groups(svg, "cache-before")][0]
    replaced = [g.get("data-index") for g in before.iter() if "replaced" in (g.get("class") or "").split()]
    assert replaced == ["3", "4"]  # what the rebuild replaced, marked in the build before
    reused = {g.get("data-index"): g.get("data-layer") for g in before.iter() if g.get("data-layer")}
    assert hits[0].get("data-layer") == reused["2"]  # the same layer, in place
    assert {g.get("data-index") for g in now.iter() if "cache-config" in (g.get("class") or "").split()} == {"5"}
    assert "rebuilt: the files it reads changed" in cache_picture_text(state)
    assert "rebuilt: parent (step 3) was rebuilt" in cache_picture_text(state)
    assert 'class="cache-picture"' in build_cache_html(state)


class _Watcher:
    """Enough of a watcher for the monitor: a state, a lock, and the monitor's update hook."""

    def __init__(self):
        self.state = watched_state()
        self.state.status = WatchStatus.WATCHING
        self.lock = threading.RLock()
        self.on_update = None
        self.running = True

    def start(self):
        pass

    def stop(self):
        self.state.set_status(WatchStatus.STOPPED)
        self.on_update(self.state, [])


def test_a_burst_of_updates_sends_few_redraws_and_the_last_one_is_the_newest():
    from types import SimpleNamespace

    from layerlab.views.copyup import CopyUpMonitor

    watcher = _Watcher()
    monitor = CopyUpMonitor(watcher, SimpleNamespace(live=True, source=None, facts=None), start=False)
    widget = monitor.widget
    sent = []
    monitor._html.observe(lambda change: sent.append(change["new"]), names="value")
    for number in range(50):  # a burst: 50 updates in a tight loop
        watcher.state.size_rw = 1_000 + number
        monitor._updated(watcher.state, [])
    assert len(sent) < 10, "a burst must not send a redraw per update"
    done = threading.Event()
    monitor._html.observe(lambda change: done.set() if 'data-size-rw="1049"' in change["new"] else None, names="value")
    assert done.wait(5) or 'data-size-rw="1049"' in monitor._html.value  # the newest state, drawn once due
    monitor.stop()  # the end of a watch is drawn at once
    assert "stopped" in monitor._html.value and widget is monitor.widget


def test_the_throttle_sends_once_per_interval_and_the_newest_last():
    from layerlab.views.throttle import Throttle

    now = [0.0]
    seen, state = [], {"n": 0}
    throttle = Throttle(0.1, lambda: seen.append(state["n"]), clock=lambda: now[0])
    for number in range(20):  # a burst within one interval: the first goes out, one more is due
        state["n"] = number
        throttle.request()
    assert seen == [0] and throttle._timer is not None
    throttle.flush()  # the end of the burst: the newest state at once, the timer gone
    assert seen == [0, 19] and throttle._timer is None
    now[0] = 1.0
    throttle.request()  # after the interval: at once again
    assert seen == [0, 19, 19] and throttle.sent == 3
    fired = threading.Event()
    throttle._send = lambda: (seen.append("timer"), fired.set())
    throttle.request()  # within the interval: the timer draws it
    assert fired.wait(5) and seen[-1] == "timer"


def test_settle_sends_only_a_redraw_that_is_waiting():
    """sync() of the copy-up monitor settles its throttle: the redraw due later goes out now,
    and with none due nothing is sent twice."""
    from layerlab.views.throttle import Throttle

    now = [0.0]
    seen = []
    throttle = Throttle(10.0, lambda: seen.append(now[0]), clock=lambda: now[0])
    throttle.settle()
    assert seen == []  # nothing waiting: nothing sent
    throttle.request()
    assert seen == [0.0]
    now[0] = 0.5
    throttle.request()  # inside the interval: waits for its timer (10 s away)
    assert seen == [0.0] and throttle._timer is not None
    throttle.settle()
    assert seen == [0.0, 0.5] and throttle._timer is None
    throttle.settle()
    assert seen == [0.0, 0.5]
