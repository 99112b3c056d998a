"""Copy-up monitor, core and widget tiers: canned `/changes` answers, no daemon, no browser."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support import most_in_one_second

from layerlab.core.copyup import (
    Attributor,
    CopyUpState,
    RwPathOrigin,
    WatchStatus,
    changes_from_api,
    copy_up_report,
    diff_snapshots,
)
from layerlab.core.errors import EngineRefused, LayerlabError, NotOnEngine
from layerlab.core.filetree import stack_layers
from layerlab.core.layertar import EntryType, RawEntry
from layerlab.core.model import ChangeKind
from layerlab.core.objects import ContainerInfo, PathStat

A, C, D = ChangeKind.ADDED, ChangeKind.CHANGED, ChangeKind.DELETED
MB = 1024 * 1024


def image_files():
    """Layer 1: a base; layer 2: a big file; layer 3: notes, and it replaces /etc/motd and deletes /etc/old."""
    base = [
        RawEntry("/bin", EntryType.DIRECTORY),
        RawEntry("/bin/busybox", EntryType.FILE, size=1_000_000),
        RawEntry("/etc", EntryType.DIRECTORY),
        RawEntry("/etc/motd", EntryType.FILE, size=10),
        RawEntry("/etc/old", EntryType.FILE, size=7),
    ]
    big = [RawEntry("/data", EntryType.DIRECTORY), RawEntry("/data/big.bin", EntryType.FILE, size=20 * MB)]
    notes = [
        RawEntry("/data", EntryType.DIRECTORY),
        RawEntry("/data/old-note.txt", EntryType.FILE, size=12),
        RawEntry("/etc", EntryType.DIRECTORY),
        RawEntry("/etc/motd", EntryType.FILE, size=30),
        RawEntry("/etc/old", EntryType.OTHER, whiteout="file"),
    ]
    return stack_layers([base, big, notes], ["sha256:" + "1" * 64, "sha256:" + "2" * 64, "sha256:" + "3" * 64])


INSTRUCTIONS = ["ADD rootfs.tar /", "RUN dd if=/dev/zero of=/data/big.bin bs=1M count=20", "RUN echo notes"]


@pytest.fixture
def attributor():
    return Attributor(image_files(), INSTRUCTIONS)


def api(*pairs):
    return [{"Path": path, "Kind": {C: 0, A: 1, D: 2}[kind]} for path, kind in pairs]


# -- attribution ------------------------------------------------------------------------


def test_changed_file_is_copied_up_from_its_layer(attributor):
    found = attributor.attribute("/data/big.bin", C)
    assert (found.via, found.layer, found.lower_size) == (RwPathOrigin.COPY_UP, 2, 20 * MB)
    assert found.instruction.startswith("RUN dd")
    assert "copied up from layer 2" in found.describe() and "all 21 MB of it" in found.describe()


def test_a_file_replaced_by_a_later_layer_is_copied_up_from_that_later_layer(attributor):
    found = attributor.attribute("/etc/motd", C)
    assert (found.layer, found.lower_size, found.first_added_by) == (3, 30, 1)
    assert "first added by layer 1" in found.describe()


def test_deleted_file_is_hidden_by_a_whiteout_and_stays_in_its_layer(attributor):
    found = attributor.attribute("/data/old-note.txt", D)
    assert (found.via, found.layer, found.lower_size) == (RwPathOrigin.WHITEOUT, 3, 12)
    assert "whiteout" in found.describe() and "layer 3 (RUN echo notes)" in found.describe()


def test_directory_copy_up_is_the_entry_only(attributor):
    found = attributor.attribute("/data", C)
    assert found.via is RwPathOrigin.COPY_UP_DIRECTORY and found.layer == 3 and found.lower_size is None
    assert "entry only" in found.describe()


def test_new_recreated_and_unknown_paths(attributor):
    assert attributor.attribute("/data/new.txt", A).via is RwPathOrigin.NEW
    recreated = attributor.attribute("/etc/old", A)  # layer 3 deleted it; the container writes it again
    assert (recreated.via, recreated.layer) == (RwPathOrigin.RECREATED, 3)
    assert attributor.attribute("/etc/hostname", C).via is RwPathOrigin.NOT_IN_IMAGE
    assert attributor.attribute("/etc/old", D).via is RwPathOrigin.NOT_IN_IMAGE  # already gone from the image


# -- diffing a sequence of /changes answers ----------------------------------------------


def test_diff_snapshots_sorted_with_before_and_after():
    assert diff_snapshots({"/a": A, "/b": C}, {"/b": D, "/c": A}) == [("/a", A, None), ("/b", C, D), ("/c", None, A)]
    assert diff_snapshots({"/a": A}, {"/a": A}) == []


def test_changes_from_api_reads_null_and_codes():
    assert changes_from_api(None) == {}
    assert changes_from_api(api(("/x/", A), ("/y", D))) == {"/x": A, "/y": D}


def test_a_canned_sequence_gives_events_and_final_state_equal_to_the_last_diff(attributor):
    sequence = [
        (0, None),
        (20 * MB + 1, api(("/data", C), ("/data/big.bin", C))),
        (20 * MB + 9, api(("/data", C), ("/data/big.bin", C), ("/data/new.txt", A))),
        (20 * MB + 9, api(("/data", C), ("/data/big.bin", C), ("/data/new.txt", A), ("/data/old-note.txt", D))),
        (20 * MB + 1, api(("/data", C), ("/data/big.bin", C), ("/data/old-note.txt", D))),
    ]
    state = CopyUpState(container_id="c" * 64, name="box")
    seen = []
    for step, (size_rw, raw) in enumerate(sequence):
        seen += state.apply(changes_from_api(raw), at=step * 0.1, size_rw=size_rw, attributor=attributor,
                            sizes={"/data/new.txt": (8, False)} if step == 2 else None)
    assert [(e.path, e.previous, e.kind) for e in seen] == [
        ("/data", None, C), ("/data/big.bin", None, C),
        ("/data/new.txt", None, A),
        ("/data/old-note.txt", None, D),
        ("/data/new.txt", A, None),
    ]
    assert state.current() == changes_from_api(sequence[-1][1])
    assert state.find("/data/new.txt", A).size == 8
    assert state.find("/data/new.txt", A).describe() == "A /data/new.txt (8 B) added: new in the R/W layer"
    assert seen[-1].verb == "gone from the R/W layer (same as the image again)"
    assert state.size_rw == 20 * MB + 1 and state.size_rw_start == 0
    assert state.copied_up_bytes() == 20 * MB
    assert state.summary() == (
        "  C /data/big.bin: copied up from layer 2 (RUN dd if=/dev/zero of=/data/big.bin bs=1M count=20), all 21 MB of it\n"
        "  D /data/old-note.txt: hidden by a whiteout; it still lives in layer 3 (RUN echo notes) (12 B stay in the image)"
    )
    assert "C /data/:" in state.summary(directories=True)
    state.apply({**state.current(), "/data/x.txt": A}, at=1, sizes={"/data/x.txt": (0, False)})
    assert state.summary(paths=["/data/x.txt"]) == "  A /data/x.txt"  # measured sizes vary with timing
    assert state.summary(paths=["/data/x.txt"], sizes=True) == "  A /data/x.txt (0 B)"
    assert state.find("/data/x.txt").explain() == "A /data/x.txt added"


def test_first_answer_is_marked_initial_and_kind_changes_are_events(attributor):
    state = CopyUpState(container_id="c" * 64)
    first = state.apply({"/etc/motd": C}, at=0, attributor=attributor)
    assert first[0].initial
    later = state.apply({"/etc/motd": D}, at=1, attributor=attributor)
    assert (later[0].previous, later[0].kind, later[0].initial) == (C, D, False)
    assert later[0].attribution.via is RwPathOrigin.WHITEOUT


def test_events_are_bounded(attributor):
    state = CopyUpState(container_id="c" * 64)
    for step in range(700):
        state.apply({f"/tmp/f{step}": A}, at=step)
    assert len(state.events) == 500 and state.events_total == 1399  # each file added, then gone
    assert len(state.paths) == 1


def test_copy_up_report_is_deterministic():
    text = copy_up_report("/data/big.bin", 20 * MB, 1, before=0, after=20 * MB + 4096)
    assert "100% of the file's size, not 1 byte(s)" in text and "whole file was copied up" in text


# -- widget state and rendering (no browser) ---------------------------------------------


def test_render_html_is_a_pure_function_of_the_state(attributor):
    from layerlab.views.copyup import render_html

    state = CopyUpState(container_id="c" * 64, name="box", image="img")
    state.apply({"/data": C, "/data/big.bin": C, "/data/x": A}, at=0, size_rw=1, attributor=attributor)
    state.record_size(0.5, 20 * MB)
    state.set_status(WatchStatus.WATCHING, error="poll failed (1/5): boom")
    page = render_html(state, banner="<div>BANNER</div>")
    assert page == render_html(state, banner="<div>BANNER</div>")
    assert "BANNER" in page and 'data-path="/data/big.bin" data-kind="changed"' in page
    assert "copied up from layer 2" in page and "poll failed (1/5): boom" in page
    assert 'data-status="watching"' in page and "<polyline" in page


def test_terminal_command_names_the_engine_when_not_the_default():
    from types import SimpleNamespace

    from layerlab.views.copyup import terminal_command

    assert terminal_command(SimpleNamespace(facts=SimpleNamespace(host="unix:///var/run/docker.sock")), "box") == \
        "docker exec -it box sh"
    assert terminal_command(SimpleNamespace(facts=SimpleNamespace(host="unix:///run/x.sock")), "box") == \
        "DOCKER_HOST=unix:///run/x.sock docker exec -it box sh"


# -- the watcher thread against a canned engine ------------------------------------------


class CannedEngine:
    """Just enough of the engine door for a watcher: container_info (with sizes),
    container_changes and stat_path, as `layerlab.engine.Engine` has them."""

    live = True
    facts = None

    def __init__(self, answers, running=True, fail=0):
        self.answers = list(answers)  # (size_rw, changes) per diff; the last one repeats
        self.size_rw = 0
        self.gone = False
        self.removing = False  # as `docker rm -f` does: "removing", SizeRw 0, then 404
        self.running = running
        self.fail = fail
        self.calls = []

    def budget(self):
        from layerlab.replay.source import RequestBudget

        return RequestBudget()

    def _hiccup(self, call):
        self.calls.append(call)
        if self.fail:
            self.fail -= 1
            raise OSError("engine hiccup")
        if self.gone:
            raise NotOnEngine("gone", status=404)

    def container_info(self, reference, size=False):
        status = "running" if self.running else "exited"
        if size:
            self._hiccup("json")
            if self.removing:
                return self._info("removing", False, 0)
            if self.answers:
                self.size_rw = self.answers[0][0]
            return self._info(status, self.running, self.size_rw)
        if self.gone:
            raise NotOnEngine("gone", status=404)
        return self._info(status, self.running, None)

    @staticmethod
    def _info(status, running, size_rw):
        return ContainerInfo(id="f" * 64, name="box", image="img", image_id="sha256:" + "9" * 64,
                             status=status, running=running, size_rw=size_rw)

    def container_changes(self, container_id):
        self._hiccup("changes")
        if self.removing:  # what Docker 26 answered in the browser run
            raise EngineRefused("500", status=500, explanation="stat /var/lib/docker/overlay2/x: no such file")
        size_rw, changes = self.answers[0] if len(self.answers) == 1 else self.answers.pop(0)
        return changes_from_api(changes)

    def stat_path(self, container_id, path):
        return PathStat(size=5, is_dir=False)


def _threads():
    return [t.name for t in threading.enumerate() if t.name.startswith("layerlab-copyup")]


def test_watcher_follows_a_canned_sequence_and_stops_when_the_container_goes():
    from layerlab.engine.watch import CopyUpWatcher

    canned = CannedEngine([(0, None), (5, api(("/tmp", C), ("/tmp/a", A))), (5, api(("/tmp", C)))])
    updates = []
    watcher = CopyUpWatcher(canned, "box", interval=0.02, full_every=0.02, attribute=False,
                            on_update=lambda state, events: updates.append([e.path for e in events]))
    watcher.start()
    assert watcher.wait_for("/tmp/a", ChangeKind.ADDED, timeout=5).size == 5
    gone = watcher.wait_for("/tmp/a", None, timeout=5)
    assert gone.kind is ChangeKind.ADDED  # the first event for the path
    deadline = time.monotonic() + 5
    while "/tmp/a" in watcher.state.paths and time.monotonic() < deadline:
        time.sleep(0.02)
    assert watcher.state.current() == {"/tmp": C}
    canned.gone = True
    assert watcher.join(5)
    assert watcher.state.status is WatchStatus.CONTAINER_GONE
    assert ["/tmp", "/tmp/a"] in updates
    assert not _threads()


def test_the_size_reported_while_the_engine_removes_the_layer_is_not_taken():
    """Docker 26 answers SizeRw 0 for a container in state "removing": the monitor keeps the
    last size the container really had (found by the browser check of lesson 02)."""
    from layerlab.engine.watch import CopyUpWatcher

    canned = CannedEngine([(0, None), (7 * MB, api(("/data/big.bin", C)))])
    watcher = CopyUpWatcher(canned, "box", interval=0.02, full_every=0.02, attribute=False)
    watcher.start()
    watcher.wait_for("/data/big.bin", ChangeKind.CHANGED, timeout=5)
    watcher.sync(timeout=5)
    assert watcher.state.size_rw == 7 * MB
    canned.removing = True
    time.sleep(0.3)
    canned.gone = True
    assert watcher.join(5)
    assert watcher.state.status is WatchStatus.CONTAINER_GONE
    assert watcher.state.size_rw == 7 * MB
    assert all(size == 7 * MB for _, size in list(watcher.state.size_samples)[1:])
    assert not _threads()


def test_a_container_being_removed_is_not_diffed_and_leaves_no_error():
    """The browser run of lesson 02 showed "poll failed: 500 ... no such file" under "the
    container was removed": the watcher had diffed a layer the engine was deleting."""
    from layerlab.engine.watch import CopyUpWatcher

    canned = CannedEngine([(0, None), (5, api(("/tmp/a", A)))])
    watcher = CopyUpWatcher(canned, "box", interval=0.02, full_every=0.02, attribute=False)
    watcher.start()
    watcher.wait_for("/tmp/a", ChangeKind.ADDED, timeout=5)
    mark = len(canned.calls)
    canned.removing = True
    time.sleep(0.3)
    canned.gone = True
    assert watcher.join(5)
    assert watcher.state.status is WatchStatus.CONTAINER_GONE
    assert watcher.state.error == ""
    assert watcher.state.current() == {"/tmp/a": A}  # the last diff before removal stands
    # A poll may have been under way when removal began; from the first probe after it on,
    # the watcher only probes until the container is gone.
    after = canned.calls[canned.calls.index("json", mark) + 1:]
    assert after and "changes" not in after
    assert not _threads()


