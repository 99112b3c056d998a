"""Core tier: build steps parsed from canned classic and BuildKit streams (no engine).

The canned streams copy the shapes the engines wrote on this project's machines: the classic
builder of Docker 20.10 and 26.1 (through the SDK), and `docker buildx build
--progress=rawjson` of buildx 0.13 on Docker 26.1 (pretty-printed JSON objects, then plain
text after a failure).
"""

from __future__ import annotations

import base64
import json

import pytest

from layerlab.core.build import attach_layers, BuildRecord, CacheStatus, classify_failure, FailureKind
from layerlab.core.buildstream import parse_buildkit_stream, parse_classic_stream, parse_timestamp
from layerlab.core.cacherule import cache_rule, follows_cache_rule
from layerlab.core.dockerfile import parse_dockerfile
from layerlab.core.model import BuilderKind, HistoryEntry

H, M, B, C, F, N = (CacheStatus.HIT, CacheStatus.MISS, CacheStatus.BASE, CacheStatus.CONFIG,
                    CacheStatus.FAILED, CacheStatus.NOT_REACHED)

DOCKERFILE = """\
FROM layerlab-you/base-busybox:1.35.0
RUN mkdir -p /app
COPY a.txt /app/
RUN cat /app/a.txt > /app/b.txt
CMD ["sh"]
"""

# -- classic -----------------------------------------------------------------------------

CLASSIC_REBUILD = [
    "Step 1/6 : FROM layerlab-you/base-busybox:1.35.0", "\n", " ---> 113e76aa5ae7\n",
    "Step 2/6 : RUN mkdir -p /app", "\n", " ---> Using cache\n", " ---> 8c0b925c7805\n",
    "Step 3/6 : COPY a.txt /app/", "\n", " ---> 19c35f7fc349\n",
    "Step 4/6 : RUN cat /app/a.txt > /app/b.txt", "\n", " ---> Running in f75fb5639123\n",
    "Removing intermediate container f75fb5639123\n", " ---> 7a5872a7f036\n",
    "Step 5/6 : CMD [\"sh\"]", "\n", " ---> Running in 27f7841cb7ab\n",
    "Removing intermediate container 27f7841cb7ab\n", " ---> d50d030cedcd\n",
    "Step 6/6 : LABEL layerlab.course=layerlab layerlab.lesson=03-build-cache layerlab.learner=you", "\n",
    " ---> Running in a6b2ac79e97f\n", " ---> f602e46cb61e\n",
    "Successfully built f602e46cb61e\n", "Successfully tagged layerlab-you/03-build-cache-demo:latest\n",
]


def test_dockerfile_instructions_join_continuations_and_skip_comments():
    text = "# syntax=docker/dockerfile:1\nFROM a AS b\n\nRUN one \\\n  # a comment\n  && two\ncopy x /y\n"
    found = parse_dockerfile(text)
    assert [(i.line, i.keyword, i.text) for i in found] == [
        (2, "FROM", "FROM a AS b"), (4, "RUN", "RUN one && two"), (7, "COPY", "copy x /y"),
    ]
    assert [i.makes_buildkit_step for i in found] == [True, True, True]
    assert not parse_dockerfile("CMD x")[0].makes_buildkit_step


def test_classic_rebuild_hit_then_misses():
    record = parse_classic_stream(CLASSIC_REBUILD, DOCKERFILE, image_id="sha256:" + "f6" * 32)
    assert record.ok
    assert record.statuses() == [B, H, M, M, M]
    assert [s.made for s in record.lesson_steps] == [
        "113e76aa5ae7", "8c0b925c7805", "19c35f7fc349", "7a5872a7f036", "d50d030cedcd"]
    assert record.step(4).container == "f75fb5639123"
    assert [s.instruction for s in record.steps if s.bookkeeping] == [
        "LABEL layerlab.course=layerlab layerlab.lesson=03-build-cache layerlab.learner=you"]
    assert record.cached_steps() == [2] and record.rebuilt_steps() == [3, 4, 5]
    assert record.first_rebuilt().index == 3
    assert follows_cache_rule(record)
    assert record.statuses() == cache_rule([s.instruction for s in record.lesson_steps], 3)
    text = record.summary()
    assert "3. COPY a.txt /app/" in text and "MISS" in text and "(+ the LABEL step the course adds, rebuilt)" in text
    assert "-> 1 from the cache, 3 rebuilt" in text


