"""`LayerStackView`: an image drawn the way Docker's storage-driver docs draw it.

The base is at the bottom; above it, one block per history entry with its instruction, short
id and size. Entries that made a filesystem layer are solid blocks; entries that only changed
the configuration (CMD, ENV, LABEL...) are dashed outlines marked "no layer, 0 B": one
instruction is not always one layer. The course's own bookkeeping labels (`LABEL
layerlab.*`, one history entry per label in a classic build) are thin grey strips. Given a
container, its thin R/W layer sits on top.

`layer_stack_svg` is a pure function from core objects to an SVG string: it shows on GitHub,
in HTML exports and in replay. Hovering a block shows its full instruction and digest (SVG
`<title>`); `LayerStackView.widget()` adds a click-to-inspect panel with ipywidgets.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from ..core.i18n import _, ngettext
from ..core.model import ContainerLayer, HistoryEntry, ImageStack, human_size, short_id, truncate
from ..core.text import columns

COURSE_LABEL_PREFIX = "LABEL layerlab."

WIDTH = 720
LEFT = 150  # room for the brackets on the left
RIGHT = WIDTH - 12
LAYER_HEIGHT = 40
METADATA_HEIGHT = 24
BOOKKEEPING_HEIGHT = 12
CONTAINER_HEIGHT = 26
HEADER = 44  # the image's name and figures, above the blocks
GAP = 3
CHAR = 7.2  # width of one 12px monospace character

COLORS = {
    "layer": ("#d6e6f5", "#3b6ea5"),
    "base": ("#e3e0f3", "#5b4fa3"),
    "metadata": ("#ffffff", "#8a8a8a"),
    "bookkeeping": ("#f0f0f0", "#c4c4c4"),
    "container": ("#fdf1d8", "#c08a1e"),
}


def is_bookkeeping(entry: HistoryEntry) -> bool:
    """The course's own `LABEL layerlab.*` entries (not part of the lesson's Dockerfile)."""
    return not entry.is_layer and entry.instruction.startswith(COURSE_LABEL_PREFIX)


def entry_role(entry: HistoryEntry, base_count: int = 0) -> str:
    if is_bookkeeping(entry):
        return "bookkeeping"
    if not entry.is_layer:
        return "metadata"
    return "base" if entry.index < base_count else "layer"


def entry_tooltip(entry: HistoryEntry) -> str:
    lines = [entry.created_by or entry.instruction]
    if entry.is_layer:
        lines.append(_("layer {number}, diff id {diff_id}").format(number=entry.layer_index + 1, diff_id=entry.diff_id))
        lines.append(_("size {size} bytes").format(size=entry.size))
    else:
        lines.append(_("no filesystem layer: this entry changed only the image's configuration (0 B)"))
    lines.append(_("image id {image_id}").format(image_id=entry.image_id) if entry.image_id
                 else _("image id <missing> (built elsewhere or by BuildKit)"))
    if entry.comment:
        lines.append(_("comment: {comment}").format(comment=entry.comment))
    lines.append(_("builder: {builder}").format(builder=entry.builder.value))
    if is_bookkeeping(entry):
        lines.append(_("a label the course adds to everything it builds, so cleanup finds it"))
    return "\n".join(lines)


def _text(x: float, y: float, text: str, size: int = 12, anchor: str = "start", fill: str = "#1f1f1f",
          mono: bool = True, weight: str = "normal", style: str = "normal") -> str:
    family = "ui-monospace,SFMono-Regular,Menlo,Consolas,monospace" if mono else "system-ui,-apple-system,Segoe UI,sans-serif"
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-family="{family}" font-size="{size}" fill="{fill}" '
        f'text-anchor="{anchor}" font-weight="{weight}" font-style="{style}">{html.escape(text)}</text>'
    )


def _bracket(x: float, top: float, bottom: float, label: str, sub: str = "") -> str:
    path = f'<path d="M{x + 10:.1f},{top:.1f} h-6 v{bottom - top:.1f} h6" fill="none" stroke="#777" stroke-width="1.2"/>'
    middle = (top + bottom) / 2
    out = [path, _text(x, middle - (2 if sub else -4), label, size=11, anchor="end", mono=False, weight="bold", fill="#444")]
    if sub:
        out.append(_text(x, middle + 12, sub, size=10, anchor="end", mono=False, fill="#666"))
    return "".join(out)


@dataclass(frozen=True)
class _Block:
    """One drawn block of the stack: its role, where it sits, and its entry (None: the container's)."""

    role: str
    top: int
    height: int
    entry: HistoryEntry | None

    @property
    def bottom(self) -> int:
        return self.top + self.height


@dataclass(frozen=True)
class _StackLayout:
    """Where everything goes, worked out before anything is drawn."""

    name: str
    blocks: tuple[_Block, ...]  # top first
    legend_items: tuple[tuple[str, str], ...]
    height: int

    @property
    def blocks_bottom(self) -> int:
        """The y just below the last block's gap (where the legend starts counting from)."""
        return self.blocks[-1].bottom + GAP if self.blocks else HEADER


def _legend_items(container: ContainerLayer | None, base_entries: int) -> list[tuple[str, str]]:
    items = [("layer", _("filesystem layer")), ("metadata", _("history entry, no layer (0 B)")),
             ("bookkeeping", _("course label (layerlab.*)"))]
    if base_entries:
        items.insert(1, ("base", _("base image layer")))
    if container is not None:
        items.append(("container", _("container R/W layer")))
    return items


def _stack_layout(stack: ImageStack, container: ContainerLayer | None, base_entries: int, title: str | None) -> _StackLayout:
    """The blocks top first (the container's R/W layer, then the entries newest first), and the height."""
    sized: list[tuple[str, int, HistoryEntry | None]] = []
    if container is not None:
        sized.append(("container", CONTAINER_HEIGHT, None))
    for entry in reversed(stack.entries):
        role = entry_role(entry, base_entries)
        sized.append((role, {"bookkeeping": BOOKKEEPING_HEIGHT, "metadata": METADATA_HEIGHT}.get(role, LAYER_HEIGHT), entry))
    blocks, y = [], HEADER
    for role, height, entry in sized:
        blocks.append(_Block(role, y, height, entry))
        y += height + GAP
    legend_items = _legend_items(container, base_entries)
    legend_width = 16 + sum(24 + columns(label) * 5.2 + 12 for _role, label in legend_items)
    legend = 72 + (18 if legend_width > WIDTH else 0)
    height = HEADER + sum(h + GAP for _top, h, _kind in sized) + legend
    name = title or (stack.tags[0] if stack.tags else short_id(stack.image_id))
    return _StackLayout(name, tuple(blocks), tuple(legend_items), height)


def _stack_heading(stack: ImageStack, layout: _StackLayout) -> list[str]:
    """The `<svg>` element's opening, its hover title, the background, and the name and figures on top."""
    entries, layers = len(stack.entries), len(stack.diff_ids)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="layerlab-layer-stack" width="{WIDTH}" height="{layout.height:.0f}" '
        f'viewBox="0 0 {WIDTH} {layout.height:.0f}" data-image-id="{html.escape(stack.image_id)}" '
        f'data-entries="{entries}" data-layers="{layers}">',
        "<title>" + html.escape(_("{name}: {entries} history entries, {layers} layers").format(
            name=layout.name, entries=entries, layers=layers)) + "</title>",
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        _text(LEFT, 20, layout.name, size=14, mono=False, weight="bold"),
        _text(LEFT, 36, _("{entries} history entries, {layers} filesystem layers, {size}").format(
            entries=entries, layers=layers, size=human_size(stack.size)), size=11, mono=False, fill="#555"),
    ]


