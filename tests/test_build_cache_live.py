"""Engine tier: the build cache, step by step, for the classic builder and for BuildKit.

For every build, the HIT/MISS of each step must equal what the engine itself reported (read
again here from the raw stream, independently of the parser), and a hit must reuse the very
layer of the build before. BuildKit tests run where the engine has `docker buildx`; where it
has none they skip, except when the engine is expected to have it (LAYERLAB_EXPECT_FLAVOUR
docker-26*, as CI sets): then they fail, so they never pass silently.
"""

from __future__ import annotations

import html
import json
import os
import re
import time

import docker.errors
import pytest

from layerlab.core.build import CacheStatus, FailureKind
from layerlab.core.cacherule import follows_cache_rule
from layerlab.core.model import BuilderKind
from layerlab.core.cachequiz import mark_run, measured_trap
from layerlab.core.sample_app import write_sample_context
from layerlab.core.errors import LayerlabError
from layerlab.course.builds import build, containers_of
from layerlab.course.lesson import Lesson
from layerlab.course.build_cache import CacheBuilds
from layerlab.views.buildcache import build_cache_html
from layerlab.course.build_cache import CacheExercise

pytestmark = pytest.mark.engine

H, M, B, C, F, N = (CacheStatus.HIT, CacheStatus.MISS, CacheStatus.BASE, CacheStatus.CONFIG,
                    CacheStatus.FAILED, CacheStatus.NOT_REACHED)


def need_buildkit(engine) -> None:
    if engine.facts.buildkit:
        return
    expected = os.environ.get("LAYERLAB_EXPECT_FLAVOUR", "")
    if expected.startswith("docker-26"):
        pytest.fail(f"{expected} should have docker buildx, but the engine reports none", pytrace=False)
    pytest.skip(f"Docker {engine.facts.engine_version} has no docker buildx (BuildKit)")


@pytest.fixture(params=[BuilderKind.CLASSIC, pytest.param(BuilderKind.BUILDKIT, marks=pytest.mark.buildkit)],
                ids=["classic", "buildkit"])
def builder(request, engine):
    if request.param is BuilderKind.BUILDKIT:
        need_buildkit(engine)
    return request.param


@pytest.fixture(scope="module")
def lesson(engine, test_learner):
    return Lesson("t-cache", engine=engine, quiet=True)


# -- what the engine reported, read from the raw output -----------------------------------


def classic_reported(raw: list[str]) -> dict[int, CacheStatus]:
    reported: dict[int, CacheStatus] = {}
    current = None
    for line in raw:
        step = re.match(r"^Step (\d+)/\d+ : ", line.strip())
        if step:
            current = int(step.group(1))
            reported[current] = M
        elif line.strip() == "---> Using cache" and current is not None:
            reported[current] = H
    return reported


def buildkit_reported(raw: list[str]) -> dict[str, CacheStatus]:
    """`n/m` -> HIT if any report of that vertex says cached, else MISS (completed ones)."""
    text = "\n".join(raw)
    decoder = json.JSONDecoder()
    position, reported = 0, {}
    while position < len(text):
        if text[position] != "{":
            position += 1
            continue
        try:
            document, position = decoder.raw_decode(text, position)
        except ValueError:
            position += 1
            continue
        for vertex in document.get("vertexes") or []:
            name = re.match(r"^\[(\d+/\d+)\] ", vertex.get("name", ""))
            if not name:
                continue
            if vertex.get("cached"):
                reported[name.group(1)] = H
            elif vertex.get("completed") and reported.get(name.group(1)) is not H:
                reported[name.group(1)] = M
    return reported


def assert_matches_engine(record) -> None:
    """Every step's HIT/MISS is what the engine's own output says."""
    assert record.finished
    if record.builder is BuilderKind.CLASSIC:
        reported = classic_reported(record.raw)
        for step in record.steps:
            if step.keyword == "FROM":
                continue
            assert step.status is reported[step.index], (step.instruction, record.raw)
    else:
        reported = buildkit_reported(record.raw)
        for step in record.lesson_steps:
            if step.keyword == "FROM" or step.status is C:
                continue
            assert step.status is reported[step.builder_label], (step.instruction, step.builder_label)
        assert {s.builder_label for s in record.lesson_steps if s.builder_label} == set(reported)


def layers(record) -> list:
    return [s.layer for s in record.lesson_steps]


def all_containers(engine) -> dict[str, dict]:
    return {c["Id"]: c for c in engine.client.api.containers(all=True)}


