"""The seed's storage-driver figures, drawn from the engine's answers.

- `union_mount_svg(state)`: a container as a union mount. Its image's read-only layers (the
  colours and blocks of `LayerStackView`), its thin R/W layer on top, and what the container
  sees beside them. A copied-up file sits in the R/W layer with a connector from the layer it
  came from, as wide as the bytes it copied; a new file sits in the R/W layer alone; a whiteout
  is drawn over the file it hides, which stays in its layer. SizeRw is a bar beside the R/W
  layer, scaled to the image's size. The last changes are highlighted for a moment (no motion
  when the reader asks for reduced motion).
- `shared_layers_svg(stack, containers)`: several containers over one image, each with its own
  R/W layer over the same read-only stack.

Pure functions from core objects to SVG strings: the live monitor redraws them, the lessons
store the last one as a plain output (GitHub and HTML exports show it), and replay draws the
same. Every drawing has a light background of its own, so it reads the same in JupyterLab's
light and dark themes. Stable class names for tests and themes: `image-layer`, `rw-layer`,
`copy-up`, `whiteout`, `new-file`, `size-rw-bar`, `merged-view`.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Sequence

from ..core.copyup import CopyUpState, PathState, RwPathOrigin
from ..core.i18n import N_, _
from ..core.model import ChangeKind, ContainerLayer, HistoryEntry, ImageStack, human_size, truncate
from ..core.text import columns
from .layerstack import COLORS, _bracket, _text

WIDTH = 900
LEFT = 130
STACK_RIGHT = 600
VIEW_X = 624
VIEW_RIGHT = WIDTH - 12
HEADER = 46
LAYER_H = 46
RW_MIN_H = 56
CHIP_H = 17
CONNECTOR_ROOM = 34
MAX_FILES = 10

INK = "#1f1f1f"
MUTED = "#4d4d4d"
RW_INK = "#5c3d00"
COPY_FILL, COPY_STROKE = "#ffe0a3", "#a35f00"
NEW_FILL, NEW_STROKE = "#d7f0dd", "#1e6b31"
WHITEOUT_FILL, WHITEOUT_STROKE = "#ffd9d6", "#a8231a"
LOWER_FILL, LOWER_STROKE = "#ffffff", "#3b6ea5"

#: The last changes flash for a moment; a reader who asked for reduced motion gets a steady
#: outline instead.
STYLE = (
    "<style>"
    "@media (prefers-reduced-motion: no-preference){"
    ".layerlab-overlay .recent > rect.chip{animation:layerlab-flash 2.4s ease-out 1}}"
    "@media (prefers-reduced-motion: reduce){"
    ".layerlab-overlay .recent > rect.chip{stroke:#d35400;stroke-width:2.5}}"
    "@keyframes layerlab-flash{0%{fill:#ffb74d;stroke:#d35400;stroke-width:3}100%{}}"
    "</style>"
)


@dataclass(frozen=True)
class Drawing:
    """A drawing as a plain output: SVG for the eye (GitHub, nbviewer and HTML exports show it),
    its text twin for nbval."""

    svg: str
    text: str

    def _repr_mimebundle_(self, include=None, exclude=None):
        # HTML first for JupyterLab and HTML exports (an inline SVG, so the page can style and
        # inspect it), SVG for viewers that show images only (GitHub), text for nbval.
        return {"text/html": f'<div class="layerlab-drawing">{self.svg}</div>', "image/svg+xml": self.svg,
                "text/plain": self.text}

    def save(self, path) -> None:
        from pathlib import Path

        Path(path).write_text(self.svg, encoding="utf-8")


@dataclass(frozen=True)
class _Drawn:
    """One path of the R/W layer, as the drawing places it."""

    path: str
    role: str  # "copy-up", "new-file" or "whiteout"
    size: int | None  # bytes copied up, written, or hidden
    layer: int | None  # 0-based layer index of the lower file it copied or hides
    recent: bool


def _chosen(state: CopyUpState, recent: int) -> list[_Drawn]:
    """The R/W layer's files worth drawing (no directory entries), newest last, at most MAX_FILES."""
    latest = {e.path for e in list(state.events)[-recent:]} if recent else set()
    out = []
    for row in sorted(state.paths.values(), key=lambda s: (s.first_seen, s.path)):
        drawn = _drawn(row, row.path in latest)
        if drawn is not None:
            out.append(drawn)
    return out[-MAX_FILES:]


