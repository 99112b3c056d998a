"""Fixtures of the one-machine class: one class of two learners for the whole session (klass.py
has the helpers). Run by `make test-classroom`, never by `make test`."""

from __future__ import annotations

import os
import time

import pytest

from klass import LEARNERS, STATE, Hub, Kernel, Learner, classroom, read_env


@pytest.fixture(scope="session")
def hub():
    """A class of two learners, up for the whole session; stopped (and checked) at the end."""
    if os.geteuid() != 0:
        pytest.skip("the class is set up as root (users, rootless engines)")
    classroom("down")  # a class left by an interrupted run
    began = time.monotonic()
    up = classroom("up", "2")
    assert up.returncode == 0, up.stdout + up.stderr
    print(up.stdout)
    print(f"class up in {time.monotonic() - began:.1f} s")
    values = read_env(STATE / "class.env")
    started = Hub(f"http://127.0.0.1:{values['LAYERLAB_CLASS_PORT']}/", (STATE / "api-token").read_text().strip(), values)
    yield started
    classroom("down")


@pytest.fixture(scope="session")
def learners(hub) -> dict[str, Learner]:
    """Both learners, each with their own hub token and their server started (as a browser's
    "Start my server" does, with the learner's own token)."""
    out = {}
    for name in LEARNERS:
        learner = Learner(name, hub.user_token(name), hub)
        learner.spawn_seconds = hub.spawn(name, learner.token)
        print(f"{name}: server and engine up in {learner.spawn_seconds:.1f} s")
        out[name] = learner
    return out


@pytest.fixture(scope="session")
def kernels(learners) -> dict[str, Kernel]:
    opened = {name: learner.open_notebook("notebooks/01-image-layers.ipynb") for name, learner in learners.items()}
    yield opened
    for kernel in opened.values():
        kernel.close()
