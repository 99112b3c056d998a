"""Shared fixtures and the test tiers.

Tiers: core (no engine), widget state (no browser), engine (a live daemon, marked `engine`),
notebooks (nbval), browser (tests/browser). A test that needs the engine skips when none
answers on a developer's machine, and FAILS when CI=true: CI must prove the live tier ran.
"""

from __future__ import annotations

import os
import secrets
import signal

import pytest

from support import IN_CI, ROOT, need, run_cli  # noqa: F401  (re-exported for tests)

# tests/classroom sets up a whole class as root (users, engines, a hub): `make test-classroom`
# runs it on its own, and no other run of this folder (make test, test-live, the rootless and
# bare tiers) collects it.
# The suite's English expectations hold whatever the locale of whoever runs it; the Korean
# notebooks (notebooks/ko) set LAYERLAB_LANG=ko in their first cell, and the Korean tests set it
# for themselves.
os.environ["LAYERLAB_LANG"] = "en"

collect_ignore = [] if os.environ.get("LAYERLAB_CLASSROOM_TESTS") == "1" else ["classroom"]


@pytest.fixture(scope="session")
def engine():
    """A connected Engine, for the live tier."""
    from layerlab.core.errors import EngineError
    from layerlab.engine import connect

    try:
        connected = connect()
    except EngineError as error:
        need(False, f"no Docker engine answers ({error.what})")
    yield connected
    connected.close()


@pytest.fixture(scope="session")
def test_learner(engine):
    """A learner id of its own for this test session; everything it made is removed at the end."""
    from layerlab.engine.cleanup import cleanup

    learner = f"pytest-{secrets.token_hex(3)}"
    old = engine.environ.get("LAYERLAB_LEARNER")
    engine.environ["LAYERLAB_LEARNER"] = learner
    yield learner
    cleanup(engine, include_bases=True)
    if old is None:
        engine.environ.pop("LAYERLAB_LEARNER", None)
    else:
        engine.environ["LAYERLAB_LEARNER"] = old


@pytest.fixture(scope="module")
def ping_base(engine, test_learner):
    """The test learner's prepared ping base (busybox or alpine)."""
    from layerlab.engine.prepare import base_for

    return base_for(engine, "ping")


@pytest.fixture(scope="module")
def app_base(engine, test_learner):
    """The test learner's prepared app base (Debian with make and python3)."""
    from layerlab.engine.prepare import base_for

    return base_for(engine, "app")


@pytest.fixture
def ctrl_c():
    """Ctrl-C raises KeyboardInterrupt in this test, whatever SIGINT disposition the suite inherited.

    A suite started by `nohup` or a shell's `&` inherits SIGINT ignored, and then
    `_thread.interrupt_main()` does nothing: a test that waits for it would wait forever.
    The test installs the handler it needs and puts the old one back.
    """
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def pytest_configure(config):
    # Lessons that tests run append to the learner's progress record: keep the developer's own
    # record out of it (a test that checks the record points LAYERLAB_PROGRESS at a file of its own).
    os.environ.setdefault("LAYERLAB_PROGRESS", "off")
    # The learner's per-layer index cache too: a test reads what the engine answers, unless it
    # turns the cache on itself (LAYERLAB_INDEX_CACHE=PATH, a folder of its own).
    os.environ.setdefault("LAYERLAB_INDEX_CACHE", "off")
    config.addinivalue_line(
        "markers", "buildkit: needs BuildKit (docker buildx); not collected on an engine without it, "
        "where test_buildkit_absence_is_explained runs instead",
    )


def pytest_collection_modifyitems(config, items):
    """On an engine without BuildKit, BuildKit tests are deselected (not skipped): they do not apply."""
    wanted = [item for item in items if item.get_closest_marker("buildkit")]
    if not wanted:
        return
    from layerlab.core.errors import EngineError
    from layerlab.engine import connect_live

    try:
        engine = connect_live()
    except EngineError:
        return  # the engine fixture reports it (and fails in CI)
    has_buildkit = engine.facts.buildkit
    engine.close()
    if has_buildkit:
        return
    config.hook.pytest_deselected(items=wanted)
    items[:] = [item for item in items if not item.get_closest_marker("buildkit")]
