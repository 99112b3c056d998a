"""Shared fixtures and the test tiers.

Tiers: core (no engine), widget state (no browser), engine (a live daemon, marked `engine`),
notebooks (nbval), browser. A test that needs the engine skips when none answers on a
developer's machine, and FAILS when CI=true: CI must prove the live tier ran.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(condition: bool, reason: str) -> None:
    """Skip (developer machine) or fail (CI) when a tier's prerequisite is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}: this tier must run in CI", pytrace=False)
    pytest.skip(reason)


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


def run_cli(*args: str, env: dict | None = None, user: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `python -m layerlab ...` in a fresh process, as the learner would."""
    command = [sys.executable, "-m", "layerlab", *args]
    if user:
        command = ["runuser", "-u", user, "--", *command]
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(command, capture_output=True, text=True, env=full_env, timeout=timeout, cwd=ROOT)
