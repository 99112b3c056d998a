"""Copy-on-write as it happens: the pure half of `CopyUpMonitor`.

A running container's R/W layer is read through two engine answers: `/containers/{id}/changes`
(`docker diff`: every path the layer added, changed or deleted) and the container's SizeRw.
This module turns a sequence of such answers into events, and attributes every changed or
deleted path to the image layer it came from, using the image's `FileIndex`:

- a CHANGED file was copied up: overlayfs copied the whole file from that layer into the R/W
  layer before the first write, however small the write;
- a CHANGED directory was copied up as a directory entry only (its metadata, not its files);
- a DELETED path is hidden by a whiteout in the R/W layer; its bytes stay in the lower layer;
- an ADDED path is new in the R/W layer (or re-created after a lower layer deleted it).

    attributor = Attributor(files, instructions)      # instructions[i]: what made layer i
    state = CopyUpState(container_id=..., name=..., image=...)
    events = state.apply(changes, at=0.4, size_rw=20_971_521, sizes={...}, attributor=attributor)

Pure: no `docker`, no widgets. The watcher thread (`engine.watch`) owns a state and feeds it.
"""

from __future__ import annotations

import collections
import enum
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from .filetree import FileIndex
from .i18n import N_, Worded, _
from .layertar import EntryType, normalize_path
from .model import ChangeKind, ImageStack, human_size, short_id, truncate

#: How many events a state keeps (the oldest are dropped first; `events_total` keeps counting).
MAX_EVENTS = 500
# How often a watcher polls SizeRw, and diffs at the latest when SizeRw stays the same.
# 0.15 s: benchmarks/copyup_latency.py measured p95 158 ms at 3.3% of one core (typing pace).
DEFAULT_INTERVAL = 0.15
DEFAULT_FULL_EVERY = 1.0
MIN_INTERVAL, MAX_INTERVAL = 0.02, 5.0
#: How many SizeRw samples a state keeps for its growth curve.
MAX_SIZE_SAMPLES = 240


class RwPathOrigin(Worded, enum.Enum):
    """How a path of the R/W layer relates to the image layers below it."""

    NEW = N_("new in the R/W layer")
    RECREATED = N_("re-created (a lower layer had deleted it)")
    COPY_UP = N_("copied up")
    COPY_UP_DIRECTORY = N_("copied up (directory entry only)")
    WHITEOUT = N_("hidden by a whiteout")
    NOT_IN_IMAGE = N_("not in any image layer")


@dataclass(frozen=True)
class Attribution:
    """Where a path of the R/W layer came from.

    `layer` is 1-based (bottom = 1) and None when no image layer has the path (the engine's
    own files such as /etc/hostname, or a path new in the R/W layer). `lower_size` is the
    size of the file in that layer: what a copy-up copies, or what a whiteout hides.
    """

    via: RwPathOrigin
    layer: int | None = None
    diff_id: str | None = None
    instruction: str = ""
    lower_size: int | None = None
    lower_type: str | None = None
    first_added_by: int | None = None

    @property
    def is_directory(self) -> bool:
        return self.lower_type == EntryType.DIRECTORY.value

    def describe(self, width: int = 60) -> str:
        if self.layer is None:
            return self.via.text
        if self.instruction:
            where = _("layer {layer} ({instruction})").format(
                layer=self.layer, instruction=truncate(self.instruction, width))
        else:
            where = _("layer {layer}").format(layer=self.layer)
        if self.via is RwPathOrigin.COPY_UP:
            if self.lower_size is None:
                text = _("copied up from {where}").format(where=where)
            else:
                text = _("copied up from {where}, all {size} of it").format(where=where, size=human_size(self.lower_size))
        elif self.via is RwPathOrigin.COPY_UP_DIRECTORY:
            text = _("directory copied up from {where} (its entry only, not its files)").format(where=where)
        elif self.via is RwPathOrigin.WHITEOUT:
            if self.lower_size is None or self.lower_type != EntryType.FILE.value:
                text = _("hidden by a whiteout; it still lives in {where}").format(where=where)
            else:
                text = _("hidden by a whiteout; it still lives in {where} ({size} stay in the image)").format(
                    where=where, size=human_size(self.lower_size))
        elif self.via is RwPathOrigin.RECREATED:
            text = _("re-created; {where} had deleted it").format(where=where)
        else:
            text = _("{origin}: {where}").format(origin=self.via.text, where=where)
        if self.first_added_by is not None and self.first_added_by != self.layer:
            text = _("{text}; first added by layer {layer}").format(text=text, layer=self.first_added_by)
        return text

    def as_dict(self) -> dict:
        return {
            "via": self.via.name.lower(),
            "layer": self.layer,
            "diff_id": self.diff_id,
            "instruction": self.instruction,
            "lower_size": self.lower_size,
            "lower_type": self.lower_type,
            "first_added_by": self.first_added_by,
        }


