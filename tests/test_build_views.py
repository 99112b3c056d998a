"""Widget-state tier: the build-cache view and the exercise's scoring, on canned records.

No engine and no browser: the HTML is a pure function of the records, the scores a pure
function of the prediction and the record.
"""

from __future__ import annotations

import types

import pytest

from layerlab.core.build import BuildRecord, CacheStatus
from layerlab.core.buildstream import parse_buildkit_stream, parse_classic_stream
from layerlab.core.model import BuilderKind
from layerlab.core.cachequiz import (
    SCENARIOS,
    Change,
    apply_change,
    check_prediction,
    measured_trap,
    predictable_steps,
    score,
    write_exercise_context,
)
from layerlab.core.errors import LayerlabError
from layerlab.course.instructions import DEMOS, check_paths, tar_listing, write_context, write_release
from layerlab.views.buildcache import BuildCacheState, agreement, build_cache_html, build_cache_text

from test_engineinfo import facts as facts_for_serving
from test_buildsteps import CLASSIC_REBUILD, DOCKERFILE, rebuild_after_change

H, M = CacheStatus.HIT, CacheStatus.MISS


def classic_record() -> BuildRecord:
    record = parse_classic_stream(CLASSIC_REBUILD, DOCKERFILE, image_id="sha256:" + "ab" * 32)
    record.title = "rebuild"
    return record


def test_html_shows_every_step_with_its_status_side_by_side():
    state = BuildCacheState(title="after the edit")
    state.put(classic_record())
    state.put(parse_buildkit_stream(rebuild_after_change(), DOCKERFILE))
    page = build_cache_html(state)
    assert page.count('class="build-record" data-builder="CLASSIC"') == 1
    assert page.count('class="build-record" data-builder="BUILDKIT"') == 1
    tables = page[page.index('class="build-record"'):]  # below the drawing
    assert tables.count('data-status="HIT"') == 2 and 'data-status="CONFIG"' in tables
    # the drawing above: both builders' stacks, the hits reused, the rest built anew
    picture = page[page.index('class="cache-picture"'):page.index('class="build-record"')]
    assert picture.count('class="cache-builder"') == 2
    assert picture.count('class="cache-hit step"') == 2 and picture.count('class="cache-miss step"') == 5
    assert "COPY a.txt /app/" in page and "after the edit" in page
    assert "1 from the cache, 3 rebuilt" in page
    text = build_cache_text(state)
    assert text.startswith("classic builder: rebuild") and "BuildKit:" in text
    assert agreement(state.records[BuilderKind.CLASSIC], state.records[BuilderKind.BUILDKIT]).startswith("Both builders")


def test_html_escapes_and_shows_a_failure_clearly():
    record = parse_classic_stream(
        ["Step 1/2 : FROM base", " ---> 113e76aa5ae7", "Step 2/2 : RUN echo '<b>' && exit 3",
         " ---> Running in 4cf821a4ac3c", "<b>"],
        "FROM base\nRUN echo '<b>' && exit 3\n",
        error="The command '/bin/sh -c echo '<b>' && exit 3' returned a non-zero code: 3",
    )
    state = BuildCacheState()
    state.put(record)
    page = build_cache_html(state)
    assert "<b>'" not in page and "&lt;b&gt;" in page
    assert 'class="build-failure"' in page and "What to do" in page
    assert "step 2" in page and 'data-status="FAILED"' in page
    assert "Last output of the step" in page


def test_absent_buildkit_is_said_not_hidden():
    state = BuildCacheState()
    state.put(classic_record())
    state.absent[BuilderKind.BUILDKIT] = "not on this engine"
    assert "not on this engine" in build_cache_html(state)
    assert build_cache_text(state).endswith("BuildKit: not on this engine")


def test_disagreeing_builders_are_named():
    classic = classic_record()
    buildkit = parse_buildkit_stream(rebuild_after_change(), DOCKERFILE)
    buildkit.step(2).status = M
    assert "step 2" in agreement(classic, buildkit)


# -- the exercise ---------------------------------------------------------------------------

SAMPLE = "FROM base\nCOPY . /app\nRUN make -C /app\nCMD python /app/app.py\n"


def sample_record(statuses) -> BuildRecord:
    record = BuildRecord.for_dockerfile(BuilderKind.CLASSIC, SAMPLE)
    record.steps[0].status = CacheStatus.BASE
    for step, status in zip(record.steps[1:], statuses):
        step.status = status
    record.finished = True
    return record


