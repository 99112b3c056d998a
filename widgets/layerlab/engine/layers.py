"""Image layers from the engine: file indexes, `which`, `docker history`, sharing and disk usage.

Everything here reads the API only (`docker save`, image history and inspect, `/system/df`,
the container list): no storage-driver folders, so it works the same with overlay2, the
containerd image store and Docker Desktop's VM.

    files = image_files(engine, "layerlab-you/01-layers-sample:latest")
    files.which("/app/app.py")
"""

from __future__ import annotations

import queue
import threading
import weakref
from dataclasses import dataclass
from typing import Iterable, Iterator

from ..core.archive import ArchiveError
from ..core.errors import EngineRefused, LayerlabError
from ..core.filetree import FileIndex, index_saved_image
from ..core.pathhistory import PathHistory
from ..core.tarstream import ChunkStream
from ..core.model import ContainerLayer, ImageStack, InconsistentImage
from ..core.sharing import ImageDiskUsage, SharingSnapshot
from ..core.stackcheck import HistoryCheck, compare_with_history
from ..core.waste import WasteReport, measure_waste
from .engine import Engine
from .images import SAVE_CHUNK

#: `docker save` is streamed in pieces of SAVE_CHUNK bytes; at most PREFETCH pieces wait in memory.
PREFETCH = 16

_indexes: "weakref.WeakKeyDictionary[object, dict[str, FileIndex]]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class ImageLayers:
    """An image's stack of history entries and its per-layer files, from one `docker save`."""

    stack: ImageStack
    files: FileIndex
    whiteouts: str = ""  # the engine's whiteout form, in one line (`EngineFacts.explain_whiteouts`)

    @property
    def has_deletions(self) -> bool:
        return any(layer.deleted for layer in self.files.layers)

    def entry_for_layer(self, layer_index: int):
        """The history entry that made the layer at `layer_index` (0 = bottom)."""
        return next(e for e in self.stack.entries if e.layer_index == layer_index)

    def layer_files(self, entry_index: int):
        """The files of the layer a history entry made (None for a metadata-only entry)."""
        entry = self.stack.entries[entry_index]
        return None if entry.layer_index is None else self.files.layers[entry.layer_index]

    def waste(self) -> WasteReport:
        """The bytes the layers store that the finished image never shows, and dive's score."""
        made_by = {e.layer_index: e.instruction for e in self.stack.entries if e.is_layer}
        instructions = [made_by.get(i, "") for i in range(len(self.files.layers))]
        return measure_waste(self.files, instructions)

    def summary(self, limit: int | None = 12) -> str:
        lines = [self.stack.summary(), ""]
        for entry in reversed(self.stack.entries):
            if entry.is_layer:
                files = self.files.layers[entry.layer_index]
                lines.append(f"{entry.instruction[:70]}")
                lines.append(files.summary(limit=limit))
        if self.whiteouts and self.has_deletions:
            lines += ["", self.whiteouts]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        entries = []
        for entry in self.stack.entries:
            item = {
                "index": entry.index,
                "instruction": entry.instruction,
                "created_by": entry.created_by,
                "builder": entry.builder.value,
                "image_id": entry.image_id,
                "size": entry.size,
                "is_layer": entry.is_layer,
                "diff_id": entry.diff_id,
                "layer": None if entry.layer_index is None else entry.layer_index + 1,
            }
            if entry.is_layer:
                item["files"] = self.files.layers[entry.layer_index].as_dict()
            entries.append(item)
        return {
            "image_id": self.stack.image_id,
            "tags": list(self.stack.tags),
            "exact": self.stack.exact,
            "rootfs_layers": list(self.stack.diff_ids),
            "entries": entries,
        }


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
                    "The engine's answer stopped in the middle of `docker save`.", "Run the command again."
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


