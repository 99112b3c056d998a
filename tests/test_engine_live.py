"""Engine tier: doctor, prepare and the layer model against a live engine."""

import io
import json
import os
import tarfile

import pytest

from support import IN_CI, run_cli
from layerlab.core.bases import BASES
from layerlab.core.naming import LABEL_BASE, LABEL_BUILT_FROM, LABEL_LEARNER, Namespace
from layerlab.engine.cleanup import cleanup
from layerlab.engine.prepare import find_base, prepare

pytestmark = pytest.mark.engine


def test_the_expected_engine_flavour_answers(engine):
    """CI names the flavour it started for each run; prove the tier ran against that engine."""
    expected = os.environ.get("LAYERLAB_EXPECT_FLAVOUR")
    if not expected:
        if IN_CI:
            pytest.fail("CI=true but LAYERLAB_EXPECT_FLAVOUR is not set (see .ci/run)")
        pytest.skip("LAYERLAB_EXPECT_FLAVOUR not set: any engine will do")
    assert engine.facts.flavour == expected
    result = run_cli("doctor")
    assert f"flavour      {expected}" in result.stdout


def test_commands_that_never_build_do_not_ask_for_buildx(engine):
    """`layers`, `which` and `watch` connect without running `docker buildx version`: the
    same engine, the same facts but the builder's, which say they were not asked."""
    from dataclasses import replace

    from layerlab.engine import connect

    quick = connect(ask_buildx=False)
    try:
        assert quick.facts.buildx_version == "not asked" and not quick.facts.buildkit
        assert replace(quick.facts, buildkit=engine.facts.buildkit,
                       buildx_version=engine.facts.buildx_version) == engine.facts
    finally:
        quick.close()


def test_doctor_prints_the_engine_facts(engine):
    result = run_cli("doctor")
    assert result.returncode == 0, result.stderr
    assert f"Docker {engine.facts.engine_version}" in result.stdout
    for fact in ("API version", "storage", "builders", "rootless", "flavour"):
        assert fact in result.stdout
    assert engine.facts.explain_whiteouts() in result.stdout
    # a rootless engine is named, with what it changes for the lessons
    assert ("Your engine is rootless" in result.stdout) is engine.facts.rootless
    data = json.loads(run_cli("doctor", "--json").stdout)
    assert data["api_version"] == engine.client.api.api_version
    assert data["storage_kind"] in {"overlay2", "containerd image store", "other"}
    assert data["buildkit"] is engine.facts.buildkit


def test_prepare_twice_leaves_one_set_of_bases(engine, test_learner):
    learner = f"{test_learner}-fresh"  # a learner with nothing prepared yet
    env = {"LAYERLAB_LEARNER": learner}
    saved = dict(engine.environ)
    engine.environ["LAYERLAB_LEARNER"] = learner
    try:
        first = run_cli("prepare", env=env)
        assert first.returncode == 0, first.stderr
        second = run_cli("prepare", env=env)
        assert second.returncode == 0, second.stderr
        assert first.stdout.count("(made in") == len(BASES)
        assert second.stdout.count("(already there)") == len(BASES)
        for key in BASES:
            images = find_base(engine, key)
            assert len(images) == 1, [i.tags for i in images]
            image = images[0]
            assert image.labels[LABEL_LEARNER] == learner
            assert image.labels[LABEL_BASE] == key
            assert image.labels[LABEL_BUILT_FROM]
            # Stand-ins and derived bases have names of their own, never an official image's.
            assert all(tag.startswith(f"layerlab-{learner}/base-") for tag in image.tags)
    finally:
        cleanup(engine, include_bases=True)
        engine.environ.clear()
        engine.environ.update(saved)


def test_stand_ins_work(engine, test_learner):
    ping, app = prepare(engine)
    box = engine.client.containers.run(
        ping.reference, ["ping", "-c", "1", "127.0.0.1"], network_mode="none", remove=True,
        labels=Namespace(test_learner, "base").labels())
    assert b"1 packets received" in box
    out = engine.client.containers.run(
        app.reference, ["sh", "-c", "python --version && make --version"], network_mode="none", remove=True,
        labels=Namespace(test_learner, "base").labels())
    assert b"Python 3" in out and b"GNU Make" in out


