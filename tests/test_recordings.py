"""Every lesson has a recording of a real engine, and none is stale."""

from __future__ import annotations

import pytest

from layerlab.replay.fingerprint import lesson_fingerprint, notebook_lesson_id
from layerlab.replay.store import Recording, recording_path
from support import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_recording_exists_and_is_fresh(notebook):
    import nbformat

    lesson = notebook_lesson_id(nbformat.read(notebook, as_version=4))
    assert lesson, f"{notebook.name} does not start with layerlab.start_lesson(...)"
    path = recording_path(lesson)
    assert path.exists(), f"no recording for {notebook.name}: run `python -m layerlab record {notebook}`"
    header = Recording.load(path).header
    assert header.get("notebook") == notebook.name
    assert header.get("fingerprint") == lesson_fingerprint(notebook), (
        f"the recording of {notebook.name} is stale (the lesson changed since {header.get('recorded_at')}): "
        f"run `python -m layerlab record {notebook.relative_to(ROOT)}` against a live engine"
    )
    assert header["facts"]["engine_version"] and header["learner"]
