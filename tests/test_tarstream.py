"""Core tier: the forward-only tar reader under both `docker save` and layer tars.

What it must get right: the same members and data as `tarfile`; unread data skipped (and,
over a chunk stream, skipped without being copied: the point of the module); a cut-short
or damaged stream an error, not a silent short index.
"""

from __future__ import annotations

import io
import posixpath
import random
import tarfile

import pytest

from layerlab.core.archive import ArchiveError, read_saved_image
from layerlab.core.filetree import index_saved_image
from layerlab.core.layertar import normalize_path
from layerlab.core.tarstream import READ_SIZE, ChunkStream, TarError, tar_members
from test_filetree import CONFIG, TARS, legacy_archive, oci_archive, outer


def make_tar(members, fmt=tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as out:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class CountingChunks(ChunkStream):
    """A chunk stream that counts the bytes it hands out by `read` (copies), not by `skip`."""

    def __init__(self, data: bytes, size: int = 32768):
        super().__init__(data[i:i + size] for i in range(0, len(data), size))
        self.bytes_read = 0

    def read(self, size=-1):
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def test_members_and_data_agree_with_tarfile():
    long_name = "/".join(["a-long-directory-name"] * 8) + "/file"
    data = make_tar([("small", b"abc"), (long_name, b"x" * 5000), ("empty", b""), ("last", b"z" * 513)])
    ours = [(m.name, m.size, m.data.read()) for m in tar_members(io.BytesIO(data))]
    theirs = []
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive:
            theirs.append((member.name, member.size, archive.extractfile(member).read()))
    assert ours == theirs


def test_unread_and_half_read_data_is_skipped():
    data = make_tar([("one", b"1" * 3000), ("two", b"2" * 700), ("three", b"3")])
    seen = []
    for member in tar_members(ChunkStream([data[i:i + 100] for i in range(0, len(data), 100)])):
        if member.name == "one":
            assert member.data.read(10) == b"1" * 10  # the rest of "one" is left for the reader to skip
        seen.append(member.name)
    assert seen == ["one", "two", "three"]


def test_a_large_file_is_skipped_without_copying_its_bytes():
    big = bytes(16 * 1024 * 1024)
    layer = make_tar([("etc/small", b"hello"), ("opt/big.bin", big), ("etc/after", b"after")])
    stream = CountingChunks(layer)
    names = [m.name for m in tar_members(stream)]
    assert names == ["etc/small", "opt/big.bin", "etc/after"]
    # One read-ahead of headers (READ_SIZE) may pass through read(); the 16 MB may not.
    assert stream.bytes_read <= READ_SIZE + 65536, "the big file's bytes went through read()"


def test_a_layer_inside_a_saved_image_is_skipped_without_copying():
    """The whole path index_saved_image takes: outer archive -> layer tar -> big file."""
    big_layer = make_tar([("opt/big.bin", bytes(16 * 1024 * 1024)), ("opt/x", b"x")])
    data = outer([("layer/layer.tar", big_layer)]).getvalue()
    stream = CountingChunks(data)
    seen = []
    read_saved_image_layers = []

    def reader(path, handle):
        read_saved_image_layers.append(path)
        seen.extend(m.name for m in tar_members(handle))

    with pytest.raises(ArchiveError, match="not a docker save archive"):  # no manifest: still read to the end
        read_saved_image(stream, layer_reader=reader)
    assert read_saved_image_layers == ["layer/layer.tar"] and seen == ["opt/big.bin", "opt/x"]
    # A read-ahead for the outer headers and one for the layer's headers; not the 16 MB.
    assert stream.bytes_read <= 2 * READ_SIZE + 65536


@pytest.mark.parametrize("make", [legacy_archive, lambda: oci_archive(False, False, True), lambda: oci_archive(True, True, False)])
def test_saved_images_index_the_same_from_a_chunk_stream(make):
    data = make().getvalue()
    whole, config = index_saved_image(io.BytesIO(data))
    chunked, _ = index_saved_image(ChunkStream([data[i:i + 999] for i in range(0, len(data), 999)]))
    assert config["rootfs"] == CONFIG["rootfs"]
    assert [layer.changes for layer in whole.layers] == [layer.changes for layer in chunked.layers]
    assert len(whole.layers) == len(TARS)


def test_a_stream_cut_in_a_file_is_an_error():
    data = make_tar([("one", b"1" * 5000), ("two", b"2")])
    with pytest.raises(TarError, match="middle of a file"):
        list(tar_members(io.BytesIO(data[:2048])))
    with pytest.raises(TarError, match="middle of a file"):
        for member in tar_members(io.BytesIO(data[:2048])):
            member.data.read()


def test_a_stream_cut_in_a_header_is_an_error():
    data = make_tar([("one", b"1")], fmt=tarfile.USTAR_FORMAT)
    with pytest.raises(TarError, match="middle of a header"):
        list(tar_members(io.BytesIO(data[:300])))


def test_not_a_tar_is_an_archive_error():
    with pytest.raises(ArchiveError, match="not a readable tar"):
        read_saved_image(io.BytesIO(b"this is not a tar archive at all" * 40))


def test_chunk_stream_skip_and_read_interleave():
    stream = ChunkStream([b"abc", b"", b"defgh", b"ijk"])
    assert stream.skip(2) == 2 and stream.read(3) == b"cde" and stream.skip(4) == 4 and stream.read() == b"jk"
    assert stream.skip(5) == 0


def test_the_fast_path_of_normalize_path_agrees_with_normpath():
    def reference(path):
        path = path.strip()
        if path.startswith("./"):
            path = path[1:]
        normal = posixpath.normpath("/" + path.lstrip("/"))
        return "/" if normal in ("/", "//", ".") else normal.rstrip("/") or "/"

    rng = random.Random(7)
    for _ in range(20000):
        path = "".join(rng.choice("ab./ ") for _ in range(rng.randint(0, 9)))
        assert normalize_path(path) == reference(path), path


@pytest.mark.parametrize("damage", ["negative size", "garbage pax"])
def test_nonsense_numbers_are_tar_errors_not_loops(damage):
    if damage == "negative size":
        header = bytearray(make_tar([("one", b"1")], fmt=tarfile.USTAR_FORMAT)[:512])
        header[124:136] = b"\xff" + b"\xff" * 11  # base-256, negative
        header[148:156] = b"        "
        header[148:156] = f"{sum(header):06o}\0 ".encode()
        data = bytes(header) + bytes(1024)
    else:
        data = bytearray(make_tar([("x" * 120, b"1")], fmt=tarfile.PAX_FORMAT))  # a long name: a PAX header
        start = data.index(b" path=")
        data[start - 3:start] = b"abc"  # the record's length, no longer a number
        data = bytes(data)
    with pytest.raises(TarError):
        list(tar_members(io.BytesIO(data)))
