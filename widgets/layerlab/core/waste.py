"""What an image's layers cost: the bytes they store that its finished filesystem never shows.

A layer is never edited: a file a later layer overwrites, or deletes, still ships in the lower
layer's tar, and every `docker pull` downloads it. This module counts those bytes from the
per-layer file index (`core.filetree.FileIndex`), two ways:

* **layerlab's wasted bytes**: every file body a layer's tar stores that no path of the finished
  image shows. They are *shadowed* when a later layer wrote the path again (a new version, a
  copy-up after `chmod`, or a file put where a directory was) and *deleted* when a whiteout or
  an opaque directory hid them. A hard link stores no data (its tar entry is a header): a body
  counts once, in its layer, and is wasted only when neither its own path nor any hard link to
  it in that layer is visible at the end.
* **dive's efficiency score**, by dive's own definition (`dive/filetree/efficiency.go` and
  `dive/image/analysis.go` in github.com/wagoodman/dive): every leaf of every layer's tree is
  counted under its path (a whiteout `.wh.NAME` under NAME's path, with the size of what it
  removes when that was a directory, 0 when a file; opaque markers are ignored). A path seen in
  two or more layers is "inefficient" and all its copies count, the visible one too; the score
  is the sum over paths of the smallest copy over the sum of all copies.

The two differ: dive counts only paths that appear in more than one layer, so a file hidden by
deleting a directory above it, or by an opaque directory, costs nothing in dive's score while
layerlab counts it; and for a path written twice dive counts both copies, layerlab only the
hidden one.

    report = measure_waste(index, instructions)   # instructions: one per layer, bottom first
    report.wasted_bytes, report.dive.efficiency

Pure: no `docker`, no widgets.
"""

from __future__ import annotations

import enum
import posixpath
from dataclasses import dataclass, field
from typing import Sequence

from .filetree import FileIndex, LayerFile, LayerFiles
from .i18n import N_, _
from .layertar import EntryType
from .model import ChangeKind, human_size
from .pathhistory import LayerChangeVia, PathHistory

#: How many offenders a report lists by default.
TOP_OFFENDERS = 10


class WasteKind(enum.Enum):
    """Why a stored file body is not seen in the finished image."""

    SHADOWED = "shadowed"  # a later layer wrote the path again (or a file over its directory)
    DELETED = "deleted"  # a whiteout or an opaque directory hid it


#: An offender's line, by its kind and whether a layer hid it.
_OFFENDER_LINES = {
    (WasteKind.SHADOWED, False): N_("{size:>8}  {path}  (layer {layer}, shadowed)  {instruction}"),
    (WasteKind.SHADOWED, True): N_("{size:>8}  {path}  (layer {layer}, shadowed by layer {by})  {instruction}"),
    (WasteKind.DELETED, False): N_("{size:>8}  {path}  (layer {layer}, deleted)  {instruction}"),
    (WasteKind.DELETED, True): N_("{size:>8}  {path}  (layer {layer}, deleted by layer {by})  {instruction}"),
}


@dataclass(frozen=True)
class Offender:
    """One file body a layer stores that the finished image does not show."""

    path: str
    size: int
    layer_index: int  # the layer that stored it (0 = bottom)
    kind: WasteKind
    hidden_by: int | None  # the layer that shadowed or deleted it
    instruction: str = ""  # the history entry that made `layer_index`

    def describe(self) -> str:
        template = _OFFENDER_LINES[(self.kind, self.hidden_by is not None)]
        return _(template).format(size=human_size(self.size), path=self.path, layer=self.layer_index + 1,
                                  by=None if self.hidden_by is None else self.hidden_by + 1,
                                  instruction=self.instruction[:60])

    def as_dict(self) -> dict:
        return {
            "path": self.path, "size": self.size, "layer": self.layer_index + 1,
            "layer_index": self.layer_index, "kind": self.kind.value,
            "hidden_by_layer": None if self.hidden_by is None else self.hidden_by + 1,
            "instruction": self.instruction,
        }


