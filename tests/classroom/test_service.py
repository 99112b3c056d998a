"""The instructor service against a real JupyterHub (see conftest.py): the learner API with
learners' hub tokens, who may see what, the reset round trip, the page in Chromium, and the
extension in a real learner server."""

from __future__ import annotations

import pytest

from conftest import ADA, ADMIN, BOB, PASSWORD, ROOT, SERVICE, wait_for
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
    assert ada["last_activity"] >= event["time"]
    assert ADMIN not in hub.learners()  # the admin is not a learner


def test_a_learner_without_a_heartbeat_says_so(hub):
    """Bob has sent nothing yet (the tests run in file order): nothing is invented for him."""
    bob = hub.learners()[BOB]
    assert bob["heartbeat"] is None and bob["lessons"] == [] and bob["last_activity"] is None
    assert bob["engine"] == {"up": False, "version": None, "rootless": None}
    assert bob["disk_bytes"] is None and bob["server"] == "down"


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


@pytest.mark.browser
def test_the_page_shows_both_learners_and_refreshes_by_itself(hub, browser):
    from playwright.sync_api import expect

    from conftest import log_in

    for event in (started(ADA, "02-copy-on-write"), started(BOB, "01-layers"), exercise(BOB, False)):
        assert hub.service("POST", "api/events", {"events": [event]}, user=event["learner"])[0] == 200
    context, page = log_in(browser, hub, ADMIN)
    try:
        ada, bob = page.locator(f'tr[data-learner="{ADA}"]'), page.locator(f'tr[data-learner="{BOB}"]')
        expect(ada).to_contain_text("02-copy-on-write", timeout=15_000)
        expect(bob).to_contain_text("01-layers")
        expect(bob).to_contain_text("failed 03-build-cache.touch (BuildKit, 1/3)")
        expect(page.locator(f'tr[data-learner="{ADMIN}"]')).to_have_count(0)
        page.evaluate("window.layerlabNoReload = true")
        assert hub.service("POST", "api/events", {"events": [started(BOB, "06-layer-costs")]}, user=BOB)[0] == 200
        expect(bob).to_contain_text("06-layer-costs", timeout=15_000)  # the page fetched it by itself
        assert page.evaluate("window.layerlabNoReload") is True
        # The button asks for a reset through the page's own POST (cookie + xsrf token).
        page.locator(f'tr[data-learner="{BOB}"] button[data-lesson="06-layer-costs"]').click()
        expect(bob.locator('button[data-lesson="06-layer-costs"]')).to_contain_text("(pending)", timeout=15_000)
        assert any(r["lesson"] == "06-layer-costs" and r["state"] == "pending" for r in hub.learners()[BOB]["resets"])
        shots = ROOT / "artifacts" / "classroom"
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "instructor-page.png"), full_page=True)
    finally:
        context.close()
    # A learner logged in through the same form gets no page.
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(hub.url + SERVICE)
        page.fill("#username_input", BOB)
        page.fill("#password_input", PASSWORD)
        page.click("#login_submit")
        page.wait_for_load_state()
        wait_for(lambda: "403" in page.content(), timeout=30, what="the learner's 403")
        assert "h21s-ada" not in page.content()
    finally:
        context.close()


def engine_answers() -> dict | None:
    """The engine the learners' servers are pointed at, as the test process sees it."""
    from conftest import engine_host
    from layerlab.engine.connection import probe_engine

    try:
        facts = probe_engine({"DOCKER_HOST": engine_host()}, timeout=5, ask_buildx=False)
    except Exception:  # noqa: BLE001 - no engine: the page must say down
        return None
    return {"up": True, "version": facts.engine_version, "rootless": facts.rootless}


@pytest.mark.timeout(240)
def test_the_extension_in_a_real_server_sends_progress_heartbeats_and_runs_resets(hub):
    from layerlab.core.progress import append_event

    expected = engine_answers() or {"up": False, "version": None, "rootless": None}
    status, reply, _ = hub.request("POST", f"/hub/api/users/{ADA}/server", user=ADMIN)
    assert status in (201, 202), reply
    try:
        wait_for(lambda: hub.learners()[ADA]["server"] == "up", timeout=90, what="Ada's server")
        record = hub.root / "home" / ADA / ".local" / "share" / "layerlab" / f"progress-{ADA}.jsonl"
        event = started(ADA, "05-cmd-entrypoint")
        assert append_event(event, record)
        ada = wait_for(lambda: (row := hub.learners()[ADA])["heartbeat"] and "05-cmd-entrypoint" in row["lessons"]
                       and row["engine"] == expected and row, timeout=60, what="the extension's event and heartbeat")
        if expected["up"]:
            assert isinstance(ada["disk_bytes"], int) and ada["disk_bytes"] > 0
        else:
            assert ada["heartbeat"]["error"]
        assert int(record.with_name(record.name + ".sent").read_text()) == record.stat().st_size
        # The reset button's round trip, through the extension: the lesson's cleanup runs there.
        status, asked, _ = hub.service("POST", "api/resets", {"learner": ADA, "lesson": "05-cmd-entrypoint"}, user=ADMIN)
        assert status == 201, asked

        def done():
            return next((r for r in hub.learners()[ADA]["resets"] if r["id"] == asked["id"] and r["state"] == "done"), None)
        reset = wait_for(done, timeout=60, what="the extension to run and acknowledge the reset")
        assert ("nothing to remove" in reset["outcome"] or "removed" in reset["outcome"]) if expected["up"] \
            else reset["outcome"].startswith("failed")
    finally:
        hub.request("DELETE", f"/hub/api/users/{ADA}/server", user=ADMIN)
    wait_for(lambda: hub.learners()[ADA]["server"] == "down", timeout=60, what="Ada's server to stop")