def test_predictions_are_checked_before_building():
    assert [i.text for i in predictable_steps(SAMPLE)] == ["COPY . /app", "RUN make -C /app", "CMD python /app/app.py"]
    assert check_prediction(SAMPLE, ["hit", "MISS", "m"]) == {2: H, 3: M, 4: M}
    assert check_prediction(SAMPLE, {2: "HIT", 3: "HIT", 4: "HIT"}) == {2: H, 3: H, 4: H}
    with pytest.raises(LayerlabError, match="No prediction yet for step"):
        check_prediction(SAMPLE, {2: "HIT", 3: None, 4: "MISS"})
    with pytest.raises(LayerlabError, match="not an answer"):
        check_prediction(SAMPLE, ["HIT", "perhaps", "MISS"])
    with pytest.raises(LayerlabError, match="3 steps"):
        check_prediction(SAMPLE, ["HIT"])


def test_wrong_answers_are_explained_from_the_measurement():
    touch = SCENARIOS["touch"]
    record = sample_record([H, H, H])
    result = score(touch, {2: M, 3: M, 4: H}, record)
    assert (result.right, result.total) == (1, 3) and not result.perfect
    wrong = {v.step: v.explanation for v in result.verdicts if not v.right}
    assert set(wrong) == {2, 3}
    # The COPY reads the touched file: its key is contents and metadata, not the mtime.
    assert "Measured: the classic builder reused" in wrong[2] and "metadata (mode, owner)" in wrong[2]
    # The RUN reads no file: it hit because its parent hit and its text is the same.
    assert "RUN step reads no file" in wrong[3] and "checksum" not in wrong[3]
    assert "WRONG" in result.summary() and "Traceback" not in result.summary()

    busted = sample_record([M, M, M])  # had a builder counted mtimes, the text would say so
    result = score(touch, {2: H, 3: H, 4: H}, busted)
    assert "counted the modification time" in result.verdicts[0].explanation
    assert "Step 2 above it was rebuilt" in result.verdicts[1].explanation
    assert measured_trap(busted).busted and not measured_trap(record).busted


def test_failed_build_scores_nothing():
    record = parse_classic_stream(["Step 1/2 : FROM base"], SAMPLE, error="boom")
    result = score(SCENARIOS["edit"], {2: M, 3: M, 4: M}, record)
    assert result.failed == "boom" and not result.perfect and "the build failed" in result.summary()


def test_exercise_context_and_changes(tmp_path):
    dockerfile = write_exercise_context(tmp_path, "base:1")
    assert dockerfile.startswith("FROM base:1\nCOPY . /app")
    assert "NOTES.md" in (tmp_path / ".dockerignore").read_text()
    before = (tmp_path / "message.txt").read_bytes()
    mtime = (tmp_path / "message.txt").stat().st_mtime
    assert "touched" in apply_change(tmp_path, SCENARIOS["touch"], "t")
    assert (tmp_path / "message.txt").read_bytes() == before
    assert (tmp_path / "message.txt").stat().st_mtime > mtime
    apply_change(tmp_path, SCENARIOS["edit"], "abc")
    assert (tmp_path / "message.txt").read_text().endswith("edited (abc)\n")
    reordered = write_exercise_context(tmp_path / "r", "base:1", "reordered")
    assert "COPY app.py /app/" in reordered and SCENARIOS["reordered"].change is Change.REORDERED
    with pytest.raises(LayerlabError):
        write_exercise_context(tmp_path / "x", "base:1", "sideways")


# -- the instructions lesson's fixtures -------------------------------------------------------


def test_instruction_contexts(tmp_path):
    write_context(tmp_path, DEMOS["copy-all"], "base:1")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "Dockerfile", "NOTES.md", "README.md", "conf", "main.js", "secret.env", "source.tar", "source.tar.gz",
        "source.zip", "util.js"]
    assert tar_listing(tmp_path / "source.tar") == ["hello.txt", "lib/", "lib/version.txt"]
    write_context(tmp_path, DEMOS["dockerignore"], "base:1")
    assert "secret.env" in (tmp_path / ".dockerignore").read_text()
    write_context(tmp_path, DEMOS["copy-glob"], "base:1")
    assert not (tmp_path / ".dockerignore").exists()
    with pytest.raises(LayerlabError, match="URL"):
        DEMOS["add-url"].dockerfile("base:1")
    assert DEMOS["add-url"].dockerfile("b", "http://127.0.0.1:9") == "FROM b\nADD http://127.0.0.1:9/release.tar /data/\n"