@dataclass(frozen=True)
class DivePath:
    """A path dive calls inefficient: seen in two or more layers."""

    path: str
    cumulative_size: int  # every copy, the visible one too
    layers: tuple[int, ...]  # layer indexes, bottom first

    def as_dict(self) -> dict:
        return {"path": self.path, "cumulative_size": self.cumulative_size,
                "layers": [i + 1 for i in self.layers]}


@dataclass(frozen=True)
class DiveScore:
    """dive's efficiency, inefficient bytes and wasted-to-user-bytes ratio."""

    efficiency: float
    inefficient_bytes: int
    user_size_bytes: int  # all layers but the bottom one, as dive's `UserSizeByes`
    inefficiencies: tuple[DivePath, ...] = ()  # biggest first

    @property
    def wasted_user_ratio(self) -> float | None:
        return None if not self.user_size_bytes else self.inefficient_bytes / self.user_size_bytes


@dataclass(frozen=True)
class WasteReport:
    """An image's wasted bytes, split, its biggest offenders, and dive's score beside them."""

    stored_bytes: int  # file bodies in all layers' tars
    offenders: tuple[Offender, ...]  # every wasted body, biggest first
    dive: DiveScore
    layers: int = 0

    def _total(self, kind: WasteKind | None = None) -> int:
        return sum(o.size for o in self.offenders if kind is None or o.kind is kind)

    @property
    def wasted_bytes(self) -> int:
        return self._total()

    @property
    def shadowed_bytes(self) -> int:
        return self._total(WasteKind.SHADOWED)

    @property
    def deleted_bytes(self) -> int:
        return self._total(WasteKind.DELETED)

    @property
    def wasted_ratio(self) -> float:
        """Wasted bytes over all stored bytes (0 for an image that stores nothing)."""
        return self.wasted_bytes / self.stored_bytes if self.stored_bytes else 0.0

    def summary(self, limit: int = TOP_OFFENDERS) -> str:
        lines = [
            _("wasted: {size} ({count} B, {ratio:.1%} of {stored} stored in {layers} layers)").format(
                size=human_size(self.wasted_bytes), count=self.wasted_bytes, ratio=self.wasted_ratio,
                stored=human_size(self.stored_bytes), layers=self.layers),
            "  " + _("shadowed (written again later): {size} ({count} B)").format(
                size=human_size(self.shadowed_bytes), count=self.shadowed_bytes),
            "  " + _("deleted (whiteouts, opaque directories): {size} ({count} B)").format(
                size=human_size(self.deleted_bytes), count=self.deleted_bytes),
        ]
        if self.offenders:
            lines.append(_("biggest offenders:"))
            lines += ["  " + o.describe() for o in self.offenders[:limit]]
            if len(self.offenders) > limit:
                lines.append("  " + _("... and {count} more").format(count=len(self.offenders) - limit))
        lines += [
            _("dive's efficiency score: {efficiency:.4f}, inefficient bytes: {size} ({count} B)").format(
                efficiency=self.dive.efficiency, size=human_size(self.dive.inefficient_bytes),
                count=self.dive.inefficient_bytes),
            "  " + _("(dive counts only paths seen in two or more layers, every copy of them: files hidden by "
                     "deleting a directory above them cost nothing there)"),
        ]
        return "\n".join(lines)

    def as_dict(self, limit: int | None = TOP_OFFENDERS) -> dict:
        shown = self.offenders if limit is None else self.offenders[:limit]
        return {
            "wasted_bytes": self.wasted_bytes,
            "wasted_shadowed_bytes": self.shadowed_bytes,
            "wasted_deleted_bytes": self.deleted_bytes,
            "wasted_ratio": self.wasted_ratio,
            "stored_bytes": self.stored_bytes,
            "offenders": [o.as_dict() for o in shown],
            "offender_count": len(self.offenders),
            "dive_efficiency": self.dive.efficiency,
            "dive_inefficient_bytes": self.dive.inefficient_bytes,
            "dive_user_size_bytes": self.dive.user_size_bytes,
            "dive_wasted_user_ratio": self.dive.wasted_user_ratio,
            "dive_inefficiencies": [p.as_dict() for p in self.dive.inefficiencies[: limit or None]],
        }


