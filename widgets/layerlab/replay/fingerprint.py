"""A lesson's fingerprint: what its recording was made from.

It hashes the notebook's code cells and the lesson files it uses (the folders of
`layerlab/lessons/` whose name its code mentions, such as `sample_app`), so changing what
a lesson does makes its recording stale. A twin in another edition has its source's.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

LESSON_FILES = Path(__file__).resolve().parent.parent / "lessons"
_START = re.compile(r"start_lesson\(\s*[\"']([a-z0-9._-]+)[\"']")


def notebook_lesson_id(notebook) -> str | None:
    for cell in notebook.cells:
        if cell.cell_type == "code":
            match = _START.search(cell.source)
            if match:
                return match.group(1)
    return None


def lesson_fingerprint(notebook_path: Path) -> str:
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    # A notebook of another edition (notebooks/ko/) replays its English source's recording: it
    # has that one's fingerprint, so a translated comment never makes a recording stale.
    source = notebook.metadata.get("layerlab", {}).get("source")
    if source:
        return lesson_fingerprint((Path(notebook_path).parent / source).resolve())
    digest = hashlib.sha256()
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    for source in code:
        digest.update(source.encode())
        digest.update(b"\0")
    text = "\n".join(code)
    folders = sorted(p for p in LESSON_FILES.iterdir() if p.is_dir() and p.name in text) if LESSON_FILES.exists() else []
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            digest.update(str(path.relative_to(LESSON_FILES)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