def matches_engine(engine, reference):
    """The stack's entries equal `docker history` and its layers equal RootFS.Layers."""
    stack = engine.image_stack(reference)
    history = list(reversed(engine.client.api.history(reference)))
    inspect = engine.client.api.inspect_image(reference)
    assert len(stack.entries) == len(history)
    for entry, raw in zip(stack.entries, history):
        assert entry.created_by == (raw["CreatedBy"] or "")
        assert entry.size == (raw["Size"] if entry.is_layer else 0)
        assert raw["Size"] == 0 or entry.is_layer
    assert list(stack.diff_ids) == inspect["RootFS"]["Layers"]
    assert [e.diff_id for e in stack.layer_entries] == inspect["RootFS"]["Layers"]
    return stack


def test_layers_of_a_classic_build(engine, test_learner, tmp_path):
    ping, _ = prepare(engine, keys=["ping", "app"])
    ns = Namespace(test_learner, "test-model")
    (tmp_path / "Dockerfile").write_text(
        f"FROM {ping.reference}\nWORKDIR /app\nRUN true\nCOPY . /app\nENV GREETING=hi\n"
        "RUN echo $GREETING > /app/greeting\nCMD [\"cat\", \"/app/greeting\"]\n"
    )
    (tmp_path / "data.txt").write_text("x" * 5000)
    image_id = engine.build(ns, "model", tmp_path)
    stack = matches_engine(engine, image_id)
    assert stack.exact
    ours = [e for e in stack.entries if not e.instruction.startswith("LABEL layerlab.")]
    kinds = [(e.keyword, e.is_layer) for e in ours]
    assert kinds == [
        ("ADD", True),  # the stand-in's root filesystem
        ("ENV", False), ("CMD", False),  # the stand-in's config
        ("WORKDIR", True),  # made /app: a layer of 0 B
        ("RUN", False),  # `RUN true` changed nothing: no layer
        ("COPY", True), ("ENV", False), ("RUN", True), ("CMD", False),
    ]
    # The course's labels are one history entry per classic build: the base's, then this one's.
    course = [e for e in stack.entries if e.instruction.startswith("LABEL layerlab.")]
    assert len(course) == 2 and stack.entries[-1] is course[-1]
    labels = engine.client.api.inspect_image(image_id)["Config"]["Labels"]
    assert ns.labels().items() <= labels.items()
    # The Dockerfile that carried them never reaches the image: the daemon dropped it, and the
    # .dockerignore naming it, before COPY . /app saw the context.
    from layerlab.engine.layers import image_layers
    copy_entry = next(e for e in stack.entries if e.keyword == "COPY")
    copied = {c.path for c in image_layers(engine, image_id).layer_files(copy_entry.index).added}
    assert {"/app/Dockerfile", "/app/data.txt"} <= copied  # no .dockerignore: `docker build .` sends both
    assert not copied & {"/app/.layerlab.Dockerfile", "/app/.dockerignore"}


def test_layers_of_an_import(engine, test_learner):
    _, app = prepare(engine, keys=["app"]) * 2
    stack = matches_engine(engine, app.reference)
    assert [e.keyword for e in stack.entries] == ["IMPORT"]
    assert stack.entries[0].is_layer and stack.entries[0].size > 10_000_000


def test_import_from_a_tar_stream(engine, test_learner):
    """`docker import` of a tar made here: one entry, one layer, labels from --change."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    ns = Namespace(test_learner, "test-model")
    repository, tag = ns.image("imported").rsplit(":", 1)
    changes = [f'LABEL "{k}"="{v}"' for k, v in ns.labels().items()]
    engine.client.api.import_image_from_data(buffer.getvalue(), repository=repository, tag=tag, changes=changes)
    stack = matches_engine(engine, f"{repository}:{tag}")
    assert len(stack.entries) == 1 and len(stack.diff_ids) == 1


def test_buildkit_absence_is_explained(engine, test_learner, tmp_path):
    """Where there is no BuildKit, asking for it says so plainly; where there is, doctor names it."""
    from layerlab.core.errors import LayerlabError
    from layerlab.course.builds import buildkit_build

    doctor = run_cli("doctor")
    if engine.facts.buildkit:
        assert f"BuildKit via docker buildx {engine.facts.buildx_version}" in doctor.stdout
        return
    assert "classic builder only" in doctor.stdout
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    with pytest.raises(LayerlabError, match="has no BuildKit CLI"):
        buildkit_build(engine, Namespace(test_learner, "test-model"), "nobk", tmp_path)
