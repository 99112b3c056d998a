"""The learner's per-layer index cache (`core.indexcache`, `engine.layerindex`). No engine needed.

Hits, partial hits, eviction, two processes writing at once, damaged entries, where the
folder is, and that the cache is off in recordings and replays. The engine here is a fake that
serves the synthetic archives of `test_filetree` and counts its `docker save` calls.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from layerlab.core.filetree import index_saved_image, read_saved_layers
from layerlab.core.indexcache import CACHE_ENV, IndexCache, cache_folder
from layerlab.core.layertar import EntryType, RawEntry
from layerlab.core.objects import ImageInfo
from layerlab.engine.layerindex import index_image
from layerlab.replay.source import SourceKind
from test_filetree import CONFIG, DIFF_IDS, FORMATS

ENTRIES = [
    RawEntry(path="/etc", type=EntryType.DIRECTORY),
    RawEntry(path="/etc/passwd", type=EntryType.FILE, size=1234),
    RawEntry(path="/bin", type=EntryType.SYMLINK, link="usr/bin"),
    RawEntry(path="/usr/bin/x2", type=EntryType.HARDLINK, link="/usr/bin/x"),
    RawEntry(path="/old", type=EntryType.OTHER, whiteout="file"),
    RawEntry(path="/d", type=EntryType.DIRECTORY, whiteout="opaque"),
    RawEntry(path="/caf\udce9", type=EntryType.FILE, size=1),  # a name that is not UTF-8
]
DIFF = "sha256:" + "ab" * 32


def test_a_layer_round_trips(tmp_path):
    cache = IndexCache(tmp_path)
    assert cache.layer(DIFF) is None
    cache.put_layer(DIFF, ENTRIES)
    assert cache.layer(DIFF) == ENTRIES
    assert cache.counts["misses"] == 1 and cache.counts["hits"] == 1 and cache.counts["writes"] == 1
    # Another process (another object) sees it too.
    assert IndexCache(tmp_path).layer(DIFF) == ENTRIES


def test_images_and_aliases_are_kept_per_engine(tmp_path):
    cache = IndexCache(tmp_path)
    cache.put_image("sha256:img", "26.1.5/overlay2", {"rootfs": {}}, "oci")
    assert cache.image("sha256:img", "26.1.5/overlay2") == {"config": {"rootfs": {}}, "format": "oci"}
    assert cache.image("sha256:img", "20.10.24/overlay2") is None
    cache.put_alias("abc/layer.tar", "20.10.24/overlay2", DIFF)
    assert cache.aliases(["abc/layer.tar", "other"], "20.10.24/overlay2") == {"abc/layer.tar": DIFF}
    assert cache.aliases(["abc/layer.tar"], "26.1.5/overlay2") == {}


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "other entry"])
def test_a_damaged_entry_is_never_shown_and_is_removed(tmp_path, damage):
    cache = IndexCache(tmp_path)
    cache.put_layer(DIFF, ENTRIES)
    path = cache.path_for("layers", DIFF)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) - 7])
    elif damage == "flip":
        flipped = bytearray(data)
        flipped[len(data) // 2 + 20] ^= 0x01
        path.write_bytes(bytes(flipped))
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # a whole, valid entry, but for another diff id
        other = "sha256:" + "cd" * 32
        cache.put_layer(other, ENTRIES[:1])
        path.write_bytes(cache.path_for("layers", other).read_bytes())
    assert cache.layer(DIFF) is None
    assert cache.counts["damaged"] == 1
    assert not path.exists()
    cache.put_layer(DIFF, ENTRIES)  # rebuilt, and whole again
    assert cache.layer(DIFF) == ENTRIES


def test_the_least_recently_used_entries_are_evicted(tmp_path):
    probe = IndexCache(tmp_path / "probe")
    probe.put_layer(DIFF, ENTRIES)
    one = probe.size()
    cache = IndexCache(tmp_path / "cache", max_bytes=3 * one)
    ids = [f"sha256:{n:064x}" for n in range(5)]
    for age, diff_id in enumerate(ids[:3]):
        cache.put_layer(diff_id, ENTRIES)
        os.utime(cache.path_for("layers", diff_id), (1000 + age, 1000 + age))  # an order mtime can tell
    assert cache.layer(ids[0]) == ENTRIES  # used now: the most recent
    cache.put_layer(ids[3], ENTRIES)
    cache.put_layer(ids[4], ENTRIES)
    assert cache.size() <= cache.max_bytes
    kept = {d for d in ids if cache.path_for("layers", d).exists()}
    assert kept == {ids[0], ids[3], ids[4]}
    assert cache.counts["evicted"] == 2


WRITER = textwrap.dedent("""
    import sys
    from layerlab.core.indexcache import IndexCache
    from layerlab.core.layertar import EntryType, RawEntry
    folder, name, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cache = IndexCache(folder)
    for n in range(rounds):
        size = n % 7
        entries = [RawEntry(path=f"/f{i}", type=EntryType.FILE, size=size) for i in range(200)]
        cache.put_layer("sha256:shared", entries)        # both processes write this one
        cache.put_layer(f"sha256:{name}-{n % 5}", entries)
        found = cache.layer("sha256:shared")
        if found is not None and len({e.size for e in found}) != 1:
            sys.exit("a mixed entry was read")
    print(cache.counts["damaged"])