def _container_block(container: ContainerLayer, block: _Block) -> str:
    """The container's thin R/W layer, on top of the image."""
    fill, stroke = COLORS["container"]
    top = block.top
    return (
        f'<g class="container-layer" data-container-id="{html.escape(container.container_id)}" '
        f'data-size-rw="{container.size_rw}">'
        "<title>" + html.escape(_("R/W layer of container {name} ({container_id})\n"
                                  "{size_rw} bytes written; every change the container makes lands here\n"
                                  "removed with the container").format(
            name=container.name, container_id=container.container_id, size_rw=container.size_rw)) + "</title>"
        f'<rect x="{LEFT}" y="{top:.1f}" width="{RIGHT - LEFT}" height="{block.height}" rx="3" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="1.5"/>'
        + _text(LEFT + 8, top + 17, truncate(_("R/W container layer: {name}").format(name=container.name), 52), fill="#6b4a00")
        + _text(RIGHT - 8, top + 17, f"{container.short_id} · {human_size(container.size_rw)}", anchor="end", fill="#6b4a00")
        + "</g>"
    )


def _entry_block(entry: HistoryEntry, block: _Block) -> list[str]:
    """One history entry: a solid layer, a dashed configuration-only entry, or a thin course label."""
    role, top, block_height = block.role, block.top, block.height
    fill, stroke = COLORS[role]
    width = RIGHT - LEFT
    dashed = ' stroke-dasharray="5,3"' if role == "metadata" else ""
    attributes = (
        f'class="entry {role}" data-index="{entry.index}" data-diff-id="{entry.diff_id or ""}" '
        f'data-size="{entry.size}" data-created-by="{html.escape(entry.created_by, quote=True)}"'
    )
    out = [
        f"<g {attributes}><title>{html.escape(entry_tooltip(entry))}</title>",
        f'<rect x="{LEFT}" y="{top:.1f}" width="{width}" height="{block_height}" rx="3" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="1.2"{dashed}/>',
    ]
    if role == "bookkeeping":
        out.append(_text(LEFT + 8, top + 9.5, _("{instruction}  (course label, no layer)").format(
            instruction=truncate(entry.instruction, 58)), size=8, fill="#8a8a8a"))
    else:
        right = f"{entry.short_id} · {entry.describe_size()}"
        room = int((width - 24 - len(right) * CHAR) / CHAR)
        text_y = top + (block_height / 2) + 4
        color = "#555" if role == "metadata" else "#1f1f1f"
        out.append(_text(LEFT + 8, text_y, truncate(entry.instruction, max(room, 12)), fill=color))
        out.append(_text(RIGHT - 8, text_y, right, anchor="end", fill=color))
    out.append("</g>")
    return out