def image_files(engine: Engine, reference: str) -> FileIndex:
    """Every layer's added, changed and deleted files, read from a streamed `docker save`."""
    image = engine.image(reference)
    image_id = image.id
    cache = _indexes.setdefault(engine, {})
    if image_id in cache:
        return cache[image_id]
    try:
        with saved_image_chunks(engine, image_id) as chunks:
            index, config = index_saved_image(ChunkStream(chunks))
            for _ in chunks:  # the archive's padding: read to the end so the answer is whole
                pass
    except ArchiveError as error:
        raise LayerlabError(
            f"The engine's `docker save` of {reference!r} could not be read: {error}.",
            "Report it with `python -m layerlab doctor --json`: the engine may write a format the course does not know.",
        ) from None
    except EngineRefused as error:
        raise LayerlabError(
            f"The engine could not save {reference!r}: {error.explanation or error.what}.",
            "Check that the image still exists (`docker images`) and try again.",
        ) from None
    except OSError as error:  # requests' connection errors are OSErrors too
        raise LayerlabError(
            f"The connection to the engine broke while it sent {reference!r} ({error}).",
            "Check that the engine still runs (`python -m layerlab doctor`) and try again.",
        ) from None
    expected = list(image.diff_ids)
    if list(index.diff_ids) != expected:
        raise LayerlabError(
            f"The saved layers of {reference!r} do not match its RootFS.Layers.",
            "The image changed while it was read; run the command again.",
        )
    # The config came with the same save: spare `image_stack` a second one.
    engine.remember_config(image_id, config)
    cache[image_id] = index
    return index


def image_layers(engine: Engine, reference: str) -> ImageLayers:
    """The stack (history matched to layers) and the files of every layer."""
    files = image_files(engine, reference)
    try:
        stack = engine.image_stack(reference)
    except InconsistentImage as error:
        raise LayerlabError(
            f"The history of {reference!r} cannot be matched to its layers ({error}).",
            "The image was probably edited or squashed by a tool; `docker history --no-trunc` shows its raw entries.",
        ) from None
    return ImageLayers(stack=stack, files=files, whiteouts=engine.facts.explain_whiteouts())


def which(engine: Engine, reference: str, path: str) -> PathHistory:
    """The layer a path comes from in an image, and what later layers did to it."""
    if not path or not path.strip():
        raise LayerlabError("No path was given.", "Name a path inside the image, e.g. /app/app.py.")
    return image_files(engine, reference).which(path)


def check_history(engine: Engine, reference: str, stack: ImageStack | None = None) -> HistoryCheck:
    """The drawn stack next to `docker history` and `RootFS.Layers`, row by row."""
    image = engine.image(reference)
    stack = stack or engine.image_stack(reference)
    return compare_with_history(stack, engine.history(reference), list(image.diff_ids))


def sharing(engine: Engine, reference: str, containers: Iterable) -> SharingSnapshot:
    """The image and these containers as `docker system df -v` counts them now.

    `containers` are SDK Container objects or ids; those that no longer exist are left out
    (use `earlier.after(later)` to show which went away).
    """
    stack = engine.image_stack(reference)
    wanted = [getattr(c, "id", c) for c in containers]
    try:
        usage = engine.disk_usage()
    except EngineRefused as error:
        raise LayerlabError(
            f"The engine did not answer `docker system df`: {error.explanation or error.what}.",
            "Try again in a moment: the engine may be busy computing sizes for someone else.",
        ) from None
    row = next((i for i in usage.get("Images") or [] if i.get("Id") == stack.image_id), None)
    if row is None:
        raise LayerlabError(f"`docker system df` does not list image {reference!r}.", "Build it again and retry.")
    image_usage = ImageDiskUsage(
        image_id=stack.image_id,
        tags=tuple(row.get("RepoTags") or ()),
        size=int(row.get("Size") or 0),
        shared_size=int(row.get("SharedSize") if row.get("SharedSize") is not None else -1),
        containers=int(row.get("Containers") or 0),
    )
    by_id = {c.get("Id"): c for c in usage.get("Containers") or []}
    layers = []
    for container_id in wanted:
        match = by_id.get(container_id) or next(
            (c for cid, c in by_id.items() if cid and cid.startswith(container_id)), None
        )
        if match is None:
            continue
        names = match.get("Names") or [""]
        layers.append(
            ContainerLayer(
                container_id=match["Id"],
                name=names[0].lstrip("/"),
                image_id=match.get("ImageID", ""),
                size_rw=int(match.get("SizeRw") or 0),
                size_root_fs=int(match.get("SizeRootFs") or 0),
            )
        )
    layers.sort(key=lambda c: c.name)
    return SharingSnapshot(stack=stack, usage=image_usage, containers=tuple(layers))


def container_exists(engine: Engine, container_id: str) -> bool:
    return engine.container_exists(container_id)