def test_classic_steps_are_numbered_as_the_learner_wrote_them():
    """The course's one LABEL step is left out of the numbers the learner sees."""
    from layerlab.core.buildstream import ClassicStreamParser
    record = BuildRecord.for_dockerfile(BuilderKind.CLASSIC, DOCKERFILE)
    parser = ClassicStreamParser(record, clock=lambda: 0.0, course_steps=1)
    shown = []
    for line in CLASSIC_REBUILD:
        for piece in line.splitlines():
            parser.feed_line(piece)
            shown.append(parser.shown(piece))
    steps = [line for line in shown if line.startswith(("Step", "Course step"))]
    assert steps[0] == "Step 1/5 : FROM layerlab-you/base-busybox:1.35.0"
    assert steps[4] == 'Step 5/5 : CMD ["sh"]'
    assert steps[5].startswith("Course step : LABEL layerlab.course=layerlab ")
    assert steps[5].endswith("(the course's labels, added after your 5 steps)")
    assert [s.builder_label for s in record.steps] == ["1/5", "2/5", "3/5", "4/5", "5/5", "course"]
    assert " ---> Using cache" in shown  # every other line as the engine wrote it
    plain = ClassicStreamParser(BuildRecord.for_dockerfile(BuilderKind.CLASSIC, DOCKERFILE), clock=lambda: 0.0)
    assert plain.shown("Step 2/6 : RUN mkdir -p /app") == "Step 2/6 : RUN mkdir -p /app"


def test_classic_times_come_from_the_clock():
    record = BuildRecord.for_dockerfile(BuilderKind.CLASSIC, "FROM a\nRUN b\n")
    from layerlab.core.buildstream import ClassicStreamParser

    parser = ClassicStreamParser(record, clock=lambda: 0.0)
    parser.feed_line("Step 1/2 : FROM a", now=1.0)
    parser.feed_line(" ---> 113e76aa5ae7", now=1.5)
    parser.feed_line("Step 2/2 : RUN b", now=2.0)
    parser.feed_line(" ---> Running in 27f7841cb7ab", now=2.1)
    parser.feed_line("hello from b", now=3.0)
    parser.feed_line(" ---> d50d030cedcd", now=4.5)
    parser.finish("sha256:x", now=5.0)
    assert record.step(1).seconds == pytest.approx(0.5)
    assert record.step(2).seconds == pytest.approx(2.5)
    assert record.step(2).output == ["hello from b"]
    assert record.seconds == pytest.approx(5.0)


def test_classic_run_failure_names_the_step_and_marks_the_rest_not_reached():
    lines = [
        "Step 1/3 : FROM base", "\n", " ---> 113e76aa5ae7\n",
        "Step 2/3 : RUN echo about to fail && exit 3", "\n", " ---> Running in 4cf821a4ac3c\n",
        "about to fail\n", "Removing intermediate container 4cf821a4ac3c\n",
    ]
    record = parse_classic_stream(
        lines, "FROM base\nRUN echo about to fail && exit 3\nCOPY x /x\n",
        error="The command '/bin/sh -c echo about to fail && exit 3' returned a non-zero code: 3",
    )
    assert record.finished and not record.ok
    assert record.statuses() == [B, F, N]
    failure = record.failure
    assert failure.kind is FailureKind.COMMAND_FAILED and failure.exit_code == 3
    assert failure.step == 2 and failure.line == 2 and failure.output == ("about to fail",)
    assert "step 2 (RUN echo about to fail && exit 3)" in failure.headline()
    assert "exit code: 3" in record.summary()


def test_classic_missing_file():
    lines = ["Step 1/2 : FROM base", " ---> 113e76aa5ae7", "Step 2/2 : COPY nothere.txt /app/"]
    message = ("COPY failed: file not found in build context or excluded by .dockerignore: "
               "stat nothere.txt: file does not exist")
    record = parse_classic_stream(lines, "FROM base\nCOPY nothere.txt /app/\n", error=message)
    assert record.statuses() == [B, F]
    assert record.failure.kind is FailureKind.MISSING_FILE
    assert record.failure.instruction == "COPY nothere.txt /app/"


def test_classic_syntax_error_before_any_step_finds_the_line():
    dockerfile = "FROM base\nRUNN mkdir /x\nCOPY a /b\n"
    record = parse_classic_stream([], dockerfile, error="dockerfile parse error line 2: unknown instruction: RUNN")
    failure = record.failure
    assert failure.kind is FailureKind.SYNTAX and failure.line == 2 and failure.step == 2
    assert failure.instruction == "RUNN mkdir /x"
    assert ">>> RUNN mkdir /x" in failure.excerpt
    assert record.statuses() == [N, F, N]