def assert_no_container_left(engine, before: dict, record, base_id: str) -> None:
    """No container of this build is left: neither one it named nor one made from its images."""
    assert containers_of(engine, record) == []
    ours = {base_id.split(":")[-1][:12]} | {s.made[:12] for s in record.steps if s.made}

    def left() -> list:
        return [
            c for cid, c in all_containers(engine).items()
            if cid not in before and (c.get("ImageID", "").split(":")[-1][:12] in ours or c.get("Image", "")[:12] in ours)
        ]

    # A container the engine is still removing may be listed a moment longer on a busy engine:
    # wait for the state (none left), with a margin, instead of a fixed pause.
    deadline = time.monotonic() + 15
    while left() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left() == []


# -- the rebuild story ---------------------------------------------------------------------

# On a shared engine the build cache is shared: BuildKit keys a step by the base's layers (not
# its name), and every learner's ping base has the same busybox layer, so another learner's
# `RUN mkdir -p /app` would be a HIT for you. Every step whose point is a MISS depends on
# `{run}`, unique to the learner and the run (a.txt is unique too).
STORY = """\
FROM {base}
RUN mkdir -p /app && echo {run} > /app/run-id
COPY a.txt /app/
RUN cat /app/a.txt > /app/b.txt
CMD ["cat", "/app/b.txt"]
"""


def story(base, lesson) -> str:
    """The story's Dockerfile, its steps unique to this learner and this run."""
    return STORY.format(base=base.reference, run=f"{lesson.namespace.learner}-{os.urandom(6).hex()}")


def test_rebuild_hits_before_the_change_and_misses_from_it_on(engine, lesson, ping_base, builder, tmp_path):
    (tmp_path / "a.txt").write_text(f"first {os.urandom(6).hex()}\n")
    (tmp_path / "Dockerfile").write_text(story(ping_base, lesson))
    last = C if builder is BuilderKind.BUILDKIT else M

    first = build(engine, builder, lesson.namespace, "story", tmp_path, nocache=True)
    assert first.ok and first.statuses() == [B, M, M, M, last]
    assert_matches_engine(first)

    again = build(engine, builder, lesson.namespace, "story", tmp_path)
    assert again.statuses() == [B, H, H, H, H if builder is BuilderKind.CLASSIC else C]
    assert_matches_engine(again)
    assert layers(again) == layers(first)  # a hit is the very same layer
    assert again.image_id == first.image_id

    (tmp_path / "a.txt").write_text(f"changed {os.urandom(6).hex()}\n")
    changed = build(engine, builder, lesson.namespace, "story", tmp_path)
    assert changed.statuses() == [B, H, M, M, last]
    assert_matches_engine(changed)
    assert follows_cache_rule(changed)
    assert changed.step(2).layer == first.step(2).layer  # reused below the change
    assert changed.step(3).layer != first.step(3).layer  # rebuilt from it on
    assert changed.step(4).layer != first.step(4).layer
    assert changed.first_rebuilt().index == 3
    if builder is BuilderKind.CLASSIC:
        assert [s.made for s in changed.lesson_steps[:2]] == [s.made for s in first.lesson_steps[:2]]
        assert [s.bookkeeping for s in changed.steps] == [False] * 5 + [True]  # one course LABEL step
    labels = engine.image(changed.image_id).labels
    assert lesson.namespace.labels().items() <= labels.items()
    assert changed.reference == lesson.namespace.image("story", builder.name.lower())


def test_a_marked_context_misses_where_an_identical_one_hits(engine, lesson, builder, tmp_path):
    """Lesson 03's first build must MISS for every learner: the cache serves identical files
    from anyone's build (as another learner's context would be), `mark_run` makes ours unique."""
    base = lesson.base("app", quiet=True)
    first, same, marked = (tmp_path / name for name in ("first", "same", "marked"))
    for folder in (first, same, marked):
        write_sample_context(folder, base.reference)
    assert build(engine, builder, lesson.namespace, "share-first", first).ok
    again = build(engine, builder, lesson.namespace, "share-same", same)
    assert_matches_engine(again)
    assert (again.step(2).status, again.step(3).status) == (H, H)  # the same files, another folder: a hit
    assert mark_run(marked, lesson.namespace.learner, os.urandom(6).hex()) == "run-id.txt"
    mine = build(engine, builder, lesson.namespace, "share-marked", marked)
    assert_matches_engine(mine)
    assert (mine.step(2).status, mine.step(3).status) == (M, M)  # unique to this run: it runs
    assert follows_cache_rule(mine)


def test_touching_a_file_is_measured(engine, lesson, ping_base, builder, tmp_path):
    """The mtime trap: touch a file without changing it, and see what the builder does."""
    (tmp_path / "a.txt").write_text(f"same {os.urandom(6).hex()}\n")
    (tmp_path / "Dockerfile").write_text(story(ping_base, lesson))
    build(engine, builder, lesson.namespace, "touch", tmp_path)
    later = time.time() + 5
    os.utime(tmp_path / "a.txt", (later, later))
    after = build(engine, builder, lesson.namespace, "touch", tmp_path)
    assert_matches_engine(after)
    trap = measured_trap(after)
    print(trap.sentence())
    # Measured on Docker 20.10 and 26.1 (classic and BuildKit): content checksums, no mtime.
    assert not trap.busted, trap.sentence()


