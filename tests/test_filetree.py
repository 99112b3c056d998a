"""Core tier: per-layer file changes and `which`, from synthetic `docker save` archives.

The same six-layer image is written in the three formats engines produce (legacy
`<id>/layer.tar` with a linked duplicate layer, OCI layout, gzip-compressed containerd store
with a nested index); every format must give the same index.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

import pytest

from layerlab.core.archive import ArchiveError
from layerlab.core.filetree import index_saved_image
from layerlab.core.layertar import EntryType, normalize_path
from layerlab.core.pathhistory import LayerChangeVia
from layerlab.core.tarstream import ChunkStream
from layerlab.core.model import ChangeKind

A, C, D = ChangeKind.ADDED, ChangeKind.CHANGED, ChangeKind.DELETED

# Each layer: ("dir", path) ("file", path, bytes) ("link", path, target) ("hard", path, target)
# ("whiteout", path) writes DIR/.wh.NAME, ("opaque", dir) writes DIR/.wh..wh..opq
LAYERS = [
    [  # 1: the base
        ("dir", "etc"), ("file", "etc/old", b"0123456789"), ("file", "etc/keep", b"12345"),
        ("dir", "usr"), ("dir", "usr/bin"), ("file", "usr/bin/tool", b"x" * 100),
        ("hard", "usr/bin/tool2", "usr/bin/tool"), ("link", "bin", "usr/bin"),
        ("dir", "d"), ("file", "d/a", b"aaa"), ("dir", "d/sub"), ("file", "d/sub/b", b"bbbb"),
        ("dir", "gone"), ("file", "gone/x", b"xxxxxxx"),
    ],
    [  # 2: COPY: adds a file, overwrites one
        ("dir", "app"), ("file", "app/app.py", b"print('hi')\n" + b"#" * 8), ("dir", "etc"),
        ("file", "etc/keep", b"123456"),
    ],
    [  # 3: RUN rm /etc/old && rm -rf /gone && rm -rf /d && mkdir /d && echo > /d/new
        ("dir", "etc"), ("whiteout", "etc/old"), ("whiteout", "gone"),
        ("dir", "d"), ("opaque", "d"), ("file", "d/new", b"n"),
    ],
    [],  # 4: an empty layer (the 1024 zero bytes tar)
    [],  # 5: the same empty layer again (stored once in the archive)
    [("dir", "etc"), ("file", "etc/old", b"ab")],  # 6: /etc/old comes back
]


def layer_tar(spec) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as out:
        for item in spec:
            kind, path = item[0], item[1]
            if kind == "whiteout":
                parent, _, name = path.rpartition("/")
                info = tarfile.TarInfo((parent + "/" if parent else "") + ".wh." + name)
                out.addfile(info, io.BytesIO(b""))
            elif kind == "opaque":
                out.addfile(tarfile.TarInfo(path + "/.wh..wh..opq"), io.BytesIO(b""))
            elif kind == "dir":
                info = tarfile.TarInfo(path + "/")
                info.type = tarfile.DIRTYPE
                out.addfile(info)
            elif kind in ("link", "hard"):
                info = tarfile.TarInfo(path)
                info.type = tarfile.SYMTYPE if kind == "link" else tarfile.LNKTYPE
                info.linkname = item[2]
                out.addfile(info)
            else:
                info = tarfile.TarInfo(path)
                info.size = len(item[2])
                out.addfile(info, io.BytesIO(item[2]))
    data = buffer.getvalue()
    return bytes(1024) if not spec else data


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


TARS = [layer_tar(spec) for spec in LAYERS]
DIFF_IDS = [sha(t) for t in TARS]
CONFIG = {
    "architecture": "amd64",
    "os": "linux",
    "rootfs": {"type": "layers", "diff_ids": DIFF_IDS},
    "history": [{"created_by": f"step {i}"} for i in range(len(TARS))],
}


def outer(members) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as out:
        for name, data in members:
            if isinstance(data, tuple):  # ("symlink", target)
                info = tarfile.TarInfo(name)
                info.type = tarfile.SYMTYPE
                info.linkname = data[1]
                out.addfile(info)
                continue
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def legacy_archive() -> io.BytesIO:
    """Docker 20.10: one folder per layer; the duplicate layer's tar is a symlink."""
    members, paths = [], []
    for position, data in enumerate(TARS):
        folder = f"{position:064x}"
        if position == 4:
            members.append((f"{folder}/layer.tar", ("symlink", f"../{3:064x}/layer.tar")))
        else:
            members.append((f"{folder}/layer.tar", data))
        members += [(f"{folder}/json", b"{}"), (f"{folder}/VERSION", b"1.0")]
        paths.append(f"{folder}/layer.tar")
    config = json.dumps(CONFIG).encode()
    members.append((sha(config)[7:] + ".json", config))
    members.append(("manifest.json", json.dumps([{"Config": sha(config)[7:] + ".json", "RepoTags": ["t:1"], "Layers": paths}]).encode()))
    members.append(("repositories", b"{}"))
    return outer(members)