# -- BuildKit ----------------------------------------------------------------------------

DIGESTS = {n: "sha256:" + f"{n:02d}" * 32 for n in range(1, 10)}


def doc(**kinds) -> str:
    return json.dumps(kinds, indent=2)


def vertex(n, name, started=None, completed=None, cached=False, error=None):
    v = {"digest": DIGESTS[n], "name": name}
    if started:
        v["started"] = f"2026-11-28T04:43:{float(started):012.9f}Z"
    if completed:
        v["completed"] = f"2026-11-28T04:43:{float(completed):012.9f}Z"
    if cached:
        v["cached"] = True
    if error:
        v["error"] = error
    return v


def buildkit_stream(*documents, trailer="") -> str:
    return "\n".join(documents) + ("\n" + trailer if trailer else "") + "\n"


def rebuild_after_change():
    base = "[1/4] FROM docker.io/layerlab-you/base-busybox:1.35.0"
    return buildkit_stream(
        doc(vertexes=[vertex(9, "[internal] load build definition from Dockerfile", "30.593578798", "30.593806626")]),
        doc(vertexes=[vertex(1, base), vertex(2, "[2/4] RUN mkdir -p /app"), vertex(3, "[3/4] COPY a.txt /app/"),
                      vertex(4, "[4/4] RUN cat /app/a.txt > /app/b.txt")]),
        doc(vertexes=[vertex(1, base, "30.700000000", "30.700100000")]),
        doc(vertexes=[vertex(2, "[2/4] RUN mkdir -p /app", "30.80", "30.80", cached=True)]),
        doc(vertexes=[vertex(3, "[3/4] COPY a.txt /app/", "30.900000000")]),
        doc(vertexes=[vertex(3, "[3/4] COPY a.txt /app/", "30.900000000", "31.150000000")]),
        doc(vertexes=[vertex(4, "[4/4] RUN cat /app/a.txt > /app/b.txt", "31.2")]),
        doc(logs=[{"vertex": DIGESTS[4], "stream": 1, "data": base64.b64encode(b"copied\n").decode()}]),
        doc(vertexes=[vertex(4, "[4/4] RUN cat /app/a.txt > /app/b.txt", "31.2", "32.7")]),
        doc(vertexes=[vertex(5, "exporting to image", "32.8", "32.9")]),
    )


def test_buildkit_rebuild_after_change():
    record = parse_buildkit_stream(rebuild_after_change(), DOCKERFILE, image_id="sha256:abc")
    assert record.ok and record.image_id == "sha256:abc"
    # CMD is no BuildKit step: it only goes into the image's config.
    assert record.statuses() == [B, H, M, M, C]
    assert [s.builder_label for s in record.lesson_steps] == ["1/4", "2/4", "3/4", "4/4", ""]
    assert record.step(1).instruction == "FROM layerlab-you/base-busybox:1.35.0"  # the Dockerfile's words
    assert record.step(3).seconds == pytest.approx(0.25, abs=1e-6)
    assert record.step(4).seconds == pytest.approx(1.5, abs=1e-6)
    assert record.step(4).output == ["copied"]
    assert record.step(3).vertex == DIGESTS[3]
    assert follows_cache_rule(record)


def test_buildkit_all_cached_and_from_reported_twice():
    base = "[1/2] FROM docker.io/x/base:1"
    text = buildkit_stream(
        doc(vertexes=[vertex(1, base, "1.0", "1.1")]),
        doc(vertexes=[vertex(1, base, "1.0", "1.1", cached=True)]),
        doc(vertexes=[vertex(2, "[2/2] COPY . /app", "1.2", "1.2", cached=True)]),
    )
    record = parse_buildkit_stream(text, "FROM x/base:1\nCOPY . /app\n")
    assert record.statuses() == [B, H]
    assert record.summary().endswith("-> 1 from the cache, 0 rebuilt")