def _drawn(row: PathState, recent: bool) -> _Drawn | None:
    origin = row.attribution
    directory = row.is_dir or (origin is not None and origin.is_directory)
    layer = origin.layer - 1 if origin is not None and origin.layer is not None else None
    if row.kind is ChangeKind.DELETED:
        return _Drawn(row.path, "whiteout", origin.lower_size if origin else None, layer, recent)
    if directory:
        return None
    if row.kind is ChangeKind.CHANGED and origin is not None and origin.via is RwPathOrigin.COPY_UP:
        return _Drawn(row.path, "copy-up", origin.lower_size, layer, recent)
    if row.kind is ChangeKind.CHANGED and origin is not None and origin.via is RwPathOrigin.NOT_IN_IMAGE:
        return None  # the engine's own files (/etc/hostname...): not the learner's
    return _Drawn(row.path, "new-file", row.size, None, recent)


def _chip_width(size: int | None, biggest: int, floor: float = 64.0) -> float:
    """As wide as its bytes, on a log scale from 1 B to the biggest file drawn."""
    if not size:
        return floor
    return max(floor, 64.0 + 96.0 * math.log10(1 + size) / math.log10(1 + max(biggest, 10)))


def _name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1] or path


def _chip(x: float, y: float, width: float, role: str, label: str, title: str, recent: bool, data: str = "") -> str:
    fill, stroke = {"copy-up": (COPY_FILL, COPY_STROKE), "new-file": (NEW_FILL, NEW_STROKE),
                    "whiteout": (WHITEOUT_FILL, WHITEOUT_STROKE), "lower-file": (LOWER_FILL, LOWER_STROKE)}[role]
    css = f"{role}{' recent' if recent else ''}"
    return (
        f'<g class="{css}"{data}><title>{html.escape(title)}</title>'
        f'<rect class="chip" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{CHIP_H}" rx="3" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="1.2"/>'
        + _text(x + 5, y + 12.5, truncate(label, int((width - 8) / 6.1)), size=10, fill=INK)
        + "</g>"
    )


def _layer_block(entry: HistoryEntry, top: float, base: bool) -> str:
    fill, stroke = COLORS["base" if base else "layer"]
    right = f"{entry.short_id} · {human_size(entry.size)}"
    label = _("layer {number}: {instruction}")
    # Room for the instruction, in monospace letters: the label's own words count by their drawn
    # width (a Korean syllable takes two).
    room = int((STACK_RIGHT - LEFT - 24 - len(right) * 6.1) / 6.7) - columns(
        label.format(number=entry.layer_index + 1, instruction=""))
    return (
        f'<g class="image-layer" data-layer-index="{entry.layer_index}" data-diff-id="{html.escape(entry.diff_id or "")}">'
        f"<title>{html.escape(entry.created_by or entry.instruction)}</title>"
        f'<rect x="{LEFT}" y="{top:.1f}" width="{STACK_RIGHT - LEFT}" height="{LAYER_H - 4}" rx="3" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="1.2"/>'
        + _text(LEFT + 8, top + 14, label.format(number=entry.layer_index + 1,
                                                instruction=truncate(entry.instruction, max(room, 10))), size=11, fill=INK)
        + _text(STACK_RIGHT - 8, top + 14, right, size=10, anchor="end", fill=MUTED)
        + "</g>"
    )


