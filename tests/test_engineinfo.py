"""Core tier: reading engine facts (storage kind, API version, where DOCKER_HOST points)."""

import hashlib
import json

import pytest

from layerlab.core.engineinfo import (
    DEFAULT_HOST,
    EngineFacts,
    StorageKind,
    api_too_old,
    classify_storage,
    parse_api_version,
    resolve_docker_host,
)


@pytest.mark.parametrize(
    "driver, status, kind",
    [
        ("overlay2", [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]], StorageKind.OVERLAY2),
        ("overlayfs", [["driver-type", "io.containerd.snapshotter.v1"]], StorageKind.CONTAINERD),
        ("overlayfs", None, StorageKind.CONTAINERD),
        ("vfs", [], StorageKind.OTHER),
        ("btrfs", [["Build Version", "x"]], StorageKind.OTHER),
    ],
)
def test_classify_storage(driver, status, kind):
    assert classify_storage(driver, status) is kind


def test_api_versions():
    assert parse_api_version("1.41") == (1, 41)
    assert api_too_old("1.40") and not api_too_old("1.41") and not api_too_old("1.45")
    with pytest.raises(ValueError):
        parse_api_version("new")


def test_docker_host_precedence(tmp_path):
    assert resolve_docker_host({"DOCKER_HOST": "tcp://127.0.0.1:2375"}, tmp_path) == (
        "tcp://127.0.0.1:2375", "from DOCKER_HOST")
    assert resolve_docker_host({}, tmp_path) == (DEFAULT_HOST, "the default socket")
    # A context, as Docker Desktop sets one up.
    name = "desktop-linux"
    meta = tmp_path / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Endpoints": {"docker": {"Host": "unix:///tmp/desktop.sock"}}}))
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": name}))
    host, source = resolve_docker_host({}, tmp_path)
    assert host == "unix:///tmp/desktop.sock" and "desktop-linux" in source
    assert resolve_docker_host({"DOCKER_CONTEXT": "default"}, tmp_path)[0] == DEFAULT_HOST
    assert resolve_docker_host({"DOCKER_HOST": "unix:///x.sock", "DOCKER_CONTEXT": name}, tmp_path)[0] == "unix:///x.sock"


def facts(**changes):
    values = dict(
        host=DEFAULT_HOST, host_source="the default socket", engine_version="26.1.5+dfsg1",
        api_version="1.45", min_api_version="1.24", storage_driver="overlay2",
        storage_kind=StorageKind.OVERLAY2, os="linux", arch="amd64", kernel="6.1",
        buildkit=True, buildx_version="0.13.1", cgroup_version="1",
    )
    values.update(changes)
    return EngineFacts(**values)


def test_flavours_and_words():
    assert facts().flavour == "docker-26"
    assert facts(engine_version="20.10.24+dfsg1", buildkit=False).flavour == "docker-20.10"
    assert facts(engine_version="29.0.1").flavour == "docker-29"
    containerd = facts(storage_driver="overlayfs", storage_kind=StorageKind.CONTAINERD)
    assert containerd.flavour == "docker-26-containerd"
    assert "containerd image store" in containerd.explain_storage()
    assert dict(facts(buildkit=False).lines())["builders"].startswith("classic builder only")
