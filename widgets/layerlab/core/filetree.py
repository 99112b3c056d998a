"""Which files each layer adds, changes and deletes, and where any path of an image came from.

A layer is a tar archive of differences against the layers below it (the OCI image spec's
"changeset"). Deletions are written as whiteout files: `DIR/.wh.NAME` deletes `DIR/NAME` (and
everything under it) from the layers below; `DIR/.wh..wh..opq` makes `DIR` opaque, hiding every
lower entry inside it while the directory itself stays. A file written over a lower directory
hides that directory's contents too.

This module reads those tars from a `docker save` stream (any of the three formats
`core.archive` knows: legacy `<id>/layer.tar`, OCI `blobs/sha256/...`, gzip-compressed blobs
of the containerd store) with `core.layertar`, one member after another as the bytes pass:
nothing is extracted to disk and no layer is held in memory. It then stacks the layers bottom
up, the way overlayfs merges them, and records for every path each layer that touched it
(`core.pathhistory`).

    index, config = index_saved_image(stream)  # stream: a file object or an iterator of bytes
    index.layers[1].added                      # what the second layer added
    index.which("/app/app.py").summary()       # which layer it comes from, what shadowed it

Pure: no `docker`, no widgets.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import IO, Iterable, Iterator, Mapping, Sequence

from .archive import ArchiveError, read_saved_image
from .frozen import frozen_new
from .i18n import _, ngettext
from .layertar import (
    OPAQUE_MARKER,
    WHITEOUT_PREFIX,
    EntryType,
    RawEntry,
    normalize_path,
    read_layer_blob,
)
from .model import ChangeKind, human_size, short_id
from .pathhistory import LayerChangeVia, PathEvent, PathHistory
from .tarstream import ChunkStream

_MAX_SYMLINK_HOPS = 40
# The members the stacking loop uses, looked up once (see `_Stack._content`).
_ADDED, _CHANGED = ChangeKind.ADDED, ChangeKind.CHANGED
_DIRECTORY = EntryType.DIRECTORY
_CONTENT = LayerChangeVia.CONTENT


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
    via: LayerChangeVia = LayerChangeVia.CONTENT
    hidden_size: int = 0
    marker: str | None = None
    link: str | None = None

    def describe(self) -> str:
        """`A /app/app.py (1.2 kB)`, `D /etc/old (whiteout, hid 12 B)`, like `docker diff`."""
        path = self.path + ("/" if self.type is EntryType.DIRECTORY and self.path != "/" else "")
        if self.kind is ChangeKind.DELETED:
            how = "whiteout" if self.via is LayerChangeVia.WHITEOUT else self.via.value
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
        head = _("layer {number} ({layer_id}): {added} added, {changed} changed, {deleted} deleted, "
                 "{size} of files").format(number=self.index + 1, layer_id=short_id(self.diff_id), added=counts["added"],
                                           changed=counts["changed"], deleted=counts["deleted"], size=human_size(self.size))
        shown = [c for c in self.changes if directories or not _only_a_parent(c)]
        lines = [head]
        for change in shown if limit is None else shown[:limit]:
            lines.append("  " + change.describe())
        if limit is not None and len(shown) > limit:
            lines.append("  " + _("... and {count} more").format(count=len(shown) - limit))
        parents = len(self.changes) - len(shown)
        if parents:
            lines.append("  " + ngettext("({count} directory changed only because something inside changed: not listed)",
                                         "({count} directories changed only because something inside changed: not listed)",
                                         parents).format(count=parents))
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


@dataclass(slots=True)
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
    #: The layers (0 = bottom) whose entries came from the learner's cache, not from `docker save`.
    cached_layers: tuple[int, ...] = field(default=(), compare=False)
    #: path -> what each layer did to it, bottom first, as `(layer_index, kind, via, type, size)`:
    #: `which` makes the PathEvents of a path when asked (a look makes one per entry of every layer).
    _events: Mapping[str, tuple[tuple, ...]] = field(default_factory=dict, repr=False)
    _final: Mapping[str, _Node] = field(default_factory=dict, repr=False)

    @property
    def diff_ids(self) -> tuple[str, ...]:
        return tuple(layer.diff_id for layer in self.layers)

    @property
    def cached(self) -> bool:
        """Every layer's entries came from the cache: no `docker save` was read for this index."""
        return bool(self.layers) and len(self.cached_layers) == len(self.layers)

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
        events = self._path_events(asked)
        if events or not follow_symlinks:
            return PathHistory(path=asked, events=events)
        resolved, through = self._resolve(asked)
        if resolved != asked:
            return PathHistory(path=resolved, events=self._path_events(resolved), asked=asked, through=through)
        return PathHistory(path=asked, events=())

    def _path_events(self, path: str) -> tuple[PathEvent, ...]:
        layers = self.layers
        return tuple(
            PathEvent(layer_index=index, diff_id=layers[index].diff_id, kind=kind, via=via, type=node_type, size=size)
            for index, kind, via, node_type, size in self._events.get(path, ())
        )

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
        lines = [_("{layers} layers, {paths} paths in the finished image").format(layers=len(self.layers), paths=self.paths)]
        for layer in self.layers:
            lines.append(layer.summary(limit=limit))
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {"format": self.format, "layers": [layer.as_dict() for layer in self.layers]}


