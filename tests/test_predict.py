"""Predict first, and the progress record: pure tests (no engine, no browser)."""

from __future__ import annotations

import json
import multiprocessing
from datetime import datetime, timezone

import pytest

from layerlab.core.errors import LayerlabError
from layerlab.core.model import BuilderKind, HistoryEntry, ImageStack
from layerlab.core.predict import Answer, guesses_in_advance, score
from layerlab.core.progress import append_event, is_event, make_event, progress_path, read_events
from layerlab.core.questions import (
    APPEND_ONE_BYTE,
    ARCHIVES,
    CLEANUP_LATER,
    LAYER_COUNT,
    PID1,
    QUESTIONS,
    TOOLS_LEFT_BEHIND,
    answer_append,
    answer_archives,
    answer_cleanup_later,
    answer_layer_count,
    answer_pid1,
    answer_tools,
)
from layerlab.views.predict import Prediction


def entry(index, keyword, layer):
    return HistoryEntry(index=index, instruction=f"{keyword} ...", keyword=keyword, builder=BuilderKind.CLASSIC,
                        created_by="", size=10 if layer else 0, created=None, comment="", image_id=None,
                        diff_id=f"sha256:{index:012x}{'f' * 52}" if layer else None, layer_index=index if layer else None)


def stack(*entries):
    return ImageStack(image_id="sha256:" + "a" * 64, tags=(), entries=tuple(entries),
                      diff_ids=tuple(e.diff_id for e in entries if e.diff_id), exact=True)


def test_choices_by_text_or_number_and_a_clear_error_otherwise():
    assert APPEND_ONE_BYTE.choice(3) == APPEND_ONE_BYTE.choice("3") == "about 21 MB (the whole file)"
    assert APPEND_ONE_BYTE.choice("ABOUT 1   byte") == "about 1 byte"
    assert LAYER_COUNT.choice("2") == "2"  # a choice that is itself a number is taken as text
    with pytest.raises(LayerlabError, match="not one of the choices") as caught:
        ARCHIVES.choice("maybe")
    assert "1: both" in caught.value.fix
    with pytest.raises(LayerlabError):
        PID1.choice(0)
    assert len(QUESTIONS) == 6 and all(key.split(".")[0] in {"01-layers", "02-copy-on-write", "04-instructions",
                                                            "05-cmd-entrypoint", "06-layer-costs"} for key in QUESTIONS)


def test_layer_count_is_read_from_the_stack_not_assumed():
    base = stack(entry(0, "ADD", True), entry(1, "CMD", False))
    built = stack(*base.entries, entry(2, "COPY", True), entry(3, "RUN", True), entry(4, "CMD", False),
                  entry(5, "LABEL", False))
    answer = answer_layer_count(built, base)
    assert answer.choice == "2" and "made by COPY, RUN" in answer.because and "CMD made none" in answer.because
    assert "LABEL made none" not in answer.because  # the course's bookkeeping is not the lesson's
    one_more = stack(*built.entries, entry(6, "RUN", True))
    assert answer_layer_count(one_more, base).choice == "3"


def test_append_answer_follows_the_measured_growth():
    size = 20 * 1024 * 1024
    assert answer_append(size, size + 40).choice == "about 21 MB (the whole file)"
    assert answer_append(size, 4096).choice == "about 4 kB (one disk block)"  # a block-copying driver
    assert answer_append(size, 1).choice == "about 1 byte"
    assert "20,971,560 bytes" in answer_append(size, size + 40).because


def test_archive_and_pid1_answers():
    assert answer_archives(True, False).choice == "only the gzip-compressed tar"
    assert answer_archives(False, False).choice == "neither"
    assert "the zip's layer holds the archive itself" in answer_archives(True, False).because
    assert answer_pid1(["ping", "127.0.0.1"]).choice == "ping 127.0.0.1"
    with pytest.raises(ValueError):
        answer_pid1(["sh", "-c", "ping"])
    with pytest.raises(ValueError):
        answer_pid1(None)


def test_layer_cost_answers_follow_what_was_measured():
    mb = 1_000_000
    file_size = 20 * 1024 * 1024
    assert answer_cleanup_later(2 * mb, 2 * mb + file_size + 300, file_size).choice == CLEANUP_LATER.choices[1]
    assert answer_cleanup_later(2 * mb, 2 * mb + 4096, file_size).choice == CLEANUP_LATER.choices[0]
    assert answer_cleanup_later(2 * mb, 2 * mb + 2 * file_size, file_size).choice == CLEANUP_LATER.choices[2]
    assert "21 MB bigger than its base" in answer_cleanup_later(2 * mb, 2 * mb + file_size, file_size).because
    assert answer_tools(False, True).choice == "only the file COPY --from names"
    assert answer_tools(True, True).choice == "everything: the toolchain too"
    assert answer_tools(False, False).choice.startswith("nothing")
    assert "do not hold the toolchain" in answer_tools(False, True).because


