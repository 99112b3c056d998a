"""Containers sharing one image's layers, drawn as the course's own SVG (no graphviz needed).

The image's layers are drawn once, as one read-only stack on the left; every container is a
small writable block on the right, with an arrow to the stack it reads. Layers that other
images hold too (the image's SHARED SIZE in `docker system df -v`) are tinted like a base
image. Containers that were removed are greyed out, with their R/W layer crossed out: it went
away with them, while the shared layers stayed. Under the drawing, the figures
`docker system df -v` shows for the same objects.

`sharing_graph(snapshot)` returns a `SharingDrawing`: it displays as SVG in a notebook, on
GitHub and in nbviewer, and as text in a terminal (and for nbval). The SVG is a pure function
of the snapshot: the same bytes on every machine, with or without graphviz (no generated ids,
fixed fonts and character widths, the snapshot's order). `renderer="graphviz"` draws with
graphviz's `dot` instead, when both the Python package and the program are installed; when
they are not, the drawing falls back to the built-in SVG and says so.
"""

from __future__ import annotations

import html
import shutil
from dataclasses import dataclass, field

from ..core.i18n import _, ngettext
from ..core.model import ContainerLayer, HistoryEntry, human_size, short_id, truncate
from ..core.text import columns
from ..core.sharing import SharingSnapshot
from .layerstack import COLORS, _bracket, _text, _wrap
from .sharingtext import _rows, df_lines, image_name, sharing_text

BUILTIN = "builtin"
GRAPHVIZ = "graphviz"
RENDERERS = (BUILTIN, GRAPHVIZ)

WIDTH = 880
LEFT = 150  # room for the brackets on the left of the stack
STACK_RIGHT = 500
RAIL_X = 510  # the amber rail every container reads the stack through
BOX_LEFT = 570
BOX_RIGHT = WIDTH - 12
HEADER = 50
CAPTION = 20  # the column headings above the stack and the containers
STACK_TOP = HEADER + CAPTION
LAYER_HEIGHT = 34
METADATA_HEIGHT = 22
BOX_HEIGHT = 38
BOX_GAP = 8
GAP = 3
CHAR = 6.6  # width of one 11px monospace character
SHARED_FILL, SHARED_STROKE = COLORS["base"]
REMOVED_FILL, REMOVED_STROKE = "#f3f3f3", "#b5b5b5"
READ_COLOR = COLORS["container"][1]


def fit(text: str, chars: int) -> str:
    """`text` in at most `chars` characters, cut in the middle: a name's end tells containers apart."""
    if len(text) <= chars:
        return text
    if chars < 8:
        return truncate(text, max(chars, 1))
    tail = (chars - 1) * 3 // 5
    return text[: chars - 1 - tail] + "…" + text[len(text) - tail:]


def _layer_tooltip(entry: HistoryEntry, readers: int, shared: bool | None) -> str:
    if not entry.is_layer:
        return f"{entry.created_by or entry.instruction}\n" + _("no filesystem layer: configuration only (0 B)")
    lines = [
        entry.created_by or entry.instruction,
        _("layer {number}, diff id {diff_id}").format(number=entry.layer_index + 1, diff_id=entry.diff_id),
        _("size {size} bytes, stored once").format(size=entry.size),
        ngettext("read by {count} container of this image", "read by {count} containers of this image",
                 readers).format(count=readers),
    ]
    if shared:
        lines.append(_("other images hold this layer too: it is part of the image's SHARED SIZE"))
    return "\n".join(lines)


def _arrow(x: float, y: float, color: str) -> str:
    """A small arrowhead pointing left, its tip at (x, y)."""
    return f'<path d="M{x:.1f},{y:.1f} l7,-4 v8 z" fill="{color}"/>'


def _edge(x1: float, y1: float, x2: float, y2: float, color: str, dotted: bool = False) -> str:
    middle = (x1 + x2) / 2
    dash = ' stroke-dasharray="2,3"' if dotted else ""
    return (
        f'<path d="M{x1:.1f},{y1:.1f} C{middle:.1f},{y1:.1f} {middle:.1f},{y2:.1f} {x2:.1f},{y2:.1f}" '
        f'fill="none" stroke="{color}" stroke-width="1.5"{dash}/>'
    )


@dataclass(frozen=True)
class _Row:
    """One entry of the stack as drawn: where it sits, and whether other images hold its layer."""

    entry: HistoryEntry
    top: float
    height: int
    shared: bool