def _stack_brackets(layout: _StackLayout, container: ContainerLayer | None, base_entries: int, base_name: str) -> list[str]:
    """The brackets on the left: what is read/write, what is read-only, what came from the base."""
    out = []
    image_top = layout.blocks[0].bottom + GAP if container is not None else HEADER
    image_bottom = layout.blocks_bottom - GAP
    if container is not None:
        out.append(_bracket(LEFT - 8, layout.blocks[0].top, layout.blocks[0].bottom, _("container layer"), _("read/write")))
    out.append(_bracket(LEFT - 20 if base_entries else LEFT - 8, image_top, image_bottom, _("image layers"), _("read-only")))
    base_spans = [(b.top, b.bottom) for b in layout.blocks if b.entry is not None and b.entry.index < base_entries]
    if base_spans:
        top, bottom = min(s[0] for s in base_spans), max(s[1] for s in base_spans)
        out.append(_bracket(LEFT - 8, top, bottom, "", ""))
        out.append(_text(LEFT - 14, bottom - 16, _("base image"), size=10, anchor="end", mono=False, fill="#5b4fa3", weight="bold"))
        if base_name:
            short = base_name.rsplit("/", 1)[-1]
            out.append(_text(LEFT - 14, bottom - 4, truncate(short, 24), size=9, anchor="end", mono=False, fill="#5b4fa3"))
    return out


