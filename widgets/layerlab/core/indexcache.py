"""A learner's cache of per-layer file lists, keyed by diff id, kept on disk across sessions.

A layer is immutable and named by its diff id (the sha256 of its uncompressed tar), so the
entries of its tar (`core.layertar.RawEntry`) never change once read: every image that has
the layer, on any engine, can reuse them. Stacking the layers (`core.filetree.stack_layers`)
is cheap and is done again on every look; only reading the tars is spared.

    cache = IndexCache.for_environ()            # None when LAYERLAB_INDEX_CACHE=off
    cache.put_layer(diff_id, entries)
    cache.layer(diff_id)                        # the entries, or None (missing or damaged)

Where: `LAYERLAB_INDEX_CACHE=on` (the default) keeps it in
`$XDG_CACHE_HOME/layerlab/index/<learner>` (`~/.cache/...` without XDG_CACHE_HOME, and under
`$LAYERLAB_CACHE` when that is set, like the stand-ins' root filesystems); `=off` keeps none
(the test suite sets it); any other value is the folder to use.

Safe with several processes of the same learner: every entry is written to a temporary file
and moved into place with `os.replace`, so a reader sees a whole old entry or a whole new
one. Each file starts with a header giving its payload's length and sha256; an entry that is
truncated, altered or unreadable is removed and counted as missing, so it is read again from
the engine, never shown. The folder is bounded (`max_bytes`): when a write takes it past the
bound, the least recently used entries go first (a hit refreshes an entry's mtime).

Besides layers it keeps two small kinds of entries: an image's config and archive format
(keyed by image id and engine, so a second look needs no `docker save`), and aliases from an
archive's blob path to the diff id it holds (legacy `<id>/layer.tar`, compressed blobs), so a
partial miss can skip the layers already known.

Pure: the standard library only; no `docker`, no widgets.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import zlib
from pathlib import Path
from typing import Mapping, Sequence

from .frozen import frozen_new
from .layertar import EntryType, RawEntry
from .naming import learner_id

CACHE_ENV = "LAYERLAB_INDEX_CACHE"
FOLDER_ENV = "LAYERLAB_CACHE"  # the course's cache folder (also the stand-ins')
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
MAGIC = b"LLIDX1"
KINDS = ("layers", "images", "aliases")
_STALE_TEMP = 3600.0  # seconds: a temporary file older than this was left by a process that died
_OFF = {"off", "0", "no", "false", "none"}
_ON = {"on", "1", "yes", "true", ""}


def cache_folder(environ: Mapping[str, str] | None = None) -> Path | None:
    """The learner's index cache folder, or None when LAYERLAB_INDEX_CACHE says off."""
    environ = os.environ if environ is None else environ
    value = (environ.get(CACHE_ENV) or "on").strip()
    if value.lower() in _OFF:
        return None
    if value.lower() not in _ON:
        return Path(value).expanduser()
    root = environ.get(FOLDER_ENV) or os.path.join(
        environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "layerlab"
    )
    return Path(root) / "index" / learner_id(environ)


def frame(payload: bytes) -> bytes:
    """A payload with the header that lets a reader check it is whole and unaltered."""
    return MAGIC + b" %d %s\n" % (len(payload), hashlib.sha256(payload).hexdigest().encode()) + payload


def unframe(data: bytes) -> bytes | None:
    """The payload of a framed entry, or None when it is truncated, altered or no entry."""
    head, newline, payload = data.partition(b"\n")
    parts = head.split(b" ")
    if not newline or len(parts) != 3 or parts[0] != MAGIC or not parts[1].isdigit():
        return None
    if int(parts[1]) != len(payload) or hashlib.sha256(payload).hexdigest().encode() != parts[2]:
        return None
    return payload


def encode_entries(entries: Sequence[RawEntry]) -> list:
    return [[e.path, e.type.value, e.size, e.link, e.whiteout] for e in entries]


#: EntryType by value: a dict lookup is several times quicker than `EntryType(value)`.
_ENTRY_TYPES = {member.value: member for member in EntryType}


def decode_entries(rows: Sequence) -> list[RawEntry]:
    """The entries `encode_entries` wrote, one RawEntry per row, made the quick way (`core.frozen`):
    a warm look decodes every row of every layer. (`EntryType(t)` only for a value it lacks: its error.)"""
    types = _ENTRY_TYPES
    return [
        frozen_new(RawEntry, {"path": p, "type": types.get(t) or EntryType(t), "size": s, "link": link, "whiteout": w})
        for p, t, s, link, w in rows
    ]