# -- the exercise on the sample app ----------------------------------------------------------


def test_exercise_scores_and_explains(engine, lesson):
    quiz = CacheExercise(lesson, "ignored")
    with pytest.raises(LayerlabError, match="answer"):
        quiz.answer("HIT", "maybe", "HIT")
    with pytest.raises(LayerlabError, match="3 steps"):
        quiz.answer("HIT")
    quiz.answer("MISS", "MISS", "MISS")  # the classic misconception
    result = quiz.check()
    for builder, record in result.records.items():
        assert_matches_engine(record)
        assert record.cached_steps() == [s.index for s in record.lesson_steps if s.status is H]
        assert all(s.status in (H, B, C) for s in record.lesson_steps), record.summary()
        score = result.scores[builder]
        assert score.right == 0 and score.total == (3 if builder is BuilderKind.CLASSIC else 2)
        for v in score.verdicts:
            if v.scored:  # the COPY never saw NOTES.md; the steps after it hit on parent and text
                expected = ".dockerignore keeps NOTES.md out" if v.step == 2 else "reads no file of the build context"
                assert expected in v.explanation, (v.step, v.explanation)
    assert "WRONG" in result.summary() and "Traceback" not in result.summary()
    assert "✘" in result.html()


def test_reordered_dockerfile_keeps_the_slow_step_cached(engine, lesson):
    quiz = CacheExercise(lesson, "reordered")
    quiz.answer("HIT", "HIT", "MISS", "MISS")
    result = quiz.check()
    classic = result.records[BuilderKind.CLASSIC]
    assert classic.statuses() == [B, H, H, M, M]
    assert result.scores[BuilderKind.CLASSIC].perfect
    if BuilderKind.BUILDKIT in result.records:
        buildkit = result.records[BuilderKind.BUILDKIT]
        assert buildkit.statuses() == [B, H, H, M, C]
        assert result.scores[BuilderKind.BUILDKIT].perfect
        assert_matches_engine(buildkit)


def test_edit_rebuilds_everything_from_copy(engine, lesson):
    quiz = CacheExercise(lesson, "edit")
    quiz.answer("HIT", "MISS", "MISS")
    result = quiz.check()
    for builder, record in result.records.items():
        assert_matches_engine(record)
        assert record.step(2).status is M and record.step(3).status is M
        wrong = [v for v in result.scores[builder].verdicts if not v.right]
        assert [v.step for v in wrong] == [2]
        assert "first step that reads message.txt" in wrong[0].explanation


def test_chmod_is_a_change_for_the_cache(engine, lesson):
    """A file whose mode alone changed: measured on every builder the engine has. (Docker 20.10
    and 26.1, classic and BuildKit: the COPY misses, so the mode is part of its cache key.)"""
    quiz = CacheExercise(lesson, "chmod")
    quiz.answer("HIT", "HIT", "HIT")
    result = quiz.check()
    for builder, record in result.records.items():
        assert_matches_engine(record)
        assert record.step(2).status is M and record.step(3).status is M, record.summary()
        wrong = {v.step: v.explanation for v in result.scores[builder].verdicts if not v.right}
        assert "metadata (mode, owner)" in wrong[2] and "Step 2 above it was rebuilt" in wrong[3]


# -- failures --------------------------------------------------------------------------------

FAILURES = {
    "syntax": ("FROM {base}\nRUN mkdir -p /app\nRUNN echo {token}\nCMD [\"sh\"]\n", FailureKind.SYNTAX, 3,
               "unknown instruction"),
    "missing-file": ("FROM {base}\nRUN mkdir -p /app\nCOPY nothere-{token}.txt /app/\nCMD [\"sh\"]\n",
                     FailureKind.MISSING_FILE, 3, "nothere-"),
    "run-fails": ("FROM {base}\nRUN mkdir -p /app\nRUN echo failing-{token} && exit 3\nCMD [\"sh\"]\n",
                  FailureKind.COMMAND_FAILED, 3, "exit"),
}