def test_an_error_just_before_the_container_goes_is_cleared():
    from layerlab.engine.watch import CopyUpWatcher

    canned = CannedEngine([(0, None)])
    watcher = CopyUpWatcher(canned, "box", interval=0.02, attribute=False)
    canned.fail, canned.gone = 1, True  # one hiccup, then 404: the container was removed
    watcher.start()
    assert watcher.join(5)
    assert watcher.state.status is WatchStatus.CONTAINER_GONE
    assert watcher.state.error == ""
    assert canned.calls[:2] == ["json", "json"]


def test_watcher_reports_errors_and_gives_up_after_five_in_a_row():
    from layerlab.engine.watch import CopyUpWatcher

    canned = CannedEngine([(0, None)], fail=100)
    watcher = CopyUpWatcher(canned, "box", interval=0.02, attribute=False).start()
    assert watcher.join(5)
    assert watcher.state.status is WatchStatus.FAILED
    assert "poll failed (5/5): OSError: engine hiccup" in watcher.state.error
    assert not _threads()


def test_watcher_recovers_from_one_error_and_clears_it():
    from layerlab.engine.watch import CopyUpWatcher

    canned = CannedEngine([(0, None)], fail=1)
    watcher = CopyUpWatcher(canned, "box", interval=0.02, attribute=False).start()
    watcher.sync(timeout=5)
    assert watcher.state.status is WatchStatus.WATCHING and watcher.state.error == ""
    watcher.stop()
    assert watcher.state.status is WatchStatus.STOPPED and not _threads()