def test_buildkit_run_failure_with_trailer():
    name = "[2/2] RUN echo about to fail && exit 3"
    message = 'process "/bin/sh -c echo about to fail && exit 3" did not complete successfully: exit code: 3'
    text = buildkit_stream(
        doc(vertexes=[vertex(1, "[1/2] FROM docker.io/b/c:1", "1.0", "1.0", cached=True), vertex(2, name, "1.1")]),
        doc(logs=[{"vertex": DIGESTS[2], "stream": 1, "data": base64.b64encode(b"about to fail\n").decode()}]),
        doc(vertexes=[vertex(2, name, "1.1", "1.3", error=message)]),
        trailer=("Dockerfile:2\n--------------------\n   1 |     FROM b/c:1\n   2 | >>> RUN echo about to fail && exit 3\n"
                 "   3 |     COPY x /x\n--------------------\nERROR: failed to solve: " + message),
    )
    record = parse_buildkit_stream(text, "FROM b/c:1\nRUN echo about to fail && exit 3\nCOPY x /x\n", returncode=1)
    assert record.statuses() == [B, F, N]
    failure = record.failure
    assert failure.kind is FailureKind.COMMAND_FAILED and failure.exit_code == 3
    assert failure.step == 2 and failure.line == 2 and failure.message == message
    assert ">>> RUN echo about to fail" in failure.excerpt
    assert failure.output == ("about to fail",)


def test_buildkit_missing_file():
    name = "[3/3] COPY nothere.txt /app/"
    error = ('failed to calculate checksum of ref 754b::tffp: "/nothere.txt": not found')
    text = buildkit_stream(
        doc(vertexes=[vertex(1, "[1/3] FROM docker.io/b/c:1", "1", "1"), vertex(2, "[2/3] RUN mkdir -p /app", "1", "1", cached=True),
                      vertex(3, name, "1.2", "1.2", error=error)]),
        trailer="Dockerfile:3\n--------------------\n   3 | >>> COPY nothere.txt /app/\n--------------------\n"
                "ERROR: failed to solve: failed to compute cache key: " + error,
    )
    record = parse_buildkit_stream(text, "FROM b/c:1\nRUN mkdir -p /app\nCOPY nothere.txt /app/\n", returncode=1)
    assert record.statuses() == [B, H, F]
    assert record.failure.kind is FailureKind.MISSING_FILE
    assert record.failure.message == error
    assert record.failure.step == 3


def test_buildkit_syntax_error_has_no_vertex_only_the_trailer():
    dockerfile = "FROM b/c:1\nRUNN mkdir /x\nCOPY --bogus a /b\n"
    text = buildkit_stream(
        doc(vertexes=[vertex(9, "[internal] load build definition from Dockerfile", "1", "1")]),
        trailer=("Dockerfile:2\n--------------------\n   1 |     FROM b/c:1\n   2 | >>> RUNN mkdir /x\n"
                 "   3 |     COPY --bogus a /b\n   4 |     \n--------------------\n"
                 "ERROR: failed to solve: dockerfile parse error on line 2: unknown instruction: RUNN (did you mean RUN?)"),
    )
    record = parse_buildkit_stream(text, dockerfile, returncode=1)
    failure = record.failure
    assert failure.kind is FailureKind.SYNTAX
    assert failure.line == 2 and failure.step == 2 and failure.instruction == "RUNN mkdir /x"
    assert failure.message.startswith("dockerfile parse error on line 2")
    assert record.statuses() == [N, F, N]


def test_buildkit_multi_stage_steps_are_kept_apart():
    text = buildkit_stream(
        doc(vertexes=[vertex(1, "[builder 1/2] FROM docker.io/b/c:1", "1", "1"),
                      vertex(2, "[builder 2/2] RUN make", "1", "2"),
                      vertex(3, "[stage-1 1/2] FROM docker.io/b/c:1", "1", "1", cached=True),
                      vertex(4, "[stage-1 2/2] COPY --from=builder /out /out", "2", "2.5")]),
    )
    record = parse_buildkit_stream(text, "FROM b/c:1 AS builder\nRUN make\nFROM b/c:1\nCOPY --from=builder /out /out\n")
    labels = {s.builder_label: s.status for s in record.steps if s.builder_label}
    assert labels == {"builder 1/2": B, "builder 2/2": M, "stage-1 1/2": B, "stage-1 2/2": M}


def test_timestamps_with_nanoseconds():
    assert parse_timestamp("2026-11-28T04:43:30.593578798Z") - parse_timestamp("2026-11-28T04:43:30Z") == pytest.approx(
        0.593578798, abs=1e-6)
    assert parse_timestamp(None) is None and parse_timestamp("garbage") is None


# -- shared ------------------------------------------------------------------------------


@pytest.mark.parametrize("message, kind", [
    ("dockerfile parse error line 2: unknown instruction: RUNN", FailureKind.SYNTAX),
    ("COPY failed: file not found in build context or excluded by .dockerignore: stat x: file does not exist",
     FailureKind.MISSING_FILE),
    ("The command '/bin/sh -c false' returned a non-zero code: 1", FailureKind.COMMAND_FAILED),
    ("pull access denied for nope, repository does not exist", FailureKind.BASE_MISSING),
    ("something else", FailureKind.OTHER),
])
def test_failure_kinds(message, kind):
    assert classify_failure(message)[0] is kind


