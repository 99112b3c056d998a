"""Where a path of an image came from: what every layer did to it, bottom layer first.

`PathEvent` is one layer's effect on one path (added, replaced, deleted, and how: by its own
content, a whiteout, an opaque directory, or a change to a directory above it). `PathHistory`
is all of them for one path, and answers which layer a container sees the path from.

Pure: no `docker`, no widgets.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .i18n import N_, _
from .layertar import EntryType
from .model import ChangeKind, human_size, short_id


class LayerChangeVia(enum.Enum):
    """How a layer came to add, change or delete a path."""

    CONTENT = "content"  # the layer's tar holds the path itself
    WHITEOUT = "whiteout"  # a `.wh.NAME` file next to it
    OPAQUE = "opaque directory"  # a `.wh..wh..opq` marker in a directory above it
    PARENT_DELETED = "a directory above it was deleted"  # whiteout of an ancestor
    REPLACED = "a directory above it was replaced"  # an ancestor became a file or link


#: What a learner reads for each type of entry (the values stay English in `--json`).
ENTRY_TYPE_NAMES = {
    EntryType.FILE: N_("file"), EntryType.DIRECTORY: N_("directory"), EntryType.SYMLINK: N_("symlink"),
    EntryType.HARDLINK: N_("hardlink"), EntryType.OTHER: N_("other"),
}
#: One line per (kind, via) a layer makes; deletions by a whiteout or an opaque directory are not
#: here: their words are matched by tests/sanitize.cfg, so they stay English.
_EVENT_LINES = {
    (ChangeKind.ADDED, LayerChangeVia.CONTENT): N_("layer {number} ({layer_id}): added ({type}{size})"),
    (ChangeKind.CHANGED, LayerChangeVia.CONTENT):
        N_("layer {number} ({layer_id}): replaced (shadows the lower version) ({type}{size})"),
    (ChangeKind.DELETED, LayerChangeVia.PARENT_DELETED):
        N_("layer {number} ({layer_id}): deleted: a directory above it was deleted ({type}{size})"),
    (ChangeKind.DELETED, LayerChangeVia.REPLACED):
        N_("layer {number} ({layer_id}): deleted: a directory above it was replaced by a file ({type}{size})"),
}


@dataclass(frozen=True)
class PathEvent:
    """One layer's effect on one path."""

    layer_index: int
    diff_id: str
    kind: ChangeKind
    via: LayerChangeVia
    type: EntryType
    size: int = 0

    def describe(self) -> str:
        size = f", {human_size(self.size)}" if self.type is EntryType.FILE and self.kind is not ChangeKind.DELETED else ""
        fields = {"number": self.layer_index + 1, "layer_id": short_id(self.diff_id), "size": size}
        template = _EVENT_LINES.get((self.kind, self.via))
        if template is not None:
            return _(template).format(type=_(ENTRY_TYPE_NAMES[self.type]), **fields)
        # Left in English: the whiteout form differs by engine (tests/sanitize.cfg), and the
        # combinations no layer makes.
        what = {
            ChangeKind.ADDED: "added",
            ChangeKind.CHANGED: "replaced (shadows the lower version)",
            ChangeKind.DELETED: "deleted",
        }[self.kind]
        how = {
            LayerChangeVia.CONTENT: "",
            LayerChangeVia.WHITEOUT: " by a whiteout file",
            LayerChangeVia.OPAQUE: " by an opaque directory above it",
            LayerChangeVia.PARENT_DELETED: ": a directory above it was deleted",
            LayerChangeVia.REPLACED: ": a directory above it was replaced by a file",
        }[self.via]
        return "layer {number} ({layer_id}): {what}{how} ({type}{size})".format(
            what=what, how=how, type=self.type.value, **fields)

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
            lines.append(_("{asked}: followed {links}, so it is {path}").format(
                asked=asked, links=", ".join(self.through), path=self.path))
        if not self.events:
            lines.append(_("{path}: no layer of this image has it").format(path=self.path))
            return "\n".join(lines)
        if self.present:
            source = self.source
            lines.append(_("{path}: comes from layer {number} ({layer_id}), {count} layer(s) touched it").format(
                path=self.path, number=source.layer_index + 1, layer_id=short_id(source.diff_id), count=len(self.events)))
        else:
            last = self.events[-1]
            lines.append(_("{path}: not in the image: layer {number} ({layer_id}) deleted it, yet the bytes of the "
                           "layers below are still in the image").format(
                path=self.path, number=last.layer_index + 1, layer_id=short_id(last.diff_id)))
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