def test_a_second_watcher_of_the_same_container_replaces_the_first():
    from layerlab.engine.watch import CopyUpWatcher

    canned = CannedEngine([(0, None)])
    first = CopyUpWatcher(canned, "box", interval=0.02, attribute=False).start()
    second = CopyUpWatcher(canned, "box", interval=0.02, attribute=False).start()
    assert not first.running and second.running
    assert _threads() == [second.thread_name]
    second.stop()
    assert not _threads()


def test_bad_containers_get_short_errors():
    from layerlab.engine.watch import CopyUpWatcher

    gone = CannedEngine([])
    gone.gone = True
    with pytest.raises(LayerlabError, match="There is no container 'box'") as error:
        CopyUpWatcher(gone, "box")
    assert error.value.fix
    with pytest.raises(LayerlabError, match="is not running") as error:
        CopyUpWatcher(CannedEngine([], running=False), "box")
    assert "docker start box" in error.value.fix
    with pytest.raises(LayerlabError, match="No container was named"):
        CopyUpWatcher(CannedEngine([]), " ")


def test_monitor_widget_updates_from_the_watcher_without_a_browser():
    from layerlab.course.copy_on_write import watch_copy_ups

    canned = CannedEngine([(0, None), (5, api(("/tmp", C), ("/tmp/a", A)))])
    engine = canned
    engine.facts = None
    monitor = watch_copy_ups(engine, "box", interval=0.02, start=False)
    monitor.watcher.attribute = False
    widget = monitor.widget
    monitor.start()
    monitor.wait_for("/tmp/a")
    monitor.sync()
    assert 'data-path="/tmp/a"' in widget.children[0].value and monitor.renders >= 1
    assert "docker exec -it box sh" in widget.children[0].value
    assert monitor._repr_mimebundle_()["text/plain"].startswith("container box: watching")
    button = widget.children[1]
    assert (button.description, button.disabled) == ("Stop watching", False)
    button.click()
    assert not monitor.running and monitor.state.status is WatchStatus.STOPPED
    assert "stopped" in widget.children[0].value
    assert "docker exec" not in widget.children[0].value and "watches again" in widget.children[0].value
    assert (button.description, button.disabled) == ("Watch again", False)
    button.click()  # watch again
    monitor.sync()
    assert monitor.running and button.description == "Stop watching"
    canned.gone = True  # the container is removed: nothing left to watch or to type into
    assert monitor.watcher.join(5)
    assert monitor.state.status is WatchStatus.CONTAINER_GONE
    assert button.disabled and button.description == "Not watching"
    assert "docker exec" not in widget.children[0].value
    assert not _threads()


