"""Values that depend on the clock, kept in a recording and given back in replay.

Live, how long `docker stop` took or whether a container was still running when its time
limit came depends on the wall clock. A replay answers as fast as it is asked (or at a pace
the learner picks), so the same code would measure other times and take other branches. Code
that measures time therefore passes what it measured through the engine's notes:

    seconds = engine.notes.value("stop-seconds", time.monotonic() - started)

Live, that is the measured value. While recording, it is also kept, in order, under its name.
In replay it is the value recorded at the same place, whatever the replay's own clock says.
`replayed(name)` lets code that must decide *before* it measures (a time limit) ask for the
recorded outcome first.
"""

from __future__ import annotations

import collections
import threading
from typing import Any


class LiveNotes:
    """Live, not recording: a note is the measured value."""

    replaying = False

    def replayed(self, name: str) -> Any:
        """The recorded value for the next note called `name`, in replay; None otherwise."""
        return None

    def keep(self, name: str, value: Any) -> Any:
        return value

    def value(self, name: str, measured: Any) -> Any:
        """The recorded value in replay (when there is one), else `measured` (kept if recording)."""
        recorded = self.replayed(name)
        return self.keep(name, measured) if recorded is None else recorded


class RecordingNotes(LiveNotes):
    """Live, and every note is kept in the recording (JSON values only)."""

    def __init__(self, recording):
        self.recording = recording

    def keep(self, name: str, value: Any) -> Any:
        with self.recording.lock:
            self.recording.notes.append([name, value])
        return value


class ReplayNotes(LiveNotes):
    """Replay: the recorded notes, handed out per name in the order they were kept."""

    replaying = True

    def __init__(self, recording):
        self._queues: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        for name, value in recording.notes:
            self._queues[name].append(value)
        self._lock = threading.Lock()

    def replayed(self, name: str) -> Any:
        with self._lock:
            queue = self._queues.get(name)
            return queue.popleft() if queue else None

    def keep(self, name: str, value: Any) -> Any:
        return value
