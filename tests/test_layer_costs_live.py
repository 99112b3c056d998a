"""Lesson 06 against the engine: the wasted bytes and the predictions' answers of its images, the
BuildKit note on this engine, and a cleanup that leaves none of the lesson's images behind (also
the step images the containerd store can keep after an image is removed)."""

from __future__ import annotations

import pytest

from layerlab.core.naming import COURSE, LABEL_COURSE, LABEL_LEARNER
from layerlab.core.questions import CLEANUP_LATER, TOOLS_LEFT_BEHIND, answer_cleanup_later, answer_tools
from layerlab.course.lesson import Lesson
from layerlab.course.what_layers_cost import (
    MIB, build_and_measure, buildkit_note, clean_up, rebuild_after_edit, write_files,
)

pytestmark = pytest.mark.engine

LATER = "FROM {base}\nRUN mkdir -p /d && dd if=/dev/zero of=/d/a.bin bs=1M count=3 2>/dev/null\nRUN rm /d/a.bin\n"
SAME = "FROM {base}\nRUN mkdir -p /d && dd if=/dev/zero of=/d/a.bin bs=1M count=3 2>/dev/null && rm /d/a.bin\n"
STEPS = ("RUN mkdir -p /opt/t && dd if=/dev/zero of=/opt/t/cc.bin bs=1M count=2 2>/dev/null\n"
         "COPY src/ /src/\nRUN mkdir -p /out && cp /src/hello.sh /out/hello\n")
DEPS = "RUN mkdir -p /deps && dd if=/dev/zero of=/deps/l bs=1M count=2 2>/dev/null && dd if=/dev/urandom of=/deps/id bs=16 count=1 2>/dev/null\n"


@pytest.fixture(scope="module")
def lesson(engine, test_learner):
    return Lesson("06-layer-costs", engine=engine, quiet=True)


def images_of(engine, learner, ids=()):
    listed = {i.id for i in engine.labeled("images", [f"{LABEL_COURSE}={COURSE}", f"{LABEL_LEARNER}={learner}"])
              if i.labels.get("layerlab.lesson") == "06-layer-costs"}
    return listed | {i for i in ids if engine.image_id(i)}


def test_cleanup_in_a_later_run_ships_the_file(lesson, ping_base):
    later = build_and_measure(lesson, "t-later", write_files(lesson.context("t-later"), {"Dockerfile": LATER.format(base=ping_base.reference)}), ping_base)
    same = build_and_measure(lesson, "t-same", write_files(lesson.context("t-same"), {"Dockerfile": SAME.format(base=ping_base.reference)}), ping_base)
    assert later.waste.deleted_bytes == later.waste.wasted_bytes == 3 * MIB
    assert same.waste.wasted_bytes == 0
    assert answer_cleanup_later(later.base_size, later.size, 3 * MIB).choice == CLEANUP_LATER.choices[1]
    assert answer_cleanup_later(same.base_size, same.size, 3 * MIB).choice == CLEANUP_LATER.choices[0]


def test_multi_stage_leaves_the_tools_behind_and_cleanup_leaves_nothing(engine, test_learner, lesson, ping_base, app_base):
    folder = write_files(lesson.context("t-tools"), {"src/hello.sh": "#!/bin/sh\necho hi\n",
                                                     "Dockerfile": f"FROM {app_base.reference}\n" + STEPS})
    inside = build_and_measure(lesson, "t-inside", folder, app_base)
    write_files(folder, {"Dockerfile": f"FROM {app_base.reference} AS build\n" + STEPS
                         + f"FROM {ping_base.reference}\nCOPY --from=build /out/hello /hello\n"})
    multi = build_and_measure(lesson, "t-multi", folder, ping_base)
    assert inside.has("/opt/t/cc.bin") and not multi.stores("/opt/t/cc.bin") and multi.has("/hello")
    assert answer_tools(multi.stores("/opt/t/cc.bin"), multi.has("/hello")).choice == TOOLS_LEFT_BEHIND.choices[1]
    assert multi.size < inside.size
    note = buildkit_note(lesson, folder, multi, ping_base)
    assert ("BuildKit built the same Dockerfile" in note) if engine.facts.buildkit else ("has no BuildKit" in note)

    app = {"app/run.sh": "echo 1\n"}
    order = write_files(lesson.context("t-order"), {**app, "Dockerfile": f"FROM {ping_base.reference}\n" + DEPS + "COPY app/ /app/\n"})
    rebuild = rebuild_after_edit(lesson, "t-order", order, {"app/run.sh": "echo 2\n"}, ping_base)
    assert [layer.size for layer in rebuild.new_layers] == [len("echo 2\n")]
    made = [s.made for cost in (inside, multi) for s in cost.record.steps if s.made and not s.is_base]
    made += [s.made for r in (rebuild.first, rebuild.second) for s in r.steps if s.made and not s.is_base]
    assert images_of(engine, test_learner, made)
    report = clean_up(lesson)
    assert not report.kept
    assert not images_of(engine, test_learner, made), "the lesson's cleanup left images behind"