def _rw_block(top: float, height: float, title: str, size_rw: int | None,
              left: float = LEFT, right: float = STACK_RIGHT, data: str = "") -> str:
    fill, stroke = COLORS["container"]
    size = "?" if size_rw is None else human_size(size_rw)
    return (
        f'<g class="rw-layer"{data}><title>'
        + html.escape(_("{title}: the thin R/W layer, removed with the container").format(title=title)) + "</title>"
        f'<rect x="{left}" y="{top:.1f}" width="{right - left}" height="{height:.1f}" rx="4" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="1.8"/>'
        + _text(left + 8, top + 15, truncate(title, int((right - left - 90) / 6.6)), size=11, fill=RW_INK, weight="bold")
        + _text(right - 8, top + 15, size, size=11, anchor="end", fill=RW_INK)
        + "</g>"
    )


def _size_bar(x: float, y: float, width: float, size_rw: int | None, scale: int) -> str:
    share = 0.0 if not size_rw else min(1.0, size_rw / max(scale, 1))
    label = _("SizeRw {size} (the image: {image_size})").format(size="?" if size_rw is None else human_size(size_rw),
                                                               image_size=human_size(scale))
    return (
        f'<g class="size-rw-bar" data-size-rw="{"" if size_rw is None else size_rw}" data-share="{share:.4f}">'
        "<title>" + html.escape(_("{label}: the bytes the R/W layer holds, as docker ps --size counts them").format(
            label=label)) + "</title>"
        + _text(x, y - 4, label, size=10, mono=False, fill=MUTED)
        + f'<rect x="{x}" y="{y:.1f}" width="{width}" height="10" rx="2" fill="#ffffff" stroke="#a38040"/>'
        f'<rect class="bar" x="{x}" y="{y:.1f}" width="{width * share:.1f}" height="10" rx="2" fill="#d9a13b"/>'
        "</g>"
    )


def _connector(x1: float, y1: float, x2: float, y2: float, role: str) -> str:
    middle = (y1 + y2) / 2
    stroke, dash = (COPY_STROKE, "") if role == "copy-up" else (WHITEOUT_STROKE, ' stroke-dasharray="4,3"')
    return (f'<path class="{role}-connector" d="M{x1:.1f},{y1:.1f} C{x1:.1f},{middle:.1f} {x2:.1f},{middle:.1f} '
            f'{x2:.1f},{y2:.1f}" fill="none" stroke="{stroke}" stroke-width="1.6"{dash}/>')


def _seen(drawn: _Drawn) -> tuple[str, str]:
    """What the container sees at `drawn.path`, and the colour to say it in."""
    if drawn.role == "whiteout":
        if drawn.layer is None:
            return _("{path}: gone (hidden)").format(path=drawn.path), WHITEOUT_STROKE
        return _("{path}: gone (layer {number} keeps it)").format(path=drawn.path, number=drawn.layer + 1), WHITEOUT_STROKE
    if drawn.role == "copy-up":
        return _("{path}: the R/W layer's copy").format(path=drawn.path), COPY_STROKE
    return _("{path}: the R/W layer's (new)").format(path=drawn.path), NEW_STROKE


def _layout_chips(drawn: Sequence[_Drawn], biggest: int) -> tuple[list[tuple[_Drawn, float, int, float]], int]:
    """The R/W layer's chips in rows, left to right: (item, x, row, width), and the row count."""
    chips, x, row = [], LEFT + 10.0, 0
    for item in drawn:
        width = _chip_width(item.size, biggest, 120.0 if item.role == "whiteout" else 64.0)
        if x + width > STACK_RIGHT - 10:
            x, row = LEFT + 10.0, row + 1
        chips.append((item, x, row, width))
        x += width + 8
    return chips, row + 1


