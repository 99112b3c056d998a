"""Containers sharing one image's layers, drawn with graphviz.

The image's layers are drawn once, as one read-only stack; every container is a small
writable block with an arrow to the top of that stack. Containers that were removed are drawn
greyed out, with their R/W layer crossed out: it went away with them, while the shared layers
stayed. A pure function from a `SharingSnapshot` to a `graphviz.Digraph` (which displays as
SVG in a notebook; `dot` must be installed).
"""

from __future__ import annotations

import html

import graphviz

from ..core.model import human_size, short_id, truncate
from ..core.sharing import SharingSnapshot
from .layerstack import is_bookkeeping


def _cell(text: str, color: str = "#d6e6f5", font: str = "#1f1f1f", size: int = 11, border: int = 1, style: str = "") -> str:
    extra = f' STYLE="{style}"' if style else ""
    return (
        f'<TR><TD ALIGN="LEFT" BGCOLOR="{color}" BORDER="{border}"{extra}>'
        f'<FONT FACE="monospace" POINT-SIZE="{size}" COLOR="{font}">{html.escape(text)}</FONT></TD></TR>'
    )


def sharing_graph(snapshot: SharingSnapshot, show_metadata: bool = False) -> graphviz.Digraph:
    """Each container's R/W layer on top of the one, shared, read-only image stack."""
    stack = snapshot.stack
    name = stack.tags[0] if stack.tags else short_id(stack.image_id)
    graph = graphviz.Digraph("sharing", graph_attr={"rankdir": "BT", "nodesep": "0.25", "ranksep": "0.5", "bgcolor": "white"})
    graph.attr("node", shape="plaintext", fontname="sans-serif")
    rows = []
    for entry in reversed(stack.entries):
        if entry.is_layer:
            rows.append(_cell(f"{truncate(entry.instruction, 40):<40} {human_size(entry.size):>9}"))
        elif show_metadata and not is_bookkeeping(entry):
            rows.append(_cell(f"{truncate(entry.instruction, 40):<40} {'0 B':>9}", color="#ffffff", font="#777", style="dashed"))
    usage = snapshot.usage
    header = (
        f'<TR><TD BGCOLOR="#3b6ea5"><FONT COLOR="white" POINT-SIZE="12"><B>{html.escape(truncate(name, 48))}</B></FONT><BR/>'
        f'<FONT COLOR="white" POINT-SIZE="10">{len(stack.diff_ids)} read-only layers, stored once: '
        f'{html.escape(human_size(usage.size))}</FONT></TD></TR>'
    )
    graph.node(
        "image",
        label=f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">{header}{"".join(rows)}</TABLE>>',
        tooltip=f"{name} {stack.image_id}",
    )
    for container in snapshot.containers:
        node = f"c_{container.short_id}"
        graph.node(
            node,
            label=(
                '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">'
                f'<TR><TD BGCOLOR="#fdf1d8"><FONT POINT-SIZE="10"><B>{html.escape(truncate(container.name, 64))}</B>'
                f'<BR/>R/W layer: {html.escape(human_size(container.size_rw))}</FONT></TD></TR></TABLE>>'
            ),
            tooltip=f"container {container.container_id}",
        )
        graph.edge("image", node, dir="back", arrowtail="normal", color="#c08a1e")  # the container reads the image
    for container in snapshot.removed:
        node = f"gone_{container.short_id}"
        graph.node(
            node,
            label=(
                '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">'
                f'<TR><TD BGCOLOR="#f3f3f3" STYLE="dashed"><FONT POINT-SIZE="10" COLOR="#999999"><S>{html.escape(truncate(container.name, 64))}</S>'
                f'<BR/>removed: its R/W layer ({html.escape(human_size(container.size_rw))}) is gone</FONT></TD></TR></TABLE>>'
            ),
            tooltip="removed container",
        )
        graph.edge("image", node, style="dotted", color="#bbbbbb", arrowhead="none")
    note = (
        f"docker system df -v: SIZE {human_size(usage.size)}, SHARED SIZE {human_size(max(usage.shared_size, 0))}, "
        f"UNIQUE SIZE {human_size(usage.unique_size)}, CONTAINERS {usage.containers}"
    )
    graph.attr(label=note, labelloc="b", fontsize="10", fontname="sans-serif", fontcolor="#555555")
    return graph
