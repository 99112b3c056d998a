"""Where the engine's answers come from: the protocol every source keeps, and the replay.

An `Engine` is handed one source when it is made and nothing patches it afterwards:

- a live source: the engine itself (`layerlab.engine.sources.LiveSource`);
- a recording source: the engine, through a proxy that keeps every answer
  (`layerlab.engine.sources.RecordingSource`);
- a replay source: a server that answers from a recording (`ReplaySource`, here).

A source says where the docker SDK connects (`base_url`), how the docker CLI is run
(`run_cli`), the clock notes (`notes`), how often a poller may ask the same question
(`budget`), and one sentence for the learner (`note`). Nothing here imports `docker`.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Callable, Mapping, Protocol, Sequence

from ..core.i18n import _
from ..core.engineinfo import EngineFacts
from .cli import CliResult, replay_cli
from .notes import LiveNotes, ReplayNotes


class SourceKind(enum.Enum):
    LIVE = "live"
    RECORDING = "recording"
    REPLAY = "replay"

    @property
    def live(self) -> bool:
        """A real engine answers (also while recording)."""
        return self is not SourceKind.REPLAY


class RequestBudget:
    """How many times a poller may ask one question: unlimited, except in replay, where
    each request is answered at most as often as the recording answered it (so a watcher
    never takes the answers meant for the lesson's own calls)."""

    def __init__(self, limits: Mapping[str, int] | None = None):
        self.limits = None if limits is None else dict(limits)

    def take(self, method: str, target: str) -> bool:
        if self.limits is None:
            return True
        from .httpwire import request_key  # here: a live engine's budget never asks

        key = request_key(method, target)
        left = self.limits.get(key, 0)
        if left <= 0:
            return False
        self.limits[key] = left - 1
        return True


OnLine = Callable[[str], None]


class Source(Protocol):
    kind: SourceKind
    base_url: str
    header: Mapping  # a recording's header (facts, date, learner); empty live
    note: str
    notes: LiveNotes

    def run_cli(self, args: Sequence[str], key: str, on_line: OnLine | None, timeout: float,
                cwd: str | None, env: Mapping[str, str]) -> CliResult: ...

    def budget(self) -> RequestBudget: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class ReplaySource:
    """Answers from a lesson's recording, at `speed` times the recorded pace (0: at once)."""

    kind = SourceKind.REPLAY

    def __init__(self, path: Path, speed: float, reason: str):
        from .store import Recording  # here, not at the top: a live engine never needs them
        from .wire import ReplayServer

        self.recording = Recording.load(path)
        self.server = ReplayServer(self.recording, speed=speed)
        self.base_url = self.server.url
        self.speed = speed
        self.header = self.recording.header
        self.facts = EngineFacts.from_dict(self.header["facts"])
        self.notes = ReplayNotes(self.recording)
        self._cli_used: set[int] = set()
        self.note = _("Replay: recorded on Docker {version} ({flavour}) on {date}; no live engine ({reason}). "
                      "Connect an engine to run it live.").format(
            version=self.facts.engine_version, flavour=self.facts.flavour, date=self.header["recorded_at"],
            reason=reason.rstrip("."))

    @property
    def api_version(self) -> str:
        return self.header["api_version"]

    def run_cli(self, args, key, on_line, timeout, cwd, env) -> CliResult:
        return replay_cli(self.recording, self._cli_used, key, on_line, self.speed)

    def budget(self) -> RequestBudget:
        limits: dict[str, int] = {}
        for exchange in self.recording.exchanges:
            limits[exchange.key] = limits.get(exchange.key, 0) + 1
        return RequestBudget(limits)

    def flush(self) -> None:
        """Nothing to save: a replay keeps nothing."""

    def close(self) -> None:
        self.server.stop()
