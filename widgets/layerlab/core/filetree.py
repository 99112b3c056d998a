"""Which files each layer adds, changes and deletes, and where any path of an image came from.

A layer is a tar archive of differences against the layers below it (the OCI image spec's
"changeset"). Deletions are written as whiteout files: `DIR/.wh.NAME` deletes `DIR/NAME` (and
everything under it) from the layers below; `DIR/.wh..wh..opq` makes `DIR` opaque, hiding every
lower entry inside it while the directory itself stays. A file written over a lower directory
hides that directory's contents too.

This module reads those tars from a `docker save` stream (any of the three formats
`core.archive` knows: legacy `<id>/layer.tar`, OCI `blobs/sha256/...`, gzip-compressed blobs
of the containerd store), one member after another as the bytes pass: nothing is extracted
to disk and no layer is held in memory. It then stacks the layers bottom up, the way overlayfs
merges them, and records for every path each layer that touched it.

    index, config = index_saved_image(stream)  # stream: a file object or an iterator of bytes
    index.layers[1].added                      # what the second layer added
    index.which("/app/app.py").summary()       # which layer it comes from, what shadowed it

Pure: no `docker`, no widgets.
"""

from __future__ import annotations

import enum
import gzip
import io
import posixpath
import tarfile
from dataclasses import dataclass, field
from typing import IO, Iterable, Iterator, Mapping, Sequence

from .archive import ArchiveError, read_saved_image
from .tarstream import ChunkStream, TarError, skip, tar_members
from .model import ChangeKind, human_size, short_id

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_MAX_SYMLINK_HOPS = 40


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


class Via(enum.Enum):
    """How a layer came to add, change or delete a path."""

    CONTENT = "content"  # the layer's tar holds the path itself
    WHITEOUT = "whiteout"  # a `.wh.NAME` file next to it
    OPAQUE = "opaque directory"  # a `.wh..wh..opq` marker in a directory above it
    PARENT_DELETED = "a directory above it was deleted"  # whiteout of an ancestor
    REPLACED = "a directory above it was replaced"  # an ancestor became a file or link


@dataclass(frozen=True)
class RawEntry:
    """One member of a layer tar, as written (before stacking on the layers below)."""

    path: str
    type: EntryType
    size: int = 0
    link: str | None = None
    whiteout: str | None = None  # None, "file" (.wh.NAME: path is NAME) or "opaque" (path is the dir)


@dataclass(frozen=True)
class LayerFile:
    """One path a layer added, changed or deleted.

    `size` is what the layer stores for it (regular files only; 0 for directories, links and
    deletions). For a deletion, `hidden_size` is how many bytes of lower layers it hides, and
    `marker` the whiteout file's path in the tar.
    """

    path: str
    kind: ChangeKind
    type: EntryType
    size: int = 0
    via: Via = Via.CONTENT
    hidden_size: int = 0
    marker: str | None = None
    link: str | None = None

    def describe(self) -> str:
        """`A /app/app.py (1.2 kB)`, `D /etc/old (whiteout, hid 12 B)`, like `docker diff`."""
        path = self.path + ("/" if self.type is EntryType.DIRECTORY and self.path != "/" else "")
        if self.kind is ChangeKind.DELETED:
            how = "whiteout" if self.via is Via.WHITEOUT else self.via.value
            return f"{self.kind.letter} {path} ({how}, hid {human_size(self.hidden_size)})"
        extra = ""
        if self.type is EntryType.FILE:
            extra = f" ({human_size(self.size)})"
        elif self.link is not None:
            arrow = "->" if self.type is EntryType.SYMLINK else "=>"
            extra = f" {arrow} {self.link}"
        return f"{self.kind.letter} {path}{extra}"

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "kind": self.kind.value,
            "type": self.type.value,
            "size": self.size,
            "via": self.via.value,
            "hidden_size": self.hidden_size,
            "marker": self.marker,
            "link": self.link,
        }


