"""The ids a learner meets, side by side for one image, and the seed's ids mapped onto them.

- **image id**: the sha256 of the image's configuration JSON (`docker images` shows 12 digits).
- **diff id**: the sha256 of one layer's *uncompressed* tar; `RootFS.Layers` lists them. Two
  images that share a layer share its diff id.
- **digest**: the sha256 of what a registry stores (a manifest, or a compressed layer blob).
  An image gets a repo digest only when it is pushed or pulled; one built here has none.
- **history entry id**: `docker history`'s IMAGE column. The classic builder keeps every step
  as an image, so each entry has that image's id; BuildKit and pulled images show `<missing>`.

The seed's figure (from Docker's old storage-driver docs) labels its four layers with ids such
as d3a1f33e8a5a. Those came from Docker before 1.10, when each layer got a random id; today an
id is a hash of content, so the same step built twice from the same inputs has the same diff id.
"""

from __future__ import annotations

from typing import Sequence

from .i18n import _
from .model import ImageStack, short_id

#: The seed's figure, top first, with the instruction the seed gives each id.
SEED_FIGURE = (
    ("91e54dfb1179", "CMD"),
    ("d74508fb6632", "RUN"),
    ("c22013c84729", "COPY"),
    ("d3a1f33e8a5a", "FROM"),
)


def ids_table(stack: ImageStack, base: ImageStack, repo_digests: Sequence[str] = (),
              bookkeeping: str = "LABEL layerlab.") -> str:
    """One row per entry of the lesson's Dockerfile, newest first, like the seed's figure: the
    instruction, its history entry id, its layer's diff id, and the seed's id for that line."""
    own = [e for e in stack.entries[len(base.entries):] if not e.instruction.startswith(bookkeeping)]
    seed = {keyword: seed_id for seed_id, keyword in SEED_FIGURE}
    rows = [(_("instruction"), _("history id"), _("diff id (layer)"), _("the seed's id"))]
    for entry in reversed(own):
        rows.append((entry.instruction[:38], entry.short_id, short_id(entry.diff_id) if entry.diff_id else _("no layer"),
                     seed.get(entry.keyword, "")))
    base_layers = ", ".join(short_id(d) for d in base.diff_ids) or _("none")
    rows.append((_("FROM (the base: {count} layer(s))").format(count=len(base.diff_ids)),
                 base.entries[-1].short_id if base.entries else "", base_layers[:40], seed["FROM"]))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(_("image id: {image_id} (the sha256 of its configuration)").format(image_id=short_id(stack.image_id)))
    lines.append(_("repo digest: {digests}").format(digests=", ".join(repo_digests)) if repo_digests else
                 _("repo digest: none (an image gets one when it is pushed to or pulled from a registry)"))
    return "\n".join(lines)