def _stack_legend(stack: ImageStack, layout: _StackLayout) -> list[str]:
    """The legend under the stack (wrapping when it is wider than the drawing), then the hover note."""
    out = []
    y = layout.blocks_bottom + 10
    x = 16
    for role, label in layout.legend_items:
        width_needed = 24 + columns(label) * 5.2 + 12
        if x + width_needed > WIDTH:
            x, y = 16, y + 18
        fill, stroke = COLORS[role]
        dashed = ' stroke-dasharray="5,3"' if role == "metadata" else ""
        out.append(f'<rect x="{x}" y="{y:.1f}" width="18" height="12" rx="2" fill="{fill}" stroke="{stroke}"{dashed}/>')
        out.append(_text(x + 24, y + 10, label, size=10, mono=False, fill="#444"))
        x += width_needed
    bookkeeping = sum(1 for e in stack.entries if is_bookkeeping(e))
    note = _("Hover a block for its full instruction and digest.")
    if bookkeeping:
        note = ngettext("{count} thin grey entry is the labels the course adds to find its objects again "
                        "(one LABEL instruction per classic build; BuildKit adds none).",
                        "{count} thin grey entries are the labels the course adds to find its objects again "
                        "(one LABEL instruction per classic build; BuildKit adds none).",
                        bookkeeping).format(count=bookkeeping) + " " + note
    for number, line in enumerate(_wrap(note, 100)):
        out.append(_text(LEFT, y + 30 + 13 * number, line, size=10, mono=False, fill="#666", style="italic"))
    return out


def layer_stack_svg(
    stack: ImageStack,
    container: ContainerLayer | None = None,
    base_entries: int = 0,
    base_name: str = "",
    title: str | None = None,
) -> str:
    """Draw the stack as SVG. `base_entries`: how many bottom entries came from the base image."""
    layout = _stack_layout(stack, container, base_entries, title)
    out = _stack_heading(stack, layout)
    for block in layout.blocks:
        if block.entry is None:
            assert container is not None
            out.append(_container_block(container, block))
        else:
            out.extend(_entry_block(block.entry, block))
    out.extend(_stack_brackets(layout, container, base_entries, base_name))
    out.extend(_stack_legend(stack, layout))
    out.append("</svg>")
    return "".join(out)


def _wrap(text: str, width: int) -> list[str]:
    lines, current = [], ""
    for word in text.split():
        if current and columns(current) + 1 + columns(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    return lines + ([current] if current else [])


def stack_text(stack: ImageStack, container: ContainerLayer | None = None, base_entries: int = 0) -> str:
    """The same drawing as plain text, top first (what nbval compares, and a screen reader reads)."""
    lines = []
    if container is not None:
        lines.append("[R/W]  " + _("container {name}: {size} written").format(
            name=container.name, size=human_size(container.size_rw)))
    for entry in reversed(stack.entries):
        role = entry_role(entry, base_entries)
        tag = {"layer": "[layer]", "base": "[base] ", "metadata": "[ -- ] ", "bookkeeping": "[label]"}[role]
        lines.append(f"{tag} {truncate(entry.instruction, 56):<56} {entry.short_id:>12}  {entry.describe_size()}")
    bookkeeping = sum(1 for e in stack.entries if is_bookkeeping(e))
    figures = {"entries": len(stack.entries), "layers": len(stack.diff_ids), "count": bookkeeping}
    if bookkeeping:
        lines.append(ngettext("{entries} history entries, {layers} layers; {count} entry is the course's labels (no layer)",
                              "{entries} history entries, {layers} layers; {count} of the entries are the course's labels "
                              "(no layer)", bookkeeping).format(**figures))
    else:
        lines.append(_("{entries} history entries, {layers} layers").format(**figures))
    return "\n".join(lines)


@dataclass
class LayerStackView:
    """An image's stack, displayable anywhere: SVG for notebooks and GitHub, text for terminals.

        LayerStackView(stack)                      # shows the SVG
        LayerStackView(stack, container=layer)     # with the R/W layer on top
        LayerStackView(stack).widget()             # click a block to inspect it
    """

    stack: ImageStack
    container: ContainerLayer | None = None
    base: ImageStack | None = None
    title: str | None = None

    @property
    def base_entries(self) -> int:
        if self.base is None:
            return 0
        count = len(self.base.entries)
        mine = [e.created_by for e in self.stack.entries[:count]]
        return count if mine == [e.created_by for e in self.base.entries] else 0

    @property
    def base_name(self) -> str:
        return self.base.tags[0] if self.base is not None and self.base.tags else ""

    def svg(self) -> str:
        return layer_stack_svg(self.stack, self.container, self.base_entries, self.base_name, self.title)

    def text(self) -> str:
        return stack_text(self.stack, self.container, self.base_entries)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"image/svg+xml": self.svg(), "text/plain": self.text()}

    def save(self, path) -> None:
        from pathlib import Path

        Path(path).write_text(self.svg(), encoding="utf-8")

    def widget(self, files=None, whiteouts: str = ""):
        """The SVG with a list of entries: click one to see its instruction, digest and files
        (and, under a layer that deletes, `whiteouts`: the engine's whiteout form)."""
        import ipywidgets as widgets

        entries = list(reversed(self.stack.entries))
        options = [(f"{e.index + 1:>2}. {truncate(e.instruction, 60)}", e.index) for e in entries]
        picker = widgets.Select(options=options, rows=min(len(options), 12), layout=widgets.Layout(width="100%"))
        details = widgets.HTML()

        def show(change=None) -> None:
            details.value = entry_details_html(self.stack.entries[picker.value], files, whiteouts=whiteouts)

        picker.observe(show, names="value")
        picker.value = entries[0].index
        show()
        drawing = widgets.HTML(self.svg())
        picker.layout = widgets.Layout(width="46%")
        details.layout = widgets.Layout(width="54%")
        return widgets.VBox(
            [drawing, widgets.HTML(_("<b>Click an entry</b> (newest first) to see it as the engine stores it:")),
             widgets.HBox([picker, details])]
        )


