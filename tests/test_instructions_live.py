"""Engine tier: each Dockerfile instruction of the seed, built live, and the files of its layer.

`ADD source.tar` unpacks, `COPY source.tar` does not, `ADD <url>` downloads (from a server on
the engine's 127.0.0.1 that the test starts and stops: the notebook's for a rootful engine, the
engine's own network namespace for a rootless one) and never unpacks, with mode 600; `COPY ./conf`
copies the directory's contents; `COPY ./*.js` only the matches; `.dockerignore` keeps files
out. Checked for the classic builder and, where the engine has it, BuildKit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

import pytest

from layerlab.core.model import BuilderKind
from layerlab.core.serving import ServingPath
from layerlab.course.instructions import DEMOS, tar_listing, write_release
from layerlab.course.instructions import run_demo, serve_for_engine
from layerlab.engine.fileserve import engine_loopback_command

from test_build_cache_live import need_buildkit

pytestmark = pytest.mark.engine


@pytest.fixture(params=[BuilderKind.CLASSIC, pytest.param(BuilderKind.BUILDKIT, marks=pytest.mark.buildkit)],
                ids=["classic", "buildkit"])
def builder(request, engine):
    if request.param is BuilderKind.BUILDKIT:
        need_buildkit(engine)
    return request.param


@pytest.fixture(scope="module")
def namespace(engine, test_learner):
    return engine.namespace("t-instructions")


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    folder = tmp_path_factory.mktemp("release")
    write_release(folder)
    return folder


@pytest.mark.parametrize("key", [k for k in DEMOS if k != "add-url"])
def test_instruction_layer_holds_what_it_should(engine, namespace, ping_base, builder, key, tmp_path):
    result = run_demo(engine, namespace, key, tmp_path, ping_base.reference, builder=builder)
    assert result.as_expected, result.summary()
    demo = DEMOS[key]
    for path in demo.expect_present:
        assert path in result.paths
    for path in demo.expect_absent:
        assert path not in result.paths


def test_add_tar_unpacks_but_copy_does_not(engine, namespace, ping_base, builder, tmp_path):
    added = run_demo(engine, namespace, "add-tar", tmp_path / "add", ping_base.reference, builder=builder)
    copied = run_demo(engine, namespace, "copy-tar", tmp_path / "copy", ping_base.reference, builder=builder)
    assert {"/app/hello.txt", "/app/lib/version.txt"} <= set(added.paths)
    assert "/app/source.tar" not in added.paths
    assert "/app/source.tar" in copied.paths and "/app/hello.txt" not in copied.paths


def fetch_on_engine_loopback(engine, url: str) -> int:
    """GET `url` from the engine's own loopback (its network namespace when it is rootless);
    the HTTP status, or 0 when nothing answers."""
    probe = ("import sys, urllib.request\n"
             "try: print(urllib.request.urlopen(sys.argv[1], timeout=3).status)\n"
             "except OSError: print(0)\n")
    command = engine_loopback_command(engine) + [sys.executable, "-c", probe, url]
    answer = subprocess.run(command, capture_output=True, text=True, timeout=30, env=dict(os.environ))
    assert answer.returncode == 0, answer.stderr
    return int(answer.stdout.strip())


def test_add_url_downloads_without_unpacking(engine, namespace, ping_base, builder, release, tmp_path):
    assert "VERSION" in tar_listing(release / "release.tar")  # it is a real tar...
    with serve_for_engine(engine, release) as served:
        url = served.url
        assert url.startswith("http://127.0.0.1:")
        assert served.plan.path is (ServingPath.NAMESPACE if engine.facts.rootless else ServingPath.LOOPBACK)
        assert fetch_on_engine_loopback(engine, url + "/release.tar") == 200
        result = run_demo(engine, namespace, "add-url", tmp_path, ping_base.reference, url=url, builder=builder,
                          modes_of=("/data/release.tar",))
    assert result.as_expected, result.summary()
    assert "/data/release.tar" in result.paths and "/data/VERSION" not in result.paths  # ...never unpacked
    assert dict(result.modes)["/data/release.tar"] == "600"
    assert fetch_on_engine_loopback(engine, url + "/release.tar") == 0  # stopped when the block ended


@pytest.mark.skipif(not os.path.exists("/usr/bin/nsenter"), reason="needs nsenter (util-linux)")
def test_a_rootless_engines_server_is_on_its_loopback_not_the_notebooks(engine, release):
    """Only the rootless path: the server answers inside the engine's namespace, and the
    notebook's own 127.0.0.1 has nothing on that port."""
    if not engine.facts.rootless:
        pytest.skip("the engine is rootful: it shares the notebook's loopback (the test above covers it)")
    with serve_for_engine(engine, release) as served:
        assert fetch_on_engine_loopback(engine, served.url + "/release.tar") == 200
        with pytest.raises(OSError):
            urllib.request.urlopen(served.url + "/release.tar", timeout=2)


def test_no_demo_container_is_left(engine, namespace, ping_base, release, tmp_path):
    with serve_for_engine(engine, release) as served:
        run_demo(engine, namespace, "add-url", tmp_path, ping_base.reference, url=served.url,
                 modes_of=("/data/release.tar",))
    left = engine.labeled("containers", namespace.label_filters())
    assert left == []
