"""Helpers shared by the test tiers (imported by conftest files and tests)."""

from __future__ import annotations

import os
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


def run_cli(*args: str, env: dict | None = None, user: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `python -m layerlab ...` in a fresh process, as the learner would."""
    command = [sys.executable, "-m", "layerlab", *args]
    if user:
        command = ["runuser", "-u", user, "--", *command]
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(command, capture_output=True, text=True, env=full_env, timeout=timeout, cwd=ROOT)


#: Each builder an engine may have (BuildKit: Docker 23+ with buildx), as fixture params.
BUILDERS = ["classic", pytest.param("buildkit", marks=pytest.mark.buildkit)]


def build_by(builder: str, engine, namespace, name: str, dockerfile: str, tmp_path_factory) -> str:
    """Build `dockerfile` as `name` with the classic builder ("classic") or BuildKit; its reference."""
    folder = tmp_path_factory.mktemp(name)
    (folder / "Dockerfile").write_text(dockerfile)
    if builder == "classic":
        engine.build(namespace, name, folder)
        return namespace.image(name)
    from layerlab.course.builds import buildkit_build, check

    check(buildkit_build(engine, namespace, name, folder, tag="buildkit"))
    return namespace.image(name, "buildkit")


def most_in_one_second(times: list[float]) -> int:
    """The most of these moments (monotonic seconds) that fall in any one second."""
    return max((sum(1 for u in times if t <= u < t + 1.0) for t in times), default=0)
