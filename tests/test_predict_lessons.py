"""Lessons 01, 02, 04, 05 and 06 ask for a prediction and score it against the engine, live and in
replay. The guesses are given in advance ($LAYERLAB_PREDICTIONS), as an instructor's demo would,
some right and some wrong; the progress record must hold each lesson's start and each verdict."""

from __future__ import annotations

import json
import os

import pytest

from layerlab.core.progress import read_events
from layerlab.core.questions import APPEND_ONE_BYTE, ARCHIVES, CLEANUP_LATER, LAYER_COUNT, PID1, TOOLS_LEFT_BEHIND

from support import ROOT

LESSONS = ["01-image-layers.ipynb", "02-copy-on-write.ipynb", "04-dockerfile-instructions.ipynb",
           "05-cmd-entrypoint.ipynb", "06-what-layers-cost.ipynb"]
GUESSES = {  # question: (guess, is it right?)
    LAYER_COUNT.key: ("2", True),
    APPEND_ONE_BYTE.key: ("about 1 byte", False),
    ARCHIVES.key: ("only the gzip-compressed tar", True),
    PID1.key: ("ping -c 3 127.0.0.1 127.0.0.1", False),
    CLEANUP_LATER.key: ("about 0 B: the file is gone", False),
    TOOLS_LEFT_BEHIND.key: ("only the file COPY --from names", True),
}


def run_lessons(environ: dict, tmp_path) -> list[dict]:
    import nbformat
    from nbclient import NotebookClient

    record = tmp_path / "progress.jsonl"
    settings = dict(environ, LAYERLAB_PROGRESS=str(record),
                    LAYERLAB_PREDICTIONS=json.dumps({key: guess for key, (guess, _) in GUESSES.items()}))
    saved = dict(os.environ)
    os.environ.update(settings)
    errors = []
    try:
        for name in LESSONS:
            notebook = nbformat.read(ROOT / "notebooks" / name, as_version=4)
            NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=True,
                           resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
            errors += [f"{name}: {o.get('ename')}: {o.get('evalue')}" for cell in notebook.cells
                       for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert not errors, "\n".join(errors)
    return list(read_events(record))


def check(events: list[dict], source: str) -> None:
    started = [e["lesson"] for e in events if e["kind"] == "lesson-started"]
    assert started == ["01-layers", "02-copy-on-write", "04-instructions", "05-cmd-entrypoint", "06-layer-costs"]
    verdicts = {e["question"]: e for e in events if e["kind"] == "prediction"}
    assert set(verdicts) == set(GUESSES)
    for key, (guess, right) in GUESSES.items():
        assert verdicts[key]["guess"] == guess and verdicts[key]["right"] is right, key
    assert {e["source"] for e in events} == {source}


@pytest.mark.timeout(600)
def test_predictions_are_scored_in_replay(tmp_path):
    hidden = {"LAYERLAB_SOURCE": "replay", "LAYERLAB_REPLAY_SPEED": "instant",
              "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    check(run_lessons(hidden, tmp_path), "replay")


@pytest.mark.engine
@pytest.mark.timeout(900)
def test_predictions_are_scored_live(engine, test_learner, tmp_path):
    live = dict(engine.environ, LAYERLAB_SOURCE="live", LAYERLAB_LEARNER=test_learner)
    check(run_lessons(live, tmp_path), "live")
