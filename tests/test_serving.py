"""Where lesson 04 serves `ADD <url>`'s file, chosen from the engine's facts alone; the
rootless facts `docker info` gives; and a remote engine's recorded answer. No engine needed."""

from __future__ import annotations

import types

import pytest

from layerlab.core.engineinfo import StorageKind, is_rootless, native_overlay_diff
from layerlab.core.serving import DESKTOP_HOST, ServingPath, engine_is_local, plan_serving
from layerlab.course.instructions import DemoResult, recorded_demo, serve_for_engine, write_release

from test_engineinfo import facts


@pytest.mark.parametrize("changes, path, host", [
    ({}, ServingPath.LOOPBACK, "127.0.0.1"),
    ({"host": "tcp://127.0.0.1:2375"}, ServingPath.LOOPBACK, "127.0.0.1"),
    ({"rootless": True, "host": "unix:///run/user/1000/docker.sock"}, ServingPath.NAMESPACE, "127.0.0.1"),
    ({"operating_system": "Docker Desktop", "host": "unix:///Users/a/.docker/run/docker.sock"},
     ServingPath.DESKTOP, DESKTOP_HOST),
    ({"host": "tcp://10.1.2.3:2376"}, ServingPath.REMOTE, ""),
    ({"host": "ssh://teacher@classroom.example"}, ServingPath.REMOTE, ""),
    ({"host": "tcp://10.1.2.3:2376", "rootless": True}, ServingPath.REMOTE, ""),
])
def test_the_serving_path_follows_the_engines_facts(changes, path, host):
    plan = plan_serving(facts(**changes))
    assert (plan.path, plan.url_host) == (path, host)
    assert plan.can_serve == (path is not ServingPath.REMOTE)
    assert plan.why.endswith(".")


def test_why_stays_english_in_the_server_line_and_is_shown_in_the_learners_language(monkeypatch):
    """`Served.how` prints `why` as it is (the sanitizer reads that line in every edition); an error
    box shows it translated."""
    import copy

    from layerlab.core.i18n import shown

    monkeypatch.setenv("LAYERLAB_LANG", "ko")
    plan = plan_serving(facts(host="tcp://10.1.2.3:2376"))
    assert str(plan.why).startswith("The engine at tcp://10.1.2.3:2376 is on another machine")
    korean = shown(plan.why)
    assert "tcp://10.1.2.3:2376" in korean and "another machine" not in korean
    assert shown(copy.deepcopy(plan).why) == korean and plan == plan_serving(facts(host="tcp://10.1.2.3:2376"))


def test_local_means_a_socket_or_this_machines_loopback():
    assert engine_is_local("unix:///var/run/docker.sock") and engine_is_local("npipe:////./pipe/docker_engine")
    assert engine_is_local("tcp://localhost:2375") and engine_is_local("tcp://[::1]:2375")
    assert not engine_is_local("tcp://192.168.1.5:2375")


def test_docker_info_says_rootless_and_whether_overlay2_diffs_natively():
    assert is_rootless(["name=seccomp,profile=builtin", "name=rootless"])
    assert not is_rootless(["name=seccomp,profile=builtin", "name=apparmor"]) and not is_rootless(None)
    status = [["Backing Filesystem", "extfs"], ["Native Overlay Diff", "false"], ["userxattr", "true"]]
    assert native_overlay_diff("overlay2", status) is False
    assert native_overlay_diff("overlay2", [["Native Overlay Diff", "true"]]) is True
    assert native_overlay_diff("overlay2", []) is None
    assert native_overlay_diff("overlayfs", [["driver-type", "io.containerd.snapshotter.v1"]]) is None


@pytest.mark.parametrize("changes, form, flavour", [
    ({"native_overlay_diff": True}, "one opaque directory", "docker-26"),
    ({"native_overlay_diff": False, "rootless": True}, "one whiteout per deleted entry", "docker-26-rootless"),
    ({"storage_kind": StorageKind.CONTAINERD, "storage_driver": "overlayfs"}, "comparing snapshots",
     "docker-26-containerd"),
])
def test_each_engine_names_its_own_whiteout_form(changes, form, flavour):
    engine = facts(**changes)
    assert form in engine.explain_whiteouts() and engine.flavour == flavour
    assert "Both hide the same files" in engine.explain_whiteouts()
    assert bool(engine.explain_rootless()) == engine.rootless


def test_recordings_before_the_rootless_facts_still_load():
    old = facts().to_dict()
    for name in ("rootless", "native_overlay_diff", "operating_system"):
        old.pop(name)
    assert type(facts()).from_dict(old).rootless is False


def test_a_remote_engine_gets_no_server_and_the_recorded_answer(tmp_path):
    remote = types.SimpleNamespace(facts=facts(host="tcp://10.1.2.3:2376"), live=True, environ={})
    write_release(tmp_path)
    with serve_for_engine(remote, tmp_path) as served:
        assert served.url == "" and "another machine" in served.how and "server: none" in served.how
    result = recorded_demo("04-instructions", "demo-result:add-url:classic")
    assert isinstance(result, DemoResult) and result.as_expected and result.recorded_on
    assert "not built on your engine: the answer recorded on Docker" in result.summary()
    assert "/data/release.tar" in result.paths and dict(result.modes)["/data/release.tar"] == "600"


def test_lesson_00_says_what_a_rootless_engine_changes_and_nothing_for_a_rootful_one():
    from layerlab.views.setup import environment_html

    assert "Your engine is rootless" in environment_html(facts(rootless=True))
    assert "rootless:" not in environment_html(facts()) and "Your engine is rootless" not in environment_html(facts())


def test_the_course_server_sends_etags_answers_304_and_reports_every_request(tmp_path):
    import urllib.error
    import urllib.request

    (tmp_path / "release.txt").write_text("release 1\n")
    rootful = types.SimpleNamespace(facts=facts(), live=True, environ={})
    with serve_for_engine(rootful, tmp_path) as served:
        url = served.url + "/release.txt"
        etag = urllib.request.urlopen(url, timeout=5).headers["ETag"]
        assert etag.startswith('"') and len(etag) > 10
        with pytest.raises(urllib.error.HTTPError) as unchanged:
            urllib.request.urlopen(urllib.request.Request(url, headers={"If-None-Match": etag}), timeout=5)
        assert unchanged.value.code == 304
        (tmp_path / "release.txt").write_text("release 2\n")
        fresh = urllib.request.urlopen(urllib.request.Request(url, headers={"If-None-Match": etag}), timeout=5)
        assert fresh.status == 200 and fresh.headers["ETag"] != etag and fresh.read() == b"release 2\n"
        assert served.requests() == [
            {"method": "GET", "status": 200, "conditional": False},
            {"method": "GET", "status": 304, "conditional": True},
            {"method": "GET", "status": 200, "conditional": True},
        ]