@dataclass(frozen=True)
class _SharingLayout:
    """Where everything goes, worked out before anything is drawn."""

    rows: tuple[_Row, ...]  # top first
    shared_ids: frozenset[str] | None
    stack_height: int
    boxes: tuple[tuple[ContainerLayer, bool], ...]  # (container, removed): the live ones first
    df: tuple[str, ...]  # the lines under "docker system df -v counts them this way"
    captions: tuple[str, ...]
    footer_top: int
    legend_top: int
    height: int
    shared_spans: tuple[tuple[float, float], ...]  # the rows other images hold too, top to bottom


def _sharing_layout(snapshot: SharingSnapshot, show_metadata: bool, note: str) -> _SharingLayout:
    entries = _rows(snapshot, show_metadata)
    shared_ids = snapshot.layers_shared_with_images()
    rows, y = [], float(STACK_TOP)
    for entry in entries:
        row_height = LAYER_HEIGHT if entry.is_layer else METADATA_HEIGHT
        rows.append(_Row(entry, y, row_height, entry.is_layer and shared_ids is not None and entry.diff_id in shared_ids))
        y += row_height + GAP
    stack_height = sum(r.height + GAP for r in rows) - GAP if rows else LAYER_HEIGHT
    boxes = [(c, False) for c in snapshot.containers] + [(c, True) for c in snapshot.removed]
    boxes_height = len(boxes) * (BOX_HEIGHT + BOX_GAP) - BOX_GAP if boxes else BOX_HEIGHT
    footer_top = STACK_TOP + max(stack_height, boxes_height) + 40
    df = df_lines(snapshot)
    if shared_ids is None and snapshot.usage.shared_size > 0:
        df.append(_("which layers other images hold cannot be told from these figures: none is tinted"))
    legend_top = footer_top + 16 + 15 * len(df) + 6
    captions = _wrap(" ".join(filter(None, (note, _("Hover a block for its digest and size.")))), 130)
    height = legend_top + 24 + 14 * len(captions) + 6
    shared_spans = tuple((row.top, row.top + row.height) for row in rows if row.shared)
    return _SharingLayout(tuple(rows), shared_ids, stack_height, tuple(boxes), tuple(df), tuple(captions),
                          footer_top, legend_top, height, shared_spans)


def _stack_row(row: _Row, shared_ids: frozenset[str] | None, readers: int) -> str:
    """One layer (tinted when other images hold it too) or one dashed configuration-only entry."""
    entry, y, row_height, shared, width = row.entry, row.top, row.height, row.shared, STACK_RIGHT - LEFT
    fill, stroke = COLORS["metadata"] if not entry.is_layer else (SHARED_FILL, SHARED_STROKE) if shared else COLORS["layer"]
    dashed = "" if entry.is_layer else ' stroke-dasharray="5,3"'
    kind = "layer" if entry.is_layer else "metadata"
    tooltip = _layer_tooltip(entry, readers, shared if shared_ids is not None else None)
    right = human_size(entry.size) if entry.is_layer else _("no layer, 0 B")
    room = int((width - 24 - len(right) * CHAR) / CHAR)
    color = "#1f1f1f" if entry.is_layer else "#555"
    text_y = y + row_height / 2 + 4
    return (
        f'<g class="{kind}{" shared" if shared else ""}" data-index="{entry.index}" '
        f'data-diff-id="{entry.diff_id or ""}" data-size="{entry.size}" '
        f'data-shared-with-images="{"unknown" if shared_ids is None else str(bool(shared)).lower()}">'
        f"<title>{html.escape(tooltip)}</title>"
        f'<rect x="{LEFT}" y="{y:.1f}" width="{width}" height="{row_height}" rx="3" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="1.2"{dashed}/>'
        + _text(LEFT + 8, text_y, truncate(entry.instruction, max(room, 8)), size=11, fill=color)
        + _text(STACK_RIGHT - 8, text_y, right, size=11, anchor="end", fill=color, weight="bold" if entry.is_layer else "normal")
        + "</g>"
    )


