"""Reading one layer: a tar archive of differences against the layers below it.

A layer is the OCI image spec's "changeset". Deletions are written as whiteout files:
`DIR/.wh.NAME` deletes `DIR/NAME` (and everything under it) from the layers below;
`DIR/.wh..wh..opq` makes `DIR` opaque, hiding every lower entry inside it while the directory
itself stays. This module reads a layer blob as a stream (gzip-compressed or not, sniffed by
its first bytes), one member after another as the bytes pass: only the headers are parsed, no
file data is kept. Each member becomes a `RawEntry`, a whiteout marked as such; stacking the
layers is `core.filetree`.

Pure: no `docker`, no widgets.
"""

from __future__ import annotations

import enum
import gzip
import io
import posixpath
import tarfile
from dataclasses import dataclass
from typing import IO

from .archive import ArchiveError
from .tarstream import TarError, skip, tar_members

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class EntryType(enum.Enum):
    """What kind of filesystem entry a tar member is."""

    FILE = "file"
    DIRECTORY = "directory"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    OTHER = "other"  # devices, fifos

    @classmethod
    def of(cls, member: tarfile.TarInfo) -> "EntryType":
        if member.isdir():
            return cls.DIRECTORY
        if member.issym():
            return cls.SYMLINK
        if member.islnk():
            return cls.HARDLINK
        if member.isfile():
            return cls.FILE
        return cls.OTHER



@dataclass(frozen=True)
class RawEntry:
    """One member of a layer tar, as written (before stacking on the layers below)."""

    path: str
    type: EntryType
    size: int = 0
    link: str | None = None
    whiteout: str | None = None  # None, "file" (.wh.NAME: path is NAME) or "opaque" (path is the dir)



def normalize_path(path: str) -> str:
    """`./app/`, `app`, `/app/./` -> `/app`; the root is `/`."""
    path = path.strip()
    if path and path[0] not in "./" and "/." not in path and "//" not in path:
        return "/" + path.rstrip("/")  # what a layer tar holds: `usr/bin/x`, `usr/lib/`
    if path.startswith("./"):
        path = path[1:]
    normal = posixpath.normpath("/" + path.lstrip("/"))
    return "/" if normal in ("/", "//", ".") else normal.rstrip("/") or "/"


class _Peeked(io.RawIOBase):
    """A read-only stream with its first bytes already read (to sniff the compression)."""

    def __init__(self, head: bytes, rest: IO[bytes]):
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                data, self._head = self._head + self._rest.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            if len(data) < size:
                data += self._rest.read(size - len(data))
            return data
        return self._rest.read() if size is None or size < 0 else self._rest.read(size)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def skip(self, size: int) -> int:
        head = min(size, len(self._head))
        self._head = self._head[head:]
        return head + skip(self._rest, size - head) if size > head else head


def sniff_layer(fileobj: IO[bytes]) -> IO[bytes] | None:
    """An uncompressed tar stream of a layer blob, or None when the blob is no layer.

    Gzip is recognised by its magic bytes (the containerd store keeps layers compressed);
    an all-zero block is the empty layer tar; zstd is refused with a clear message.
    """
    head = fileobj.read(512)
    if head.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(fileobj=_Peeked(head, fileobj), mode="rb")  # type: ignore[return-value]
    if head.startswith(_ZSTD_MAGIC):
        raise ArchiveError("a layer is zstd-compressed, which this reader does not decompress")
    if len(head) == 512 and (head[257:262] == b"ustar" or head == bytes(512)):
        return _Peeked(head, fileobj)  # type: ignore[return-value]
    return None


#: PAX field of the course's replay recordings: a file's real size, its bytes left out.
RECORDED_SIZE = "LAYERLAB.size"
_TYPES = {
    b"0": EntryType.FILE, b"\0": EntryType.FILE, b"7": EntryType.FILE,
    b"5": EntryType.DIRECTORY, b"2": EntryType.SYMLINK, b"1": EntryType.HARDLINK,
}


def read_layer_tar(fileobj: IO[bytes]) -> list[RawEntry]:
    """The entries of one (uncompressed) layer tar, read as a stream (core.tarstream: only
    the headers are parsed, file data is skipped)."""
    entries: list[RawEntry] = []
    try:
        members = list(tar_members(fileobj))
    except TarError as error:
        raise ArchiveError(f"a layer tar cannot be read: {error}") from None
    for member in members:
        kind = _TYPES.get(member.typeflag, EntryType.OTHER)
        if kind is EntryType.FILE and member.name.endswith("/"):
            kind = EntryType.DIRECTORY  # old tars mark directories by the trailing slash only
        shown = int(member.pax[RECORDED_SIZE]) if RECORDED_SIZE in member.pax else member.size
        entry = _raw_entry(member.name, kind, shown if kind is EntryType.FILE else 0, member.link)
        if entry is not None:
            entries.append(entry)
    return entries


def _raw_entry(name: str, kind: EntryType, size: int, link: str) -> RawEntry | None:
    path = normalize_path(name)
    if path == "/":
        return None
    parent, base = posixpath.split(path)
    if base == OPAQUE_MARKER:
        return RawEntry(path=parent, type=EntryType.DIRECTORY, whiteout="opaque")
    if base.startswith(WHITEOUT_PREFIX):
        return RawEntry(path=posixpath.join(parent, base[len(WHITEOUT_PREFIX):]), type=EntryType.OTHER, whiteout="file")
    if kind is EntryType.HARDLINK:
        return RawEntry(path=path, type=kind, size=0, link=normalize_path(link) if link else None)
    return RawEntry(path=path, type=kind, size=size, link=link if kind is EntryType.SYMLINK else None)


def read_layer_blob(fileobj: IO[bytes]) -> list[RawEntry] | None:
    """Sniff and read one blob; None when it is not a layer (a config, a VERSION file...)."""
    stream = sniff_layer(fileobj)
    if stream is None:
        return None
    try:
        return read_layer_tar(stream)
    except (EOFError, OSError) as error:
        raise ArchiveError(f"a layer of the archive is not a readable tar ({error})") from None
