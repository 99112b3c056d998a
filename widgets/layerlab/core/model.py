"""Images as stacks of history entries, containers' R/W layers, and file changes.

An image's history lists every instruction that made it. Only some of them made a filesystem
layer (RUN, COPY, ADD, an import); the rest (CMD, ENV, LABEL...) changed the configuration
only and are "empty layers" of 0 B. `build_stack` pairs the history with `RootFS.Layers`,
the list of layer digests (diff ids), so that every layer entry knows its digest.

The exact answer needs the image configuration's `empty_layer` flags (read from `docker
save`). Without them `build_stack` falls back to rules about instructions and sizes and marks
the result as inferred, because a 0 B entry may still be a layer: the classic builder's first
`WORKDIR /app` makes a layer holding one directory, while `RUN true` makes none.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Sequence

from .dockerfile import instruction_keyword
from .i18n import _

#: The digest of an empty layer tar (1024 zero bytes), as some builders record it.
EMPTY_LAYER_DIFF_ID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

METADATA_KEYWORDS = frozenset(
    {
        "CMD", "ENTRYPOINT", "ENV", "LABEL", "EXPOSE", "USER", "VOLUME", "ARG",
        "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "MAINTAINER",
    }
)
FILESYSTEM_KEYWORDS = frozenset({"RUN", "COPY", "ADD", "IMPORT"})
# WORKDIR makes a layer only when it has to create the directory.
AMBIGUOUS_KEYWORDS = frozenset({"WORKDIR"})


class ChangeKind(enum.Enum):
    """What happened to a path, as `docker diff` and layer archives report it."""

    ADDED = "added"
    CHANGED = "changed"
    DELETED = "deleted"

    @classmethod
    def from_api(cls, kind: int) -> "ChangeKind":
        """The engine's `/containers/{id}/changes` codes: 0 modified, 1 added, 2 deleted."""
        try:
            return {0: cls.CHANGED, 1: cls.ADDED, 2: cls.DELETED}[int(kind)]
        except (KeyError, ValueError):
            raise ValueError(f"unknown change kind {kind!r} (expected 0, 1 or 2)") from None

    @property
    def letter(self) -> str:
        """The letter `docker diff` prints (A, C, D)."""
        return {ChangeKind.ADDED: "A", ChangeKind.CHANGED: "C", ChangeKind.DELETED: "D"}[self]


@dataclass(frozen=True)
class FileChange:
    """One path that a layer or a container's R/W layer added, changed or deleted."""

    path: str
    kind: ChangeKind
    size: int | None = None

    def __str__(self) -> str:
        size = "" if self.size is None else f" ({human_size(self.size)})"
        return f"{self.kind.letter} {self.path}{size}"


class BuilderKind(enum.Enum):
    """Which tool built an image: the builder a build ran on, or what wrote a history entry."""

    CLASSIC = "classic builder"
    BUILDKIT = "BuildKit"
    IMPORT = "docker import"
    COMMIT = "docker commit"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class HistoryRecord:
    """One history entry as the engine reports it, before it is matched to a layer.

    `image_id` is None where the engine shows `<missing>` (the entry was built elsewhere, or
    by BuildKit, and has no local image of its own). `empty_layer` is None when unknown.
    """

    created_by: str
    size: int
    created: datetime | None = None
    comment: str = ""
    image_id: str | None = None
    tags: tuple[str, ...] = ()
    empty_layer: bool | None = None


@dataclass(frozen=True)
class HistoryEntry:
    """One entry of an image's stack, oldest first, matched to its layer if it made one."""

    index: int
    instruction: str
    keyword: str
    builder: BuilderKind
    created_by: str
    size: int
    created: datetime | None
    comment: str
    image_id: str | None
    diff_id: str | None
    layer_index: int | None

    @property
    def is_layer(self) -> bool:
        return self.diff_id is not None

    @property
    def short_id(self) -> str:
        return short_id(self.image_id) if self.image_id else "<missing>"

    def describe_size(self) -> str:
        return human_size(self.size) if self.is_layer else _("no layer, 0 B")