@dataclass(frozen=True)
class LayerFiles:
    """Everything one layer did to the filesystem, sorted by path."""

    index: int
    diff_id: str
    changes: tuple[LayerFile, ...]

    @property
    def added(self) -> tuple[LayerFile, ...]:
        return tuple(c for c in self.changes if c.kind is ChangeKind.ADDED)

    @property
    def changed(self) -> tuple[LayerFile, ...]:
        return tuple(c for c in self.changes if c.kind is ChangeKind.CHANGED)

    @property
    def deleted(self) -> tuple[LayerFile, ...]:
        return tuple(c for c in self.changes if c.kind is ChangeKind.DELETED)

    @property
    def size(self) -> int:
        """Bytes of file content this layer stores (what `docker history` calls its size)."""
        return sum(c.size for c in self.changes)

    def counts(self) -> dict[str, int]:
        return {kind.value: sum(1 for c in self.changes if c.kind is kind) for kind in ChangeKind}

    def get(self, path: str) -> LayerFile | None:
        path = normalize_path(path)
        for change in self.changes:
            if change.path == path:
                return change
        return None

    def summary(self, limit: int | None = 20, directories: bool = False) -> str:
        """A plain-text listing: counts, then one `docker diff`-style line per change.

        Directories that only appear because something inside them changed are left out
        unless `directories` (a layer's tar always repeats the parent directories).
        """
        counts = self.counts()
        head = (
            f"layer {self.index + 1} ({short_id(self.diff_id)}): {counts['added']} added, "
            f"{counts['changed']} changed, {counts['deleted']} deleted, {human_size(self.size)} of files"
        )
        shown = [c for c in self.changes if directories or not _only_a_parent(c)]
        lines = [head]
        for change in shown if limit is None else shown[:limit]:
            lines.append("  " + change.describe())
        if limit is not None and len(shown) > limit:
            lines.append(f"  ... and {len(shown) - limit} more")
        parents = len(self.changes) - len(shown)
        if parents:
            lines.append(f"  ({parents} director{'y' if parents == 1 else 'ies'} changed only because "
                         "something inside changed: not listed)")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "index": self.index,
            "diff_id": self.diff_id,
            "size": self.size,
            "counts": self.counts(),
            "changes": [c.as_dict() for c in self.changes],
        }


def _only_a_parent(change: LayerFile) -> bool:
    return change.type is EntryType.DIRECTORY and change.kind is ChangeKind.CHANGED


@dataclass(frozen=True)
class PathEvent:
    """One layer's effect on one path."""

    layer_index: int
    diff_id: str
    kind: ChangeKind
    via: Via
    type: EntryType
    size: int = 0

    def describe(self) -> str:
        what = {
            ChangeKind.ADDED: "added",
            ChangeKind.CHANGED: "replaced (shadows the lower version)",
            ChangeKind.DELETED: "deleted",
        }[self.kind]
        how = {
            Via.CONTENT: "",
            Via.WHITEOUT: " by a whiteout file",
            Via.OPAQUE: " by an opaque directory above it",
            Via.PARENT_DELETED: ": a directory above it was deleted",
            Via.REPLACED: ": a directory above it was replaced by a file",
        }[self.via]
        size = f", {human_size(self.size)}" if self.type is EntryType.FILE and self.kind is not ChangeKind.DELETED else ""
        return f"layer {self.layer_index + 1} ({short_id(self.diff_id)}): {what}{how} ({self.type.value}{size})"

    def as_dict(self) -> dict:
        return {
            "layer": self.layer_index + 1,
            "layer_index": self.layer_index,
            "diff_id": self.diff_id,
            "kind": self.kind.value,
            "via": self.via.value,
            "type": self.type.value,
            "size": self.size,
        }


