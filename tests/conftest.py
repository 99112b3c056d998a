"""Shared fixtures and the test tiers.

Tiers: core (no engine), widget state (no browser), engine (a live daemon, marked `engine`),
notebooks (nbval), browser (tests/browser). A test that needs the engine skips when none
answers on a developer's machine, and FAILS when CI=true: CI must prove the live tier ran.
"""

from __future__ import annotations

import secrets

import pytest

from support import IN_CI, ROOT, need, run_cli  # noqa: F401  (re-exported for tests)


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