@dataclass(frozen=True)
class ImageStack:
    """An image as an ordered stack: `entries[0]` is the bottom (oldest) entry."""

    image_id: str
    tags: tuple[str, ...]
    entries: tuple[HistoryEntry, ...]
    diff_ids: tuple[str, ...]
    exact: bool
    size: int = 0

    @property
    def layer_entries(self) -> tuple[HistoryEntry, ...]:
        return tuple(e for e in self.entries if e.is_layer)

    @property
    def metadata_entries(self) -> tuple[HistoryEntry, ...]:
        return tuple(e for e in self.entries if not e.is_layer)

    def entry_for_diff_id(self, diff_id: str) -> HistoryEntry:
        for entry in self.entries:
            if entry.diff_id == diff_id:
                return entry
        raise KeyError(diff_id)

    def summary(self) -> str:
        """A plain-text table, top of the stack first, the way `docker history` prints it."""
        name = self.tags[0] if self.tags else short_id(self.image_id)
        head = (_("{name}: {entries} history entries, {layers} filesystem layers") if self.exact else
                _("{name}: {entries} history entries, {layers} filesystem layers (matched by rule: no empty_layer flags available)"))
        lines = [head.format(name=name, entries=len(self.entries), layers=len(self.diff_ids))]
        for entry in reversed(self.entries):
            where = _("layer {number}").format(number=entry.layer_index + 1) if entry.is_layer else _("config only")
            lines.append(f"  {where:<12} {entry.describe_size():>14}  {truncate(entry.instruction, 60)}")
        return "\n".join(lines)


@dataclass(frozen=True)
class ContainerLayer:
    """A container's thin read/write layer on top of its image's stack."""

    container_id: str
    name: str
    image_id: str
    size_rw: int
    size_root_fs: int
    changes: tuple[FileChange, ...] = field(default_factory=tuple)

    @property
    def short_id(self) -> str:
        return short_id(self.container_id)


class InconsistentImage(ValueError):
    """History and RootFS.Layers cannot be paired."""


_CLASSIC_NOP = re.compile(r"^/bin/sh -c #\(nop\)\s+")
_CLASSIC_RUN = re.compile(r"^(?:\|\d+(?: \S+=\S*)* )?/bin/sh -c ")
_BUILDKIT_SUFFIX = " # buildkit"


def parse_created_by(created_by: str, comment: str = "") -> tuple[str, str, BuilderKind]:
    """Turn a raw `created_by` into (instruction, keyword, builder).

    >>> parse_created_by('/bin/sh -c #(nop)  CMD ["sh"]')[:2]
    ('CMD ["sh"]', 'CMD')
    >>> parse_created_by('RUN /bin/sh -c make -C /app # buildkit', 'buildkit.dockerfile.v0')[:2]
    ('RUN make -C /app', 'RUN')
    """
    text = created_by.strip()
    if not text and comment.startswith("Imported from"):
        return "IMPORT (docker import of a root filesystem tar)", "IMPORT", BuilderKind.IMPORT
    if comment.startswith("buildkit") or text.endswith(_BUILDKIT_SUFFIX):
        if text.endswith(_BUILDKIT_SUFFIX):
            text = text[: -len(_BUILDKIT_SUFFIX)]
        if text.startswith("RUN /bin/sh -c "):
            text = "RUN " + text[len("RUN /bin/sh -c "):]
        elif text.startswith("RUN |"):
            # RUN |2 A=1 B=2 /bin/sh -c cmd : build args shown before the command
            text = "RUN " + _CLASSIC_RUN.sub("", text[4:])
        return text, _keyword(text), BuilderKind.BUILDKIT
    match = _CLASSIC_NOP.match(text)
    if match:
        rest = text[match.end():]
        return rest, _keyword(rest), BuilderKind.CLASSIC
    match = _CLASSIC_RUN.match(text)
    if match:
        rest = "RUN " + text[match.end():]
        return rest, "RUN", BuilderKind.CLASSIC
    if not text:
        builder = BuilderKind.COMMIT if comment else BuilderKind.UNKNOWN
        return (comment or "(no instruction recorded)"), "?", builder
    return text, _keyword(text), BuilderKind.UNKNOWN


def _keyword(instruction: str) -> str:
    word = instruction_keyword(instruction)
    known = METADATA_KEYWORDS | FILESYSTEM_KEYWORDS | AMBIGUOUS_KEYWORDS | {"FROM"}
    return word if word in known else "?"


