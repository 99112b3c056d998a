"""What a learner's row says, from events and the latest heartbeat only (no hub needed)."""

from __future__ import annotations

import pytest

from layerlab.classroom.summary import STALE_SECONDS, learner_summary
from layerlab.core.progress import make_event

pytestmark = pytest.mark.timeout(30)


def beat(received: float, up: bool = True) -> dict:
    return {"received": received, "engine_up": up, "version": "26.1.5", "rootless": True,
            "disk_bytes": 42, "error": None}


def test_a_stale_heartbeat_says_the_engine_is_down_and_keeps_what_it_last_said():
    fresh = learner_summary("a", None, [], beat(1000.0), {}, now=1000.0 + STALE_SECONDS - 1)
    stale = learner_summary("a", None, [], beat(1000.0), {}, now=1000.0 + STALE_SECONDS + 1)
    assert fresh["engine"] == {"up": True, "version": "26.1.5", "rootless": True}
    assert stale["engine"] == {"up": False, "version": "26.1.5", "rootless": True}
    assert stale["heartbeat"]["stale"] and not fresh["heartbeat"]["stale"]


def test_the_latest_try_of_an_exercise_counts_and_predictions_are_counted():
    def scored(passed):
        return make_event("exercise", "a", "03-build-cache", "live", exercise="03-build-cache.touch",
                          builder="BuildKit", right=3 if passed else 1, total=3, passed=passed)

    def guess(right):
        return make_event("prediction", "a", "01-layers", "live", question="01-layers.layer-count",
                          guess=None if right is None else "3", answer="3", right=right)

    events = [make_event("lesson-started", "a", "03-build-cache", "live"), scored(False), scored(True),
              guess(True), guess(False), guess(None), make_event("lesson-started", "a", "03-build-cache", "live")]
    row = learner_summary("a", {"servers": {"": {"ready": True}}}, events, None, {})
    assert row["lessons"] == ["03-build-cache"] and row["server"] == "up"
    assert (row["exercises_passed"], row["exercises_failed"]) == (1, 0)
    assert row["predictions"] == {"right": 1, "wrong": 1, "shown": 1}
    assert row["heartbeat"] is None and row["disk_bytes"] is None