def entry_details_html(entry: HistoryEntry, files=None, limit: int = 15, whiteouts: str = "") -> str:
    rows = [
        (_("instruction"), entry.instruction),
        (_("created by"), entry.created_by or _("(empty)")),
        (_("builder"), entry.builder.value),
        (_("image id"), entry.image_id or "<missing>"),
        (_("layer"), f"{entry.layer_index + 1}: {entry.diff_id}" if entry.is_layer else _("none (configuration only, 0 B)")),
        (_("size"), entry.describe_size()),
    ]
    body = "".join(
        f'<tr><th style="text-align:left;padding:1px 8px 1px 0;vertical-align:top;line-height:1.3">{html.escape(k)}</th>'
        f'<td style="font-family:monospace;word-break:break-all;padding:1px 0;line-height:1.3">{html.escape(v)}</td></tr>'
        for k, v in rows
    )
    listing = ""
    if files is not None and entry.is_layer:
        layer = files.layers[entry.layer_index]
        listing = f"<pre style='font-size:11px;max-height:220px;overflow:auto'>{html.escape(layer.summary(limit=limit))}</pre>"
        if whiteouts and layer.deleted:
            listing += f"<p style='font-size:11px;color:#555;margin:2px 0'>{html.escape(whiteouts)}</p>"
        if entry.layer_index in getattr(files, "cached_layers", ()):  # widget state only: nbval never compares it
            listing += ("<p class='layerlab-cached' style='font-size:11px;color:#555;margin:2px 0'>"
                        + _("(file list from your index cache: this layer was read once before)") + "</p>")
    return f"<table style='font-size:12px;border-collapse:collapse'>{body}</table>{listing}"


def drawn_entries(svg: str) -> list[dict[str, str]]:
    """Read back what an SVG drew (top first): for tests and for checking a saved drawing."""
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.fromstring(svg)
    found = []
    for group in root.iter("{http://www.w3.org/2000/svg}g"):
        classes = (group.get("class") or "").split()
        if "entry" in classes:
            found.append({
                "role": classes[1],
                "index": group.get("data-index", ""),
                "diff_id": group.get("data-diff-id", ""),
                "size": group.get("data-size", ""),
                "created_by": group.get("data-created-by", ""),
            })
        elif "container-layer" in classes:
            found.append({"role": "container", "container_id": group.get("data-container-id", ""),
                          "size": group.get("data-size-rw", "")})
    return found
