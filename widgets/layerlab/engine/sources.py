"""Choosing the source once: a live engine, a live engine being recorded, or a recording.

    LAYERLAB_SOURCE=auto     (default) live when an engine answers, else the lesson's recording
    LAYERLAB_SOURCE=live     live only: no engine is an error
    LAYERLAB_SOURCE=replay   the recording, even when an engine answers (tests hide the engine so)
    LAYERLAB_RECORD=FOLDER   live, and record what the engine answers into FOLDER/<lesson>.json.gz

The choice is one source object handed to the `Engine` (see `layerlab.replay.source` for the
protocol); its `note` says why, and the lesson shows it to the learner.
"""

from __future__ import annotations

import atexit
import datetime
import os
from pathlib import Path
from typing import Mapping

from ..core.engineinfo import EngineFacts
from ..core.i18n import _
from ..core.errors import EngineError, LayerlabError
from ..core.naming import LEARNER_ENV, learner_id
from ..replay.cli import CliResult
from ..replay.notes import LiveNotes, RecordingNotes
from ..replay.source import RequestBudget, SourceKind
from .connection import CONNECT_TIMEOUT, probe_engine

SOURCE_ENV = "LAYERLAB_SOURCE"
RECORD_ENV = "LAYERLAB_RECORD"
RECORDINGS_ENV = "LAYERLAB_RECORDINGS"  # another folder of recordings (tests use it)
SPEED_ENV = "LAYERLAB_REPLAY_SPEED"  # 1 (default): the recorded pace; 50: fifty times faster; instant


class LiveSource:
    """The engine itself."""

    kind = SourceKind.LIVE

    def __init__(self, facts: EngineFacts):
        self.base_url = facts.host
        self.header: dict = {}
        self.notes: LiveNotes = LiveNotes()
        self.note = _("Live: Docker {version} ({flavour}).").format(version=facts.engine_version, flavour=facts.flavour)

    def run_cli(self, args, key, on_line, timeout, cwd, env) -> CliResult:
        from .clirun import run_live_cli  # here: most commands never run the docker CLI

        returncode, timed = run_live_cli(args, on_line, timeout, cwd, env)
        return CliResult(returncode=returncode, lines=[line for _, line in timed])

    def budget(self) -> RequestBudget:
        return RequestBudget()

    def flush(self) -> None:
        """Nothing to save."""

    def close(self) -> None:
        """Nothing to stop."""


class RecordingSource(LiveSource):
    """The engine, through a proxy that keeps every answer; saved on flush, close and exit."""

    kind = SourceKind.RECORDING

    def __init__(self, facts: EngineFacts, environ: Mapping[str, str], path: Path, lesson: str):
        super().__init__(facts)
        self.path = path
        from ..replay import Recording, RecordingProxy  # here: a live engine never records
        self.recording = Recording(
            header={
                "lesson": lesson,
                "facts": facts.to_dict(),
                "recorded_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
                "learner": learner_id(environ),
                "api_version": facts.api_version,
            }
        )
        self.header = self.recording.header
        self.proxy = RecordingProxy(facts.host, self.recording)
        self.base_url = self.proxy.url
        self.notes = RecordingNotes(self.recording)
        self.note = _("Live: Docker {version} ({flavour}), recorded for replay.").format(
            version=facts.engine_version, flavour=facts.flavour)
        self._closed = False
        atexit.register(self.flush)

    def run_cli(self, args, key, on_line, timeout, cwd, env) -> CliResult:
        from ..replay.store import CliRun

        from .clirun import run_live_cli  # here: most commands never run the docker CLI

        returncode, timed = run_live_cli(args, on_line, timeout, cwd, env)
        with self.recording.lock:
            self.recording.cli_runs.append(CliRun(key=key, returncode=returncode, lines=timed))
        return CliResult(returncode=returncode, lines=[line for _, line in timed])

    def flush(self) -> None:
        if self._closed:
            return
        self.proxy.wait_idle()
        self.recording.save(self.path)

    def close(self) -> None:
        self.flush()
        self._closed = True
        self.proxy.stop()


def replay_speed(environ: Mapping[str, str]) -> float:
    """How many times faster than recorded a replay answers; 0 means at once (no waiting)."""
    text = (environ.get(SPEED_ENV) or "1").strip().lower()
    if text in ("instant", "0", "max"):
        return 0.0
    try:
        speed = float(text.rstrip("x"))
    except ValueError:
        speed = -1.0
    if speed <= 0:
        raise LayerlabError(
            f"{SPEED_ENV}={text} is not a replay speed.",
            "Use 1 for the recorded pace, a larger number to go faster (50 is fifty times faster), or instant.",
        )
    return speed


def connect(environ: Mapping[str, str] | None = None, lesson: str | None = None, timeout: float = CONNECT_TIMEOUT,
            ask_buildx: bool = True):
    """The engine for a lesson, from the source LAYERLAB_SOURCE and LAYERLAB_RECORD choose
    (`ask_buildx=False`: for commands that never build, see `probe_engine`)."""
    from .engine import Engine

    environ = dict(os.environ if environ is None else environ)
    source = environ.get(SOURCE_ENV, "auto").strip().lower() or "auto"
    if source not in ("auto", "live", "replay"):
        raise LayerlabError(f"{SOURCE_ENV}={source} is not a source.", "Use auto, live or replay.")
    if source == "replay":
        return connect_replay(lesson, environ, reason=f"{SOURCE_ENV}=replay")
    try:
        facts = probe_engine(environ, timeout, ask_buildx=ask_buildx)
    except EngineError as error:
        recording = _recording_file(lesson, environ)
        if source == "auto" and recording is not None and recording.exists():
            return connect_replay(lesson, environ, reason=error.what)
        raise
    if environ.get(RECORD_ENV) and lesson:
        path = Path(environ[RECORD_ENV]) / f"{lesson}.json.gz"
        return Engine(RecordingSource(facts, environ, path, lesson), facts, environ)
    return Engine(LiveSource(facts), facts, environ)


def _recording_file(lesson: str | None, environ: Mapping[str, str]) -> Path | None:
    if not lesson:
        return None
    folder = environ.get(RECORDINGS_ENV)
    from ..replay import recording_path

    return recording_path(lesson, Path(folder) if folder else None)


def connect_replay(lesson: str | None, environ: Mapping[str, str], reason: str):
    """The engine a lesson's recording plays (its learner id is the recording's)."""
    from .engine import Engine

    path = _recording_file(lesson, environ)
    if path is None or not path.exists():
        raise EngineError(
            f"No engine to use, and no recording of lesson {lesson or '(none named)'} to replay ({reason}).",
            "Start a Docker engine (see the README), or record the lesson with `python -m layerlab record`.",
        )
    from ..replay.source import ReplaySource

    source = ReplaySource(path, speed=replay_speed(environ), reason=reason)
    replay_environ = dict(environ)
    replay_environ[LEARNER_ENV] = source.header["learner"]  # the names the recording holds
    return Engine(source, source.facts, replay_environ)


def connect_live(environ: Mapping[str, str] | None = None, timeout: float = CONNECT_TIMEOUT):
    """The engine the docker CLI would use, live (no recording, no replay)."""
    from .engine import Engine

    environ = dict(os.environ if environ is None else environ)
    facts = probe_engine(environ, timeout)
    return Engine(LiveSource(facts), facts, environ)
