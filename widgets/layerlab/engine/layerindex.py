"""An image's per-layer file index: from the learner's index cache when it can, else from
`docker save`, streamed.

The engine API has no way to read one layer alone: `GET /images/{name}/get` (`docker save`)
sends every layer of the image, and so does `GET /images/get?names=...` for several images
(each layer once). So:

- all layers cached (and the image's config, from an earlier look on this engine): no save
  at all, only inspect and, for the stack, history;
- some layers new: one save, in which the blobs of layers already cached are skipped as they
  pass (an OCI blob of an uncompressed layer is named by its diff id; other blob paths are
  recognised by the aliases earlier saves taught the cache), and only the others are read;
- LAYERLAB_INDEX_CACHE=off, a recording or a replay: one save, every layer read, as before
  (a replay must see exactly the engine calls its recording made).

    index = index_image(engine, engine.image(reference), reference)
    index.cached_layers     # the layers whose entries came from the cache
"""

from __future__ import annotations

import queue
import threading
from dataclasses import replace
from typing import Iterable, Iterator

from ..core.archive import ArchiveError
from ..core.errors import EngineRefused, LayerlabError
from ..core.filetree import FileIndex, SavedLayers, blob_diff_id, read_saved_layers, stack_layers
from ..core.i18n import _
from ..core.indexcache import IndexCache
from ..core.objects import ImageInfo
from ..core.tarstream import ChunkStream
from ..replay.source import SourceKind
from .engine import Engine
from .images import SAVE_CHUNK

#: `docker save` is streamed in pieces of SAVE_CHUNK bytes; at most PREFETCH pieces wait in memory.
PREFETCH = 16


class Prefetch:
    """Read an iterator of chunks in a thread of its own, so that the engine writes the next
    part of `docker save` while this process indexes the last one.

    Bounded (`size` batches of about SAVE_CHUNK bytes at most wait); an error in the reading thread is raised in the
    consumer; `close()` (or leaving a `with` block) stops the thread.
    """

    _END = object()

    def __init__(self, chunks: Iterable[bytes], size: int = PREFETCH):
        self._chunks = chunks
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._run, name="layerlab-save-reader", daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            batch: list[bytes] = []
            held = 0
            for chunk in self._chunks:  # the engine's HTTP chunks are small (32 kB): hand over ~1 MB at once
                batch.append(chunk)
                held += len(chunk)
                if held >= SAVE_CHUNK:
                    if not self._put(batch):
                        return
                    batch, held = [], 0
            if batch and not self._put(batch):
                return
            self._put(self._END)
        except BaseException as error:  # handed to the consumer, which raises it
            self._put(error)

    def __iter__(self) -> Iterator[bytes]:
        while not self._finished:
            try:
                item = self._queue.get(timeout=1.0)
            except queue.Empty:
                if self._thread.is_alive():
                    continue
                raise LayerlabError(
                    _("The engine's answer stopped in the middle of `docker save`."), _("Run the command again.")
                ) from None
            if item is self._END:
                self._finished = True
                return
            if isinstance(item, BaseException):
                raise item
            yield from item

    def close(self) -> None:
        self._stop.set()
        closer = getattr(self._chunks, "close", None)
        self._thread.join(timeout=5)
        if closer is not None and not self._thread.is_alive():
            closer()

    def __enter__(self) -> "Prefetch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def saved_image_chunks(engine: Engine, image_id: str) -> Prefetch:
    """`docker save` of one image, as chunks read ahead in a thread."""
    return Prefetch(engine.save_image(image_id, chunk_size=SAVE_CHUNK))


def index_cache(engine: Engine) -> IndexCache | None:
    """The learner's index cache for this engine: None when LAYERLAB_INDEX_CACHE=off, while
    recording and in a replay."""
    if engine.kind is not SourceKind.LIVE:
        return None
    return IndexCache.for_environ(engine.environ)


def engine_key(engine: Engine) -> str:
    """What decides how an engine writes `docker save` (its archive format, its blob paths)."""
    facts = engine.facts
    return f"{facts.engine_version}/{facts.storage_driver}/{facts.storage_kind.value}"


class _Aliases:
    """Blob path -> diff id, asked of the cache as each blob passes."""

    def __init__(self, cache: IndexCache, key: str):
        self._cache, self._key = cache, key

    def get(self, path: str) -> str | None:
        return self._cache.aliases([path], self._key).get(path)


def index_image(engine: Engine, image: ImageInfo, reference: str) -> FileIndex:
    """The file index of `image` (inspected already), reading as little as the cache allows."""
    cache = index_cache(engine)
    if cache is None:
        saved = _read_save(engine, image, reference)
        engine.remember_config(image.id, saved.config)
        return saved.index
    key = engine_key(engine)
    diff_ids = list(image.diff_ids)
    known = {}
    for diff_id in dict.fromkeys(diff_ids):
        entries = cache.layer(diff_id)
        if entries is not None:
            known[diff_id] = entries
    record = cache.image(image.id, key)
    if record is not None and len(known) == len(set(diff_ids)):
        engine.remember_config(image.id, record["config"])  # `image_stack` needs no save either
        index = stack_layers([known[d] for d in diff_ids], diff_ids, fmt=record.get("format", ""))
        return replace(index, cached_layers=tuple(range(len(diff_ids))))
    try:
        saved = _read_save(engine, image, reference, known, _Aliases(cache, key))
    except LayerlabError:
        if not known:
            raise
        saved = _read_save(engine, image, reference)  # a blob was not what the cache said: read all
    for diff_id, entries in saved.read.items():
        if diff_id not in known:
            cache.put_layer(diff_id, entries)
    for path, diff_id in zip(saved.layer_paths, diff_ids):
        if diff_id in saved.read and diff_id not in known and blob_diff_id(path) != diff_id:
            cache.put_alias(path, key, diff_id)
    cache.put_image(image.id, key, saved.config, saved.index.format)
    engine.remember_config(image.id, saved.config)
    from_cache = tuple(i for i, d in enumerate(diff_ids) if d in known and d not in saved.read)
    return replace(saved.index, cached_layers=from_cache)


def _read_save(engine: Engine, image: ImageInfo, reference: str, known=None, aliases=None) -> SavedLayers:
    """One streamed `docker save` of the image, its layers read unless `known`."""
    try:
        with saved_image_chunks(engine, image.id) as chunks:
            saved = read_saved_layers(ChunkStream(chunks), known=known, aliases=aliases)
            for _chunk in chunks:  # the archive's padding: read to the end so the answer is whole
                pass
    except ArchiveError as error:
        raise LayerlabError(
            _("The engine's `docker save` of {reference!r} could not be read: {error}.").format(reference=reference, error=error),
            _("Report it with `python -m layerlab doctor --json`: the engine may write a format the course does not know."),
        ) from None
    except EngineRefused as error:
        raise LayerlabError(
            _("The engine could not save {reference!r}: {reason}.").format(
                reference=reference, reason=error.explanation or error.what),
            _("Check that the image still exists (`docker images`) and try again."),
        ) from None
    except OSError as error:  # requests' connection errors are OSErrors too
        raise LayerlabError(
            _("The connection to the engine broke while it sent {reference!r} ({error}).").format(
                reference=reference, error=error),
            _("Check that the engine still runs (`python -m layerlab doctor`) and try again."),
        ) from None
    if list(saved.index.diff_ids) != list(image.diff_ids):
        raise LayerlabError(
            _("The saved layers of {reference!r} do not match its RootFS.Layers.").format(reference=reference),
            _("The image changed while it was read; run the command again."),
        )
    return saved
