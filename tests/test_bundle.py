"""The bases file: root makes it once (`prepare --export`), a learner who is not root imports it
(`prepare --from`, or LAYERLAB_BASES). Its reading and refusals without an engine; an import
into the live engine as a learner of its own."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from layerlab.core.bases import BASES
from layerlab.core.errors import LayerlabError, NoRegistryAndNoRecipe
from layerlab.core.naming import LABEL_BUILT_FROM, LABEL_LEARNER
from layerlab.host import bundle, standins


def _write(path, manifest, members=None):
    with tarfile.open(path, "w") as archive:
        for name, data in [(bundle.MANIFEST, json.dumps(manifest).encode())] + list((members or {}).items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_a_bases_file_lists_its_bases_and_extracts_one_root_filesystem(tmp_path):
    path = _write(tmp_path / "bases.tar", {"format": 1, "bases": [
        {"key": "ping", "versions": "busybox-static=9", "tag": "9.9.9", "member": "ping-rootfs.tar"}]},
        {"ping-rootfs.tar": b"not really a tar, but bytes to copy"})
    opened = bundle.Bundle(path)
    assert "ping" in opened and "app" not in opened
    assert opened.bases["ping"].tag == "9.9.9"
    out = opened.extract("ping", tmp_path)
    assert out == tmp_path / "rootfs.tar" and out.read_bytes() == b"not really a tar, but bytes to copy"


@pytest.mark.parametrize("make, says", [
    (lambda p: p, "There is no bases file at"),
    (lambda p: (p.write_text("plain text"), p)[1], "is not a bases file made by `prepare --export`"),
    (lambda p: _write(p, {"format": 7, "bases": []}), "of format 7; this course reads 1"),
])
def test_a_missing_or_foreign_bases_file_is_explained(tmp_path, make, says):
    path = make(tmp_path / "bases.tar")
    with pytest.raises(bundle.BadBundle) as caught:
        bundle.Bundle(path)
    assert says in caught.value.what and caught.value.fix


def test_the_environment_names_the_bases_file():
    assert bundle.bundle_path({bundle.BUNDLE_ENV: " /srv/bases.tar "}) == "/srv/bases.tar"
    assert bundle.bundle_path({}) == ""


def test_exporting_the_debian_base_as_non_root_says_to_run_it_as_root(tmp_path, monkeypatch):
    monkeypatch.setattr(bundle.os, "geteuid", lambda: 1000)
    with pytest.raises(LayerlabError) as caught:
        bundle.export_bases(tmp_path / "bases.tar", {}, keys=["app"])
    assert "needs root" in caught.value.what and "--export" in caught.value.fix
    assert not (tmp_path / "bases.tar").exists()


def test_a_non_root_learner_with_nothing_to_import_is_told_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setattr(standins.os, "geteuid", lambda: 1000)
    with pytest.raises(NoRegistryAndNoRecipe) as caught:
        standins.debian_rootfs_tar(BASES["app"], "recipe", {standins.CACHE_ENV: str(tmp_path)}, lambda f, m: None)
    assert "you are not root" in caught.value.what and "no bases file" in caught.value.what
    assert "prepare --export bases.tar" in caught.value.fix and "prepare --from bases.tar" in caught.value.fix
    assert "LAYERLAB_BASES" in caught.value.fix


@pytest.mark.engine
@pytest.mark.timeout(300)
def test_a_learner_builds_the_ping_base_from_a_bases_file_with_their_own_labels(engine, test_learner, tmp_path):
    """The ping part of a bases file needs no root to make, so the test makes one; the learner's
    engine builds the base from it by the stand-in's own steps, labeled for this learner."""
    from layerlab.engine.prepare import find_base, prepare

    assert standins.BUSYBOX.exists(), "busybox-static is not installed: the ping stand-in cannot be packed"
    path = tmp_path / "bases.tar"
    entries = bundle.export_bases(path, {}, keys=["ping"])
    assert [entry.key for entry in entries] == ["ping"] and oct(path.stat().st_mode & 0o777) == "0o644"
    old = engine.environ.get("LAYERLAB_REGISTRY")
    engine.environ["LAYERLAB_REGISTRY"] = "off"
    try:
        before = {image.id for image in find_base(engine, "ping")}
        entries_file = bundle.Bundle(path)
        [result] = prepare(engine, keys=["ping"], bundle=str(path))
    finally:
        if old is None:
            engine.environ.pop("LAYERLAB_REGISTRY")
        else:
            engine.environ["LAYERLAB_REGISTRY"] = old
    image = engine.image(result.reference)
    assert image.labels[LABEL_LEARNER] == test_learner
    assert image.labels[LABEL_BUILT_FROM] == f"Debian packages {entries_file.bases['ping'].versions}"
    assert result.reference.endswith(":" + entries_file.bases["ping"].tag)
    assert result.reused == bool(before and image.id in before)
    assert len(image.diff_ids) == 1, "FROM scratch + ADD rootfs.tar: one layer, as a stand-in built here"
    box = engine.run(engine.namespace("bundle-test"), "ping", result.reference, ["ping", "-c", "1", "-W", "2", "127.0.0.1"])
    try:
        assert box.wait(timeout=60) == 0, box.logs()
        assert "1 packets received" in box.logs()
    finally:
        box.remove()
