"""Image layers from the engine: file indexes, `which`, `docker history`, sharing and disk usage.

Everything here reads the API only (`docker save`, image history and inspect, `/system/df`,
the container list): no storage-driver folders, so it works the same with overlay2, the
containerd image store and Docker Desktop's VM.

    files = image_files(engine, "layerlab-you/01-layers-sample:latest")
    files.which("/app/app.py")
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from ..core.errors import EngineRefused, LayerlabError
from ..core.filetree import FileIndex
from ..core.i18n import _
from ..core.pathhistory import PathHistory
from ..core.model import ContainerLayer, ImageStack, InconsistentImage
if TYPE_CHECKING:  # imported by the functions that use them, not by a warm `layers` command
    from ..core.sharing import SharingSnapshot
    from ..core.stackcheck import HistoryCheck
from ..core.waste import WasteReport, measure_waste
from .engine import Engine
from .images import SAVE_CHUNK
from .layerindex import PREFETCH, Prefetch, index_image, saved_image_chunks  # noqa: F401 (their home before)

_indexes: "weakref.WeakKeyDictionary[object, dict[str, FileIndex]]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class ImageLayers:
    """An image's stack of history entries and its per-layer files (from one `docker save`, or
    from the learner's index cache: `files.cached`)."""

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
            # Whether the file lists came from the learner's index cache (no `docker save` read).
            "cached": self.files.cached,
            "cached_layers": len(self.files.cached_layers),
        }


def image_files(engine: Engine, reference: str) -> FileIndex:
    """Every layer's added, changed and deleted files: from the learner's index cache when it
    holds them all (no `docker save`), else from one streamed `docker save` (see `layerindex`)."""
    image = engine.image(reference)
    cache = _indexes.setdefault(engine, {})
    if image.id not in cache:
        cache[image.id] = index_image(engine, image, reference)
    return cache[image.id]


def image_layers(engine: Engine, reference: str) -> ImageLayers:
    """The stack (history matched to layers) and the files of every layer."""
    files = image_files(engine, reference)
    try:
        stack = engine.image_stack(reference)
    except InconsistentImage as error:
        raise LayerlabError(
            _("The history of {reference!r} cannot be matched to its layers ({error}).").format(
                reference=reference, error=error),
            _("The image was probably edited or squashed by a tool; `docker history --no-trunc` shows its raw entries."),
        ) from None
    return ImageLayers(stack=stack, files=files, whiteouts=engine.facts.explain_whiteouts())


def which(engine: Engine, reference: str, path: str) -> PathHistory:
    """The layer a path comes from in an image, and what later layers did to it."""
    if not path or not path.strip():
        raise LayerlabError(_("No path was given."), _("Name a path inside the image, e.g. /app/app.py."))
    return image_files(engine, reference).which(path)


def check_history(engine: Engine, reference: str, stack: ImageStack | None = None) -> HistoryCheck:
    """The drawn stack next to `docker history` and `RootFS.Layers`, row by row."""
    from ..core.stackcheck import compare_with_history

    image = engine.image(reference)
    stack = stack or engine.image_stack(reference)
    return compare_with_history(stack, engine.history(reference), list(image.diff_ids))


def sharing(engine: Engine, reference: str, containers: Iterable) -> SharingSnapshot:
    """The image and these containers as `docker system df -v` counts them now.

    `containers` are SDK Container objects or ids; those that no longer exist are left out
    (use `earlier.after(later)` to show which went away).
    """
    from ..core.sharing import ImageDiskUsage, SharingSnapshot

    stack = engine.image_stack(reference)
    wanted = [getattr(c, "id", c) for c in containers]
    try:
        usage = engine.disk_usage()
    except EngineRefused as error:
        raise LayerlabError(
            _("The engine did not answer `docker system df`: {reason}.").format(reason=error.explanation or error.what),
            _("Try again in a moment: the engine may be busy computing sizes for someone else."),
        ) from None
    row = next((i for i in usage.get("Images") or [] if i.get("Id") == stack.image_id), None)
    if row is None:
        raise LayerlabError(_("`docker system df` does not list image {reference!r}.").format(reference=reference),
                            _("Build it again and retry."))
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