# -- layerlab's count ----------------------------------------------------------------------


def measure_waste(index: FileIndex, instructions: Sequence[str] = ()) -> WasteReport:
    """Count an image's wasted bytes, and dive's score, from its file index.

    `instructions[i]` names the history entry that made layer i (shown with each offender).
    """
    offenders: list[Offender] = []
    histories: dict[str, PathHistory] = {}

    def history(path: str) -> PathHistory:
        if path not in histories:
            histories[path] = index.which(path, follow_symlinks=False)
        return histories[path]

    for layer in index.layers:
        links = _hard_links(layer)
        for change in layer.changes:
            if change.kind is ChangeKind.DELETED or change.type is not EntryType.FILE or not change.size:
                continue
            group = (change.path, *links.get(change.path, ()))
            if any(_shown_from(history(p)) == layer.index for p in group):
                continue
            kind, by = _fate(history(change.path), layer.index)
            instruction = instructions[layer.index] if layer.index < len(instructions) else ""
            offenders.append(Offender(change.path, change.size, layer.index, kind, by, instruction))
    offenders.sort(key=lambda o: (-o.size, o.layer_index, o.path))
    return WasteReport(
        stored_bytes=sum(layer.size for layer in index.layers),
        offenders=tuple(offenders),
        dive=dive_score(index.layers),
        layers=len(index.layers),
    )


def _hard_links(layer: LayerFiles) -> dict[str, list[str]]:
    """Target path -> the hard links to it in this layer (a tar links to a member stored before)."""
    links: dict[str, list[str]] = {}
    for change in layer.changes:
        if change.type is EntryType.HARDLINK and change.link and change.kind is not ChangeKind.DELETED:
            links.setdefault(change.link, []).append(change.path)
    return links


def _shown_from(history: PathHistory) -> int | None:
    source = history.source
    return None if source is None else source.layer_index


def _fate(history: PathHistory, layer_index: int) -> tuple[WasteKind, int | None]:
    """What hid the version of a path that `layer_index` wrote: the next event after it."""
    events = history.events
    mine = max(i for i, e in enumerate(events)
               if e.layer_index == layer_index and e.via is LayerChangeVia.CONTENT)
    if mine + 1 >= len(events):
        # Its path still shows this layer's entry, but not its body (a hard link of it was
        # replaced): whoever replaced the group's other paths wrote over it.
        return WasteKind.SHADOWED, None
    after = events[mine + 1]
    if after.kind is ChangeKind.DELETED and after.via is not LayerChangeVia.REPLACED:
        return WasteKind.DELETED, after.layer_index
    return WasteKind.SHADOWED, after.layer_index


# -- dive's count --------------------------------------------------------------------------


@dataclass
class _DiveNode:
    """What dive's tree keeps of a tar entry: whether it is a directory, and its header size."""

    is_dir: bool
    size: int


@dataclass
class _DivePathData:
    cumulative: int = 0
    minimum: int = -1
    layers: list[int] = field(default_factory=list)