def _lower_files(chips, top_of: dict[int, float], biggest: int) -> list[str]:
    """What a copy-up copied or a whiteout hides, right-aligned in its layer, and the connectors
    from the R/W layer's chips down to them (connectors first, so chips sit on top)."""
    lower_x: dict[int, float] = {}
    connectors, lower = [], []
    for item, cx, crow, width in chips:
        if item.layer is None or item.layer not in top_of:
            continue
        lw = _chip_width(item.size, biggest)
        right = lower_x.get(item.layer, STACK_RIGHT - 8)
        lx, ly = max(LEFT + 200, right - lw), top_of[item.layer] + 20
        lower_x[item.layer] = lx - 6
        hidden = item.role == "whiteout"
        label = f"{_name(item.path)} {human_size(item.size) if item.size is not None else ''}".strip()
        data = f' data-path="{html.escape(item.path)}" data-hidden="{str(hidden).lower()}"'
        title = _("{path} in layer {number}").format(path=item.path, number=item.layer + 1)
        lower.append(_chip(lx, ly, lw, "lower-file", label, title, False, data))
        if hidden:
            lower.append(_whiteout_mark(item, lx, ly, lw))
        cy = HEADER + 24 + crow * (CHIP_H + 6) + CHIP_H
        connectors.append(_connector(cx + width / 2, cy, lx + lw / 2, ly, item.role))
    return connectors + lower


def _whiteout_mark(item: _Drawn, x: float, y: float, width: float) -> str:
    return (
        f'<g class="whiteout whiteout-mark" data-path="{html.escape(item.path)}">'
        "<title>" + html.escape(_("{path}: hidden by a whiteout in the R/W layer; its bytes stay in layer {number}").format(
            path=item.path, number=item.layer + 1)) + "</title>"
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{CHIP_H}" rx="3" fill="{WHITEOUT_FILL}" '
        f'fill-opacity="0.45" stroke="{WHITEOUT_STROKE}" stroke-width="1.6" stroke-dasharray="4,2"/>'
        f'<line x1="{x + 3:.1f}" y1="{y + CHIP_H / 2 + 1:.1f}" x2="{x + width - 3:.1f}" y2="{y + CHIP_H / 2 + 1:.1f}" '
        f'stroke="{WHITEOUT_STROKE}" stroke-width="1.6"/></g>'
    )


def _rw_chip(item: _Drawn, x: float, row: int, width: float) -> str:
    size = human_size(item.size) if item.size is not None else ""
    if item.role == "whiteout":
        label = _("whiteout: {name}").format(name=_name(item.path))
        title = _("{path}: deleted; a whiteout hides the lower file").format(path=item.path)
    elif item.role == "copy-up":
        label = f"{_name(item.path)} {size}".strip()
        title = _("{path}: copied up whole from layer {number}").format(
            path=item.path, number=item.layer + 1 if item.layer is not None else "?")
    else:
        label = f"{_name(item.path)} {size}".strip()
        title = _("{path}: new in the R/W layer").format(path=item.path)
    data = f' data-path="{html.escape(item.path)}" data-size="{"" if item.size is None else item.size}"'
    return _chip(x, HEADER + 24 + row * (CHIP_H + 6), width, item.role, label, title, item.recent, data)


