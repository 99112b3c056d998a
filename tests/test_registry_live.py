"""Engine tier: prepare's official-image path against a registry of its own on 127.0.0.1.

The module starts Debian's registry on a free loopback port (scripts/registry.sh, storage in a
temporary folder), seeds it with the course's stand-ins under the official names (for a seed
learner of its own, whose stand-ins are removed after the push, so pulls really download), and
stops it when the module ends. Nothing here can reach beyond 127.0.0.1: every registry named
is on loopback, and LAYERLAB_REGISTRY is always set. "Loopback" is the engine's: for a rootless
engine the registry, its probes and the silent listeners run inside the engine's network
namespace (`engine_loopback_command`), where the engine's 127.0.0.1 is.

Cleanup: the bases are the test learner's and go with its cleanup. The official names a pull
gives (alpine:3.20.3, debian:bookworm-20241111-slim) carry no learner's name; the tests
remove exactly those tags, and only when they were not there before and point at the image
this module's registry served.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time

import docker.errors
import pytest

from layerlab.core.errors import LayerlabError

from support import ROOT, need

from layerlab.core.bases import BASES, DIGESTS_ENV
from layerlab.engine import prepare as prep
from layerlab.engine import registry_seed
from layerlab.engine.fileserve import engine_loopback_command

pytestmark = pytest.mark.engine

SCRIPT = ROOT / "scripts" / "registry.sh"
OFFICIAL = [spec.official for spec in BASES.values()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def registry_sh(*args: str, env: dict, on: list[str] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*on, "bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=240)


@pytest.fixture(scope="module")
def loopback(engine) -> list[str]:
    """The prefix that runs a program on the engine's 127.0.0.1 (nothing for a rootful engine)."""
    return engine_loopback_command(engine)