# -- stacking ------------------------------------------------------------------------------


def stack_layers(raw_layers: Sequence[Sequence[RawEntry]], diff_ids: Sequence[str], fmt: str = "") -> FileIndex:
    """Stack layers bottom first, as overlayfs merges them, and classify every change."""
    if len(raw_layers) != len(diff_ids):
        raise ValueError(f"{len(raw_layers)} layer tars for {len(diff_ids)} diff ids")
    stack = _Stack()
    layers = [stack.add(index, raw, diff_id) for index, (raw, diff_id) in enumerate(zip(raw_layers, diff_ids))]
    return FileIndex(
        layers=tuple(layers),
        format=fmt,
        _events=stack.events,
        _final=stack.visible,
    )


class _Stack:
    """The merged view while layers are stacked: what is visible, and every path's events."""

    def __init__(self) -> None:
        self.visible: dict[str, _Node] = {}
        self.children: dict[str, set[str]] = {}
        self.events: dict[str, tuple[tuple, ...]] = {}  # as FileIndex._events
        # The layer being added:
        self.index = 0
        self.diff_id = ""
        self.changes: dict[str, LayerFile] = {}
        self.existed_below: set[str] = set()

    def add(self, index: int, raw: Sequence[RawEntry], diff_id: str) -> LayerFiles:
        """Stack one layer on the ones below; what it did to the filesystem."""
        self.index, self.diff_id = index, diff_id
        self.changes = {}
        self.existed_below = set()
        # Whiteouts hide what the layers below hold; they never hide this layer's own entries.
        for entry in raw:
            if entry.whiteout == "opaque":
                self._opaque(entry)
            elif entry.whiteout == "file":
                self._whiteout(entry)
        for entry in raw:
            if not entry.whiteout:
                self._content(entry)
        changes = self.changes
        return LayerFiles(index=index, diff_id=diff_id, changes=tuple(changes[p] for p in sorted(changes)))

    def _subtree(self, root: str) -> Iterator[str]:
        """Every visible path strictly below `root`, parents before children."""
        pending = sorted(self.children.get(root, ()), reverse=True)
        while pending:
            path = pending.pop()
            if path in self.visible:
                yield path
                pending.extend(sorted(self.children.get(path, ()), reverse=True))

    def _event(self, path: str, kind: ChangeKind, via: LayerChangeVia, node_type: EntryType, size: int = 0) -> None:
        event = (self.index, kind, via, node_type, size)  # a PathEvent when `which` asks
        found = self.events.get(path)
        self.events[path] = (event,) if found is None else found + (event,)  # most paths have one event

    def _remove_below(self, root: str, via_root: LayerChangeVia | None, via_children: LayerChangeVia) -> int:
        """Hide `root` (unless via_root is None) and its lower subtree; bytes hidden."""
        hidden = 0
        for path in list(self._subtree(root)):
            node = self.visible.pop(path)
            self.existed_below.add(path)
            hidden += node.size
            self._event(path, ChangeKind.DELETED, via_children, node.type)
        if via_root is not None and root in self.visible:
            node = self.visible.pop(root)
            self.existed_below.add(root)
            hidden += node.size
            self._event(root, ChangeKind.DELETED, via_root, node.type)
        return hidden

    def _opaque(self, entry: RawEntry) -> None:
        lower = sorted(self.children.get(entry.path, ()))
        hidden_children = {
            p: (self.visible[p].type, _subtree_size(p, self.visible, self.children)) for p in lower if p in self.visible
        }
        self._remove_below(entry.path, None, LayerChangeVia.OPAQUE)
        for path, (node_type, hidden) in hidden_children.items():
            self.changes[path] = LayerFile(
                path=path, kind=ChangeKind.DELETED, type=node_type, via=LayerChangeVia.OPAQUE,
                hidden_size=hidden, marker=posixpath.join(entry.path, OPAQUE_MARKER),
            )

    def _whiteout(self, entry: RawEntry) -> None:
        node = self.visible.get(entry.path)
        hidden = self._remove_below(entry.path, LayerChangeVia.WHITEOUT, LayerChangeVia.PARENT_DELETED)
        marker = posixpath.join(posixpath.dirname(entry.path), WHITEOUT_PREFIX + posixpath.basename(entry.path))
        self.changes[entry.path] = LayerFile(
            path=entry.path, kind=ChangeKind.DELETED, type=node.type if node else EntryType.OTHER,
            via=LayerChangeVia.WHITEOUT, hidden_size=hidden, marker=marker,
        )
        if node is None:
            # A whiteout for a path no lower layer has (squashed or hand-made images).
            self._event(entry.path, ChangeKind.DELETED, LayerChangeVia.WHITEOUT, EntryType.OTHER)

    def _content(self, entry: RawEntry) -> None:
        # The loop of every look, warm ones too (~4,700 times for a Debian base), so kept lean: the
        # enum members are module constants (an Enum class's attribute costs ~0.2 µs in 3.11), the
        # LayerFile is made with frozen_new, and `_event` is written out.
        path, entry_type, size, link = entry.path, entry.type, entry.size, entry.link  # size 0 for a hard link
        old = self.visible.get(path)
        if old is None:
            kind = _CHANGED if path in self.existed_below else _ADDED
        else:
            kind = _CHANGED
            if old.type is _DIRECTORY and entry_type is not _DIRECTORY:
                self._remove_below(path, None, LayerChangeVia.REPLACED)
        index = self.index
        self.visible[path] = _Node(index, entry_type, size, link)
        head, slash, _ = path.rpartition("/")
        parent = head or slash  # posixpath.dirname, for a path already normalized
        siblings = self.children.get(parent)
        if siblings is None:
            self.children[parent] = {path}
        else:
            siblings.add(path)
        event = (index, kind, _CONTENT, entry_type, size)
        found = self.events.get(path)
        self.events[path] = (event,) if found is None else found + (event,)
        self.changes[path] = frozen_new(LayerFile, {
            "path": path, "kind": kind, "type": entry_type, "size": size,
            "via": _CONTENT, "hidden_size": 0, "marker": None, "link": link,
        })


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


