"""The service's database, the same tests against SQLite and against Debian's PostgreSQL (a
throwaway cluster from scripts/classroom-db.sh, on a unix socket only). The PostgreSQL case
skips on a developer machine without PostgreSQL and fails when CI=true."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT, need
from layerlab.classroom.store import Store, default_url
from layerlab.core.progress import make_event

pytestmark = pytest.mark.timeout(120)
SCRIPT = ROOT / "scripts" / "classroom-db.sh"


@pytest.fixture(scope="module")
def postgres_url():
    installed = any(Path("/usr/lib/postgresql").glob("*/bin/initdb")) and shutil.which("runuser")
    need(bool(installed), "PostgreSQL is not installed (bash scripts/classroom-db.sh install)")
    folder = tempfile.mkdtemp(prefix="h21s-pg-")  # under /tmp: the postgres user must reach it
    try:
        url = subprocess.run(["bash", str(SCRIPT), "start", folder], check=True, capture_output=True,
                             text=True, timeout=90).stdout.strip().splitlines()[-1]
        yield url
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", folder], capture_output=True, timeout=90)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = default_url(tmp_path / "state")
        assert stat.S_IMODE(os.stat(tmp_path / "state" / "classroom.sqlite").st_mode) == 0o600
    else:
        url = request.getfixturevalue("postgres_url")
    store = Store(url)
    with store.db.begin() as connection:  # each test starts from empty tables
        for table in ("layerlab_events", "layerlab_heartbeats", "layerlab_resets"):
            connection.exec_driver_sql(f"DELETE FROM {table}")
    yield store
    store.close()


def test_the_same_event_twice_is_stored_once(store):
    first = make_event("lesson-started", "h21s-ada", "01-layers", "live")
    scored = make_event("exercise", "h21s-ada", "03-build-cache", "replay", exercise="03-build-cache.touch",
                        builder="classic builder", right=2, total=3, passed=False)
    assert store.add_events([first, scored]) == (2, 0)
    assert store.add_events([first]) == (0, 1)
    assert store.events_of("h21s-ada") == [first, scored]
    assert store.events_of("h21s-bob") == []


def test_what_is_not_an_event_is_refused(store):
    with pytest.raises(ValueError):
        store.add_events([{"schema": 1, "kind": "lesson-started"}])
    assert store.events_of() == []


def test_a_heartbeat_keeps_the_latest_facts(store):
    store.beat("h21s-ada", True, "26.1.5", True, 10 ** 11, now=100.0)  # 100 GB: a big integer
    assert store.heartbeats()["h21s-ada"]["disk_bytes"] == 10 ** 11
    store.beat("h21s-ada", False, None, None, None, error="no engine", now=200.0)
    beat = store.heartbeats()["h21s-ada"]
    assert (beat["engine_up"], beat["version"], beat["error"], beat["received"]) == (False, None, "no engine", 200.0)


def test_a_reset_is_pending_until_the_learner_acknowledges_it(store):
    asked = store.ask_reset("h21s-ada", "01-layers", "h21s-teacher")
    assert store.ask_reset("h21s-ada", "01-layers", "h21s-teacher") == asked  # asked twice: one reset
    assert [r["id"] for r in store.pending_resets("h21s-ada")] == [asked]
    assert store.pending_resets("h21s-bob") == []
    assert not store.ack_reset("h21s-bob", asked, "not Bob's")
    assert store.ack_reset("h21s-ada", asked, "removed container h21s-ada-01")
    assert store.pending_resets() == []
    assert store.last_resets()[("h21s-ada", "01-layers")]["outcome"] == "removed container h21s-ada-01"
