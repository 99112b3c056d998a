"""A notebook's twin in another edition: the English notebook with every unit translated.

The twin keeps the English cells and their ids (a stale unit names a cell of both), starts
with a provenance cell in its own language and a code cell that sets `LAYERLAB_LANG`, so its
outputs never depend on the locale of whoever runs it, and names its English source in its
metadata (`layerlab.source`): the recording fingerprint of a twin is its source's, so a
translated comment never makes a recording stale.
"""

from __future__ import annotations

import copy
from pathlib import Path

from .units import EDITION_TAG, PROVENANCE_TAG, is_generated, translate_code

LANGUAGE_CELL_ID = "layerlab-edition-language"


def language_cell_source(language: str) -> str:
    return f'import os\nos.environ["LAYERLAB_LANG"] = "{language}"'


def build(english, translated: dict[str, str], *, language: str, source: str, provenance: str | None):
    """The twin of `english` (a notebook node), from `translated` (unit context -> text).

    `source` is the English notebook's path relative to the twin; `provenance` the text of the
    twin's first cell (None: none). Outputs are left empty: running the twin stores them."""
    import nbformat

    twin = nbformat.v4.new_notebook()
    twin.metadata = copy.deepcopy(english.metadata)
    twin.metadata["layerlab"] = {"edition": language, "source": source}
    if provenance is not None:
        cell = nbformat.v4.new_markdown_cell(provenance, metadata={"tags": [PROVENANCE_TAG]})
        cell.id = "layerlab-provenance"
        twin.cells.append(cell)
    cell = nbformat.v4.new_code_cell(language_cell_source(language), metadata={"tags": [EDITION_TAG]})
    cell.id = LANGUAGE_CELL_ID
    twin.cells.append(cell)
    for original in english.cells:
        if is_generated(original):
            continue
        cell = copy.deepcopy(original)
        if cell.cell_type == "markdown":
            cell.source = translated.get(f"{cell.id}/markdown", cell.source)
        elif cell.cell_type == "code":
            cell.source = translate_code(cell.source, cell.id, translated)
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
        twin.cells.append(cell)
    return twin


def sources(notebook) -> list[tuple[str, str, str]]:
    """(id, type, source) of every cell but the provenance: what a twin is compared by."""
    return [(c.id, c.cell_type, c.source) for c in notebook.cells
            if PROVENANCE_TAG not in c.get("metadata", {}).get("tags", [])]


def source_of(twin_path: Path, notebook) -> Path | None:
    """The English notebook a twin was made from (None: `notebook` is no twin)."""
    named = notebook.metadata.get("layerlab", {}).get("source")
    return (twin_path.parent / named).resolve() if named else None