def build_stack(
    image_id: str,
    tags: Iterable[str],
    history: Sequence[HistoryRecord],
    diff_ids: Sequence[str],
    size: int = 0,
) -> ImageStack:
    """Pair history entries (oldest first) with RootFS layers (bottom first).

    When every record carries `empty_layer`, the pairing is exact. Otherwise rules decide:
    an entry with a size above 0 is a layer; a metadata instruction with 0 B is not; the
    rest (0 B RUN, COPY, ADD, WORKDIR, unknown) become layers only as far as the number of
    layers requires, preferring the ones whose layer is the empty-tar digest.
    """
    diff_ids = tuple(diff_ids)
    parsed = [parse_created_by(r.created_by, r.comment) for r in history]
    if not history and diff_ids:
        # Some tools write no history at all: one anonymous entry per layer.
        history = [HistoryRecord(created_by="", size=0, comment="(no history recorded)") for _n in diff_ids]
        parsed = [("(no history recorded)", "?", BuilderKind.UNKNOWN)] * len(diff_ids)
    exact = all(r.empty_layer is not None for r in history)
    if exact:
        is_layer = [not r.empty_layer for r in history]
    else:
        is_layer = _infer_layers(history, parsed, diff_ids)
    if sum(is_layer) != len(diff_ids):
        raise InconsistentImage(_("image {image} has {layers} layers but its history names {steps} filesystem steps").format(
            image=short_id(image_id), layers=len(diff_ids), steps=sum(is_layer)))
    entries = []
    layer_index = 0
    for index, (record, (instruction, keyword, builder), layer) in enumerate(zip(history, parsed, is_layer)):
        diff_id = diff_ids[layer_index] if layer else None
        entries.append(
            HistoryEntry(
                index=index,
                instruction=instruction,
                keyword=keyword,
                builder=builder,
                created_by=record.created_by,
                size=record.size if layer else 0,
                created=record.created,
                comment=record.comment,
                image_id=record.image_id,
                diff_id=diff_id,
                layer_index=layer_index if layer else None,
            )
        )
        if layer:
            layer_index += 1
    return ImageStack(
        image_id=image_id, tags=tuple(tags), entries=tuple(entries), diff_ids=diff_ids, exact=exact, size=size
    )


def _infer_layers(history, parsed, diff_ids) -> list[bool]:
    verdict: list[bool | None] = []
    for record, (_, keyword, builder) in zip(history, parsed):
        if record.empty_layer is not None:
            verdict.append(not record.empty_layer)
        elif record.size > 0:
            verdict.append(True)
        elif keyword in METADATA_KEYWORDS or keyword == "FROM":
            verdict.append(False)
        else:
            verdict.append(None)
    missing = len(diff_ids) - sum(1 for v in verdict if v)
    undecided = [i for i, v in enumerate(verdict) if v is None]
    if missing <= 0:
        return [bool(v) for v in verdict]
    if missing >= len(undecided):
        return [v is None or bool(v) for v in verdict]
    # Choose `missing` of the undecided entries. Walk oldest first, keeping track of which
    # layer each would land on, and prefer entries whose layer is the empty-tar digest,
    # then filesystem instructions, then the oldest.
    def score(i: int) -> tuple[int, int, int]:
        position = sum(1 for v in verdict[:i] if v)
        empty = position < len(diff_ids) and diff_ids[position] == EMPTY_LAYER_DIFF_ID
        fs = parsed[i][1] in FILESYSTEM_KEYWORDS
        return (0 if empty else 1, 0 if fs else 1, i)

    chosen = set(sorted(undecided, key=score)[:missing])
    return [bool(v) if v is not None else (i in chosen) for i, v in enumerate(verdict)]


def short_id(identifier: str | None) -> str:
    """`sha256:0123abcd...` -> `0123abcd4567` (12 hex digits, as the docker CLI shows)."""
    if not identifier:
        return ""
    return identifier.split(":", 1)[-1][:12]


def human_size(size: int) -> str:
    """Sizes the way `docker` prints them: decimal units, 3 significant digits."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000.0
        if value < 1000 or unit == "TB":
            return f"{value:.3g} {unit}"
    raise AssertionError("unreachable")


def truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