def test_scoring_right_wrong_and_show_me():
    answer = Answer("2", "Measured: two.")
    assert score(LAYER_COUNT, "2", answer).right is True
    wrong = score(LAYER_COUNT, 4, answer)
    assert wrong.right is False and wrong.guess == "3" and "not this time" in str(wrong) and "Measured: two." in str(wrong)
    shown = score(LAYER_COUNT, None, answer)
    assert shown.right is None and str(shown).startswith("No guess committed")
    with pytest.raises(ValueError):
        score(LAYER_COUNT, "2", Answer("7", "?"))


def test_a_prediction_is_locked_once_the_engine_answered():
    events = []
    guess = Prediction(LAYER_COUNT, on_outcome=events.append, environ={})
    guess.commit("1")
    guess.commit("2")  # may change its mind until the answer is known (by text: "2")
    outcome = guess.reveal(Answer("2", "Measured."))
    assert outcome.right and events == [outcome]
    assert guess.reveal(Answer("3", "later")) is outcome and len(events) == 1  # scored once
    with pytest.raises(LayerlabError, match="locked"):
        guess.commit("3")


def test_the_widget_follows_the_prediction():
    guess = Prediction(ARCHIVES, environ={})
    box = guess.widget()
    choices, lock, status = guess._parts
    assert choices.value is None and lock.disabled and "answer is shown either way" in status.value
    choices.value = "neither"
    assert not lock.disabled
    lock.click()
    assert guess.guess == "neither" and choices.disabled and "locked in: neither" in status.value
    guess.reveal(answer_archives(True, False))
    assert "not this time" in status.value and "layerlab-prediction" in box._dom_classes


def test_guesses_given_in_advance():
    environ = {"LAYERLAB_PREDICTIONS": json.dumps({LAYER_COUNT.key: "2"})}
    assert guesses_in_advance(environ) == {LAYER_COUNT.key: "2"}
    assert Prediction(LAYER_COUNT, environ=environ).guess == "2"
    assert Prediction(PID1, environ=environ).guess is None
    with pytest.raises(LayerlabError, match="not a JSON object"):
        guesses_in_advance({"LAYERLAB_PREDICTIONS": "[1, 2]"})
    with pytest.raises(LayerlabError, match="not one of the choices"):
        Prediction(LAYER_COUNT, environ={"LAYERLAB_PREDICTIONS": json.dumps({LAYER_COUNT.key: "many"})})


# -- the progress record ---------------------------------------------------------------------

def test_events_follow_the_schema():
    now = datetime(2026, 12, 2, 9, 30, tzinfo=timezone.utc)
    event = make_event("prediction", "ana", "01-layers", "replay", now=now, question=LAYER_COUNT.key,
                       guess=None, answer="2", right=None)
    assert event["time"] == "2026-12-02T09:30:00Z" and event["schema"] == 1 and is_event(event)
    assert is_event(make_event("lesson-started", "ana", "01-layers", "live"))
    assert is_event(make_event("exercise", "ana", "03-build-cache", "live", exercise="03-build-cache.touch",
                               builder="BuildKit", right=2, total=3, passed=False))
    with pytest.raises(ValueError, match="missing"):
        make_event("prediction", "ana", "01-layers", "live", question="q")
    with pytest.raises(ValueError, match="unknown"):
        make_event("graduated", "ana", "01-layers", "live")
    with pytest.raises(ValueError, match="source"):
        make_event("lesson-started", "ana", "01-layers", "somewhere")


def test_record_location_and_off(tmp_path):
    assert progress_path("ana", {"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "layerlab" / "progress-ana.jsonl"
    assert progress_path("ana", {"LAYERLAB_PROGRESS": str(tmp_path / "p.jsonl")}) == tmp_path / "p.jsonl"
    assert progress_path("ana", {"LAYERLAB_PROGRESS": "off"}) is None
    assert append_event(make_event("lesson-started", "ana", "00-setup", "live"), None) is False


def test_a_torn_line_is_skipped_and_later_events_still_read(tmp_path):
    path = tmp_path / "p.jsonl"
    append_event(make_event("lesson-started", "ana", "00-setup", "live"), path)
    with path.open("ab") as handle:
        handle.write(b'{"schema": 1, "kind": "predic')  # a crash mid-line
        handle.write(b"\n")
    append_event(make_event("lesson-started", "ana", "01-layers", "live"), path)
    assert [e["lesson"] for e in read_events(path)] == ["00-setup", "01-layers"]
    assert (path.stat().st_mode & 0o777) == 0o600


def _append_many(path, who, count):
    for n in range(count):
        append_event(make_event("lesson-started", who, f"lesson-{n}", "live"), path)


def test_two_processes_appending_at_once_never_interleave(tmp_path):
    path = tmp_path / "p.jsonl"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(path, who, 300)) for who in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    lines = path.read_bytes().splitlines()
    assert len(lines) == 600 and all(is_event(json.loads(line)) for line in lines)

