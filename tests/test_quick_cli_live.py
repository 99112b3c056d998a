"""Engine tier: the quick CLI of issue 22. A warm `python -m layerlab layers IMAGE --json`, in a
new process, imports neither the docker SDK (nor requests, urllib3) nor ipywidgets; what the
standard-library client (`engine/socketapi.py`) answers equals what the SDK answers for the
same image; and its failures are the SDK path's (no engine, no such image)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from layerlab.core.errors import NotOnEngine
from layerlab.core.indexcache import CACHE_ENV
from layerlab.engine import socketapi
from layerlab.engine.connection import probe_engine

from support import ROOT, run_cli

pytestmark = pytest.mark.engine

NEVER_IMPORTED = ("docker", "requests", "urllib3", "ipywidgets", "http.client")


@pytest.fixture
def images(ping_base, app_base):
    return [ping_base.reference, app_base.reference]


def imported_modules(*args: str, env: dict) -> tuple[set[str], subprocess.CompletedProcess]:
    """The modules a new `python -X importtime -m layerlab ARGS` imported, and its result."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "layerlab", *args], capture_output=True,
                            text=True, env=dict(os.environ, **env), cwd=ROOT, timeout=300)
    names = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    return names, result


def test_a_warm_cli_look_imports_no_sdk_and_no_widgets(images, tmp_path):
    env = {CACHE_ENV: str(tmp_path / "index")}
    for reference in images:
        cold = run_cli("layers", reference, "--json", env=env)
        assert cold.returncode == 0, cold.stderr
        names, warm = imported_modules("layers", reference, "--json", env=env)
        assert warm.returncode == 0, warm.stderr
        assert json.loads(warm.stdout)["cached"] is True
        assert not {n for n in names if n.split(".")[0] in NEVER_IMPORTED or n in NEVER_IMPORTED}, sorted(names)
        # one line of JSON (json.dumps without an indent: its C encoder), the cold look's answer
        assert warm.stdout == json.dumps(json.loads(warm.stdout)) + "\n"
        first, second = json.loads(cold.stdout), json.loads(warm.stdout)
        for data in (first, second):
            data.pop("cached"), data.pop("cached_layers")
        assert first == second
        which_names, which = imported_modules("which", reference, "/bin/sh", "--json", env=env)
        assert which.returncode in (0, 1), which.stderr
        assert not {n for n in which_names if n.split(".")[0] in ("docker", "requests", "urllib3", "ipywidgets")}


def test_the_socket_client_answers_what_the_sdk_answers(engine, images):
    assert engine.reader is not None, "a live engine on a local socket reads around the SDK"
    api = socketapi.SocketAPI.for_host(engine.facts.host, 10, engine.facts.api_version)
    try:
        for reference in images:
            inspect = api.get("/images/{}/json", reference)
            assert inspect == engine.client.api.inspect_image(reference)
            assert api.get("/images/{}/history", inspect["Id"]) == engine.client.api.history(inspect["Id"])
        assert api.get("/version") == engine.client.api.version()
    finally:
        api.close()


def test_an_engine_reading_around_the_sdk_sees_what_one_through_the_sdk_sees(engine, images, monkeypatch):
    reader = engine.reader
    for reference in images:
        fast = (engine.image(reference), engine.history(reference), engine.image_stack(reference, exact=False))
        monkeypatch.setattr(engine, "reader", None)
        slow = (engine.image(reference), engine.history(reference), engine.image_stack(reference, exact=False))
        monkeypatch.setattr(engine, "reader", reader)
        assert fast == slow


def test_a_missing_image_is_the_same_course_error_either_way(engine, monkeypatch):
    with pytest.raises(NotOnEngine) as fast:
        engine.image("layerlab-nobody/no-such-image:1")
    monkeypatch.setattr(engine, "reader", None)
    with pytest.raises(NotOnEngine) as slow:
        engine.image("layerlab-nobody/no-such-image:1")
    assert (fast.value.what, fast.value.fix, fast.value.status) == (slow.value.what, slow.value.fix, slow.value.status)
    assert "There is no image" in fast.value.what


def test_the_engine_facts_are_the_same_either_way(engine, monkeypatch):
    environ = dict(os.environ, DOCKER_HOST=engine.facts.host)
    fast = probe_engine(environ, ask_buildx=False)
    monkeypatch.setattr(socketapi, "probe", lambda host, timeout: None)
    slow = probe_engine(environ, ask_buildx=False)
    assert dataclasses.asdict(fast) == dataclasses.asdict(slow)
