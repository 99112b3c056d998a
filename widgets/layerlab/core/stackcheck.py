"""Put a drawn stack next to what `docker history` and `RootFS.Layers` say, row by row.

The learner should not have to trust the drawing: `compare_with_history` lines up each block
of the stack with the history entry the engine reports (newest first, as `docker history`
prints it) and each layer block with its digest in `RootFS.Layers`, and says where they agree.

Pure: the engine adapter passes `HistoryRecord`s and the diff ids in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .i18n import _
from .text import ljust, rjust
from .model import HistoryRecord, ImageStack, human_size, short_id, truncate


@dataclass(frozen=True)
class HistoryRow:
    """One row of `docker history` and the block drawn for it."""

    position: int  # 0 = top of `docker history` (newest)
    history_created_by: str
    history_size: int
    history_id: str | None
    drawn_instruction: str
    drawn_size: int
    drawn_is_layer: bool
    drawn_diff_id: str | None
    rootfs_diff_id: str | None

    @property
    def agrees(self) -> bool:
        same_entry = self.history_size == self.drawn_size
        same_layer = self.drawn_diff_id == self.rootfs_diff_id
        return same_entry and same_layer


@dataclass(frozen=True)
class HistoryCheck:
    rows: tuple[HistoryRow, ...]
    history_count: int
    drawn_count: int
    rootfs_count: int
    drawn_layer_count: int

    @property
    def agrees(self) -> bool:
        return (
            self.history_count == self.drawn_count
            and self.rootfs_count == self.drawn_layer_count
            and all(row.agrees for row in self.rows)
        )

    def summary(self, width: int = 48) -> str:
        lines = [
            _("docker history: {history} entries; drawn: {drawn} blocks; "
              "RootFS.Layers: {rootfs}; drawn layer blocks: {layers}").format(
                history=self.history_count, drawn=self.drawn_count, rootfs=self.rootfs_count,
                layers=self.drawn_layer_count),
            "  " + ljust(_("docker history (newest first)"), width) + " " + rjust(_("size"), 9) + "   " + _("drawn as"),
        ]
        for row in self.rows:
            drawn = (
                _("layer {layer}").format(layer=short_id(row.drawn_diff_id)) if row.drawn_is_layer else _("no layer, 0 B")
            )
            mark = _("ok") if row.agrees else _("DIFFERS")
            lines.append(
                f"  {truncate(row.history_created_by, width):<{width}} {human_size(row.history_size):>9}   {drawn}  {mark}"
            )
        lines.append(
            _("every entry and every layer match") if self.agrees else _("the drawing and the engine DISAGREE")
        )
        return "\n".join(lines)


def compare_with_history(
    stack: ImageStack, history_newest_first: Sequence[HistoryRecord], rootfs_layers: Sequence[str]
) -> HistoryCheck:
    """Line up the stack (bottom first) with `docker history` (newest first)."""
    drawn = list(reversed(stack.entries))
    rows = []
    # Which RootFS layer each drawn layer block should be: count layer blocks from the bottom.
    expected: dict[int, str | None] = {}
    layer_position = 0
    for entry in stack.entries:
        if entry.is_layer:
            expected[entry.index] = rootfs_layers[layer_position] if layer_position < len(rootfs_layers) else None
            layer_position += 1
        else:
            expected[entry.index] = None
    for position, (record, entry) in enumerate(zip(history_newest_first, drawn)):
        rows.append(
            HistoryRow(
                position=position,
                history_created_by=record.created_by or record.comment,
                history_size=record.size,
                history_id=record.image_id,
                drawn_instruction=entry.instruction,
                drawn_size=entry.size,
                drawn_is_layer=entry.is_layer,
                drawn_diff_id=entry.diff_id,
                rootfs_diff_id=expected[entry.index],
            )
        )
    return HistoryCheck(
        rows=tuple(rows),
        history_count=len(history_newest_first),
        drawn_count=len(stack.entries),
        rootfs_count=len(rootfs_layers),
        drawn_layer_count=len(stack.layer_entries),
    )
