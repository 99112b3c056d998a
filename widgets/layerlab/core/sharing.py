"""Several containers on one image: what is shared, what each owns, what `docker system df` counts.

Every container of an image reads the same image layers; each writes only to its own thin R/W
layer, which goes away with the container. `docker system df -v` (the engine's `/system/df`)
counts it that way:

- an image's SIZE is all its layers; SHARED SIZE is the part of it other *images* use too (a
  common base); UNIQUE SIZE = SIZE - SHARED SIZE. Containers do not change either figure.
- a container's SIZE is its R/W layer only (`SizeRw`); its "virtual" size (`SizeRootFs`)
  adds the image, which it does not own.

Pure: the engine adapter fills these from the API's answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .i18n import _
from .model import ContainerLayer, ImageStack, human_size, short_id

#: How far the sizes of the bottom layers may be from SHARED SIZE and still be taken as the
#: layers it counts (history sizes and `docker system df` sizes are both the layers' diff sizes
#: with overlay2; the containerd store counts differently, and then nothing is inferred).
SHARED_SIZE_TOLERANCE = 0.01


@dataclass(frozen=True)
class ImageDiskUsage:
    """One image's row of `docker system df -v`."""

    image_id: str
    tags: tuple[str, ...]
    size: int
    shared_size: int
    containers: int

    @property
    def unique_size(self) -> int:
        return self.size - max(self.shared_size, 0)


@dataclass(frozen=True)
class SharingSnapshot:
    """An image and the containers started from it, as the engine counts them at one moment."""

    stack: ImageStack
    usage: ImageDiskUsage
    containers: tuple[ContainerLayer, ...]
    removed: tuple[ContainerLayer, ...] = ()  # containers of an earlier snapshot that are gone
    #: diff ids of this image's layers that other images use too, when the caller knows them;
    #: None: inferred from SHARED SIZE (see `layers_shared_with_images`).
    shared_diff_ids: tuple[str, ...] | None = None

    @property
    def rw_total(self) -> int:
        return sum(c.size_rw for c in self.containers)

    @property
    def on_disk(self) -> int:
        """Image layers once, plus every container's own R/W layer."""
        return self.usage.size + self.rw_total

    @property
    def if_copied(self) -> int:
        """What the same containers would take if each had its own copy of the image."""
        return sum(c.size_root_fs or (self.usage.size + c.size_rw) for c in self.containers)

    def after(self, later: "SharingSnapshot") -> "SharingSnapshot":
        """`later`, remembering which of this snapshot's containers have gone since."""
        still = {c.container_id for c in later.containers}
        gone = tuple(c for c in self.containers if c.container_id not in still)
        return SharingSnapshot(stack=later.stack, usage=later.usage, containers=later.containers, removed=gone,
                               shared_diff_ids=later.shared_diff_ids)

    def layers_shared_with_images(self) -> frozenset[str] | None:
        """Diff ids of the layers other images hold too; None when the engine's figures cannot say.

        The engine counts SHARED SIZE per layer chain (a layer and everything under it), so the
        layers it counts are always a bottom run of the stack: the run whose sizes add up to it.
        """
        if self.shared_diff_ids is not None:
            return frozenset(self.shared_diff_ids) & frozenset(self.stack.diff_ids)
        layers = self.stack.layer_entries
        count = shared_prefix([entry.size for entry in layers], self.usage.shared_size)
        if count is None:
            return None
        return frozenset(entry.diff_id for entry in layers[:count] if entry.diff_id)

    def summary(self) -> str:
        name = self.stack.tags[0] if self.stack.tags else short_id(self.stack.image_id)
        layers = len(self.stack.diff_ids)
        lines = [
            _("image {name}: {layers} layers, SIZE {size}, SHARED SIZE {shared} (with other images), "
              "UNIQUE SIZE {unique}, CONTAINERS {containers}").format(
                name=name, layers=layers, size=human_size(self.usage.size),
                shared=human_size(max(self.usage.shared_size, 0)), unique=human_size(self.usage.unique_size),
                containers=self.usage.containers),
        ]
        for container in self.containers:
            lines.append("  " + _("container {name}: own R/W layer {size}, reads the {layers} shared image layers").format(
                name=container.name, size=human_size(container.size_rw), layers=layers))
        for container in self.removed:
            lines.append("  " + _("container {name}: removed, and its R/W layer ({size}) with it").format(
                name=container.name, size=human_size(container.size_rw)))
        if self.containers:
            lines.append(_("on disk: image once + {count} R/W layers = {on_disk} (a full copy each would be {if_copied})")
                         .format(count=len(self.containers), on_disk=human_size(self.on_disk),
                                 if_copied=human_size(self.if_copied)))
        else:
            lines.append(_("on disk: the image only, {size}; no container, no R/W layer").format(
                size=human_size(self.usage.size)))
        return "\n".join(lines)


def shared_prefix(layer_sizes: Sequence[int], shared_size: int, tolerance: float = SHARED_SIZE_TOLERANCE) -> int | None:
    """How many bottom layers (sizes bottom first) make up `shared_size`; None if no run does.

    A negative `shared_size` is the engine's "not computed" (-1). Among runs within the
    tolerance, the one closest to `shared_size` wins, the shorter one on a tie (a 0 B layer
    on top of the run is not claimed as shared).

    >>> shared_prefix([100, 50, 7], 150)
    2
    >>> shared_prefix([100, 50, 7], 0)
    0
    >>> shared_prefix([100, 50, 7], 120) is None
    True
    """
    if shared_size < 0:
        return None
    best: tuple[int, int] | None = None  # (distance, count)
    total = 0
    for count in range(len(layer_sizes) + 1):
        if count:
            total += max(layer_sizes[count - 1], 0)
        distance = abs(total - shared_size)
        if distance <= tolerance * max(shared_size, 1) and (best is None or distance < best[0]):
            best = (distance, count)
    return None if best is None else best[1]
