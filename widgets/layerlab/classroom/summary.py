"""What the instructor page shows of one learner, from the hub's user model, the stored events
and the latest heartbeat. Nothing is inferred beyond them: no heartbeat is "no heartbeat yet"."""

from __future__ import annotations

import time
from datetime import datetime, timezone

#: A heartbeat older than this says nothing about the engine now: it shows as down.
STALE_SECONDS = 30.0


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def server_state(user: dict | None) -> str:
    """"up" when the hub says one of the learner's servers is ready, else "down"."""
    servers = (user or {}).get("servers") or {}
    return "up" if any(server.get("ready") for server in servers.values()) else "down"


def learner_summary(name: str, user: dict | None, events: list[dict], beat: dict | None,
                    resets: dict[tuple[str, str], dict], now: float | None = None) -> dict:
    now = time.time() if now is None else now
    lessons: list[str] = []
    exercises: dict[tuple[str, str], dict] = {}
    predictions = {"right": 0, "wrong": 0, "shown": 0}
    for event in events:  # oldest first: a later attempt replaces an earlier one
        if event["kind"] == "lesson-started" and event["lesson"] not in lessons:
            lessons.append(event["lesson"])
        elif event["kind"] == "exercise":
            exercises[(event["exercise"], event["builder"])] = {
                key: event[key] for key in ("exercise", "lesson", "builder", "right", "total", "passed", "time")}
        elif event["kind"] == "prediction":
            predictions["shown" if event["right"] is None else "right" if event["right"] else "wrong"] += 1
    engine = {"up": False, "version": None, "rootless": None}
    heartbeat = None
    if beat:
        age = max(0.0, now - beat["received"])
        engine = {"up": bool(beat["engine_up"]) and age <= STALE_SECONDS, "version": beat["version"],
                  "rootless": beat["rootless"]}
        heartbeat = {"received": iso(beat["received"]), "age_seconds": round(age, 1),
                     "stale": age > STALE_SECONDS, "error": beat["error"]}
    touched = sorted({lesson for (who, lesson) in resets if who == name} | set(lessons))
    return {
        "learner": name,
        "server": server_state(user),
        "engine": engine,
        "heartbeat": heartbeat,
        "lessons": lessons,
        "exercises": list(exercises.values()),
        "exercises_passed": sum(1 for e in exercises.values() if e["passed"]),
        "exercises_failed": sum(1 for e in exercises.values() if not e["passed"]),
        "predictions": predictions,
        "disk_bytes": beat["disk_bytes"] if beat else None,
        "last_activity": events[-1]["time"] if events else None,
        "hub_last_activity": (user or {}).get("last_activity"),
        "resets": [_reset_view(resets[(name, lesson)]) for lesson in touched if (name, lesson) in resets],
    }


def _reset_view(row: dict) -> dict:
    return {"id": row["id"], "lesson": row["lesson"], "state": "pending" if row["done"] is None else "done",
            "requested": iso(row["requested"]), "done": iso(row["done"]), "outcome": row["outcome"]}
