"""Choosing the source once: a live engine, a live engine being recorded, or a recording.

    LAYERLAB_SOURCE=auto     (default) live when an engine answers, else the lesson's recording
    LAYERLAB_SOURCE=live     live only: no engine is an error
    LAYERLAB_SOURCE=replay   the recording, even when an engine answers (tests hide the engine so)
    LAYERLAB_RECORD=FOLDER   live, and record what the engine answers into FOLDER/<lesson>.json.gz

The reason for the choice is kept on the Engine (`engine.source_note`) and shown to the learner.
"""

from __future__ import annotations

import atexit
import datetime
import os
from pathlib import Path
from typing import Mapping

import docker

from ..core.engineinfo import EngineFacts
from ..core.errors import EngineError, LayerlabError
from ..core.naming import LEARNER_ENV, learner_id
from ..replay import Recording, RecordingProxy, ReplayServer, recording_path
from ..replay.notes import RecordingNotes, ReplayNotes
from .connection import CONNECT_TIMEOUT, WORK_TIMEOUT, connect_live, without_proxy_lookups

SOURCE_ENV = "LAYERLAB_SOURCE"
RECORD_ENV = "LAYERLAB_RECORD"
RECORDINGS_ENV = "LAYERLAB_RECORDINGS"  # another folder of recordings (tests use it)
SPEED_ENV = "LAYERLAB_REPLAY_SPEED"  # 1 (default): the recorded pace; 50: fifty times faster; instant


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


def connect(environ: Mapping[str, str] | None = None, lesson: str | None = None, timeout: float = CONNECT_TIMEOUT):
    environ = dict(os.environ if environ is None else environ)
    source = environ.get(SOURCE_ENV, "auto").strip().lower() or "auto"
    if source not in ("auto", "live", "replay"):
        raise LayerlabError(f"{SOURCE_ENV}={source} is not a source.", "Use auto, live or replay.")
    if source == "replay":
        return connect_replay(lesson, environ, reason=f"{SOURCE_ENV}=replay")
    try:
        engine = connect_live(environ, timeout)
    except EngineError as error:
        recording = _recording_file(lesson, environ)
        if source == "auto" and recording is not None and recording.exists():
            return connect_replay(lesson, environ, reason=error.what)
        raise
    if environ.get(RECORD_ENV) and lesson:
        start_recording(engine, Path(environ[RECORD_ENV]) / f"{lesson}.json.gz", lesson)
    return engine


def _recording_file(lesson: str | None, environ: Mapping[str, str]) -> Path | None:
    if not lesson:
        return None
    folder = environ.get(RECORDINGS_ENV)
    return recording_path(lesson, Path(folder) if folder else None)


def facts_to_dict(facts: EngineFacts) -> dict:
    data = dict(facts.__dict__)
    data["storage_kind"] = facts.storage_kind.name
    return data


def start_recording(engine, path: Path, lesson: str) -> None:
    """Put a recording proxy between the engine and the course; save at exit and on flush."""
    recording = Recording(
        header={
            "lesson": lesson,
            "facts": facts_to_dict(engine.facts),
            "recorded_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
            "learner": learner_id(engine.environ),
            "api_version": engine.client.api.api_version,
        }
    )
    proxy = RecordingProxy(engine.facts.host, recording)
    engine.client.close()
    engine.client = without_proxy_lookups(
        docker.DockerClient(base_url=proxy.url, version=recording.header["api_version"], timeout=WORK_TIMEOUT))
    engine.recording = recording
    engine.recording_path = path
    engine._wire = proxy
    engine.notes = RecordingNotes(recording)
    engine.source_note = (
        f"Live: Docker {engine.facts.engine_version} ({engine.facts.flavour}), recorded for replay."
    )

    def save() -> None:
        proxy.wait_idle()
        recording.save(path)

    engine.flush_recording = save
    atexit.register(save)


def connect_replay(lesson: str | None, environ: Mapping[str, str], reason: str):
    from .engine import Engine

    path = _recording_file(lesson, environ)
    if path is None or not path.exists():
        raise EngineError(
            f"No engine to use, and no recording of lesson {lesson or '(none named)'} to replay ({reason}).",
            "Start a Docker engine (see the README), or record the lesson with `python -m layerlab record`.",
        )
    recording = Recording.load(path)
    speed = replay_speed(environ)
    server = ReplayServer(recording, speed=speed)
    header = recording.header
    facts = EngineFacts.from_dict(header["facts"])
    client = without_proxy_lookups(
        docker.DockerClient(base_url=server.url, version=header["api_version"], timeout=WORK_TIMEOUT))
    replay_environ = dict(environ)
    replay_environ[LEARNER_ENV] = header["learner"]  # the names the recording holds
    engine = Engine(client=client, facts=facts, environ=replay_environ)
    engine.live = False
    engine.recording = recording
    engine._wire = server
    engine.notes = ReplayNotes(recording)
    engine.source_note = (
        f"Replay: recorded on Docker {facts.engine_version} ({facts.flavour}) on {header['recorded_at']}; "
        f"no live engine ({reason.rstrip('.')}). Connect an engine to run it live."
    )
    return engine