class Attributor:
    """Answers "which image layer did this path of the R/W layer come from?".

    `instructions[i]` is the instruction that made layer i (bottom = 0), e.g. from
    `ImageLayers.entry_for_layer(i).instruction`; missing entries show no instruction.
    """

    def __init__(self, files: FileIndex, instructions: Sequence[str] = ()):
        self.files = files
        self.instructions = tuple(instructions)

    def _instruction(self, layer_index: int) -> str:
        return self.instructions[layer_index] if layer_index < len(self.instructions) else ""

    def attribute(self, path: str, kind: ChangeKind) -> Attribution:
        # docker diff names real paths of the R/W layer: no symlink is followed.
        history = self.files.which(normalize_path(path), follow_symlinks=False)
        first = history.origin.layer_index + 1 if history.origin else None
        if kind is ChangeKind.ADDED:
            if history.events and not history.present:
                last = history.events[-1]
                return Attribution(
                    via=RwPathOrigin.RECREATED, layer=last.layer_index + 1, diff_id=last.diff_id,
                    instruction=self._instruction(last.layer_index), lower_type=last.type.value,
                )
            return Attribution(via=RwPathOrigin.NEW)
        source = history.source
        if source is None:
            return Attribution(via=RwPathOrigin.NOT_IN_IMAGE)
        directory = source.type is EntryType.DIRECTORY
        if kind is ChangeKind.DELETED:
            via = RwPathOrigin.WHITEOUT
        else:
            via = RwPathOrigin.COPY_UP_DIRECTORY if directory else RwPathOrigin.COPY_UP
        return Attribution(
            via=via,
            layer=source.layer_index + 1,
            diff_id=source.diff_id,
            instruction=self._instruction(source.layer_index),
            lower_size=None if directory else source.size,
            lower_type=source.type.value,
            first_added_by=first,
        )


@dataclass(frozen=True)
class PathState:
    """One path of the R/W layer as last seen."""

    path: str
    kind: ChangeKind
    size: int | None = None  # the file's size now, when measured (None: unknown or a directory)
    is_dir: bool | None = None
    attribution: Attribution | None = None
    first_seen: float = 0.0

    def line(self, sizes: bool = True) -> str:
        """`C /data/big.bin (21 MB): copied up from layer 2 (RUN dd ...)`."""
        name = self.path + ("/" if self.is_dir or (self.attribution and self.attribution.is_directory) else "")
        size = "" if self.size is None or self.is_dir or not sizes else f" ({human_size(self.size)})"
        where = f": {self.attribution.describe()}" if self.attribution is not None else ""
        return f"{self.kind.letter} {name}{size}{where}"


#: What each kind of change is called where it is shown (the same words as ChangeKind's values).
KIND_WORDS = {ChangeKind.ADDED: N_("added"), ChangeKind.CHANGED: N_("changed"), ChangeKind.DELETED: N_("deleted")}