def test_cache_rule():
    steps = ["FROM a", "COPY req /r", "RUN install", "COPY . /app", "CMD x"]
    assert cache_rule(steps, None) == [B, H, H, H, H]
    assert cache_rule(steps, 4) == [B, H, H, M, M]
    assert cache_rule(steps, 2) == [B, M, M, M, M]


def test_a_hit_after_a_miss_breaks_the_rule():
    record = BuildRecord.for_dockerfile(BuilderKind.CLASSIC, "FROM a\nRUN b\nRUN c\n")
    for step, status in zip(record.steps, [B, M, H]):
        step.status = status
    assert not follows_cache_rule(record)


def entry(index, keyword, instruction, diff_id=None, size=0, image_id=None):
    return HistoryEntry(index=index, instruction=instruction, keyword=keyword, builder=BuilderKind.BUILDKIT,
                        created_by=instruction, size=size, created=None, comment="", image_id=image_id,
                        diff_id=diff_id, layer_index=None)


def test_layers_attached_from_history_for_buildkit():
    record = parse_buildkit_stream(rebuild_after_change(), DOCKERFILE)
    entries = [
        entry(0, "ADD", "ADD rootfs.tar /", "sha256:" + "0" * 64, 1_900_000),
        entry(1, "CMD", 'CMD ["sh"]'),
        entry(2, "RUN", "RUN mkdir -p /app", "sha256:" + "1" * 64, 0),
        entry(3, "COPY", "COPY a.txt /app/", "sha256:" + "2" * 64, 6),
        entry(4, "RUN", "RUN cat /app/a.txt > /app/b.txt", "sha256:" + "3" * 64, 6),
        entry(5, "CMD", 'CMD ["sh"]'),
    ]
    attach_layers(record, entries, base_entries=2)
    assert [s.layer for s in record.lesson_steps] == [None, "sha256:" + "1" * 64, "sha256:" + "2" * 64,
                                                      "sha256:" + "3" * 64, None]
    assert record.step(5).makes_layer is False
    assert record.step(4).what_it_made() == "layer 333333333333 (6 B)"
    assert record.step(5).what_it_made() == ""


def test_classic_colours_and_newer_noise_are_left_out():
    lines = ["Step 1/2 : FROM base", " ---> 113e76aa5ae7", "Step 2/2 : RUN make nope",
             " ---> Running in b4aab43bbca8", "\x1b[91mmake: *** No rule to make target 'nope'.  Stop.\n",
             "\x1b[0m", " ---> Removed intermediate container b4aab43bbca8"]
    record = parse_classic_stream(lines, "FROM base\nRUN make nope\n",
                                  error="The command '/bin/sh -c make nope' returned a non-zero code: 2")
    assert record.failure.output == ("make: *** No rule to make target 'nope'.  Stop.",)


def test_rebuild_story_names_the_rule():
    from layerlab.core.cacherule import rebuild_story

    record = parse_classic_stream(CLASSIC_REBUILD, DOCKERFILE)
    story = rebuild_story(record)
    assert story.splitlines()[0] == "First rebuilt step: 3 (COPY a.txt /app/)."
    assert "1 of 1 step(s) from the cache: RUN mkdir -p /app" in story and story.endswith("the rule holds")


def test_buildkit_steps_canceled_by_the_failure_are_not_the_failure():
    """The containerd store also reports in-flight vertexes as failed with `context canceled`."""
    error = 'failed to calculate checksum of ref a::b: "/nothere.txt": not found'
    text = buildkit_stream(
        doc(vertexes=[vertex(1, "[1/3] FROM docker.io/b/c:1", "01", None, error="context canceled: context canceled"),
                      vertex(2, "[2/3] RUN mkdir -p /app", "01", "01", cached=True),
                      vertex(3, "[3/3] COPY nothere.txt /app/", "01.2", "01.2", error=error)]),
        trailer="Dockerfile:3\n--------------------\n   3 | >>> COPY nothere.txt /app/\n--------------------\n"
                "ERROR: failed to solve: failed to compute cache key: " + error,
    )
    record = parse_buildkit_stream(text, "FROM b/c:1\nRUN mkdir -p /app\nCOPY nothere.txt /app/\n", returncode=1)
    assert record.failure.step == 3 and record.failure.kind is FailureKind.MISSING_FILE
    assert record.statuses() == [N, H, F]