""")


def test_two_processes_writing_at_once_never_leave_a_damaged_entry(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent / "widgets"))
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), name, "150"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    results = [w.communicate(timeout=120) for w in writers]
    assert [w.returncode for w in writers] == [0, 0], results
    assert [out.strip() for out, _ in results] == ["0", "0"]  # no reader ever saw a damaged entry
    cache = IndexCache(tmp_path)
    for name in ("shared", *(f"{w}-{n}" for w in "ab" for n in range(5))):
        found = cache.layer(f"sha256:{name}")
        assert found is not None and len(found) == 200
    assert cache.counts["damaged"] == 0
    assert not list(tmp_path.rglob(".tmp-*"))  # every temporary file was moved into place


def test_the_folder_follows_the_environment(tmp_path):
    assert cache_folder({CACHE_ENV: "off"}) is None
    assert cache_folder({CACHE_ENV: str(tmp_path / "x")}) == tmp_path / "x"
    assert cache_folder({"XDG_CACHE_HOME": str(tmp_path), "LAYERLAB_LEARNER": "ann"}) == tmp_path / "layerlab/index/ann"
    assert cache_folder({CACHE_ENV: "on", "LAYERLAB_CACHE": str(tmp_path / "c"), "LAYERLAB_LEARNER": "bo"}) == (
        tmp_path / "c/index/bo")
    assert os.environ.get(CACHE_ENV) == "off"  # the suite's own default (tests/conftest.py)


# -- a partial read of one archive ---------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_known_layers_are_skipped_and_the_index_is_the_same(fmt):
    full, _ = index_saved_image(FORMATS[fmt][0]())
    everything = read_saved_layers(FORMATS[fmt][0]())
    known = {d: everything.read[d] for d in DIFF_IDS[:3]}
    aliases = {path: diff_id for path, diff_id in zip(everything.layer_paths, DIFF_IDS)}
    partial = read_saved_layers(FORMATS[fmt][0](), known=known, aliases=aliases)
    assert set(partial.read) == set(DIFF_IDS[3:])  # only the layers not known were read
    assert partial.index == full
    assert partial.index.as_dict() == full.as_dict()


# -- the engine side, with a fake engine ---------------------------------------------------


@dataclass
class FakeFacts:
    engine_version: str = "26.1.5"
    storage_driver: str = "overlay2"
    storage_kind: SourceKind = SourceKind.LIVE  # any enum with a value will do


@dataclass
class FakeEngine:
    archive: object
    environ: dict
    kind: SourceKind = SourceKind.LIVE
    facts: FakeFacts = field(default_factory=FakeFacts)
    saves: int = 0
    configs: dict = field(default_factory=dict)

    def save_image(self, image_id, chunk_size=1 << 20):
        self.saves += 1
        data = self.archive().getvalue()
        return iter([data[i:i + 4096] for i in range(0, len(data), 4096)])

    def remember_config(self, image_id, config):
        self.configs[image_id] = config


IMAGE = ImageInfo(id="sha256:" + "e" * 64, tags=("t:1",), repo_digests=(), diff_ids=tuple(DIFF_IDS), size=0, config={})


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_second_look_makes_no_save_and_gives_the_same_index(tmp_path, fmt):
    uncached = FakeEngine(FORMATS[fmt][0], {CACHE_ENV: "off"})
    reference = index_image(uncached, IMAGE, "t:1")
    engine = FakeEngine(FORMATS[fmt][0], {CACHE_ENV: str(tmp_path)})
    cold = index_image(engine, IMAGE, "t:1")
    warm = index_image(engine, IMAGE, "t:1")
    assert engine.saves == 1
    assert cold.cached_layers == () and not cold.cached
    assert warm.cached and warm.cached_layers == tuple(range(len(DIFF_IDS)))
    assert warm == cold == reference and warm.as_dict() == reference.as_dict()
    assert warm.which("/etc/old").as_dict() == reference.which("/etc/old").as_dict()
    assert engine.configs[IMAGE.id] == CONFIG  # what `image_stack` reads, without a save


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_partial_hit_reads_only_the_missing_layers(tmp_path, fmt):
    engine = FakeEngine(FORMATS[fmt][0], {CACHE_ENV: str(tmp_path)})
    index_image(engine, IMAGE, "t:1")
    cache = IndexCache(tmp_path)
    for diff_id in DIFF_IDS[3:]:
        cache.path_for("layers", diff_id).unlink(missing_ok=True)
    again = index_image(engine, IMAGE, "t:1")
    assert engine.saves == 2
    assert again.cached_layers == (0, 1, 2)  # the cached ones were skipped in the archive
    assert again == index_image(FakeEngine(FORMATS[fmt][0], {CACHE_ENV: "off"}), IMAGE, "t:1")
    assert all(cache.layer(d) is not None for d in DIFF_IDS)  # the missing ones are cached now


def test_a_damaged_layer_entry_is_read_again_from_the_engine(tmp_path):
    engine = FakeEngine(FORMATS["oci"][0], {CACHE_ENV: str(tmp_path)})
    first = index_image(engine, IMAGE, "t:1")
    path = IndexCache(tmp_path).path_for("layers", DIFF_IDS[1])
    path.write_bytes(path.read_bytes()[:-3])
    again = index_image(engine, IMAGE, "t:1")
    assert engine.saves == 2 and 1 not in again.cached_layers and again == first


def test_a_wrong_alias_falls_back_to_reading_everything(tmp_path):
    engine = FakeEngine(FORMATS["legacy"][0], {CACHE_ENV: str(tmp_path)})
    first = index_image(engine, IMAGE, "t:1")
    cache = IndexCache(tmp_path)
    key = "26.1.5/overlay2/live"
    paths = read_saved_layers(FORMATS["legacy"][0]()).layer_paths
    cache.put_alias(paths[5], key, DIFF_IDS[0])  # says layer 6's blob is layer 1 (known): it is not
    cache.path_for("layers", DIFF_IDS[5]).unlink()
    again = index_image(engine, IMAGE, "t:1")
    assert engine.saves == 3  # the partial read found the lie; a full read followed
    assert again == first


@pytest.mark.parametrize("kind", [SourceKind.RECORDING, SourceKind.REPLAY])
def test_recordings_and_replays_never_use_the_cache(tmp_path, kind):
    engine = FakeEngine(FORMATS["oci"][0], {CACHE_ENV: str(tmp_path)}, kind=kind)
    index_image(engine, IMAGE, "t:1")
    index_image(engine, IMAGE, "t:1")
    assert engine.saves == 2
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_the_entry_details_say_when_a_layer_came_from_the_cache(tmp_path):
    from dataclasses import replace

    from layerlab.core.model import HistoryRecord, build_stack
    from layerlab.views.layerstack import entry_details_html

    engine = FakeEngine(FORMATS["oci"][0], {CACHE_ENV: "off"})
    files = index_image(engine, IMAGE, "t:1")
    history = [HistoryRecord(created_by=f"step {i}", size=0, created=None, comment="", image_id=None, tags=(),
                             empty_layer=False) for i in range(len(DIFF_IDS))]
    stack = build_stack(image_id=IMAGE.id, tags=(), history=history, diff_ids=DIFF_IDS, size=0)
    assert "layerlab-cached" not in entry_details_html(stack.entries[1], files)
    assert "layerlab-cached" in entry_details_html(stack.entries[1], replace(files, cached_layers=(1,)))