@dataclass(frozen=True)
class PathHistory:
    """What every layer did to one path, bottom layer first."""

    path: str
    events: tuple[PathEvent, ...]
    asked: str = ""  # the path as asked, when symlinks above it were followed
    through: tuple[str, ...] = ()  # the symlinks followed

    @property
    def present(self) -> bool:
        """True when the path exists in the image (the top of the stack)."""
        return bool(self.events) and self.events[-1].kind is not ChangeKind.DELETED

    @property
    def source(self) -> PathEvent | None:
        """The layer whose version of the path a container sees, or None if it is gone."""
        return self.events[-1] if self.present else None

    @property
    def origin(self) -> PathEvent | None:
        """The layer that first added the path."""
        return self.events[0] if self.events else None

    @property
    def shadowed_by(self) -> tuple[PathEvent, ...]:
        """Later layers that wrote their own version over it."""
        return tuple(e for e in self.events[1:] if e.kind is ChangeKind.CHANGED)

    @property
    def deleted_by(self) -> tuple[PathEvent, ...]:
        return tuple(e for e in self.events if e.kind is ChangeKind.DELETED)

    def summary(self) -> str:
        asked = self.asked or self.path
        lines = []
        if self.through:
            lines.append(f"{asked}: followed {', '.join(self.through)}, so it is {self.path}")
        if not self.events:
            lines.append(f"{self.path}: no layer of this image has it")
            return "\n".join(lines)
        if self.present:
            source = self.source
            lines.append(
                f"{self.path}: comes from layer {source.layer_index + 1} ({short_id(source.diff_id)}), "
                f"{len(self.events)} layer(s) touched it"
            )
        else:
            last = self.events[-1]
            lines.append(
                f"{self.path}: not in the image: layer {last.layer_index + 1} ({short_id(last.diff_id)}) "
                "deleted it, yet the bytes of the layers below are still in the image"
            )
        for event in self.events:
            lines.append("  " + event.describe())
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "asked": self.asked or self.path,
            "through_symlinks": list(self.through),
            "present": self.present,
            "source_layer": None if self.source is None else self.source.layer_index + 1,
            "events": [e.as_dict() for e in self.events],
        }


@dataclass
class _Node:
    layer: int
    type: EntryType
    size: int
    link: str | None = None


@dataclass(frozen=True)
class FileIndex:
    """Every layer's file changes, and every path's history through the stack."""

    layers: tuple[LayerFiles, ...]
    format: str = ""
    _events: Mapping[str, tuple[PathEvent, ...]] = field(default_factory=dict, repr=False)
    _final: Mapping[str, _Node] = field(default_factory=dict, repr=False)

    @property
    def diff_ids(self) -> tuple[str, ...]:
        return tuple(layer.diff_id for layer in self.layers)

    @property
    def paths(self) -> int:
        """How many paths the finished image has."""
        return len(self._final)

    def layer(self, diff_id_or_index: str | int) -> LayerFiles:
        if isinstance(diff_id_or_index, int):
            return self.layers[diff_id_or_index]
        for layer in self.layers:
            if layer.diff_id == diff_id_or_index or short_id(layer.diff_id) == short_id(diff_id_or_index):
                return layer
        raise KeyError(diff_id_or_index)

    def exists(self, path: str) -> bool:
        return normalize_path(path) in self._final

    def which(self, path: str, follow_symlinks: bool = True) -> PathHistory:
        """Which layers touched `path`, bottom first.

        When no layer holds the path itself, symlinked directories above it are followed in
        the finished image (Debian's `/bin` is a link to `usr/bin`), and the answer says so.
        """
        asked = normalize_path(path)
        events = self._events.get(asked, ())
        if events or not follow_symlinks:
            return PathHistory(path=asked, events=tuple(events))
        resolved, through = self._resolve(asked)
        if resolved != asked:
            return PathHistory(path=resolved, events=tuple(self._events.get(resolved, ())), asked=asked, through=through)
        return PathHistory(path=asked, events=())

    def _resolve(self, path: str) -> tuple[str, tuple[str, ...]]:
        """Follow symlinks in the finished image, component by component (like the kernel)."""
        parts = [p for p in path.split("/") if p and p != "."]
        through: list[str] = []
        current = "/"
        hops = 0
        while parts:
            name = parts.pop(0)
            if name == "..":
                current = posixpath.dirname(current) or "/"
                continue
            candidate = posixpath.join(current, name)
            node = self._final.get(candidate)
            if node is not None and node.type is EntryType.SYMLINK and node.link:
                hops += 1
                if hops > _MAX_SYMLINK_HOPS:
                    return path, tuple(through)  # a loop: give up, as the kernel does (ELOOP)
                through.append(f"{candidate} -> {node.link}")
                if node.link.startswith("/"):
                    current = "/"
                parts = [p for p in node.link.split("/") if p and p != "."] + parts
                continue
            current = candidate
        return current, tuple(through)

    def summary(self, limit: int | None = 10) -> str:
        lines = [f"{len(self.layers)} layers, {self.paths} paths in the finished image"]
        for layer in self.layers:
            lines.append(layer.summary(limit=limit))
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {"format": self.format, "layers": [layer.as_dict() for layer in self.layers]}