class IndexCache:
    """The on-disk cache of one learner (see the module docstring)."""

    def __init__(self, folder: Path | str, max_bytes: int = DEFAULT_MAX_BYTES):
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        #: What this object did, for tests and the benchmark: hits, misses, damaged, writes, evicted.
        self.counts = dict.fromkeys(("hits", "misses", "damaged", "writes", "evicted"), 0)

    @classmethod
    def for_environ(cls, environ: Mapping[str, str] | None = None) -> "IndexCache | None":
        folder = cache_folder(environ)
        return None if folder is None else cls(folder)

    def __repr__(self) -> str:
        return f"<IndexCache {self.folder}>"

    # -- layers, images, aliases ----------------------------------------------------------

    def layer(self, diff_id: str) -> list[RawEntry] | None:
        found = self._read("layers", diff_id)
        return None if found is None else decode_entries(found)

    def put_layer(self, diff_id: str, entries: Sequence[RawEntry]) -> None:
        self._write("layers", diff_id, encode_entries(entries))

    def image(self, image_id: str, engine_key: str) -> dict | None:
        """{"config": ..., "format": ...} of an image as this engine saves it, or None."""
        found = self._read("images", f"{engine_key}|{image_id}")
        return found if isinstance(found, dict) and "config" in found else None

    def put_image(self, image_id: str, engine_key: str, config: Mapping, fmt: str) -> None:
        self._write("images", f"{engine_key}|{image_id}", {"config": dict(config), "format": fmt})

    def aliases(self, paths: Sequence[str], engine_key: str) -> dict[str, str]:
        """The diff ids known for these archive blob paths (only those known)."""
        found = {}
        for path in paths:
            diff_id = self._read("aliases", f"{engine_key}|{path}", count=False)
            if isinstance(diff_id, str):
                found[path] = diff_id
        return found

    def put_alias(self, path: str, engine_key: str, diff_id: str) -> None:
        self._write("aliases", f"{engine_key}|{path}", diff_id)

    # -- files ----------------------------------------------------------------------------

    def path_for(self, kind: str, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()
        return self.folder / kind / f"{digest[:48]}.entry"

    def _read(self, kind: str, key: str, count: bool = True):
        path = self.path_for(kind, key)
        try:
            data = path.read_bytes()
        except OSError:
            if count:
                self.counts["misses"] += 1
            return None
        value = self._decode(data, key)
        if value is None:
            self.counts["damaged"] += 1
            _remove(path)
            return None
        try:
            os.utime(path)  # the least recently used go first
        except OSError:
            pass
        if count:
            self.counts["hits"] += 1
        return value

    @staticmethod
    def _decode(data: bytes, key: str):
        payload = unframe(data)
        if payload is None:
            return None
        try:
            document = json.loads(zlib.decompress(payload))
        except (zlib.error, ValueError, UnicodeDecodeError):
            return None
        if not isinstance(document, dict) or document.get("key") != key:
            return None  # another entry's file (or a hash collision): never shown for this key
        return document.get("value")

    def _write(self, kind: str, key: str, value) -> None:
        path = self.path_for(kind, key)
        import tempfile  # here: a warm look writes nothing (tempfile brings random and shutil)

        payload = zlib.compress(json.dumps({"key": key, "value": value}, separators=(",", ":")).encode(), 1)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(frame(payload))
                os.replace(temporary, path)
            except BaseException:
                _remove(Path(temporary))
                raise
        except OSError:
            return  # a cache that cannot be written is only slower: the index is still right
        self.counts["writes"] += 1
        self._evict()

    def entries(self) -> list[tuple[float, int, Path]]:
        """(last used, size, path) of every entry, least recently used first."""
        found = []
        for kind in KINDS:
            folder = self.folder / kind
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                try:
                    stat = path.stat()
                except OSError:
                    continue  # removed by another process meanwhile
                if path.name.startswith(".tmp-"):
                    if time.time() - stat.st_mtime > _STALE_TEMP:
                        _remove(path)
                    continue
                found.append((stat.st_mtime, stat.st_size, path))
        return sorted(found)

    def size(self) -> int:
        return sum(size for _, size, _ in self.entries())

    def _evict(self) -> None:
        entries = self.entries()
        total = sum(size for _, size, _ in entries)
        for _, size, path in entries:
            if total <= self.max_bytes:
                break
            if _remove(path):
                self.counts["evicted"] += 1
            total -= size


def _remove(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except OSError:
        return False