@pytest.mark.parametrize("kind", list(FAILURES))
def test_failure_shows_step_and_message_and_leaves_no_container(engine, lesson, ping_base, builder, kind, tmp_path):
    text, failure_kind, step, words = FAILURES[kind]
    token = os.urandom(4).hex()
    (tmp_path / "Dockerfile").write_text(text.format(base=ping_base.reference, token=token))
    before = all_containers(engine)
    record = build(engine, builder, lesson.namespace, f"fail-{kind}", tmp_path)
    assert record.finished and record.failure is not None
    failure = record.failure
    assert failure.kind is failure_kind, failure.message
    assert failure.step == step and record.step(step).status is F
    assert words in failure.message.lower() or words in failure.message
    if kind == "run-fails":
        assert failure.exit_code == 3
        assert any(f"failing-{token}" in line for line in failure.output)
    statuses = record.statuses()
    assert statuses[step:] == [N] * (len(statuses) - step) or builder is BuilderKind.BUILDKIT
    page = build_cache_html(_state(record))
    assert "FAILED" in page and html.escape(failure.message) in page and "What to do" in page
    assert_no_container_left(engine, before, record, ping_base.image_id)
    for made in [s.made for s in record.steps if s.made and s.status is M]:
        with pytest.raises(docker.errors.ImageNotFound):
            engine.client.api.inspect_image(made)  # no unlabeled image of the failed build is left
    with pytest.raises(LayerlabError):
        from layerlab.course.builds import check

        check(record)


def _state(record):
    from layerlab.views.buildcache import BuildCacheState

    state = BuildCacheState()
    state.put(record)
    return state


# -- the view, without a browser ------------------------------------------------------------


def test_view_updates_its_widget_while_building(engine, lesson, ping_base, tmp_path):
    (tmp_path / "a.txt").write_text("view\n")
    (tmp_path / "Dockerfile").write_text(story(ping_base, lesson))
    view = CacheBuilds(lesson, "view", tmp_path, title="the view")
    widget = view.widget()
    seen = []
    widget.observe(lambda change: seen.append(change["new"]), names="value")
    view.build(nocache=True)
    assert seen, "the widget was never redrawn"
    assert 'data-status="MISS"' in widget.value and "the view" in widget.value
    assert view.text("classic").startswith("classic builder: the view")
    if engine.facts.buildkit:
        assert 'data-builder="BUILDKIT"' in widget.value
        assert view.agreement().startswith("Both builders made the same cache decision")
    else:
        assert "not on this engine" in widget.value and "not on this engine" in view.agreement()


def test_exercise_widget_answers_in_boxes_not_tracebacks(engine, lesson):
    import ipywidgets

    quiz = CacheExercise(lesson, "edit", warm=False)
    parts = quiz.widget().children
    button = next(part for part in parts if isinstance(part, ipywidgets.Button))
    output = parts[parts.index(button) + 1]
    toggles = [row.children[1] for row in parts if isinstance(row, ipywidgets.HBox)]
    button.click()  # nothing predicted yet
    assert "layerlab-error" in output.value and "No prediction yet" in output.value
    for toggle in toggles:
        toggle.value = "MISS"
    button.click()
    assert "layerlab-exercise-result" in output.value
    assert quiz.result is not None and set(quiz.result.scores) == set(quiz.view.builders)


@pytest.mark.parametrize("builder", [BuilderKind.CLASSIC, pytest.param(BuilderKind.BUILDKIT, marks=pytest.mark.buildkit)])
def test_run_is_cached_by_its_text_alone_however_stale_its_result(lesson, app_base, builder):
    """Lesson 03's stale RUN: build 2 reuses build 1's layer (and its time); --no-cache runs it."""
    from layerlab.course.build_cache import stale_run

    stale = stale_run(lesson, app_base.reference, builder)
    assert stale.statuses == (M, H, M), stale.summary()
    first, second, third = stale.built_at
    assert first and first == second != third, stale.built_at
    assert "still holds build 1's time: True" in stale.summary() and "a new time: True" in stale.summary()


def test_add_url_is_cached_by_the_bytes_it_downloads(lesson, ping_base, builder):
    """Lesson 03's ADD <url>: the same bytes hit (also rewritten, newer), other bytes miss with
    everything after. The classic builder downloads on every build; BuildKit asks with the ETag
    it kept and downloads only a changed file (measured on docker-26 and rootless 26.1)."""
    from layerlab.course.build_cache import add_url_cache

    demo = add_url_cache(lesson, ping_base.reference, builder)
    first, again, rewritten, changed = demo.rounds
    assert [(r.add, r.run) for r in demo.rounds] == [(M, M), (H, H), (H, H), (M, M)], demo.summary()
    assert first.downloaded and changed.downloaded
    if builder is BuilderKind.CLASSIC:
        assert all(r.requests == ("GET 200",) for r in demo.rounds), demo.summary()
    else:
        for hit in (again, rewritten):
            assert hit.requests == ("HEAD 304 (If-None-Match)",) and not hit.downloaded, demo.summary()
        assert changed.requests[0] == "HEAD 200 (If-None-Match)", demo.summary()