def served_digests(registry: str, loopback: list[str]) -> dict[str, str]:
    """What the registry serves, asked from the engine's loopback."""
    if not loopback:
        return registry_seed.served_digests(registry)
    asked = subprocess.run([*loopback, sys.executable, "-c",
                            "import json, sys; from layerlab.engine import registry_seed; "
                            "print(json.dumps(registry_seed.served_digests(sys.argv[1])))", registry],
                           capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert asked.returncode == 0, asked.stderr
    return json.loads(asked.stdout)


@pytest.fixture(scope="module")
def registry(tmp_path_factory, loopback):
    """A registry on a free port of the engine's 127.0.0.1, stopped when the module ends."""
    can_install = os.geteuid() == 0 or os.path.exists("/opt/layerlab-registry/usr/bin/docker-registry") \
        or os.path.exists("/usr/bin/docker-registry")
    need(can_install, "Debian's docker-registry is not installed and this is not root")
    port = str(free_port())
    env = dict(os.environ, LAYERLAB_REGISTRY_DIR=str(tmp_path_factory.mktemp("registry")))
    started = registry_sh("start", port, env=env, on=loopback)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield f"127.0.0.1:{port}"
    finally:
        stopped = registry_sh("stop", port, env=env, on=loopback)
        assert "stopped" in stopped.stdout or started.returncode != 0, stopped.stdout + stopped.stderr


@pytest.fixture(scope="module")
def official_names_lock(engine):
    """The official names are the engine's, not a learner's: two test sessions on one engine
    (the two-learner run) take turns for this module."""
    import fcntl
    import hashlib
    import tempfile

    key = hashlib.sha256(engine.facts.host.encode()).hexdigest()[:12]
    with open(os.path.join(tempfile.gettempdir(), f"layerlab-official-names-{key}.lock"), "w") as handle:
        deadline = time.monotonic() + 240
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, "another session held the official names for 240 s"
                time.sleep(0.5)
        yield
        fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def seeded(engine, test_learner, registry, official_names_lock, loopback):
    """{official: digest} of the stand-ins pushed under the official names."""
    seed_learner = f"{test_learner}-seed"
    digests = registry_seed.seed_registry(engine, registry, seed_learner=seed_learner)
    assert set(digests) == set(OFFICIAL)
    assert served_digests(registry, loopback) == digests, "the registry serves what the push reported"
    yield digests
    # What the tests pulled carries the seed's labels: once its official tags are gone the
    # containerd image store keeps it as an untagged image of its own, which only the seed
    # learner's cleanup finds (it removes images labeled for that learner, nothing else).
    from layerlab.engine.cleanup import cleanup

    saved = engine.environ.get("LAYERLAB_LEARNER")
    engine.environ["LAYERLAB_LEARNER"] = seed_learner
    try:
        cleanup(engine, include_bases=True)
    finally:
        if saved is None:
            engine.environ.pop("LAYERLAB_LEARNER", None)
        else:
            engine.environ["LAYERLAB_LEARNER"] = saved
    left = engine.client.images.list(filters={"label": [f"layerlab.learner={seed_learner}"]})
    assert not left, f"the seed's images outlived the module: {[image.id for image in left]}"


def image_id(engine, reference: str) -> str:
    try:
        return engine.client.api.inspect_image(reference)["Id"]
    except docker.errors.ImageNotFound:
        return ""


@pytest.fixture
def official_names(engine, registry, official_names_lock):
    """Fail early if an official name is already on the engine (it is not ours to overwrite);
    afterwards remove the official tags the test made, and nothing else."""
    before = {name: image_id(engine, name) for name in OFFICIAL}
    taken = [name for name, found in before.items() if found]
    assert not taken, f"{', '.join(taken)} already on this engine: not ours, so the test will not touch it"
    yield
    for name in [f"{registry}/library/{official}" for official in OFFICIAL]:
        if image_id(engine, name):  # kept only when the official name was taken; this module's registry
            engine.client.api.remove_image(name)
    for name in OFFICIAL:
        found = engine.client.api.inspect_image(name) if image_id(engine, name) else None
        if found is None:
            continue
        # pulled from this module's registry (the seed's labels say so), made by this test
        if (found["Config"].get("Labels") or {}).get("layerlab.learner", "").endswith("-seed"):
            engine.client.api.remove_image(name)


@pytest.fixture
def registry_env(engine, monkeypatch):
    def set_env(**values):
        for name, value in values.items():
            monkeypatch.setitem(engine.environ, name, value)
    return set_env


def run_in(engine, reference: str, command: list[str], name: str) -> tuple[int, str]:
    namespace = engine.namespace("registry-test")
    box = engine.run(namespace, name, reference, command)
    try:
        status = box.wait(timeout=60)
        return status, box.logs()
    finally:
        box.remove()


@pytest.mark.timeout(300)
def test_prepare_pulls_retags_and_builds_labeled_bases_that_lessons_can_run(
        engine, test_learner, registry, seeded, official_names, registry_env):
    registry_env(**{prep.REGISTRY_ENV: registry, DIGESTS_ENV: registry_seed.digests_setting(seeded)})
    started = time.monotonic()
    ping, app = prep.prepare(engine)
    print(f"pull + retag + labeled bases: {time.monotonic() - started:.1f} s")
    for base, spec in ((ping, BASES["ping"]), (app, BASES["app"])):
        assert base.source == "pulled" and base.built_from == f"{spec.official}@{seeded[spec.official]}"
        official = engine.client.api.inspect_image(spec.official)
        assert not image_id(engine, f"{registry}/library/{spec.official}"), "the registry's name is not kept"
        built = engine.client.api.inspect_image(base.reference)
        labels = built["Config"]["Labels"]
        assert labels["layerlab.learner"] == test_learner and labels["layerlab.base"] == spec.key
        assert labels["layerlab.lesson"] == "base" and seeded[spec.official] in labels[prep.LABEL_BUILT_FROM]
        layers = built["RootFS"]["Layers"]
        assert layers[:len(official["RootFS"]["Layers"])] == official["RootFS"]["Layers"], "built FROM the pulled image"
    status, out = run_in(engine, ping.reference, ["ping", "-c", "1", "127.0.0.1"], "ping")
    assert status == 0 and "1 packets received" in out
    status, out = run_in(engine, app.reference, ["sh", "-c", "make --version && python --version"], "app")
    assert status == 0 and "GNU Make" in out and "Python 3" in out
    again = prep.prepare(engine)
    assert all(base.reused and base.source == "pulled" for base in again)
    assert [base.image_id for base in again] == [ping.image_id, app.image_id]


@pytest.mark.timeout(300)
def test_a_wrong_pin_fails_clearly_and_leaves_nothing_of_ours(engine, test_learner, registry, seeded,
                                                              official_names, registry_env):
    wrong = "sha256:" + "0" * 64
    registry_env(**{prep.REGISTRY_ENV: registry, DIGESTS_ENV: f"alpine:3.20.3={wrong}"})
    bases_before = sorted(image.id for image in prep.find_base(engine, "ping"))
    with pytest.raises(prep.DigestMismatch) as caught:
        prep.prepare(engine, keys=["ping"])
    message = caught.value.explain()
    assert seeded["alpine:3.20.3"] in message and wrong in message and "Nothing was kept" in message
    assert f"{DIGESTS_ENV}=alpine:3.20.3={seeded['alpine:3.20.3']}" in message
    assert sorted(image.id for image in prep.find_base(engine, "ping")) == bases_before
    assert not image_id(engine, "alpine:3.20.3")
    assert not image_id(engine, f"{registry}/library/alpine:3.20.3")
    assert not image_id(engine, f"{registry}/library/alpine@{seeded['alpine:3.20.3']}")


class Silent:
    """A port of the engine's 127.0.0.1 that accepts connections and never answers (or, closed,
    refuses them): tests/loopback_listener.py, run on the engine's loopback."""

    def __init__(self, accept: bool, loopback: list[str]):
        self.process = subprocess.Popen(
            [*loopback, sys.executable, str(ROOT / "tests" / "loopback_listener.py"), "accept" if accept else "refuse"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())
        self.connections = 0

    def close(self) -> int:
        """Stop listening; how many connections it accepted."""
        if self.process.poll() is None:
            out, _ = self.process.communicate(timeout=15)
            self.connections = int(out.strip() or 0)
        return self.connections


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["nothing-listening", "accepts-never-answers"])
def test_a_silent_registry_falls_back_to_stand_ins_within_the_stated_bound(engine, test_learner, registry_env, kind,
                                                                         loopback):
    # the bound is LAYERLAB_REGISTRY_TIMEOUT (10 s by default; 4 s here to keep the tier short)
    bound = 4.0
    silent = Silent(accept=kind == "accepts-never-answers", loopback=loopback)
    registry_env(**{prep.REGISTRY_ENV: f"127.0.0.1:{silent.port}", prep.REGISTRY_TIMEOUT_ENV: str(bound)})
    try:
        started = time.monotonic()
        answer = prep.ask_registry(engine, prep.registry_setting(engine.environ), BASES["ping"])
        asked = time.monotonic() - started
        ping, app = prep.prepare(engine)
    finally:
        silent.close()
    print(f"{kind}: the registry question ended after {asked:.2f} s (bound {bound:g} s)")
    assert not answer.answers and asked < bound + 1.5
    for base in (ping, app):
        assert base.source == "stand-in"
        assert f"127.0.0.1:{silent.port} did not answer" in base.note and f"at most {bound:g} s" in base.note
        waited = float(re.search(r"after ([0-9.]+) s", base.note).group(1))
        assert waited < bound + 1.5
    status, out = run_in(engine, ping.reference, ["ping", "-c", "1", "127.0.0.1"], "fallback")
    assert status == 0 and "1 packets received" in out


@pytest.mark.timeout(120)
def test_a_missing_image_is_an_error_and_never_a_pull(engine, test_learner, loopback):
    """A container of a missing image: the engine must not be asked to pull it. The image is
    named on a loopback port this test listens on, so a pull attempt would show as a connection."""
    listener = Silent(accept=True, loopback=loopback)
    missing = f"127.0.0.1:{listener.port}/library/layerlab-missing:1"
    try:
        with pytest.raises(LayerlabError, match="does not pull"):
            engine.run(engine.namespace("registry-test"), "missing", missing, ["true"])
        time.sleep(0.5)  # a pull would have dialled by now (it dials at once)
    finally:
        dialled = listener.close()
    assert dialled == 0, "the course asked the engine to pull a missing image"