def test_follow_returns_quietly_on_keyboard_interrupt(capsys, ctrl_c):
    import _thread

    from layerlab.course.copy_on_write import watch_copy_ups

    engine = CannedEngine([(0, None)])
    engine.facts = None
    monitor = watch_copy_ups(engine, "box", interval=0.02)
    monitor.sync(timeout=5)
    assert monitor.running and monitor.state.note.startswith("no layer attribution")
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    monitor.follow()
    assert "stopped watching box" in capsys.readouterr().out
    assert not monitor.running and not _threads(), [(t, t is monitor.watcher._thread) for t in threading.enumerate()]


IGNORING_SIGINT = """\
import signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)  # as `nohup` or a shell's `&` start the suite
import pytest
code = pytest.main(sys.argv[1:])
print("SIGINT after the run:", "ignored" if signal.getsignal(signal.SIGINT) is signal.SIG_IGN else "changed")
sys.exit(code)
"""


def test_a_suite_started_with_sigint_ignored_still_ends():
    """The Ctrl-C test, run by a pytest whose SIGINT is ignored: it must pass and end."""
    here = Path(__file__).resolve()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", IGNORING_SIGINT, "-q", "-p", "no:cacheprovider", "-o", "timeout=60",
             f"{here}::test_follow_returns_quietly_on_keyboard_interrupt"],
            cwd=here.parent.parent, env=env, capture_output=True, text=True, timeout=120,
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"the suite did not end within 120 s with SIGINT ignored:\n{expired.stdout}\n{expired.stderr}")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "1 passed" in out, out
    assert "SIGINT after the run: ignored" in out, out  # the test put the inherited disposition back
    assert time.monotonic() - started < 60, out