def kind_word(kind: ChangeKind) -> str:
    """`added`, `changed` or `deleted`, in the learner's language."""
    return _(KIND_WORDS[kind])


@dataclass(frozen=True)
class ChangeEvent:
    """One change of the R/W layer's contents between two polls.

    `kind` is what the path is now (None: it no longer differs from the image, e.g. a new
    file that was removed again); `previous` what it was before (None: not in the diff).
    `initial` marks what the layer already held when watching began.
    """

    seq: int
    at: float
    path: str
    kind: ChangeKind | None
    previous: ChangeKind | None = None
    size: int | None = None
    is_dir: bool | None = None
    attribution: Attribution | None = None
    size_rw: int | None = None
    initial: bool = False

    @property
    def verb(self) -> str:
        if self.kind is None:
            return _("gone from the R/W layer (same as the image again)")
        if self.previous is None:
            return kind_word(self.kind)
        return _("{previous}, now {kind}").format(previous=kind_word(self.previous), kind=kind_word(self.kind))

    @property
    def letter(self) -> str:
        return "-" if self.kind is None else self.kind.letter

    def describe(self, sizes: bool = True) -> str:
        """One line: what happened to which path, its size, and where it came from."""
        name = self.path + ("/" if self.is_dir or (self.attribution and self.attribution.is_directory) else "")
        size = "" if self.size is None or self.is_dir or not sizes else f" ({human_size(self.size)})"
        where = f": {self.attribution.describe()}" if self.attribution is not None and self.kind is not None else ""
        return f"{self.letter} {name}{size} {self.verb}{where}"

    def explain(self) -> str:
        """A deterministic sentence for a notebook: no time, no SizeRw, no measured size (a
        file may be seen just created and still empty); sizes from the image's layers stay."""
        return self.describe(sizes=False)

    def as_dict(self) -> dict:
        return {
            "seq": self.seq,
            "t": round(self.at, 3),
            "path": self.path,
            "kind": None if self.kind is None else self.kind.value,
            "previous": None if self.previous is None else self.previous.value,
            "size": self.size,
            "directory": self.is_dir,
            "attribution": None if self.attribution is None else self.attribution.as_dict(),
            "size_rw": self.size_rw,
            "initial": self.initial,
        }


class WatchStatus(Worded, enum.Enum):
    STARTING = N_("starting")
    INDEXING = N_("reading the image's layers")
    WATCHING = N_("watching")
    STOPPED = N_("stopped")
    CONTAINER_STOPPED = N_("the container stopped")
    CONTAINER_GONE = N_("the container was removed: its R/W layer is gone")
    FAILED = N_("failed")

    @property
    def active(self) -> bool:
        return self in (WatchStatus.STARTING, WatchStatus.INDEXING, WatchStatus.WATCHING)


def diff_snapshots(
    old: Mapping[str, ChangeKind], new: Mapping[str, ChangeKind]
) -> list[tuple[str, ChangeKind | None, ChangeKind | None]]:
    """(path, before, after) for every path whose kind differs, sorted by path."""
    out = []
    for path in sorted(set(old) | set(new)):
        before, after = old.get(path), new.get(path)
        if before is not after:
            out.append((path, before, after))
    return out


def changes_from_api(raw: Iterable[Mapping] | None) -> dict[str, ChangeKind]:
    """`/containers/{id}/changes` ([{"Path": ..., "Kind": 0|1|2}], or null) as a path -> kind map."""
    return {normalize_path(item["Path"]): ChangeKind.from_api(item["Kind"]) for item in (raw or [])}


