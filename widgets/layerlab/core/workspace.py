"""Folders on disk where lessons write their build contexts.

Each learner and lesson gets its own folder under the course's cache, marked with a small
JSON file holding the same labels as the engine objects, so that cleanup removes exactly
the folders the course made.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Mapping

from .naming import Namespace, is_ours

WORK_ENV = "LAYERLAB_WORK"
MARKER = ".layerlab.json"


def work_root(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    if environ.get(WORK_ENV):
        return Path(environ[WORK_ENV])
    cache = environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(cache) / "layerlab" / "work"


def context_dir(namespace: Namespace, name: str, environ: Mapping[str, str] | None = None, fresh: bool = True) -> Path:
    """A build-context folder for this learner, lesson and name; emptied first when `fresh`."""
    lesson_dir = work_root(environ) / namespace.learner / namespace.lesson
    folder = lesson_dir / name
    if fresh and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    marker = lesson_dir / MARKER
    if not marker.exists():
        marker.write_text(json.dumps(namespace.labels(), indent=1))
    return folder


def our_lesson_dirs(learner: str, lesson: str | None, environ: Mapping[str, str] | None = None) -> list[Path]:
    """Lesson folders whose marker says they are this learner's (and lesson's)."""
    base = work_root(environ) / learner
    found = []
    for marker in sorted(base.glob(f"*/{MARKER}")) if base.exists() else []:
        try:
            labels = json.loads(marker.read_text())
        except (OSError, ValueError):
            continue
        if is_ours(labels, learner, lesson):
            found.append(marker.parent)
    return found


def build_context(folder) -> Path:
    """`folder` as a build context; a short error when it is not a folder (yet)."""
    from .errors import LayerlabError

    folder = Path(folder)
    if not folder.is_dir():
        raise LayerlabError(f"The build context {folder} is not a folder.", "Write the lesson's files first (run the cells above).")
    return folder