def union_mount_svg(state: CopyUpState, base_entries: int = 0, recent: int = 2) -> str:
    """The container of `state` as a union mount (see the module's docstring)."""
    stack = state.stack
    layers = list(reversed(stack.layer_entries)) if stack is not None else []  # top first
    drawn = _chosen(state, recent)
    biggest = max((d.size or 0 for d in drawn), default=0)
    chips, rows = _layout_chips(drawn, biggest)
    rw_height = max(RW_MIN_H, 30 + rows * (CHIP_H + 6))
    layers_top = HEADER + rw_height + CONNECTOR_ROOM
    height = layers_top + len(layers) * LAYER_H + 40
    top_of = {entry.layer_index: layers_top + i * LAYER_H for i, entry in enumerate(layers)}
    name = state.name or state.short_id
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="layerlab-overlay layerlab-union-mount" width="{WIDTH}" '
        f'height="{height:.0f}" viewBox="0 0 {WIDTH} {height:.0f}" data-container="{html.escape(name)}" '
        f'data-size-rw="{"" if state.size_rw is None else state.size_rw}" data-version="{state.version}">',
        f"<title>{html.escape(_twin(state, drawn))}</title>",
        STYLE,
        '<rect width="100%" height="100%" rx="6" fill="#ffffff" stroke="#d0d0d0"/>',
        _text(LEFT, 20, _("container {name} over {image}").format(name=truncate(name, 40),
                                                                  image=truncate(state.image or "?", 44)), size=13,
              mono=False, weight="bold", fill=INK),
        _text(LEFT, 36, _("what the container sees is the R/W layer over the image's read-only layers; "
                          "a change lands in the R/W layer"), size=10, mono=False, fill=MUTED),
        _rw_block(HEADER, rw_height, _("R/W layer of {name}").format(name=name), state.size_rw,
                  data=f' data-files="{len(drawn)}"'),
        _bracket(LEFT - 12, HEADER, HEADER + rw_height, _("container layer"), _("read/write")),
    ]
    if layers:
        out.append(_bracket(LEFT - 12, layers_top, layers_top + len(layers) * LAYER_H - 4, _("image layers"),
                            _("read-only")))
    out += [_layer_block(entry, top_of[entry.layer_index], entry.index < base_entries) for entry in layers]
    out += _lower_files(chips, top_of, biggest)
    out += [_rw_chip(item, x, row, width) for item, x, row, width in chips]
    scale = stack.size if stack is not None and stack.size else (state.size_rw or 1)
    out.append(_size_bar(VIEW_X, HEADER + 18, VIEW_RIGHT - VIEW_X, state.size_rw, scale))
    out += _merged_view(drawn, HEADER + rw_height + 8)
    out.append(legend(height - 16, LEFT, UNION_MOUNT_KEY))
    out.append("</svg>")
    return "".join(out)


def _merged_view(drawn: Sequence[_Drawn], top: float) -> list[str]:
    out = ['<g class="merged-view">', _text(VIEW_X, top + 12, _("what the container sees"), size=11, mono=False,
                                            weight="bold", fill=INK)]
    if not drawn:
        out.append(_text(VIEW_X, top + 30, _("the image's files, unchanged"), size=10, mono=False, fill=MUTED))
    for number, item in enumerate(drawn):
        text, color = _seen(item)
        out.append(_text(VIEW_X, top + 30 + 15 * number, truncate(text, 44), size=10, fill=color))
    out.append("</g>")
    return out


def legend(y: float, x: float, items: Sequence[tuple[str, str, bool, str]]) -> str:
    """A row of swatches (fill, stroke, dashed, label) at `y`: the key under a drawing (each label
    marked with N_ and translated here)."""
    out = ['<g class="legend">']
    for fill, stroke, dashed, marked in items:
        label = _(marked)
        dash = ' stroke-dasharray="5,3"' if dashed else ""
        out.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="16" height="11" rx="2" fill="{fill}" stroke="{stroke}"{dash}/>')
        out.append(_text(x + 21, y, label, size=10, mono=False, fill=MUTED))
        x += 34 + columns(label) * 5.4
    out.append("</g>")
    return "".join(out)


UNION_MOUNT_KEY = ((COPY_FILL, COPY_STROKE, False, N_("copied up whole")), (NEW_FILL, NEW_STROKE, False, N_("new file")),
                   (WHITEOUT_FILL, WHITEOUT_STROKE, False, N_("whiteout (hides a lower file)")),
                   (LOWER_FILL, LOWER_STROKE, False, N_("a file in an image layer")))


def union_mount_text(state: CopyUpState) -> str:
    """The plain-text twin of the drawing: what nbval compares (no sizes that differ by engine)."""
    return _twin(state, _chosen(state, 0))


