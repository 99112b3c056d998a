"""The instructor service against a real JupyterHub (see conftest.py): the learner API with
learners' hub tokens, who may see what, the reset round trip, the page in Chromium, and the
extension in a real learner server."""

from __future__ import annotations

import pytest

from conftest import ADA, ADMIN, BOB, SERVICE, wait_for
from layerlab.core.progress import make_event

pytestmark = pytest.mark.timeout(180)


def started(learner: str, lesson: str) -> dict:
    return make_event("lesson-started", learner, lesson, "live")


def exercise(learner: str, passed: bool) -> dict:
    return make_event("exercise", learner, "03-build-cache", "live", exercise="03-build-cache.touch",
                      builder="BuildKit", right=3 if passed else 1, total=3, passed=passed)


def test_a_learners_token_posts_events_and_a_heartbeat_the_admin_sees(hub):
    event = started(ADA, "01-layers")
    status, reply, _ = hub.service("POST", "api/events", {"events": [event, exercise(ADA, True)]}, user=ADA)
    assert status == 200, reply
    status, again, _ = hub.service("POST", "api/events", {"events": [event]}, user=ADA)
    assert (status, again) == (200, {"added": 0, "already_stored": 1})
    status, beat, _ = hub.service("POST", "api/heartbeat", {
        "engine": {"up": True, "version": "26.1.5", "rootless": True}, "disk_bytes": 123456789}, user=ADA)
    assert status == 200 and beat == {"learner": ADA, "resets": []}

    ada = hub.learners()[ADA]
    assert ada["lessons"] == ["01-layers"]  # the event sent twice is there once
    assert ada["exercises_passed"] == 1 and ada["exercises"][0]["exercise"] == "03-build-cache.touch"
    assert ada["engine"] == {"up": True, "version": "26.1.5", "rootless": True}
    assert ada["disk_bytes"] == 123456789 and ada["server"] == "down"
    assert ada["last_activity"] == event["time"] or ada["last_activity"] >= event["time"]
    assert ADMIN not in hub.learners()  # the admin is not a learner


def test_a_learner_without_a_heartbeat_says_so(hub):
    bob = hub.learners()[BOB]
    if bob["heartbeat"] is None:
        assert bob["engine"] == {"up": False, "version": None, "rootless": None}
        assert bob["disk_bytes"] is None


def test_a_learner_may_not_post_for_another(hub):
    status, reply, _ = hub.service("POST", "api/events", {"events": [started(BOB, "02-copy-on-write")]}, user=ADA)
    assert status == 403, reply
    assert "02-copy-on-write" not in hub.learners()[BOB]["lessons"]


def test_only_admins_reach_the_page_and_the_room(hub):
    for path in ("", "api/learners"):
        assert hub.service("GET", path, user=BOB)[0] == 403, path
    assert hub.service("POST", "api/resets", {"learner": ADA, "lesson": "01-layers"}, user=BOB)[0] == 403
    status, _, headers = hub.service("GET", "")  # anonymous: off to the hub's login
    assert status == 302 and "/hub/api/oauth2/authorize" in headers["Location"], (status, headers)
    assert hub.service("POST", "api/events", {"events": [started(ADA, "05-cmd-entrypoint")]})[0] == 403
    assert hub.service("POST", "api/heartbeat", {"engine": {"up": True}}, token="not-a-token")[0] == 403
    assert hub.service("GET", "", user=ADMIN)[0] == 200


def test_a_reset_goes_from_the_admin_to_the_learners_heartbeat_and_back(hub):
    status, asked, _ = hub.service("POST", "api/resets", {"learner": BOB, "lesson": "04-instructions"}, user=ADMIN)
    assert status == 201 and asked["state"] == "pending", asked
    assert hub.learners()[BOB]["resets"][0]["state"] == "pending"
    status, beat, _ = hub.service("POST", "api/heartbeat", {"engine": {"up": False}, "error": "stopped"}, user=BOB)
    assert beat["resets"] == [{"id": asked["id"], "lesson": "04-instructions"}]
    # Ada's heartbeat does not carry Bob's reset, nor may she acknowledge it.
    assert hub.service("POST", "api/heartbeat", {"engine": {"up": False}}, user=ADA)[1]["resets"] == []
    assert hub.service("POST", "api/resets/ack", {"id": asked["id"], "outcome": "x"}, user=ADA)[0] == 404
    status, ack, _ = hub.service("POST", "api/resets/ack", {"id": asked["id"], "outcome": "nothing to remove"}, user=BOB)
    assert (status, ack["acknowledged"]) == (200, True)
    assert hub.service("POST", "api/heartbeat", {"engine": {"up": False}}, user=BOB)[1]["resets"] == []
    [reset] = hub.learners()[BOB]["resets"]
    assert reset["state"] == "done" and reset["outcome"] == "nothing to remove"