def _image_stack(layout: _SharingLayout, readers: int) -> list[str]:
    """The image's stack, drawn once, with its brackets and the rail every container reads it through."""
    top, bottom, out = STACK_TOP, STACK_TOP + layout.stack_height, []
    if not layout.rows:
        out.append(f'<rect x="{LEFT}" y="{top:.1f}" width="{STACK_RIGHT - LEFT}" height="{LAYER_HEIGHT}" rx="3" '
                   f'fill="#ffffff" stroke="#8a8a8a" stroke-dasharray="5,3"/>')
        out.append(_text(LEFT + 8, top + 21, _("no filesystem layer"), size=11, fill="#555"))
    out.extend(_stack_row(row, layout.shared_ids, readers) for row in layout.rows)
    out.append(_bracket(LEFT - 20 if layout.shared_spans else LEFT - 8, top, bottom, _("image layers"), _("read-only")))
    if layout.shared_spans:
        shared_top, shared_bottom = layout.shared_spans[0][0], layout.shared_spans[-1][1]
        out.append(_bracket(LEFT - 8, shared_top, shared_bottom, "", ""))
        out.append(_text(LEFT - 14, shared_bottom - 16, _("other images"), size=10, anchor="end", mono=False, fill=SHARED_STROKE, weight="bold"))
        out.append(_text(LEFT - 14, shared_bottom - 4, _("hold these too"), size=9, anchor="end", mono=False, fill=SHARED_STROKE))
    if readers:  # every container reads every layer
        out.append(f'<rect x="{RAIL_X - 2}" y="{top:.1f}" width="4" height="{layout.stack_height:.1f}" rx="2" fill="{READ_COLOR}"/>')
        out.append(_text(RAIL_X + 2, bottom + 16, ngettext("every layer stored once, read by {count} container",
                                                           "every layer stored once, read by {count} containers",
                                                           readers).format(count=readers),
                         size=10, anchor="end", mono=False, fill="#8a6d2f", style="italic"))
    return out


def _live_box(container: ContainerLayer, name_text: str, y: float, layer_count: int) -> str:
    """A running (or stopped) container: its own R/W layer, reading every image layer."""
    fill, stroke = COLORS["container"]
    return (
        f'<g class="container" data-container-id="{html.escape(container.container_id)}" '
        f'data-size-rw="{container.size_rw}">'
        "<title>" + html.escape(_("container {name} ({container_id})\n"
                                  "R/W layer: {size_rw} bytes written, removed with the container\n"
                                  "reads all {layers} image layers, which it does not own").format(
            name=container.name, container_id=container.container_id, size_rw=container.size_rw,
            layers=layer_count)) + "</title>"
        f'<rect x="{BOX_LEFT}" y="{y:.1f}" width="{BOX_RIGHT - BOX_LEFT}" height="{BOX_HEIGHT}" rx="3" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
        + _text(BOX_LEFT + 8, y + 15, name_text, size=11, fill="#1f1f1f")
        + _text(BOX_LEFT + 8, y + 30, _("R/W layer {size}").format(size=human_size(container.size_rw)), size=11, fill="#6b4a00", weight="bold")
        + _text(BOX_RIGHT - 8, y + 30, container.short_id, size=10, anchor="end", fill="#8a6d2f")
        + "</g>"
    )


def _removed_box(container: ContainerLayer, name_text: str, y: float) -> str:
    """A removed container, greyed out and crossed out: its R/W layer went with it."""
    crossed = _text(BOX_LEFT + 8, y + 15, name_text, size=11, fill="#999999")
    return (
        f'<g class="container removed" data-container-id="{html.escape(container.container_id)}" '
        f'data-size-rw="{container.size_rw}">'
        "<title>" + html.escape(_("container {name} ({container_id}), removed\n"
                                  "its R/W layer ({size_rw} bytes) is gone with it; the image layers stayed").format(
            name=container.name, container_id=container.container_id, size_rw=container.size_rw)) + "</title>"
        f'<rect x="{BOX_LEFT}" y="{y:.1f}" width="{BOX_RIGHT - BOX_LEFT}" height="{BOX_HEIGHT}" rx="3" '
        f'fill="{REMOVED_FILL}" stroke="{REMOVED_STROKE}" stroke-width="1.2" stroke-dasharray="5,3"/>'
        + crossed.replace("<text ", '<text text-decoration="line-through" ', 1)
        + _text(BOX_LEFT + 8, y + 30, _("removed: its R/W layer ({size}) is gone").format(size=human_size(container.size_rw)),
                size=10, mono=False, fill="#999999")
        + "</g>"
    )