def test_the_size_line_is_drawn_on_to_the_last_poll_and_says_what_it_shows():
    from layerlab.views.copyup import size_sparkline

    assert size_sparkline([(0.0, 0)]) == ""
    samples = [(0.0, 0), (2.0, 20_000_000)]
    line = size_sparkline(samples, width=104, height=28, until=10.0)
    assert "SizeRw from +0.0 s to +10.0 s: 0 B to 20 MB" in line
    points = line.split('points="')[1].split('"')[0].split()
    # 0 B until 2 s (a fifth of the width), the step up, then flat to the last poll at the right edge
    assert points[:4] == ["2.0,26.0", "22.0,26.0", "22.0,2.0", "102.0,2.0"] and set(points[4:]) <= {"102.0,2.0"}
    assert "to +2.0 s" in size_sparkline(samples, until=None)


class BurstEngine(CannedEngine):
    """SizeRw grows at every probe while `writing`; the diff lists one file per write so far."""

    def __init__(self):
        super().__init__([])
        self.writing = True
        self.written = 0
        self.diff_times = []

    def container_info(self, reference, size=False):
        if size and self.writing:
            self.written += 1
        self.size_rw = self.written
        return self._info("running", True, self.written if size else None)

    def container_changes(self, container_id):
        self.diff_times.append(time.monotonic())
        return changes_from_api(api(("/w", C), *((f"/w/f{i}", A) for i in range(self.written))))