def _could_be_layer(path: str) -> bool:
    return path.endswith("/layer.tar") or path.endswith(".tar") or path.startswith("blobs/")


def index_saved_image(stream: IO[bytes] | Iterable[bytes], image_index: int = 0) -> tuple[FileIndex, dict]:
    """Index every layer of the image in a `docker save` stream; returns (index, config).

    Each layer blob is read once, as it passes. A layer that appears twice in the image is
    stored once in the archive (the legacy format links the second copy to the first): it is
    read once and stacked at each of its places.
    """
    saved = read_saved_layers(stream, image_index=image_index)
    return saved.index, saved.config


@dataclass(frozen=True)
class SavedLayers:
    """What one pass over a `docker save` stream gave: the index, and what was read to make it."""

    index: FileIndex
    config: dict
    read: Mapping[str, Sequence[RawEntry]]  # diff id -> entries of the layers read from this archive
    layer_paths: tuple[str, ...]  # each layer's blob path in the archive, bottom first


def blob_diff_id(path: str) -> str | None:
    """The digest an OCI blob path names (`blobs/sha256/HEX` -> `sha256:HEX`); None for others.

    For an uncompressed layer that digest is its diff id."""
    parts = path.split("/")
    return f"{parts[1]}:{parts[2]}" if len(parts) == 3 and parts[0] == "blobs" else None


def read_saved_layers(
    stream: IO[bytes] | Iterable[bytes],
    known: Mapping[str, Sequence[RawEntry]] | None = None,
    aliases: Mapping[str, str] | None = None,
    image_index: int = 0,
) -> SavedLayers:
    """Like `index_saved_image`, but the layers in `known` (diff id -> entries) are not read
    again: a blob is skipped as it passes when its path names a known diff id (an OCI blob
    of an uncompressed layer) or `aliases` maps its path to one. Raises ArchiveError when a
    skipped blob turns out, once the manifest is read, not to be the layer it seemed."""
    known = known or {}
    aliases = aliases or {}
    fileobj = stream if hasattr(stream, "read") else ChunkStream(stream)  # type: ignore[arg-type]
    blobs: dict[str, list[RawEntry]] = {}

    def reader(path: str, handle: IO[bytes]) -> None:
        if not _could_be_layer(path) or (aliases.get(path) or blob_diff_id(path)) in known:
            return
        entries = read_layer_blob(handle)
        if entries is not None:
            blobs[path] = entries

    saved = read_saved_image(fileobj, layer_reader=reader, image_index=image_index)
    diff_ids = saved.diff_ids
    if len(saved.layer_paths) != len(diff_ids):
        raise ArchiveError(_("the manifest lists {layers} layers but the config {diff_ids} diff ids").format(
            layers=len(saved.layer_paths), diff_ids=len(diff_ids)))
    by_diff_id: dict[str, list[RawEntry]] = {}
    for path, diff_id in zip(saved.layer_paths, diff_ids):
        if path in blobs:
            by_diff_id.setdefault(diff_id, blobs[path])
    raw_layers = []
    for position, (path, diff_id) in enumerate(zip(saved.layer_paths, diff_ids)):
        entries = blobs.get(path, by_diff_id.get(diff_id, known.get(diff_id)))
        if entries is None:
            raise ArchiveError(_("layer {number} ({path}) is missing from the archive").format(number=position + 1, path=path))
        raw_layers.append(entries)
    return SavedLayers(
        index=stack_layers(raw_layers, diff_ids, fmt=saved.format),
        config=saved.config,
        read=by_diff_id,
        layer_paths=tuple(saved.layer_paths),
    )