def _container_boxes(layout: _SharingLayout, readers: int, layer_count: int) -> list[str]:
    """The containers on the right, each with its arrow to the rail (a broken link once removed)."""
    out, y, live_index = [], float(STACK_TOP), 0
    for container, removed in layout.boxes:
        middle = y + BOX_HEIGHT / 2
        name_text = fit(container.name, int((BOX_RIGHT - BOX_LEFT - 16) / CHAR))
        if removed:
            out.append(f'<path d="M{BOX_LEFT},{middle:.1f} h-26" fill="none" stroke="{REMOVED_STROKE}" '
                       f'stroke-width="1.5" stroke-dasharray="2,3"/>')
            out.append(_removed_box(container, name_text, y))
        else:
            live_index += 1
            target = STACK_TOP + layout.stack_height * live_index / (readers + 1)
            out.append(_edge(BOX_LEFT, middle, RAIL_X + 9, target, READ_COLOR))
            out.append(_arrow(RAIL_X + 3, target, READ_COLOR))
            out.append(_live_box(container, name_text, y, layer_count))
        y += BOX_HEIGHT + BOX_GAP
    if not layout.boxes:
        out.append(f'<rect x="{BOX_LEFT}" y="{STACK_TOP:.1f}" width="{BOX_RIGHT - BOX_LEFT}" '
                   f'height="{BOX_HEIGHT}" rx="3" fill="#ffffff" stroke="#c4c4c4" stroke-dasharray="5,3"/>')
        out.append(_text(BOX_LEFT + 8, STACK_TOP + 23, _("no container: no R/W layer"), size=11, mono=False, fill="#777"))
    return out


def _sharing_footer(snapshot: SharingSnapshot, layout: _SharingLayout, show_metadata: bool) -> list[str]:
    """What `docker system df -v` counts, the legend, and the captions under it."""
    out = [_text(16, layout.footer_top, _("docker system df -v counts them this way:"), size=11, mono=False, weight="bold", fill="#444")]
    for number, line in enumerate(layout.df):
        out.append(_text(28, layout.footer_top + 16 + 15 * number, line, size=11, mono=False, fill="#333"))
    legend = []
    if any(row.entry.is_layer for row in layout.rows) and len(layout.shared_spans) < len(snapshot.stack.diff_ids):
        legend.append((COLORS["layer"], "", _("image layer")))
    if show_metadata:
        legend.append((COLORS["metadata"], ' stroke-dasharray="5,3"', _("history entry, no layer (0 B)")))
    if layout.shared_spans:
        legend.append(((SHARED_FILL, SHARED_STROKE), "", _("layer other images hold too")))
    legend.append((COLORS["container"], "", _("container R/W layer")))
    if snapshot.removed:
        legend.append(((REMOVED_FILL, REMOVED_STROKE), ' stroke-dasharray="5,3"', _("removed container")))
    x, top = 16, layout.legend_top
    for (fill, stroke), dashed, label in legend:
        out.append(f'<rect x="{x}" y="{top:.1f}" width="18" height="12" rx="2" fill="{fill}" stroke="{stroke}"{dashed}/>')
        out.append(_text(x + 24, top + 10, label, size=10, mono=False, fill="#444"))
        x += 24 + int(columns(label) * 5.2) + 16
    for number, line in enumerate(layout.captions):
        out.append(_text(16, top + 32 + 14 * number, line, size=10, mono=False, fill="#666", style="italic"))
    return out