# -- reading layer tars -------------------------------------------------------------------


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


def _could_be_layer(path: str) -> bool:
    return path.endswith("/layer.tar") or path.endswith(".tar") or path.startswith("blobs/")


# -- stacking ------------------------------------------------------------------------------


def stack_layers(raw_layers: Sequence[Sequence[RawEntry]], diff_ids: Sequence[str], fmt: str = "") -> FileIndex:
    """Stack layers bottom first, as overlayfs merges them, and classify every change."""
    if len(raw_layers) != len(diff_ids):
        raise ValueError(f"{len(raw_layers)} layer tars for {len(diff_ids)} diff ids")
    visible: dict[str, _Node] = {}
    children: dict[str, set[str]] = {}
    events: dict[str, list[PathEvent]] = {}
    layers = []

    def subtree(root: str) -> Iterator[str]:
        """Every visible path strictly below `root`, parents before children."""
        pending = sorted(children.get(root, ()), reverse=True)
        while pending:
            path = pending.pop()
            if path in visible:
                yield path
                pending.extend(sorted(children.get(path, ()), reverse=True))

    for index, (raw, diff_id) in enumerate(zip(raw_layers, diff_ids)):
        changes: dict[str, LayerFile] = {}
        existed_below: set[str] = set()

        def event(path: str, kind: ChangeKind, via: Via, node_type: EntryType, size: int = 0) -> None:
            events.setdefault(path, []).append(
                PathEvent(layer_index=index, diff_id=diff_id, kind=kind, via=via, type=node_type, size=size)
            )

        def remove_below(root: str, via_root: Via | None, via_children: Via, marker: str | None) -> int:
            """Hide `root` (unless via_root is None) and its lower subtree; bytes hidden."""
            hidden = 0
            for path in list(subtree(root)):
                node = visible.pop(path)
                existed_below.add(path)
                hidden += node.size
                event(path, ChangeKind.DELETED, via_children, node.type)
            if via_root is not None and root in visible:
                node = visible.pop(root)
                existed_below.add(root)
                hidden += node.size
                event(root, ChangeKind.DELETED, via_root, node.type)
            return hidden

        # Whiteouts hide what the layers below hold; they never hide this layer's own entries.
        for entry in raw:
            if entry.whiteout == "opaque":
                lower = sorted(children.get(entry.path, ()))
                hidden_children = {
                    p: (visible[p].type, _subtree_size(p, visible, children)) for p in lower if p in visible
                }
                remove_below(entry.path, None, Via.OPAQUE, None)
                for path, (node_type, hidden) in hidden_children.items():
                    changes[path] = LayerFile(
                        path=path, kind=ChangeKind.DELETED, type=node_type, via=Via.OPAQUE,
                        hidden_size=hidden, marker=posixpath.join(entry.path, OPAQUE_MARKER),
                    )
            elif entry.whiteout == "file":
                node = visible.get(entry.path)
                hidden = remove_below(entry.path, Via.WHITEOUT, Via.PARENT_DELETED, None)
                marker = posixpath.join(posixpath.dirname(entry.path), WHITEOUT_PREFIX + posixpath.basename(entry.path))
                changes[entry.path] = LayerFile(
                    path=entry.path, kind=ChangeKind.DELETED, type=node.type if node else EntryType.OTHER,
                    via=Via.WHITEOUT, hidden_size=hidden, marker=marker,
                )
                if node is None:
                    # A whiteout for a path no lower layer has (squashed or hand-made images).
                    event(entry.path, ChangeKind.DELETED, Via.WHITEOUT, EntryType.OTHER)

        for entry in raw:
            if entry.whiteout:
                continue
            path = entry.path
            old = visible.get(path)
            existed = old is not None or path in existed_below
            if old is not None and old.type is EntryType.DIRECTORY and entry.type is not EntryType.DIRECTORY:
                remove_below(path, None, Via.REPLACED, None)
            size = entry.size  # 0 for a hard link: its bytes are stored once, under its target
            kind = ChangeKind.CHANGED if existed else ChangeKind.ADDED
            visible[path] = _Node(layer=index, type=entry.type, size=size, link=entry.link)
            parent = posixpath.dirname(path)
            children.setdefault(parent, set()).add(path)
            event(path, kind, Via.CONTENT, entry.type, size)
            changes[path] = LayerFile(path=path, kind=kind, type=entry.type, size=size, link=entry.link)

        layers.append(LayerFiles(index=index, diff_id=diff_id, changes=tuple(changes[p] for p in sorted(changes))))
    return FileIndex(
        layers=tuple(layers),
        format=fmt,
        _events={path: tuple(found) for path, found in events.items()},
        _final=visible,
    )