@dataclass
class CopyUpState:
    """Everything a monitor shows; changed only through `apply` and `set_status`."""

    container_id: str
    name: str = ""
    image: str = ""
    image_id: str = ""
    status: WatchStatus = WatchStatus.STARTING
    error: str = ""  # the last error the watcher met ("" when fine)
    note: str = ""  # e.g. why attribution is off
    size_rw: int | None = None
    size_rw_start: int | None = None
    size_samples: collections.deque = field(default_factory=lambda: collections.deque(maxlen=MAX_SIZE_SAMPLES))
    paths: dict[str, PathState] = field(default_factory=dict)
    events: collections.deque = field(default_factory=lambda: collections.deque(maxlen=MAX_EVENTS))
    events_total: int = 0
    polls: int = 0
    diffs: int = 0
    elapsed: float = 0.0
    version: int = 0  # bumped on every visible change
    stack: ImageStack | None = None  # the image's stack, once the watcher has indexed it (for the drawing)

    @property
    def short_id(self) -> str:
        return short_id(self.container_id)

    def set_status(self, status: WatchStatus, error: str | None = None, note: str | None = None) -> None:
        self.status = status
        if error is not None:
            self.error = error
        if note is not None:
            self.note = note
        self.version += 1

    def record_size(self, at: float, size_rw: int | None) -> bool:
        """Note a SizeRw sample; True when it differs from the last one."""
        self.polls += 1
        self.elapsed = at
        if size_rw is None:
            return False
        if self.size_rw_start is None:
            self.size_rw_start = size_rw
        changed = size_rw != self.size_rw
        self.size_rw = size_rw
        if changed or not self.size_samples:
            self.size_samples.append((round(at, 3), size_rw))
            self.version += 1
        return changed

    def apply(
        self,
        changes: Mapping[str, ChangeKind],
        at: float,
        size_rw: int | None = None,
        sizes: Mapping[str, tuple[int | None, bool | None]] | None = None,
        attributor=None,
    ) -> list[ChangeEvent]:
        """Take one `/changes` answer (and the sizes measured for it); return the new events.

        `sizes` maps a path to (size, is_directory) as measured now; paths missing from it
        keep what was known. The first call's paths are events marked `initial`.
        """
        sizes = sizes or {}
        initial = self.diffs == 0
        self.diffs += 1
        if size_rw is not None:
            self.record_size(at, size_rw)
            self.polls -= 1  # record_size counted a poll; apply is part of the same poll
        old = {path: state.kind for path, state in self.paths.items()}
        events = []
        for path, before, after in diff_snapshots(old, changes):
            measured = sizes.get(path)
            if after is None:
                gone = self.paths.pop(path)
                event = ChangeEvent(
                    seq=self.events_total, at=at, path=path, kind=None, previous=before,
                    is_dir=gone.is_dir, attribution=gone.attribution, size_rw=self.size_rw,
                )
            else:
                attribution = attributor.attribute(path, after) if attributor is not None else None
                size, is_dir = measured if measured is not None else (None, None)
                if after is ChangeKind.DELETED:
                    size = None
                    is_dir = attribution.is_directory if attribution is not None else None
                elif is_dir is None and attribution is not None and attribution.is_directory:
                    is_dir = True
                self.paths[path] = PathState(
                    path=path, kind=after, size=size, is_dir=is_dir, attribution=attribution, first_seen=at,
                )
                event = ChangeEvent(
                    seq=self.events_total, at=at, path=path, kind=after, previous=before, size=size,
                    is_dir=is_dir, attribution=attribution, size_rw=self.size_rw, initial=initial,
                )
            self.events.append(event)
            self.events_total += 1
            events.append(event)
        # Sizes measured again for paths whose kind did not change (a file that grew).
        for path, (size, is_dir) in sizes.items():
            current = self.paths.get(path)
            if current is not None and current.kind is not ChangeKind.DELETED and (current.size, current.is_dir) != (size, is_dir):
                self.paths[path] = PathState(
                    path=path, kind=current.kind, size=size, is_dir=is_dir if is_dir is not None else current.is_dir,
                    attribution=current.attribution, first_seen=current.first_seen,
                )
                self.version += 1
        if events:
            self.version += 1
        return events

    # -- reading ------------------------------------------------------------------------

    def current(self) -> dict[str, ChangeKind]:
        """The R/W layer as last seen: path -> kind (what `docker diff` said)."""
        return {path: state.kind for path, state in self.paths.items()}

    def find(self, path: str, kind: ChangeKind | None = None) -> ChangeEvent | None:
        """The first kept event for `path` (of `kind`, when given)."""
        path = normalize_path(path)
        for event in list(self.events):
            if event.path == path and (kind is None or event.kind is kind):
                return event
        return None

    def counts(self) -> dict[str, int]:
        return {kind.value: sum(1 for s in self.paths.values() if s.kind is kind) for kind in ChangeKind}

    def copied_up_bytes(self) -> int:
        """Bytes of lower-layer files copied up whole into the R/W layer (as the image has them)."""
        return sum(
            s.attribution.lower_size or 0
            for s in self.paths.values()
            if s.attribution is not None and s.attribution.via is RwPathOrigin.COPY_UP and s.kind is ChangeKind.CHANGED
        )

    def headline(self) -> str:
        name = self.name or self.short_id
        size = _("unknown") if self.size_rw is None else human_size(self.size_rw)
        counts = self.counts()
        return _("container {name}: {status}; R/W layer {size}, "
                 "{added} added, {changed} changed, {deleted} deleted").format(
            name=name, status=self.status.text, size=size,
            added=counts["added"], changed=counts["changed"], deleted=counts["deleted"])

    def summary(self, paths: Iterable[str] | None = None, directories: bool = False, sizes: bool = False) -> str:
        """Plain text: the R/W layer's paths with their attribution, sorted.

        Deterministic for nbval: no times, and measured sizes only with `sizes` (they depend
        on when the watcher looked); the sizes the image's layers hold are always shown.
        """
        wanted = None if paths is None else {normalize_path(p) for p in paths}
        lines = []
        for path in sorted(self.paths):
            state = self.paths[path]
            if wanted is not None and path not in wanted:
                continue
            if wanted is None and not directories and (state.is_dir or (state.attribution and state.attribution.is_directory)) \
                    and state.kind is ChangeKind.CHANGED:
                continue  # parents of a change: docker diff lists them too, they carry no content
            lines.append("  " + state.line(sizes))
        return "\n".join(lines) if lines else "  " + _("(nothing differs from the image)")

    def as_dict(self) -> dict:
        return {
            "container_id": self.container_id,
            "name": self.name,
            "image": self.image,
            "status": self.status.name.lower(),
            "error": self.error,
            "size_rw": self.size_rw,
            "paths": {p: s.kind.value for p, s in sorted(self.paths.items())},
            "events_total": self.events_total,
        }


def copy_up_report(path: str, file_size: int, written: int, before: int, after: int) -> str:
    """Deterministic sentences for the lesson: a small write, a big growth of the R/W layer."""
    grew = after - before
    ratio = grew / file_size if file_size else 0.0
    return "\n".join([
        _("wrote {written} byte(s) to {path}, a file of {size} in an image layer").format(
            written=written, path=path, size=human_size(file_size)),
        _("the R/W layer grew by {grew}: {ratio:.0%} of the file's size, not {written} byte(s)").format(
            grew=human_size(grew), ratio=ratio, written=written),
        _("so the whole file was copied up before the write") if ratio >= 0.99 else _("that is not a full copy-up"),
    ])


def rough_size(size: int | None) -> str:
    """Sizes for text that must read the same on every engine: whole MB, or "under 1 MB".

    Engines count a R/W layer differently (apparent file sizes with overlay2, disk blocks
    with the containerd store), a few kB apart; megabytes agree.
    """
    if size is None:
        return _("unknown")
    if size < 1_000_000:
        return _("under 1 MB")
    return f"{size / 1_000_000:.0f} MB"
