"""Core tier: reading the three `docker save` formats from a stream (synthetic archives)."""

import gzip
import hashlib
import io
import json
import tarfile

import pytest

from layerlab.core.archive import ArchiveError, read_saved_image

CONFIG = {
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64, "sha256:" + "2" * 64]},
    "history": [{"created_by": "/bin/sh -c #(nop) ADD file:x in /"}, {"created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": True}],
}


def layer_tar(name=b"hello"):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("etc/greeting")
        info.size = len(name)
        archive.addfile(info, io.BytesIO(name))
    return buffer.getvalue()


def archive(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as out:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def blob(data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    return digest, "blobs/sha256/" + digest.split(":")[1]


def test_legacy_format():
    config = json.dumps(CONFIG).encode()
    stream = archive([
        ("aaa/layer.tar", layer_tar()),
        ("aaa/json", b"{}"),
        ("cfg123.json", config),
        ("manifest.json", json.dumps([{"Config": "cfg123.json", "RepoTags": ["x:1"], "Layers": ["aaa/layer.tar"]}]).encode()),
    ])
    seen = []
    saved = read_saved_image(stream, layer_reader=lambda path, handle: seen.append((path, len(handle.read()))))
    assert saved.format == "docker-legacy"
    assert saved.diff_ids == CONFIG["rootfs"]["diff_ids"]
    assert saved.layer_paths == ["aaa/layer.tar"] and saved.repo_tags == ["x:1"]
    assert ("aaa/layer.tar", len(layer_tar())) in seen


def oci_members(compress, nested, with_manifest_json):
    layer = layer_tar()
    if compress:
        layer = gzip.compress(layer)
    layer_digest, layer_path = blob(layer)
    config = json.dumps(CONFIG).encode()
    config_digest, config_path = blob(config)
    manifest = json.dumps({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"digest": config_digest}, "layers": [{"digest": layer_digest}],
    }).encode()
    manifest_digest, manifest_path = blob(manifest)
    members = [(layer_path, layer), (config_path, config), (manifest_path, manifest)]
    top = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
           "annotations": {"io.containerd.image.name": "docker.io/library/x:1"}}
    if nested:
        attestation = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "9" * 64,
                       "platform": {"os": "unknown", "architecture": "unknown"}}
        inner = json.dumps({"manifests": [attestation, dict(top, platform={"os": "linux", "architecture": "amd64"})]}).encode()
        inner_digest, inner_path = blob(inner)
        members.append((inner_path, inner))
        top = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": inner_digest,
               "annotations": {"io.containerd.image.name": "docker.io/library/x:1"}}
    members.append(("index.json", json.dumps({"manifests": [top]}).encode()))
    members.append(("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'))
    if with_manifest_json:
        members.append(("manifest.json", json.dumps([{"Config": config_path, "RepoTags": ["x:1"], "Layers": [layer_path]}]).encode()))
    return members, layer_path


@pytest.mark.parametrize("compress, nested, with_manifest_json, fmt", [
    (False, False, True, "oci"),          # Docker 25+ with the overlay2 store
    (False, False, False, "oci"),         # a bare OCI layout
    (True, True, False, "oci-index"),     # the containerd store: gzip layers, nested index
])
def test_oci_formats(compress, nested, with_manifest_json, fmt):
    members, layer_path = oci_members(compress, nested, with_manifest_json)
    seen = {}
    saved = read_saved_image(archive(members), layer_reader=lambda path, handle: seen.setdefault(path, handle.read()[:2]))
    assert saved.format == fmt
    assert saved.diff_ids == CONFIG["rootfs"]["diff_ids"]
    assert saved.layer_paths == [layer_path]
    assert saved.history[1]["empty_layer"] is True
    if compress:
        assert seen[layer_path] == b"\x1f\x8b"


def test_iterator_of_chunks_is_accepted():
    members, _ = oci_members(False, False, True)
    data = archive(members).getvalue()
    chunks = (data[i:i + 1000] for i in range(0, len(data), 1000))
    assert read_saved_image(chunks).diff_ids == CONFIG["rootfs"]["diff_ids"]


def test_not_an_image_archive():
    with pytest.raises(ArchiveError, match="not a docker save archive"):
        read_saved_image(archive([("hello.txt", b"hi")]))
