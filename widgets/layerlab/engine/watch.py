"""`CopyUpWatcher`: one thread that polls a running container's R/W layer.

It reads the engine API only, so it works with overlay2, the containerd image store and
Docker Desktop alike:

- every `interval` seconds a cheap probe, `GET /containers/{id}/json?size=1`: is the container
  still there and running, and how big is its R/W layer (SizeRw);
- `GET /containers/{id}/changes` (`docker diff`, the expensive call: the engine walks the
  layer) when SizeRw changed since the last diff, or at the latest every `full_every` seconds
  (a deletion or a chmod of a copied-up directory changes no byte count). Never more than
  `max_diffs` calls in any one second (MAX_DIFFS_PER_SECOND): while SizeRw keeps changing,
  a change seen when the second's calls are spent is owed, not dropped, and the diff that
  pays it runs the moment the oldest call of the second has aged out, covering every write
  since the last one;
- `HEAD /containers/{id}/archive?path=P` (the stat behind `docker cp`) for at most
  `MAX_STATS` new or growing paths per poll, to show their sizes.

The thread feeds a `CopyUpState` (core.copyup) under a lock and calls `on_update` after each
visible change. It stops by itself when the container stops or is removed, after
`MAX_FAILURES` errors in a row (each error is kept in the state, never swallowed), on
`stop()`, and when the process exits (daemon thread, stopped at exit). Starting a watcher
for a container stops the previous watcher of the same container in this process, so that
running a notebook cell again never leaves two threads behind.

In replay the watcher asks each recorded endpoint at most as many times as the recording
answered it, then keeps the last answer: polling never takes the answers meant for the
lesson's own calls.
"""

from __future__ import annotations

import atexit
import collections
import threading
import time
import weakref
from typing import Callable
from urllib.parse import urlencode

from ..core.copyup import (
    DEFAULT_FULL_EVERY,
    DEFAULT_INTERVAL,
    MAX_INTERVAL,
    MIN_INTERVAL,
    Attributor,
    ChangeEvent,
    CopyUpState,
    WatchStatus,
    kind_word,
)
from ..core.errors import EngineRefused, LayerlabError, NotOnEngine
from ..core.i18n import _
from ..core.model import ChangeKind, short_id
from ..core.objects import ContainerInfo
from .engine import Engine
from .refusals import transport_errors

MAX_STATS = 16
MAX_RESTATS = 4
MAX_FAILURES = 5
STOP_GRACE = 0.5  # after seeing the container stopped, look again: removed, or only stopped?
REMOVAL_WAIT = 15.0  # how long a container may stay "removing"
#: `/changes` calls allowed in any one second (see the module's docstring). At the benchmark's
#: burst pace, a write every 0.2-0.38 s, it coalesces about one write in eight.
MAX_DIFFS_PER_SECOND = 3

_active: "weakref.WeakValueDictionary[str, CopyUpWatcher]" = weakref.WeakValueDictionary()
_active_lock = threading.Lock()


def resolve_container(engine: Engine, container) -> ContainerInfo:
    """The running container given as a handle, an id or a name; short errors when unusable."""
    reference = getattr(container, "id", container)
    if not reference or not str(reference).strip():
        raise LayerlabError(_("No container was named."), _("Give a container name or id (see `docker ps`)."))
    try:
        info = engine.container_info(str(reference).strip())
    except NotOnEngine:
        raise LayerlabError(
            _("There is no container {name}.").format(name=repr(getattr(container, "name", reference))),
            _("It may have been removed already; start one again (run the cell above) or check `docker ps -a`."),
        ) from None
    except EngineRefused as error:
        raise LayerlabError(
            _("The engine cannot inspect container {name}: {reason}.").format(
                name=repr(reference), reason=error.explanation or error.what),
            _("Check the name with `docker ps`."),
        ) from None
    if not info.running:
        name = info.name or reference
        raise LayerlabError(
            _("Container {name} is not running ({status}): nothing writes to its R/W layer.").format(
                name=name, status=info.status or _("not running")),
            _("Start it with `docker start {name}`, or watch a running container (see `docker ps`).").format(name=name),
        )
    return info