def sharing_svg(snapshot: SharingSnapshot, show_metadata: bool = False, note: str = "") -> str:
    """The built-in drawing: one read-only stack, each container's R/W layer reading it."""
    layout = _sharing_layout(snapshot, show_metadata, note)
    stack, name = snapshot.stack, image_name(snapshot)
    readers, layer_count = len(snapshot.containers), len(stack.diff_ids)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="layerlab-sharing" width="{WIDTH}" height="{layout.height:.0f}" '
        f'viewBox="0 0 {WIDTH} {layout.height:.0f}" style="max-width:100%;height:auto" '
        f'data-image-id="{html.escape(stack.image_id)}" data-layers="{layer_count}" '
        f'data-containers="{readers}" data-removed="{len(snapshot.removed)}" data-renderer="{BUILTIN}">',
        "<title>" + html.escape(ngettext(
            "{name}: {layers} image layers stored once, read by {count} container, each with its own R/W layer",
            "{name}: {layers} image layers stored once, read by {count} containers, each with its own R/W layer",
            readers).format(name=name, layers=layer_count, count=readers)) + "</title>",
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        _text(16, 20, ngettext("{count} container of {name}", "{count} containers of {name}", readers).format(
            count=readers, name=truncate(name, 70)), size=14, mono=False, weight="bold"),
        _text(16, 38, _("{layers} read-only image layers, stored once ({size}); "
                        "each container writes only to its own thin R/W layer").format(
            layers=layer_count, size=human_size(snapshot.usage.size)), size=11, mono=False, fill="#555"),
        _text(LEFT, HEADER + 10, _("image layers (top first)"), size=11, mono=False, weight="bold", fill="#444"),
        _text(BOX_LEFT, HEADER + 10, _("containers, each with its own R/W layer"), size=11, mono=False, weight="bold",
              fill="#444"),
        *_image_stack(layout, readers),
        *_container_boxes(layout, readers, layer_count),
        *_sharing_footer(snapshot, layout, show_metadata),
        "</svg>",
    ]
    return "".join(out)


def graphviz_missing() -> str | None:
    """Why graphviz cannot draw here, or None when it can (the package and `dot` are both present)."""
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return _("the Python graphviz package is not installed")
    if shutil.which("dot") is None:
        return _("graphviz's `dot` program is not installed")
    return None


def sharing_digraph(snapshot: SharingSnapshot, show_metadata: bool = False):
    """The same picture as a `graphviz.Digraph` (needs the graphviz package; rendering needs `dot`)."""
    import graphviz

    def cell(text: str, color: str = "#d6e6f5", font: str = "#1f1f1f", size: int = 11, style: str = "") -> str:
        extra = f' STYLE="{style}"' if style else ""
        return (
            f'<TR><TD ALIGN="LEFT" BGCOLOR="{color}" BORDER="1"{extra}>'
            f'<FONT FACE="monospace" POINT-SIZE="{size}" COLOR="{font}">{html.escape(text)}</FONT></TD></TR>'
        )

    stack = snapshot.stack
    name = image_name(snapshot)
    shared_ids = snapshot.layers_shared_with_images() or frozenset()
    graph = graphviz.Digraph("sharing", graph_attr={"rankdir": "BT", "nodesep": "0.25", "ranksep": "0.5", "bgcolor": "white"})
    graph.attr("node", shape="plaintext", fontname="sans-serif")
    rows = []
    for entry in _rows(snapshot, show_metadata):
        if entry.is_layer:
            color = SHARED_FILL if entry.diff_id in shared_ids else COLORS["layer"][0]
            rows.append(cell(f"{truncate(entry.instruction, 40):<40} {human_size(entry.size):>9}", color=color))
        else:
            rows.append(cell(f"{truncate(entry.instruction, 40):<40} {'0 B':>9}", color="#ffffff", font="#777777", style="dashed"))
    usage = snapshot.usage
    header = (
        f'<TR><TD BGCOLOR="#3b6ea5"><FONT COLOR="white" POINT-SIZE="12"><B>{html.escape(truncate(name, 48))}</B></FONT><BR/>'
        '<FONT COLOR="white" POINT-SIZE="10">' + html.escape(_("{layers} read-only layers, stored once: {size}").format(
            layers=len(stack.diff_ids), size=human_size(usage.size))) + "</FONT></TD></TR>"
    )
    graph.node("image", label=f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">{header}{"".join(rows)}</TABLE>>',
               tooltip=f"{name} {stack.image_id}")
    for container in snapshot.containers:
        node = f"c_{container.short_id}"
        graph.node(node, label=(
            '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">'
            f'<TR><TD BGCOLOR="#fdf1d8"><FONT POINT-SIZE="10"><B>{html.escape(truncate(container.name, 64))}</B>'
            "<BR/>" + html.escape(_("R/W layer: {size}").format(size=human_size(container.size_rw)))
            + "</FONT></TD></TR></TABLE>>"
        ), tooltip=_("container {container_id}").format(container_id=container.container_id))
        graph.edge("image", node, dir="back", arrowtail="normal", color=READ_COLOR)  # the container reads the image
    for container in snapshot.removed:
        node = f"gone_{container.short_id}"
        graph.node(node, label=(
            '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">'
            f'<TR><TD BGCOLOR="#f3f3f3" STYLE="dashed"><FONT POINT-SIZE="10" COLOR="#999999"><S>{html.escape(truncate(container.name, 64))}</S>'
            "<BR/>" + html.escape(_("removed: its R/W layer ({size}) is gone").format(size=human_size(container.size_rw)))
            + "</FONT></TD></TR></TABLE>>"
        ), tooltip=_("removed container"))
        graph.edge("image", node, style="dotted", color="#bbbbbb", arrowhead="none")
    graph.attr(label="docker system df -v:\\l" + "".join(f"{line}\\l" for line in df_lines(snapshot)), labelloc="b", fontsize="10",
               fontname="sans-serif", fontcolor="#555555")
    return graph