def test_tars_are_reproducible(tmp_path):
    first = write_release(tmp_path / "a").read_bytes()
    second = write_release(tmp_path / "b").read_bytes()
    assert first == second and tar_listing(tmp_path / "a" / "release.tar") == ["RELEASE-NOTES.txt", "VERSION"]


def test_expected_paths():
    assert check_paths(DEMOS["add-tar"], ["/app", "/app/hello.txt", "/app/lib/version.txt"]) == ((), ())
    assert check_paths(DEMOS["add-tar"], ["/app/source.tar"]) == (
        ("/app/hello.txt", "/app/lib/version.txt"), ("/app/source.tar",))


def test_demo_verdicts_fill_the_url_and_tell_demos_with_one_instruction_apart():
    """Lesson 04's BuildKit check (its output is not compared by nbval): every line names the
    instruction as built, with the served URL, and two demos that both read `COPY . /app` differ."""
    from layerlab.course.instructions import DemoResult

    def result(key, url="", missing=()):
        chosen = DEMOS[key]
        return DemoResult(demo=chosen, builder="buildkit", dockerfile=chosen.dockerfile("base:1", url=url),
                          changes=(), paths=(), missing=tuple(missing), unexpected=())

    url_line = result("add-url", url="http://127.0.0.1:41234").verdict("BuildKit")
    assert "{url}" not in url_line and "`ADD http://127.0.0.1:41234/release.tar /data/`" in url_line
    copy_all, ignored = result("copy-all").verdict("BuildKit"), result("dockerignore").verdict("BuildKit")
    assert "`COPY . /app`" in copy_all and "`COPY . /app`" in ignored and copy_all != ignored
    assert copy_all.endswith(": as expected")
    failed = result("add-tar", missing=["/app/hello.txt"]).verdict("BuildKit")
    assert "NOT as expected" in failed and "/app/hello.txt" in failed


def test_compressed_tar_and_zip_in_the_context_are_reproducible_and_hold_the_same_files(tmp_path):
    """Lesson 04 shows ADD unpacking a gzip tar and not a zip: both archives hold source/'s files,
    and are the same bytes every time (the recorded layer sizes must not drift)."""
    import tarfile
    import zipfile

    write_context(tmp_path / "a", DEMOS["add-zip"], "base:1")
    write_context(tmp_path / "b", DEMOS["add-tar-gz"], "base:1")
    for name in ("source.tar.gz", "source.zip"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    with tarfile.open(tmp_path / "a" / "source.tar.gz", "r:gz") as packed:
        in_tgz = sorted(m.name for m in packed.getmembers() if m.isfile())
    with zipfile.ZipFile(tmp_path / "a" / "source.zip") as packed:
        in_zip = sorted(n for n in packed.namelist() if not n.endswith("/"))
    assert in_tgz == in_zip == ["hello.txt", "lib/version.txt"]
    assert not (tmp_path / "a" / "source.tar.gz.partial").exists()


def test_the_chmod_scenario_changes_the_mode_only_and_is_explained_by_the_measurement(tmp_path):
    import os
    import stat

    write_exercise_context(tmp_path, "base:1")
    before = (tmp_path / "message.txt").read_bytes()
    assert "chmod 600 message.txt" in apply_change(tmp_path, SCENARIOS["chmod"], "t")
    assert stat.S_IMODE(os.stat(tmp_path / "message.txt").st_mode) == 0o600
    assert (tmp_path / "message.txt").read_bytes() == before
    chmod = SCENARIOS["chmod"]
    missed = score(chmod, {2: H, 3: H, 4: H}, sample_record([M, M, H]))
    assert "metadata (mode, owner)" in missed.verdicts[0].explanation
    assert "Step 2 above it was rebuilt" in missed.verdicts[1].explanation
    hit = score(chmod, {2: M, 3: M, 4: H}, sample_record([H, H, H]))
    assert "left the mode out" in hit.verdicts[0].explanation


def test_release_server_stops_when_the_cell_fails(tmp_path):
    """The loopback server for ADD <url> needs no engine: it stops however the block ends.
    (It was in the engine tier, where the bare tier found it passing with no engine.)"""
    import urllib.request

    from layerlab.course.instructions import serve_for_engine

    write_release(tmp_path)
    rootful = types.SimpleNamespace(facts=facts_for_serving(), live=True, environ={})
    with pytest.raises(RuntimeError):
        with serve_for_engine(rootful, tmp_path) as served:
            url = served.url
            assert urllib.request.urlopen(url + "/release.tar", timeout=5).status == 200
            raise RuntimeError("a cell failed")
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/release.tar", timeout=2)