class CopyUpWatcher:
    """Polls one container's R/W layer in one daemon thread; `start()` / `stop()`."""

    def __init__(
        self,
        engine: Engine,
        container,
        interval: float = DEFAULT_INTERVAL,
        full_every: float = DEFAULT_FULL_EVERY,
        on_update: Callable[[CopyUpState, list[ChangeEvent]], None] | None = None,
        attribute: bool = True,
        max_diffs: int | None = MAX_DIFFS_PER_SECOND,
    ):
        info = resolve_container(engine, container)
        self.engine = engine
        self.container_id: str = info.id
        self.interval = min(max(float(interval), MIN_INTERVAL), MAX_INTERVAL)
        if not engine.live:
            # Replay: the recorded answers come in order whatever the pace; play them briskly
            # so that the watcher never lags behind the lesson's cells.
            self.interval = MIN_INTERVAL
        self.full_every = min(max(float(full_every), self.interval), 10 * MAX_INTERVAL)
        self.on_update = on_update
        self.attribute = attribute
        # A replay's answers cost no engine work, and the lesson's cells wait on them.
        self.max_diffs = max_diffs if (engine.live and max_diffs) else None
        self._diff_starts: collections.deque[float] = collections.deque()
        self._owed = False  # a change was seen while the second's diffs were spent
        self.state = CopyUpState(
            container_id=self.container_id,
            name=info.name,
            image=info.image,
            image_id=info.image_id,
        )
        self.lock = threading.Condition()
        self.attributor = None
        self._stop = threading.Event()
        # Set by the thread as it ends. Waiting on it (not on Thread.join) keeps a Ctrl-C
        # during the wait harmless: an interrupted join can leave a thread marked as stopped.
        self._finished = threading.Event()
        self._finished.set()
        self._thread: threading.Thread | None = None
        self._started_at = 0.0
        self._sync_requests = 0
        # Diffs are numbered as they start; `_diff_done` is the number of the last one that
        # finished. sync() waits for a number above the last started at its call.
        self._diff_started = 0
        self._diff_done = 0
        self._budget = engine.budget()
        self.stats = 0  # HEAD requests made (for the benchmark)
        self._last_status: str | None = None

    # -- control ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return not self._finished.is_set()

    @property
    def thread_name(self) -> str:
        return f"layerlab-copyup-{short_id(self.container_id)}"

    def start(self) -> "CopyUpWatcher":
        if self.running:
            return self
        with _active_lock:
            previous = _active.get(self.container_id)
            _active[self.container_id] = self
        if previous is not None and previous is not self:
            previous.stop()  # outside the lock: its thread takes the lock on its way out
        self._stop.clear()
        self._finished.clear()
        self._started_at = time.monotonic()
        with self.lock:
            self.state.set_status(WatchStatus.STARTING, error="")
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling and wait for the thread to end (safe to call twice, from any thread)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            if self._finished.wait(timeout):
                thread.join(1.0)  # it is on its last lines: wait until it has left
        with self.lock:
            if self.state.status.active:
                self.state.set_status(WatchStatus.STOPPED)
            self.lock.notify_all()
        self._notify([])

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the thread ends (the container went away, stop() was called); True if it did."""
        if not self._finished.wait(timeout):
            return False
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(1.0)  # it is on its last lines: wait until it has left
        return True

    # -- waiting (for notebooks and tests) ----------------------------------------------

    def wait_for(self, path: str, kind: ChangeKind | None = None, timeout: float = 30.0) -> ChangeEvent:
        """The first event for `path` (of `kind`), waiting for it if it has not happened yet."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                found = self.state.find(path, kind)
                if found is not None:
                    return found
                if not self.state.status.active:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._sync_requests += 1  # ask for a diff at the next poll, not in full_every
                self.lock.wait(min(left, 0.5))
        if kind:
            what = _("The monitor saw no {kind} {path} within {timeout:.0f} s ({status}).").format(
                kind=kind_word(kind), path=path, timeout=timeout, status=self.state.status.text)
        else:
            what = _("The monitor saw no {path} within {timeout:.0f} s ({status}).").format(
                path=path, timeout=timeout, status=self.state.status.text)
        raise LayerlabError(
            what, self.state.error or _("Check that the command in the container really wrote there (`docker diff NAME`)."),
        )

    def sync(self, timeout: float = 30.0) -> CopyUpState:
        """Wait for a complete poll (probe and diff) that started after this call."""
        with self.lock:
            # A diff in flight now may have listed the layer before the caller's last write:
            # wait for the next one to start, not for that one and another after it.
            target = self._diff_started + 1
            self._sync_requests += 1
            deadline = time.monotonic() + timeout
            while self._diff_done < target and self.state.status.active:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LayerlabError(
                        _("The monitor did not finish a poll within {timeout:.0f} s.").format(timeout=timeout),
                        self.state.error or _("The engine may be busy; try again."),
                    )
                self.lock.wait(min(left, 0.5))
            return self.state

    # -- the thread ---------------------------------------------------------------------

    def _now(self) -> float:
        return time.monotonic() - self._started_at

    def _notify(self, events: list[ChangeEvent]) -> None:
        if self.on_update is None:
            return
        try:
            self.on_update(self.state, events)
        except Exception as error:  # a broken view must not kill the watcher: say so instead
            with self.lock:
                self.state.error = _("showing the update failed: {kind}: {error}").format(
                    kind=type(error).__name__, error=error)

    def _run(self) -> None:
        try:
            self._prepare_attribution()
            with self.lock:
                self.state.set_status(WatchStatus.WATCHING)
            self._notify([])
            self._loop()
        except BaseException as error:  # noqa: BLE001 - reported in the state, not lost
            with self.lock:
                self.state.set_status(WatchStatus.FAILED, error=_explain(error))
        finally:
            with self.lock:
                if self.state.status.active:
                    self.state.set_status(WatchStatus.STOPPED)
                self.lock.notify_all()
            self._notify([])
            with _active_lock:
                if _active.get(self.container_id) is self:
                    del _active[self.container_id]
            self._finished.set()

    def _prepare_attribution(self) -> None:
        if not self.attribute:
            return
        with self.lock:
            self.state.set_status(WatchStatus.INDEXING)
        self._notify([])
        from .layers import image_layers

        try:
            layers = image_layers(self.engine, self.state.image_id)
            instructions = [layers.entry_for_layer(i).instruction for i in range(len(layers.files.layers))]
            self.attributor = Attributor(layers.files, instructions)
            with self.lock:
                self.state.stack = layers.stack
        except Exception as error:  # noqa: BLE001 - attribution is optional: watch on, and say why it is off
            with self.lock:
                self.state.note = _("no layer attribution: {reason}").format(reason=_explain(error))

    def _loop(self) -> None:
        failures = 0
        last_diff = float("-inf")
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                finished = self._poll(started - last_diff >= self.full_every)
                if failures:  # this poll got through: the earlier error is history
                    with self.lock:
                        self.state.error = ""
                    if finished is None:
                        self._notify([])
                failures = 0
                if finished is None:
                    return
                if finished:
                    last_diff = started
            except (EngineRefused, *transport_errors(), ValueError, KeyError) as error:
                failures += 1
                with self.lock:
                    self.state.error = _("poll failed ({failures}/{limit}): {reason}").format(
                        failures=failures, limit=MAX_FAILURES, reason=_explain(error))
                    if failures >= MAX_FAILURES:
                        self.state.set_status(WatchStatus.FAILED)
                self._notify([])
                if failures >= MAX_FAILURES:
                    return
            pause = self.interval - (time.monotonic() - started)
            if self._owed:  # wake when the owed diff may run, not a whole interval later
                pause = min(pause, self._diff_wait())
            self._stop.wait(max(0.0, pause))

    def _diff_wait(self) -> float:
        """Seconds until one more `/changes` call keeps within `max_diffs` a second; 0: now."""
        if not self.max_diffs:
            return 0.0
        now = time.monotonic()
        while self._diff_starts and now - self._diff_starts[0] >= 1.0:
            self._diff_starts.popleft()
        if len(self._diff_starts) < self.max_diffs:
            return 0.0
        return 1.0 - (now - self._diff_starts[0])

    def _poll(self, diff_due: bool) -> bool | None:
        """One poll. Returns True when it diffed, False when it only probed, None to stop."""
        probe = self._probe()
        if probe is None:
            with self.lock:
                self.state.set_status(WatchStatus.CONTAINER_GONE)
            return None
        running, size_rw = probe
        if self._last_status in ("removing", "dead"):
            # `docker rm -f`: the engine is deleting the layer, and a diff now fails with
            # "no such file". The last diff stands; wait for the container to be gone.
            self._finish_stopped()
            return None
        with self.lock:
            grew = self.state.record_size(self._now(), size_rw)
            wanted = self._sync_requests > 0
        diff = grew or diff_due or wanted or not running or self.state.diffs == 0 or self._owed
        if diff and running and self._diff_wait() > 0:
            self._owed = True  # the layer's walk waits for the next slot; nothing is lost
            diff = False
        if not diff:
            if grew:
                self._notify([])
            return False
        self._owed = False
        self._diff_starts.append(time.monotonic())
        with self.lock:
            self._diff_started += 1
            number = self._diff_started
            answered = self._sync_requests  # a request made while this diff runs waits for the next
        raw = self._changes()
        if raw is _GONE:
            with self.lock:
                self.state.set_status(WatchStatus.CONTAINER_GONE)
            return None
        changes = raw
        events: list[ChangeEvent] = []
        if changes is None:  # replay: the recording has no more answers, keep the last
            with self.lock:
                self.state.diffs += 1
                self._sync_requests -= answered
                self.lock.notify_all()
        else:
            sizes = self._measure(changes, grew)
            with self.lock:
                events = self.state.apply(changes, self._now(), size_rw=None, sizes=sizes, attributor=self.attributor)
                self._sync_requests -= answered
                self.lock.notify_all()
        self._notify(events)
        with self.lock:  # done once the views have drawn it: sync() returns to an updated view
            self._diff_done = number
            self.lock.notify_all()
        if running:
            return True
        self._finish_stopped()
        return None

    def _finish_stopped(self) -> None:
        """The container stopped: say whether it is being removed (`docker rm -f` kills first)."""
        started = time.monotonic()
        gone = False
        while not self._stop.wait(STOP_GRACE):
            if self._probe() is None:
                gone = True
                break
            # `docker rm -f` kills, waits for the exit, then removes: "exited" for a moment,
            # then "removing" while the engine deletes the layer. Look for a second at least.
            waited = time.monotonic() - started
            removing = self._last_status in ("removing", "dead")
            if (not removing and waited >= 2 * STOP_GRACE) or waited > REMOVAL_WAIT:
                break
        with self.lock:
            self.state.set_status(WatchStatus.CONTAINER_GONE if gone else WatchStatus.CONTAINER_STOPPED)
            self.lock.notify_all()

    def _probe(self) -> tuple[bool, int | None] | None:
        if not self._budget.take("GET", f"/containers/{self.container_id}/json?size=1"):
            self._last_status = None
            return True, self.state.size_rw
        try:
            info = self.engine.container_info(self.container_id, size=True)
        except NotOnEngine:
            return None
        self._last_status = info.status
        size = info.size_rw
        if self._last_status in ("removing", "dead"):
            # The engine is deleting the layer and reports SizeRw 0 part-way: that is not
            # what the container wrote, so keep the last real figure.
            size = None
        return info.running, size

    def _changes(self):
        if not self._budget.take("GET", f"/containers/{self.container_id}/changes"):
            return None
        try:
            return self.engine.container_changes(self.container_id)
        except NotOnEngine:
            return _GONE

    def _measure(self, changes, grew: bool) -> dict[str, tuple[int | None, bool | None]]:
        """Sizes of new paths (and, when SizeRw changed, of files already seen), MAX_STATS at most."""
        known = self.state.paths
        wanted = [p for p, k in changes.items() if k is not ChangeKind.DELETED and (p not in known or known[p].kind is not k)]
        if grew and not wanted:
            # SizeRw moved and no new path explains it: a file already seen grew. Look again
            # at the few most recent ones only (each stat costs a request).
            wanted = sorted(
                (p for p, s in known.items() if p in changes and s.kind is not ChangeKind.DELETED and not s.is_dir),
                key=lambda p: -known[p].first_seen,
            )[:MAX_RESTATS]
        sizes = {}
        for path in wanted[:MAX_STATS]:
            if self._stop.is_set():
                break
            stat = self._stat(path)
            if stat is not None:
                sizes[path] = stat
        return sizes

    def _stat(self, path: str) -> tuple[int | None, bool | None] | None:
        if not self._budget.take("HEAD", f"/containers/{self.container_id}/archive?{urlencode({'path': path})}"):
            return None
        self.stats += 1
        stat = self.engine.stat_path(self.container_id, path)
        if stat is None:
            return None
        return (None if stat.is_dir else stat.size), stat.is_dir


_GONE = object()


def _explain(error: BaseException) -> str:
    if isinstance(error, EngineRefused):
        return _("the engine answered {status}: {reason}").format(status=error.status, reason=error.explanation or error.what)
    if isinstance(error, LayerlabError):
        return error.what
    return f"{type(error).__name__}: {error}"


def active_watchers() -> list[CopyUpWatcher]:
    with _active_lock:
        return [w for w in _active.values() if w.running]


@atexit.register
def _stop_all() -> None:
    for watcher in active_watchers():
        watcher._stop.set()