def _twin(state: CopyUpState, drawn: Sequence[_Drawn]) -> str:
    lines = [_("R/W layer of {name}: {count} file(s) drawn").format(name=state.name or state.short_id, count=len(drawn))]
    for item in drawn:
        number = item.layer + 1 if item.layer is not None else "?"
        if item.role == "copy-up":
            line = _("{path}: copied up from layer {number}").format(path=item.path, number=number)
        elif item.role == "whiteout" and item.layer is not None:
            line = _("{path}: whiteout; the file stays in layer {number}").format(path=item.path, number=number)
        elif item.role == "whiteout":
            line = _("{path}: whiteout; the file stays in no image layer").format(path=item.path)
        else:
            line = _("{path}: new in the R/W layer").format(path=item.path)
        lines.append("  " + line)
    return "\n".join(lines)


def shared_layers_svg(stack: ImageStack, containers: Sequence[ContainerLayer], base_entries: int = 0,
                      title: str = "") -> str:
    """The seed's "containers share image layers" figure: one read-only stack, one R/W layer
    per container on top of it (the same blocks as the union mount)."""
    layers = list(reversed(stack.layer_entries))
    count = max(len(containers), 1)
    span = (STACK_RIGHT - LEFT - 10 * (count - 1)) / count
    rw_top, rw_h = HEADER, 40
    layers_top = rw_top + rw_h + CONNECTOR_ROOM
    height = layers_top + len(layers) * LAYER_H + 16
    name = title or (stack.tags[0] if stack.tags else stack.image_id[:19])
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="layerlab-overlay layerlab-shared-layers" width="{WIDTH}" '
        f'height="{height:.0f}" viewBox="0 0 {WIDTH} {height:.0f}" data-containers="{len(containers)}" '
        f'data-layers="{len(layers)}">',
        "<title>" + _("{count} containers over {name}: one R/W layer each, the image's layers shared").format(
            count=len(containers), name=html.escape(name)) + "</title>",
        '<rect width="100%" height="100%" rx="6" fill="#ffffff" stroke="#d0d0d0"/>',
        _text(LEFT, 20, _("{count} containers over {name}").format(count=len(containers), name=truncate(name, 60)),
              size=13, mono=False, weight="bold", fill=INK),
        _text(LEFT, 36, _("each container has its own thin R/W layer; all of them read the same image layers, "
                          "stored once"), size=10, mono=False, fill=MUTED),
        _bracket(LEFT - 12, rw_top, rw_top + rw_h, _("container layers"), _("read/write, one each")),
        _bracket(LEFT - 12, layers_top, layers_top + len(layers) * LAYER_H - 4, _("image layers"),
                 _("read-only, shared")),
    ]
    for number, container in enumerate(containers):
        left = LEFT + number * (span + 10)
        out.append(_connector(left + span / 2, rw_top + rw_h, (LEFT + STACK_RIGHT) / 2, layers_top, "copy-up")
                   .replace('class="copy-up-connector"', 'class="shares-connector"'))
        out.append(_rw_block(rw_top, rw_h, container.name, container.size_rw, left=left, right=left + span,
                             data=f' data-container-id="{html.escape(container.container_id)}" '
                                  f'data-size-rw="{container.size_rw}"'))
    for index, entry in enumerate(layers):
        out.append(_layer_block(entry, layers_top + index * LAYER_H, entry.index < base_entries))
    total = sum(c.size_rw for c in containers)
    out.append(_text(VIEW_X, rw_top + 16, _("R/W layers: {size} in all").format(size=human_size(total)), size=11,
                     mono=False, weight="bold", fill=INK))
    out.append(_text(VIEW_X, rw_top + 32, _("image layers: {size}, stored once").format(size=human_size(stack.size)),
                     size=10, mono=False, fill=MUTED))
    out.append("</svg>")
    return "".join(out)