def _subtree_size(root: str, visible: Mapping[str, _Node], children: Mapping[str, set[str]]) -> int:
    total = visible[root].size if root in visible else 0
    pending = list(children.get(root, ()))
    while pending:
        path = pending.pop()
        if path in visible:
            total += visible[path].size
            pending.extend(children.get(path, ()))
    return total


# -- a whole `docker save` stream ----------------------------------------------------------


def index_saved_image(stream: IO[bytes] | Iterable[bytes], image_index: int = 0) -> tuple[FileIndex, dict]:
    """Index every layer of the image in a `docker save` stream; returns (index, config).

    Each layer blob is read once, as it passes. A layer that appears twice in the image is
    stored once in the archive (the legacy format links the second copy to the first): it is
    read once and stacked at each of its places.
    """
    fileobj = stream if hasattr(stream, "read") else ChunkStream(stream)  # type: ignore[arg-type]
    blobs: dict[str, list[RawEntry]] = {}

    def reader(path: str, handle: IO[bytes]) -> None:
        if not _could_be_layer(path):
            return
        entries = read_layer_blob(handle)
        if entries is not None:
            blobs[path] = entries

    saved = read_saved_image(fileobj, layer_reader=reader, image_index=image_index)
    diff_ids = saved.diff_ids
    if len(saved.layer_paths) != len(diff_ids):
        raise ArchiveError(
            f"the manifest lists {len(saved.layer_paths)} layers but the config {len(diff_ids)} diff ids"
        )
    by_diff_id: dict[str, list[RawEntry]] = {}
    for path, diff_id in zip(saved.layer_paths, diff_ids):
        if path in blobs:
            by_diff_id.setdefault(diff_id, blobs[path])
    raw_layers = []
    for position, (path, diff_id) in enumerate(zip(saved.layer_paths, diff_ids)):
        entries = blobs.get(path, by_diff_id.get(diff_id))
        if entries is None:
            raise ArchiveError(f"layer {position + 1} ({path}) is missing from the archive")
        raw_layers.append(entries)
    return stack_layers(raw_layers, diff_ids, fmt=saved.format), saved.config
