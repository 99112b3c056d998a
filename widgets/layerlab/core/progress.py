"""The learner's progress record: one JSON object per line, appended, never rewritten.

Every lesson run and every scored prediction or exercise is an *event*. This module is the only
code that writes them; the classroom's instructor page reads the same events.

Where: `$LAYERLAB_PROGRESS` when set (a file path, or `off` to keep no record), otherwise
`<data folder>/progress-<learner>.jsonl`, the data folder being `$XDG_DATA_HOME/layerlab` or
`~/.local/share/layerlab`.

Schema 1. Every event has:

    schema   1
    time     when it happened, UTC, ISO 8601 with seconds ("2026-12-02T09:30:00Z")
    learner  the learner id (the same one the engine objects are labeled with)
    lesson   the lesson id ("01-layers")
    source   "live" (a real engine answered) or "replay" (a recording did)
    kind     "lesson-started" | "prediction" | "exercise"

and, by kind:

    prediction  question  the question's id ("01-layers.layer-count")
                guess     the choice the learner committed, or null (they asked "show me")
                answer    the choice the engine's measurement gives
                right     true or false; null when there was no guess
    exercise    exercise  the exercise's id ("03-build-cache.touch")
                builder   which builder was scored ("classic builder", "BuildKit")
                right     steps predicted right (an integer)
                total     steps scored
                passed    true when every scored step was right

Appending is one `write` of one line to a file opened with O_APPEND, so two kernels of the
same learner writing at once never interleave. A line that is not an event (a crash cut it
short) is skipped by `read_events`, never shown.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Mapping

SCHEMA = 1
PROGRESS_ENV = "LAYERLAB_PROGRESS"
KINDS = {
    "lesson-started": (),
    "prediction": ("question", "guess", "answer", "right"),
    "exercise": ("exercise", "builder", "right", "total", "passed"),
}
COMMON = ("schema", "time", "learner", "lesson", "source", "kind")


def data_root(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    data = environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(data) / "layerlab"


def progress_path(learner: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """The learner's record, or None when the record is switched off."""
    environ = os.environ if environ is None else environ
    chosen = environ.get(PROGRESS_ENV, "")
    if chosen.lower() == "off":
        return None
    if chosen:
        return Path(chosen)
    return data_root(environ) / f"progress-{learner}.jsonl"


def make_event(kind: str, learner: str, lesson: str, source: str, now: datetime | None = None, **fields) -> dict:
    """A checked event of schema 1 (ValueError for an unknown kind or a missing field)."""
    if kind not in KINDS:
        raise ValueError(f"unknown progress event kind {kind!r}")
    missing = [name for name in KINDS[kind] if name not in fields]
    extra = [name for name in fields if name not in KINDS[kind]]
    if missing or extra:
        raise ValueError(f"a {kind} event needs {list(KINDS[kind])}; missing {missing}, unexpected {extra}")
    if source not in ("live", "replay"):
        raise ValueError(f"source must be live or replay, not {source!r}")
    when = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"schema": SCHEMA, "time": when, "learner": learner, "lesson": lesson, "source": source,
            "kind": kind, **fields}


def is_event(value) -> bool:
    return (isinstance(value, dict) and value.get("schema") == SCHEMA and value.get("kind") in KINDS
            and all(name in value for name in COMMON + KINDS[value["kind"]]))


def append_event(event: dict, path: Path | None) -> bool:
    """Append one event; False (and nothing written) when the record is off or unwritable."""
    if path is None:
        return False
    line = (json.dumps(event, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, line)
        finally:
            os.close(descriptor)
    except OSError:
        return False  # a read-only home must not break a lesson
    return True


def read_events(path: Path | None) -> Iterator[dict]:
    """Every well-formed event in the record, oldest first."""
    if path is None or not path.exists():
        return
    with path.open("rb") as handle:
        for raw in handle:
            try:
                value = json.loads(raw)
            except ValueError:
                continue
            if is_event(value):
                yield value