@pytest.mark.parametrize("cap", [3, None])
def test_a_burst_is_coalesced_to_three_diffs_a_second_and_loses_no_write(cap):
    """SizeRw changes at every probe (50 a second): with the cap, at most 3 `/changes` calls
    in any second; the write seen while the second's calls are spent is owed and paid when
    the burst stops, with no full diff due for a long time. Without the cap the engine walks
    the layer at every probe: the bound is real."""
    from layerlab.engine.watch import CopyUpWatcher

    burst = BurstEngine()
    watcher = CopyUpWatcher(burst, "box", interval=0.02, full_every=50, attribute=False, max_diffs=cap)
    watcher.start()
    try:
        deadline = time.monotonic() + 1.6
        while time.monotonic() < deadline:
            time.sleep(0.05)
        burst.writing = False
        last = f"/w/f{burst.written - 1}"
        deadline = time.monotonic() + 3  # no wait_for: it would ask for a diff of its own
        while last not in watcher.state.paths and time.monotonic() < deadline:
            time.sleep(0.02)
        with watcher.lock:
            seen = set(watcher.state.paths)
        assert {f"/w/f{i}" for i in range(burst.written)} <= seen
    finally:
        watcher.stop()
    busiest = most_in_one_second(burst.diff_times)
    if cap:
        assert busiest <= cap
        assert len(burst.diff_times) >= 4  # it did keep diffing through the burst
    else:
        assert busiest > 3
    assert not _threads()


class GatedEngine(CannedEngine):
    """SizeRw never changes; each `/changes` call is counted, and while `gate` is cleared the
    call waits on it (a diff in flight, as on a layer holding a big file)."""

    def __init__(self):
        super().__init__([(1, api(("/w", C)))])
        self.diffs = 0
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.gate.set()

    def container_changes(self, container_id):
        self.diffs += 1
        self.entered.set()
        assert self.gate.wait(5)
        return super().container_changes(container_id)


def _started_watcher(engine):
    from layerlab.engine.watch import CopyUpWatcher

    watcher = CopyUpWatcher(engine, "box", interval=0.02, full_every=50, attribute=False)
    watcher.start()
    deadline = time.monotonic() + 5
    while watcher.state.diffs < 1 and time.monotonic() < deadline:  # the first diff is always made
        time.sleep(0.01)
    assert watcher.state.diffs == 1
    return watcher


def test_sync_with_no_diff_in_flight_costs_one_diff():
    """Nothing in flight: the next diff starts after the call, and it is the only one waited
    for (lesson 02's cells sync after every write, at about 0.3 s a diff of a 20 MB layer)."""
    gated = GatedEngine()
    watcher = _started_watcher(gated)
    try:
        before = gated.diffs
        watcher.sync(timeout=5)
        assert gated.diffs == before + 1
        watcher.sync(timeout=5)
        assert gated.diffs == before + 2
    finally:
        watcher.stop()
    assert not _threads()


def test_sync_during_a_diff_in_flight_waits_for_the_next_one():
    """The diff in flight may have listed the layer before the caller's last write: sync()
    must not return on it, and its request must not be spent by it either."""
    gated = GatedEngine()
    watcher = _started_watcher(gated)
    returned = threading.Event()
    try:
        gated.gate.clear()
        gated.entered.clear()
        with watcher.lock:
            watcher._sync_requests += 1  # someone else's request starts a diff
        assert gated.entered.wait(5)
        in_flight = gated.diffs
        waiter = threading.Thread(target=lambda: (watcher.sync(timeout=5), returned.set()), daemon=True)
        waiter.start()
        deadline = time.monotonic() + 5
        while not watcher._sync_requests > 1 and time.monotonic() < deadline:  # sync() has asked
            time.sleep(0.01)
        gated.entered.clear()
        gated.gate.set()  # the diff in flight ends ...
        assert gated.entered.wait(5)  # ... and another one starts for the waiting sync()
        assert returned.wait(5)
        assert gated.diffs == in_flight + 1
    finally:
        gated.gate.set()
        watcher.stop()
    assert not _threads()