@dataclass
class SharingDrawing:
    """The sharing picture, displayable anywhere: SVG in notebooks, GitHub and nbviewer, text elsewhere.

        sharing_graph(snapshot)                       # the built-in SVG, the same everywhere
        sharing_graph(snapshot, renderer="graphviz")  # graphviz's layout, if `dot` is installed

    `renderer` is the renderer that drew it; `note` says which, and why when graphviz was asked
    for but could not draw.
    """

    snapshot: SharingSnapshot
    show_metadata: bool = False
    requested: str = BUILTIN
    renderer: str = field(init=False, default=BUILTIN)
    note: str = field(init=False, default="")
    _svg: str = field(init=False, default="", repr=False)

    def __post_init__(self) -> None:
        if self.requested not in RENDERERS:
            raise ValueError(f"renderer must be one of {', '.join(RENDERERS)}, not {self.requested!r}")
        if self.requested == GRAPHVIZ:
            reason = graphviz_missing()
            if reason is None:
                try:
                    self._svg = sharing_digraph(self.snapshot, self.show_metadata).pipe(format="svg").decode("utf-8")
                    self.renderer = GRAPHVIZ
                    self.note = _("Drawn by graphviz (dot).")
                    return
                except Exception as error:  # dot crashed or vanished: the built-in drawing still works
                    reason = _("graphviz failed ({error})").format(error=type(error).__name__)
            self.note = _("Drawn by layerlab's built-in SVG: graphviz was asked for, but {reason}.").format(reason=reason)
        else:
            self.note = _("Drawn by layerlab's built-in SVG (no graphviz needed).")
        self._svg = sharing_svg(self.snapshot, self.show_metadata, self.note)

    def svg(self) -> str:
        return self._svg

    def text(self) -> str:
        return sharing_text(self.snapshot, self.show_metadata, self.note)

    def pipe(self, format: str = "svg") -> bytes:
        """The SVG as bytes, like `graphviz.Digraph.pipe(format="svg")` (the only format offered)."""
        if format != "svg":
            raise ValueError("only format='svg' is available")
        return self._svg.encode("utf-8")

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"image/svg+xml": self.svg(), "text/plain": self.text()}

    def save(self, path) -> None:
        from pathlib import Path

        Path(path).write_text(self.svg(), encoding="utf-8")


def sharing_graph(snapshot: SharingSnapshot, show_metadata: bool = False, renderer: str = BUILTIN) -> SharingDrawing:
    """Each container's R/W layer reading the one, shared, read-only image stack."""
    return SharingDrawing(snapshot, show_metadata, renderer)


def drawn_sharing(svg: str) -> dict[str, list[dict[str, str]]]:
    """Read back what a built-in drawing shows: for tests and for checking a saved drawing."""
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.fromstring(svg)
    found: dict[str, list[dict[str, str]]] = {"layers": [], "containers": [], "removed": []}
    for group in root.iter("{http://www.w3.org/2000/svg}g"):
        classes = (group.get("class") or "").split()
        texts = ["".join(t.itertext()) for t in group.iter("{http://www.w3.org/2000/svg}text")]
        if "layer" in classes or "metadata" in classes:
            found["layers"].append({"diff_id": group.get("data-diff-id", ""), "size": group.get("data-size", ""),
                                    "shared": group.get("data-shared-with-images", ""), "text": " | ".join(texts)})
        elif "container" in classes:
            key = "removed" if "removed" in classes else "containers"
            found[key].append({"container_id": group.get("data-container-id", ""),
                               "size_rw": group.get("data-size-rw", ""), "text": " | ".join(texts)})
    return found
