"""The sharing drawing's words: what `docker system df -v` counts, and the drawing's text twin.

`views.sharing` draws the picture; this module says it in sentences: `df_lines(snapshot)` (the
figures under the drawing) and `sharing_text(snapshot)` (the plain-text twin nbval compares).
"""

from __future__ import annotations

from ..core.i18n import _, ngettext
from ..core.model import HistoryEntry, human_size, short_id, truncate
from ..core.sharing import SharingSnapshot
from .layerstack import is_bookkeeping


def image_name(snapshot: SharingSnapshot) -> str:
    stack = snapshot.stack
    return stack.tags[0] if stack.tags else short_id(stack.image_id)


def _rows(snapshot: SharingSnapshot, show_metadata: bool) -> list[HistoryEntry]:
    """The stack's entries to draw, top first."""
    return [
        entry for entry in reversed(snapshot.stack.entries)
        if entry.is_layer or (show_metadata and not is_bookkeeping(entry))
    ]


def df_lines(snapshot: SharingSnapshot) -> list[str]:
    """What `docker system df -v` counts for these objects, in three sentences."""
    usage = snapshot.usage
    count = len(snapshot.containers)
    figures = {"size": human_size(usage.size), "shared": human_size(usage.shared_size), "count": count,
               "unique": human_size(usage.unique_size), "containers": usage.containers,
               "rw_total": human_size(snapshot.rw_total), "on_disk": human_size(snapshot.on_disk),
               "if_copied": human_size(snapshot.if_copied)}
    if usage.shared_size < 0:
        image = _("image: SIZE {size} (SHARED SIZE not computed by this engine); CONTAINERS {containers}")
    else:
        image = _("image: SIZE {size} = SHARED SIZE {shared} (layers other images hold too) "
                  "+ UNIQUE SIZE {unique}; CONTAINERS {containers}")
    lines = [image.format(**figures)]
    if count:
        lines.append(ngettext(
            "containers: SIZE counts only each one's own R/W layer ({rw_total} for {count} container); "
            "the image's layers are not counted again",
            "containers: SIZE counts only each one's own R/W layer ({rw_total} for {count} containers); "
            "the image's layers are not counted again", count).format(**figures))
        lines.append(ngettext(
            "on disk: the image once + {count} R/W layer = {on_disk}; a full copy per container would be {if_copied}",
            "on disk: the image once + {count} R/W layers = {on_disk}; a full copy per container would be {if_copied}",
            count).format(**figures))
    else:
        lines.append(_("containers: none left, so no R/W layer; on disk: the image only, {size}").format(**figures))
    return lines


def sharing_text(snapshot: SharingSnapshot, show_metadata: bool = False, note: str = "") -> str:
    """The same drawing as plain text (what nbval compares, and a terminal or screen reader shows)."""
    shared_ids = snapshot.layers_shared_with_images()
    readers = len(snapshot.containers)
    lines = [
        ngettext("image {name}: {layers} read-only layers, stored once, read by {count} container",
                 "image {name}: {layers} read-only layers, stored once, read by {count} containers", readers).format(
            name=image_name(snapshot), layers=len(snapshot.stack.diff_ids), count=readers)
    ]
    for entry in _rows(snapshot, show_metadata):
        if not entry.is_layer:
            tag, size = "[ -- ]  ", _("no layer, 0 B")
        elif shared_ids is not None and entry.diff_id in shared_ids:
            tag, size = "[shared]", human_size(entry.size)
        else:
            tag, size = "[layer] ", human_size(entry.size)
        lines.append(f"  {tag} {truncate(entry.instruction, 56):<56} {size:>13}")
    for container in snapshot.containers:
        lines.append("  [R/W]    " + _("container {name}: own R/W layer {size}").format(
            name=container.name, size=human_size(container.size_rw)))
    for container in snapshot.removed:
        lines.append("  [gone]   " + _("container {name}: removed, its R/W layer ({size}) is gone").format(
            name=container.name, size=human_size(container.size_rw)))
    lines.append("docker system df -v:")
    lines.extend(f"  {line}" for line in df_lines(snapshot))
    if note:
        lines.append(note)
    return "\n".join(lines)