def oci_archive(compress: bool, nested: bool, manifest_json: bool) -> io.BytesIO:
    """Docker 25+ (OCI layout) or, compressed and nested, the containerd image store."""
    members, layer_descriptors, seen = [], [], set()
    for data in TARS:
        blob = gzip.compress(data, mtime=0) if compress else data
        digest = sha(blob)
        if digest not in seen:
            members.append(("blobs/sha256/" + digest[7:], blob))
            seen.add(digest)
        layer_descriptors.append({"mediaType": "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if compress else ""),
                                  "digest": digest, "size": len(blob)})
    config = json.dumps(CONFIG).encode()
    members.append(("blobs/sha256/" + sha(config)[7:], config))
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"digest": sha(config)}, "layers": layer_descriptors}).encode()
    members.append(("blobs/sha256/" + sha(manifest)[7:], manifest))
    top = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(manifest)}
    if nested:
        inner = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "9" * 64,
             "platform": {"os": "unknown", "architecture": "unknown"}},
            dict(top, platform={"os": "linux", "architecture": "amd64"}),
        ]}).encode()
        members.append(("blobs/sha256/" + sha(inner)[7:], inner))
        top = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha(inner)}
    members.append(("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'))
    members.append(("index.json", json.dumps({"schemaVersion": 2, "manifests": [top]}).encode()))
    if manifest_json:
        layer_paths = ["blobs/sha256/" + d["digest"][7:] for d in layer_descriptors]
        members.append(("manifest.json", json.dumps([{"Config": "blobs/sha256/" + sha(config)[7:], "RepoTags": ["t:1"], "Layers": layer_paths}]).encode()))
    return outer(members)


FORMATS = {
    "legacy": (legacy_archive, "docker-legacy"),
    "oci": (lambda: oci_archive(compress=False, nested=False, manifest_json=True), "oci"),
    "oci-index-only": (lambda: oci_archive(compress=False, nested=False, manifest_json=False), "oci"),
    "containerd-gzip": (lambda: oci_archive(compress=True, nested=True, manifest_json=False), "oci-index"),
}


@pytest.fixture(params=sorted(FORMATS))
def index(request):
    make, fmt = FORMATS[request.param]
    found, config = index_saved_image(make())
    assert found.format == fmt
    assert config["rootfs"]["diff_ids"] == DIFF_IDS
    return found


def kinds(layer):
    return {c.path: c.kind for c in layer.changes}


def test_every_format_gives_the_layers_in_rootfs_order(index):
    assert index.diff_ids == tuple(DIFF_IDS)
    assert [len(layer.changes) for layer in index.layers][3:5] == [0, 0]


def test_base_layer_adds_everything(index):
    base = index.layers[0]
    assert set(kinds(base).values()) == {A}
    assert base.get("/usr/bin/tool").size == 100
    assert base.get("/usr/bin/tool2").type is EntryType.HARDLINK and base.get("/usr/bin/tool2").size == 0
    assert base.get("/bin").type is EntryType.SYMLINK and base.get("/bin").link == "usr/bin"
    assert base.size == 10 + 5 + 100 + 3 + 4 + 7


def test_copy_layer_adds_and_overwrites(index):
    layer = index.layers[1]
    assert kinds(layer) == {"/app": A, "/app/app.py": A, "/etc": C, "/etc/keep": C}
    assert layer.size == 20 + 6
    assert [c.path for c in layer.added] == ["/app", "/app/app.py"]


def test_whiteouts_and_opaque_directory_are_deletions(index):
    layer = index.layers[2]
    assert kinds(layer) == {"/etc": C, "/etc/old": D, "/gone": D, "/d": C, "/d/a": D, "/d/sub": D, "/d/new": A}
    old, gone, sub = layer.get("/etc/old"), layer.get("/gone"), layer.get("/d/sub")
    assert (old.via, old.marker, old.hidden_size) == (LayerChangeVia.WHITEOUT, "/etc/.wh.old", 10)
    assert (gone.via, gone.hidden_size, gone.type) == (LayerChangeVia.WHITEOUT, 7, EntryType.DIRECTORY)
    assert (sub.via, sub.marker, sub.hidden_size) == (LayerChangeVia.OPAQUE, "/d/.wh..wh..opq", 4)
    assert "D /etc/old (whiteout, hid 10 B)" in layer.summary()
    assert "D /d/sub/ (opaque directory, hid 4 B)" in layer.summary()


def test_which_added_then_overwritten(index):
    keep = index.which("/etc/keep")
    assert [(e.layer_index, e.kind) for e in keep.events] == [(0, A), (1, C)]
    assert keep.present and keep.source.layer_index == 1 and keep.origin.layer_index == 0
    assert [e.layer_index for e in keep.shadowed_by] == [1] and keep.source.size == 6


def test_which_deleted_by_whiteout_and_added_again(index):
    old = index.which("etc/old")
    assert [(e.layer_index, e.kind, e.via) for e in old.events] == [
        (0, A, LayerChangeVia.CONTENT), (2, D, LayerChangeVia.WHITEOUT), (5, A, LayerChangeVia.CONTENT)]
    assert old.present and old.source.layer_index == 5 and old.source.size == 2


def test_which_under_a_deleted_directory(index):
    gone = index.which("/gone/x")
    assert [(e.layer_index, e.kind, e.via) for e in gone.events] == [(0, A, LayerChangeVia.CONTENT), (2, D, LayerChangeVia.PARENT_DELETED)]
    assert not gone.present and gone.source is None and "not in the image" in gone.summary()
    assert not index.exists("/gone")


def test_which_in_an_opaque_directory(index):
    assert [(e.layer_index, e.kind, e.via) for e in index.which("/d/sub/b").events] == [(0, A, LayerChangeVia.CONTENT), (2, D, LayerChangeVia.OPAQUE)]
    assert [(e.layer_index, e.kind) for e in index.which("/d/a").events] == [(0, A), (2, D)]
    assert index.which("/d/new").source.layer_index == 2
    assert [(e.layer_index, e.kind) for e in index.which("/d").events] == [(0, A), (2, C)]
    assert index.exists("/d") and not index.exists("/d/a")


def test_which_follows_symlinked_directories(index):
    tool = index.which("/bin/tool")
    assert tool.path == "/usr/bin/tool" and tool.asked == "/bin/tool"
    assert tool.present and tool.source.layer_index == 0
    assert "/bin -> usr/bin" in tool.summary()


def test_which_unknown_path(index):
    missing = index.which("/nowhere/at/all")
    assert missing.events == () and not missing.present
    assert "no layer of this image has it" in missing.summary()


def test_json_round_trip(index):
    data = json.loads(json.dumps(index.as_dict()))
    assert data["layers"][2]["counts"] == {"added": 1, "changed": 2, "deleted": 4}
    assert json.loads(json.dumps(index.which("/etc/old").as_dict()))["source_layer"] == 6


def test_chunk_iterator_input_gives_the_same_index():
    data = legacy_archive().getvalue()
    chunks = (data[i:i + 777] for i in range(0, len(data), 777))
    found, _ = index_saved_image(chunks)
    assert found.which("/etc/keep").source.layer_index == 1


def test_chunk_stream_reads_exact_sizes():
    stream = ChunkStream([b"abc", b"", b"defgh", b"i"])
    assert stream.read(2) == b"ab" and stream.read(4) == b"cdef" and stream.read() == b"ghi" and stream.read(3) == b""


def test_a_missing_layer_is_reported():
    data = legacy_archive().getvalue()
    # Rebuild the archive without the first layer's tar.
    source = tarfile.open(fileobj=io.BytesIO(data))
    members = [(m.name, source.extractfile(m).read() if m.isfile() else ("symlink", m.linkname))
               for m in source.getmembers() if m.name != f"{0:064x}/layer.tar"]
    with pytest.raises(ArchiveError, match="layer 1 .* missing"):
        index_saved_image(outer(members))


def test_zstd_layers_are_refused_clearly():
    members = [(name, data) for name, data in [("blobs/sha256/" + "a" * 64, b"\x28\xb5\x2f\xfd" + bytes(600))]]
    with pytest.raises(ArchiveError, match="zstd"):
        index_saved_image(outer(members + [("index.json", b'{"manifests": []}')]))


@pytest.mark.parametrize("raw, normal", [("./app/", "/app"), ("app", "/app"), ("/app/./x", "/app/x"), ("./", "/"), ("/", "/")])
def test_normalize_path(raw, normal):
    assert normalize_path(raw) == normal


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_header_reader_agrees_with_tarfile(fmt):
    """Long names (ustar prefix, GNU ././@LongLink, PAX path), links, devices, big files."""
    from layerlab.core.layertar import read_layer_tar

    deep = "/".join(["directory-with-a-long-name"] * 5)  # 134 characters: needs a prefix or long name
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as out:
        def add(name, kind=tarfile.REGTYPE, data=b"", link=""):
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.size = kind, link, len(data)
            out.addfile(info, io.BytesIO(data) if data else None)
        add(deep + "/", tarfile.DIRTYPE)
        add(deep + "/file.bin", data=b"z" * 1500)
        add("etc/link", tarfile.SYMTYPE, link="../" + deep[:90])
        add("etc/hard", tarfile.LNKTYPE, link=deep + "/file.bin" if fmt != tarfile.USTAR_FORMAT else "etc/x")
        add("dev/null", tarfile.CHRTYPE)
        add("etc/.wh.gone")
        add("etc/after", data=b"after")
    data = buffer.getvalue()
    ours = [(e.path, e.type, e.size, e.link, e.whiteout) for e in read_layer_tar(io.BytesIO(data))]
    reference = []
    for member in tarfile.open(fileobj=io.BytesIO(data)):
        kind = EntryType.of(member)
        path = normalize_path(member.name)
        if path.endswith("/.wh.gone"):
            reference.append(("/etc/gone", EntryType.OTHER, 0, None, "file"))
            continue
        link = member.linkname if kind is EntryType.SYMLINK else (normalize_path(member.linkname) if kind is EntryType.HARDLINK else None)
        reference.append((path, kind, member.size if kind is EntryType.FILE else 0, link, None))
    assert ours == reference
    assert ours[1] == ("/" + deep + "/file.bin", EntryType.FILE, 1500, None, None)


def test_damaged_header_is_an_archive_error():
    from layerlab.core.layertar import read_layer_tar

    data = bytearray(TARS[1])
    data[257:262] = b"XXXXX"  # no ustar magic: the checksum is checked, and fails
    with pytest.raises(ArchiveError, match="checksum"):
        read_layer_tar(io.BytesIO(bytes(data)))


def test_which_follows_chains_of_links_and_dotdot():
    from layerlab.core.filetree import stack_layers
    from layerlab.core.layertar import RawEntry

    F, L, Dir = EntryType.FILE, EntryType.SYMLINK, EntryType.DIRECTORY
    base = [
        RawEntry("/usr", Dir), RawEntry("/usr/bin", Dir), RawEntry("/usr/bin/mawk", F, 9),
        RawEntry("/etc", Dir), RawEntry("/etc/alternatives", Dir),
        RawEntry("/etc/alternatives/awk", L, link="/usr/bin/mawk"),
        RawEntry("/usr/bin/awk", L, link="../../etc/alternatives/awk"),
        RawEntry("/bin", L, link="usr/bin"), RawEntry("/loop", L, link="loop"),
    ]
    index = stack_layers([base], ["sha256:" + "0" * 64])
    awk = index.which("/bin/awk")
    assert awk.path == "/usr/bin/mawk" and awk.present and awk.source.size == 9
    assert len(awk.through) == 3
    assert index.which("/usr/bin/awk").path == "/usr/bin/awk"  # a path a layer holds is answered as is
    assert index.which("/loop/x").events == ()  # a symlink loop ends the search


@pytest.mark.parametrize("make", [legacy_archive, lambda: oci_archive(compress=True, nested=True, manifest_json=False)])
def test_replay_recordings_keep_every_size(make):
    """Recordings drop file bytes and keep each size in a PAX field: the index must not change."""
    from layerlab.core.layertar import RECORDED_SIZE
    from layerlab.replay.store import SIZE_FIELD, reduce_saved_archive

    assert RECORDED_SIZE == SIZE_FIELD
    full, _ = index_saved_image(make())
    reduced, _ = index_saved_image(io.BytesIO(reduce_saved_archive(make().getvalue())))
    assert [layer.changes for layer in reduced.layers] == [layer.changes for layer in full.layers]
    assert reduced.which("/etc/keep").source.size == 6