def dive_score(layers: Sequence[LayerFiles]) -> DiveScore:
    """dive's `filetree.Efficiency` and `image.Analyze`, faithfully, on layerlab's file index.

    From github.com/wagoodman/dive, `dive/filetree/efficiency.go` (Efficiency) and
    `dive/image/analysis.go` (Analyze): each layer's tree is visited leaves only; a leaf counts
    its tar header size under its path; a whiteout `.wh.NAME` counts under NAME's path, with the
    size of the subtree it removes from the stack of the layers below when that was a directory
    (dive's `FileInfo.IsDir`: only an explicit directory entry, never a directory a tar only
    implies), else 0. Opaque markers never enter dive's trees. A path with two or more leaves is
    inefficient and its cumulative size is wasted; efficiency is sum(minimum per path) /
    sum(cumulative per path), 1.0 when that is 0. Where dive gives up (a whiteout of a path no
    layer below has), the whiteout counts 0 here.
    """
    paths: dict[str, _DivePathData] = {}
    stacked: dict[str, _DiveNode] = {}
    for layer in layers:
        entries, whiteouts = _dive_entries(layer)
        parents = {posixpath.dirname(p) for p in [*entries, *whiteouts]}
        visits = [(p, node.size) for p, node in entries.items() if p not in parents]
        visits += [(p, _removed_size(stacked, p)) for p in whiteouts]
        for path, size in visits:
            data = paths.setdefault(path, _DivePathData())
            data.cumulative += size
            data.minimum = size if data.minimum < 0 else min(data.minimum, size)
            data.layers.append(layer.index)
        for path in whiteouts:
            for gone in [p for p in stacked if p == path or p.startswith(path + "/")]:
                del stacked[gone]
        stacked.update(entries)
    inefficient = sorted(
        (DivePath(path, data.cumulative, tuple(data.layers)) for path, data in paths.items() if len(data.layers) >= 2),
        key=lambda p: (-p.cumulative_size, p.path),
    )
    discovered = sum(data.cumulative for data in paths.values())
    minimum = sum(data.minimum for data in paths.values())
    return DiveScore(
        efficiency=1.0 if discovered == 0 else minimum / discovered,
        inefficient_bytes=sum(p.cumulative_size for p in inefficient),
        user_size_bytes=sum(layer.size for layer in layers[1:]),
        inefficiencies=tuple(inefficient),
    )


def _dive_entries(layer: LayerFiles) -> tuple[dict[str, _DiveNode], list[str]]:
    """A layer's tar entries as dive reads them: content by path, and the whiteouts' paths."""
    entries: dict[str, _DiveNode] = {}
    whiteouts: list[str] = []
    for change in layer.changes:
        if change.via is LayerChangeVia.CONTENT:
            entries[change.path] = _DiveNode(change.type is EntryType.DIRECTORY, change.size)
        elif change.via is LayerChangeVia.WHITEOUT:
            whiteouts.append(change.path)
    return entries, whiteouts


def _removed_size(stacked: dict[str, _DiveNode], path: str) -> int:
    node = stacked.get(path)
    if node is None or not node.is_dir:
        return 0
    return sum(n.size for p, n in stacked.items() if p == path or p.startswith(path + "/"))


# -- a CI gate -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """One rule of the gate, checked: the figure, the limit, and whether it passes."""

    rule: str
    passed: bool
    figure: str
    limit: str

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'}  {self.rule}: {self.figure} (limit {self.limit})"

    def as_dict(self) -> dict:
        return {"rule": self.rule, "passed": self.passed, "figure": self.figure, "limit": self.limit}


def check_gate(report: WasteReport, max_wasted_bytes: int | None = None,
               max_wasted_ratio: float | None = None, min_efficiency: float | None = None) -> list[Verdict]:
    """Check the rules given (None = not asked), in the order of dive's CI rules."""
    verdicts = []
    if min_efficiency is not None:
        verdicts.append(Verdict("min-efficiency", report.dive.efficiency >= min_efficiency,
                                f"dive efficiency {report.dive.efficiency:.4f}", f">= {min_efficiency:g}"))
    if max_wasted_bytes is not None:
        verdicts.append(Verdict("max-wasted-bytes", report.wasted_bytes <= max_wasted_bytes,
                                f"{report.wasted_bytes} B wasted ({human_size(report.wasted_bytes)})",
                                f"<= {max_wasted_bytes} B"))
    if max_wasted_ratio is not None:
        verdicts.append(Verdict("max-wasted-ratio", report.wasted_ratio <= max_wasted_ratio,
                                f"{report.wasted_ratio:.4f} of stored bytes wasted", f"<= {max_wasted_ratio:g}"))
    return verdicts
