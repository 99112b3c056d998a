"""prepare's decisions without an engine: the registry setting, the digest pins, the checks on
a pulled image (against a fake engine's API), and a replay that asks this machine nothing."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from layerlab.core.bases import BASES, DIGESTS_ENV, pinned_digests
from layerlab.core.errors import EngineRefused, LayerlabError, NotOnEngine
from layerlab.core.objects import ImageInfo
from layerlab.engine import prepare as prep
from layerlab.engine.building import BuildEvent
from layerlab.host import standins

PIN = "sha256:" + "1" * 64
OTHER = "sha256:" + "2" * 64


# -- the setting --------------------------------------------------------------------------------

@pytest.mark.parametrize("value, mode, address", [
    ("off", "off", ""), ("OFF", "off", ""),
    ("127.0.0.1:5000", "registry", "127.0.0.1:5000"), ("registry.local:443/", "registry", "registry.local:443"),
    ("docker.io", "hub", "docker.io"), ("hub", "hub", "docker.io"),
])
def test_registry_setting_reads_off_an_address_or_docker_hub(value, mode, address):
    setting = prep.registry_setting({prep.REGISTRY_ENV: value})
    assert (setting.mode, setting.address) == (mode, address)


def test_unset_means_docker_hub_for_a_learner_and_never_in_ci_or_tests():
    assert prep.registry_setting({}).mode == "hub"
    assert prep.registry_setting({"CI": "true"}).mode == "off"
    assert prep.registry_setting({"PYTEST_CURRENT_TEST": "t.py::x (call)"}).mode == "off"
    assert prep.registry_setting({"CI": "false"}).mode == "hub"


@pytest.mark.parametrize("value", ["http://127.0.0.1:5000", "127.0.0.1:5000/library", "a b"])
def test_a_registry_address_with_a_scheme_or_path_is_refused(value):
    with pytest.raises(LayerlabError, match="not a registry address"):
        prep.registry_setting({prep.REGISTRY_ENV: value})


def test_remote_names_are_library_repositories_on_the_registry():
    ping = BASES["ping"]
    assert prep.registry_setting({prep.REGISTRY_ENV: "127.0.0.1:5000"}).remote(ping) == (
        "127.0.0.1:5000/library/alpine", "3.20.3")
    assert prep.registry_setting({prep.REGISTRY_ENV: "docker.io"}).remote(ping) == ("alpine", "3.20.3")


# -- the pins -----------------------------------------------------------------------------------

def test_every_base_is_pinned_to_a_full_digest_and_tests_can_override_one():
    pins = pinned_digests({})
    assert set(pins) == {spec.official for spec in BASES.values()}
    assert all(digest.startswith("sha256:") and len(digest) == 71 for digest in pins.values())
    changed = pinned_digests({DIGESTS_ENV: f"alpine:3.20.3={PIN}"})
    assert changed["alpine:3.20.3"] == PIN
    assert changed["debian:bookworm-20241111-slim"] == pins["debian:bookworm-20241111-slim"]


@pytest.mark.parametrize("value", [f"alpine:latest={PIN}", "alpine:3.20.3=sha256:abc", "alpine:3.20.3"])
def test_a_pin_the_course_cannot_use_is_a_clear_error(value):
    with pytest.raises(LayerlabError, match=DIGESTS_ENV):
        pinned_digests({DIGESTS_ENV: value})


# -- a pulled image, against a fake engine --------------------------------------------------------

class FakeEngine:
    """Just the engine-door calls `_from_official` and `ask_registry` make, with an image store
    of names (`layerlab.engine.Engine` has the same methods)."""

    live = True

    def __init__(self, served_digest: str, pulled_digest: str, tools_missing: str = "", environ=None):
        self.served_digest = served_digest
        self.pulled_digest = pulled_digest
        self.tools_missing = tools_missing
        self.names: dict[str, str] = {}  # reference -> image id
        self.calls: list[str] = []
        self.environ = dict(environ or {}, LAYERLAB_LEARNER="unit")

    def labeled(self, kind, filters):
        return []

    # registry, through the engine
    def registry_has(self, name, timeout):
        self.calls.append(f"distribution {name} timeout={timeout:g}")
        return {"Descriptor": {"digest": self.served_digest}}

    # images
    def image(self, reference):
        if reference not in self.names:
            raise NotOnEngine(f"no {reference}", status=404)
        image_id = self.names[reference]
        repos = tuple(name for name, value in self.names.items() if value == image_id and "@" in name)
        return ImageInfo(id=image_id, repo_digests=repos)

    def image_id(self, reference):
        return self.names.get(reference, "")

    def pull(self, repository, tag):
        self.calls.append(f"pull {repository}:{tag}")
        self.names[f"{repository}:{tag}"] = "sha256:pulled"
        self.names[f"{repository}@{self.pulled_digest}"] = "sha256:pulled"
        yield {"status": "Downloaded"}

    def tag_image(self, image, repository, tag):
        self.names[f"{repository}:{tag}"] = self.names.get(image, image)

    def remove_image(self, reference, prune=True):
        self.calls.append(f"remove {reference}")
        if reference not in self.names:
            raise NotOnEngine(f"no {reference}", status=404)
        del self.names[reference]

    def build_events(self, context, tag, labels, dockerfile="Dockerfile", nocache=False, allow_network=False):
        self.calls.append(f"build network={'default' if allow_network else 'none'}")
        text = open(f"{context}/Dockerfile").read()
        assert text.startswith("FROM sha256:pulled\n")
        assert "apt-get" not in text and "apk" not in text
        if self.tools_missing:
            yield BuildEvent(text=f"layerlab-missing: {self.tools_missing}\n")
            yield BuildEvent(error="The command returned a non-zero code: 3")
            return
        self.names[tag] = "sha256:base"
        yield BuildEvent(text="Successfully built")


def _prepare(monkeypatch, api, spec_key="ping", extra=None):
    environ = {prep.REGISTRY_ENV: "127.0.0.1:5999", DIGESTS_ENV: f"alpine:3.20.3={PIN}", **(extra or {})}
    monkeypatch.setattr(standins, "standin_package_versions", lambda spec: pytest.fail("no stand-in was asked for"))
    api.environ.update(environ)
    return prep.prepare_one(api, BASES[spec_key], lambda p: None)


def test_a_pulled_image_with_the_pinned_digest_gets_the_official_name_and_a_labeled_base(monkeypatch):
    api = FakeEngine(served_digest=PIN, pulled_digest=PIN)
    result = _prepare(monkeypatch, api)
    assert result.source == "pulled" and result.built_from == f"alpine:3.20.3@{PIN}"
    assert api.names["alpine:3.20.3"] == "sha256:pulled"
    assert "127.0.0.1:5999/library/alpine:3.20.3" not in api.names  # the registry's name was only a means
    assert "build network=none" in api.calls
    assert any(call.startswith("distribution") and "timeout=10" in call for call in api.calls)


def test_a_registry_announcing_another_digest_is_refused_before_any_pull(monkeypatch):
    api = FakeEngine(served_digest=OTHER, pulled_digest=OTHER)
    with pytest.raises(prep.DigestMismatch) as caught:
        _prepare(monkeypatch, api)
    assert OTHER in caught.value.what and PIN in caught.value.what and "pushed again" in caught.value.what
    assert DIGESTS_ENV in caught.value.fix
    assert not any(call.startswith("pull") for call in api.calls) and api.names == {}


def test_a_pull_that_brings_another_digest_is_refused_and_leaves_nothing(monkeypatch):
    """The tag moved between the question and the pull: RepoDigests is checked after it too."""
    api = FakeEngine(served_digest=PIN, pulled_digest=OTHER)
    with pytest.raises(prep.DigestMismatch, match=OTHER):
        _prepare(monkeypatch, api)
    assert api.names == {}, "the pulled tag and digest reference are removed again"


def test_a_debian_without_make_and_python3_is_named_not_patched(monkeypatch):
    api = FakeEngine(served_digest=PIN, pulled_digest=PIN, tools_missing="make python3")
    with pytest.raises(prep.BaseLacksTools) as caught:
        _prepare(monkeypatch, api, "app", {DIGESTS_ENV: f"debian:bookworm-20241111-slim={PIN}"})
    assert "has no make and no python3" in caught.value.what and "no network" in caught.value.what
    assert "LAYERLAB_REGISTRY=off" in caught.value.fix


def test_a_silent_registry_means_stand_ins_with_a_note_that_states_the_bound(monkeypatch):
    class Silent(FakeEngine):
        def registry_has(self, name, timeout):
            raise EngineRefused("500", status=500, explanation="dial tcp 127.0.0.1:5999: connect: connection refused")

    built = []
    monkeypatch.setattr(standins, "standin_package_versions", lambda spec: "busybox-static=1")
    monkeypatch.setattr(prep, "_busybox_standin", lambda *a: (built.append(1), ("layerlab-unit/base-busybox:1", "sha256:s"))[1])
    engine = Silent(PIN, PIN, environ={prep.REGISTRY_ENV: "127.0.0.1:5999", prep.REGISTRY_TIMEOUT_ENV: "3"})
    result = prep.prepare_one(engine, BASES["ping"], lambda p: None)
    assert result.source == "stand-in" and built
    assert "connection refused" in result.note and "at most 3 s" in result.note
    assert "127.0.0.1:5999" in result.explain()


def test_a_registry_that_answers_without_the_image_is_an_error_not_a_fallback(monkeypatch):
    class Empty(FakeEngine):
        def registry_has(self, name, timeout):
            raise EngineRefused("404", status=404, explanation="manifest unknown: manifest unknown")

    with pytest.raises(LayerlabError, match="has no 127.0.0.1:5999/library/alpine:3.20.3") as caught:
        _prepare(monkeypatch, Empty(PIN, PIN))
    assert "registry.sh seed" in caught.value.fix


# -- replay asks this machine nothing -------------------------------------------------------------

def test_prepare_in_replay_runs_no_host_command_and_reads_no_cache(monkeypatch, tmp_path):
    """Lesson 00's recording, with every way prepare could ask the host refused."""
    from layerlab.engine import connect
    from layerlab.course.setup import prepare_bases

    def refuse(*args, **kwargs):
        raise AssertionError(f"a replay asked the host: {args[:1]}")

    for name in ("run", "Popen", "check_output", "call"):
        monkeypatch.setattr(subprocess, name, refuse)
    monkeypatch.setattr(shutil, "which", refuse)
    for name in ("cache_dir", "debian_mirror", "standin_package_versions", "busybox_version",
                 "busybox_rootfs_tar", "debian_rootfs_tar", "debootstrap_to_tar"):
        monkeypatch.setattr(standins, name, refuse)  # every host step prepare calls, by the name it calls
    monkeypatch.setattr(prep, "ask_registry", refuse)
    replayed = connect({"LAYERLAB_SOURCE": "replay", "LAYERLAB_REPLAY_SPEED": "instant",
                        "DOCKER_HOST": f"unix://{tmp_path}/none.sock", prep.REGISTRY_ENV: "127.0.0.1:5999"},
                       lesson="00-setup")
    try:
        assert replayed.live is False
        bases = prepare_bases(replayed, show=False)
    finally:
        replayed.close()
    assert [base.key for base in bases] == list(BASES)
    assert all(base.reused and base.source == "stand-in" for base in bases)  # what the recording holds
    assert all(base.reference.startswith("layerlab-") for base in bases)
