"""Engine tier: drawn stacks against `docker history` and RootFS.Layers, `which`, sharing.

Images are built by the classic builder (the SDK's), by BuildKit where the engine has it
(`docker buildx`, Docker 23+), and by `docker import` (the app base). Docker 20.10 has no
BuildKit here: there the BuildKit cases skip, and BuildKit history is covered by canned
records in tests/test_layerstack.py. Run against another engine with
`eval "$(bash scripts/engine.sh env docker-26)"` (OCI save format) or `docker-26-containerd`
(gzip layers, nested index). Everything is built under the session's own learner id and removed
by the `test_learner` fixture.
"""

from __future__ import annotations

import html
import json
import time

import pytest

from layerlab.core.engineinfo import StorageKind
from layerlab.core.layertar import EntryType
from layerlab.core.pathhistory import LayerChangeVia
from layerlab.core.model import BuilderKind, ChangeKind
from layerlab.core.sample_app import write_sample_context
from layerlab.engine.layers import check_history, container_exists, image_files, image_layers, sharing, which
from layerlab.views.layerstack import LayerStackView, drawn_entries
from layerlab.views.sharing import sharing_graph

from support import BUILDERS, build_by, run_cli

pytestmark = pytest.mark.engine

A, C, D = ChangeKind.ADDED, ChangeKind.CHANGED, ChangeKind.DELETED

# Layer 1 is the ping base's ADD; each RUN below is one more layer.
EDITS = """\
FROM {base}
RUN mkdir -p /data/keep /data/dir && echo one > /data/file && echo old > /data/dir/old \\
    && echo sub > /data/dir/sub && echo k > /data/keep/k && echo gone > /data/gone
RUN echo two-longer > /data/file && rm /data/gone
ENV STEP=metadata-only
RUN rm -rf /data/dir && mkdir /data/dir && echo new > /data/dir/new
RUN rm -rf /data/keep
WORKDIR /work
CMD ["cat", "/data/file"]
"""


@pytest.fixture(scope="module")
def namespace(engine, test_learner):
    return engine.namespace("t-layers")


@pytest.fixture(scope="module", params=BUILDERS)
def edits_image(request, engine, namespace, ping_base, tmp_path_factory):
    """The same Dockerfile built by each builder this engine has (BuildKit: Docker 23+ with buildx)."""
    return build_by(request.param, engine, namespace, "edits", EDITS.format(base=ping_base.reference), tmp_path_factory)


@pytest.fixture(scope="module")
def sample_image(engine, namespace, app_base, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sample")
    write_sample_context(folder, app_base.reference)
    engine.build(namespace, "sample", folder)
    return namespace.image("sample")


def containerd_store(engine) -> bool:
    return engine.facts.storage_kind is StorageKind.CONTAINERD


def assert_drawing_matches_engine(engine, reference):
    """The SVG, read back, against the raw API: history entry for entry, RootFS layer for layer."""
    image = engine.client.api.inspect_image(reference)
    raw_history = engine.client.api.history(image["Id"])  # newest first, as `docker history`
    stack = engine.image_stack(reference)
    drawn = [d for d in drawn_entries(LayerStackView(stack).svg()) if d["role"] != "container"]
    assert len(drawn) == len(raw_history)
    for shown, raw in zip(drawn, raw_history):
        assert shown["created_by"] == (raw["CreatedBy"] or "")
        assert int(shown["size"]) == raw["Size"]
    drawn_layers = [d["diff_id"] for d in reversed(drawn) if d["diff_id"]]
    assert drawn_layers == image["RootFS"]["Layers"]
    assert check_history(engine, reference, stack).agrees
    return stack


def test_build_drawn_entry_for_entry(engine, edits_image, ping_base):
    stack = assert_drawing_matches_engine(engine, edits_image)
    keywords = [e.keyword for e in stack.entries]
    mine = stack.entries[len(engine.image_stack(ping_base.reference).entries):]
    if edits_image.endswith(":buildkit"):
        assert [e.builder for e in mine] == [BuilderKind.BUILDKIT] * 7 and keywords[-1] == "CMD"
        assert mine[0].instruction.startswith("RUN mkdir -p /data/keep")
        assert all(e.short_id == "<missing>" for e in stack.entries[:-1])
        assert not any(e.keyword == "LABEL" for e in mine)  # BuildKit puts --label in the config only
    else:
        # the course's labels: one LABEL entry, last, in a classic build
        assert [e.keyword == "LABEL" for e in mine][-2:] == [False, True]
        assert mine[-1].instruction.startswith("LABEL layerlab.course=layerlab layerlab.lesson=")
        assert all(e.builder is BuilderKind.CLASSIC for e in stack.entries)
    assert not any(e.is_layer for e in stack.entries if e.keyword in ("ENV", "CMD", "LABEL"))
    assert [e.keyword for e in stack.layer_entries] == ["ADD", "RUN", "RUN", "RUN", "RUN", "WORKDIR"]
    workdir = stack.layer_entries[-1]
    files = image_files(engine, edits_image).layers[workdir.layer_index]
    assert [(c.path, c.kind) for c in files.changes] == [("/work", A)] and files.size == 0  # one new directory
    if not containerd_store(engine):
        # overlay2 counts a layer's file bytes; the containerd store counts disk blocks (8 kB here).
        assert workdir.size == 0 and workdir.describe_size() == "0 B"


def test_sample_app_drawn_entry_for_entry(engine, sample_image, app_base):
    stack = assert_drawing_matches_engine(engine, sample_image)
    assert [e.keyword for e in stack.layer_entries] == ["IMPORT", "COPY", "RUN"]
    cmd = next(e for e in stack.entries if e.keyword == "CMD")
    assert not cmd.is_layer and cmd.describe_size() == "no layer, 0 B"
    # Lesson 01's stack: the seed's four instructions, then at most one entry of the course's.
    mine = stack.entries[len(engine.image_stack(app_base.reference).entries):]
    assert [e.keyword for e in mine] in (["COPY", "RUN", "CMD", "LABEL"], ["COPY", "RUN", "CMD"])
    view = LayerStackView(stack, base=engine.image_stack(app_base.reference))
    assert view.base_entries == 1 and "[base]" in view.text()


def test_imported_base_drawn_entry_for_entry(engine, app_base):
    stack = assert_drawing_matches_engine(engine, app_base.reference)
    assert [e.builder for e in stack.entries] == [BuilderKind.IMPORT]


def test_sample_layers_hold_the_app_and_what_make_built(engine, sample_image):
    found = image_layers(engine, sample_image)
    copy_layer = found.layer_files(1)
    assert {c.path for c in copy_layer.added} >= {"/app/app.py", "/app/Makefile", "/app/message.txt"}
    make_layer = found.layer_files(2)
    assert make_layer.get("/app/build/banner.txt").kind is A and make_layer.size == 245
    if not containerd_store(engine):
        assert make_layer.size == found.stack.entries[2].size  # what docker history says, on overlay2
    banner = which(engine, sample_image, "/app/build/banner.txt")
    assert banner.present and banner.source.layer_index == 2


def test_the_copy_layer_does_not_depend_on_how_the_dockerfile_names_the_base(engine, namespace, app_base,
                                                                             sample_image, tmp_path):
    """.dockerignore keeps the Dockerfile, which names each learner's own base, out of
    `COPY . /app`: the same base named another way (by id: another length, as another learner's
    name would be) gives a COPY layer with the same files and sizes and the same checksum."""
    write_sample_context(tmp_path, app_base.image_id)
    engine.build(namespace, "sample-by-id", tmp_path)
    by_id, by_name = image_layers(engine, namespace.image("sample-by-id")), image_layers(engine, sample_image)
    files = [{(c.path, c.kind, c.size) for c in found.layer_files(1).changes} for found in (by_id, by_name)]
    assert files[0] == files[1]
    assert "/app/Dockerfile" not in {path for path, _, _ in files[0]}
    assert "/app/.dockerignore" not in {path for path, _, _ in files[0]}
    assert by_id.stack.entries[1].instruction == by_name.stack.entries[1].instruction  # COPY dir:<checksum>


def test_which_added_overwritten_deleted(engine, edits_image):
    files = image_files(engine, edits_image)
    history = files.which("/data/file")
    assert [(e.layer_index, e.kind) for e in history.events] == [(1, A), (2, C)]
    assert history.source.size == len("two-longer\n") and history.origin.size == len("one\n")

    gone = files.which("/data/gone")
    assert [(e.layer_index, e.kind, e.via) for e in gone.events] == [(1, A, LayerChangeVia.CONTENT), (2, D, LayerChangeVia.WHITEOUT)]
    assert not gone.present
    assert files.layers[2].get("/data/gone").marker == "/data/.wh.gone"


def test_which_through_an_opaque_directory(engine, edits_image):
    """`rm -rf /data/dir && mkdir /data/dir`: overlayfs makes the new directory opaque, and
    overlay2 with native diff records that as one opaque directory.

    The containerd image store (comparing snapshots) and overlay2 without native diff (a
    rootless engine, comparing files) write one whiteout per deleted entry instead: same
    result, other markers. Each form is accepted only where `docker info` says so.
    """
    files = image_files(engine, edits_image)
    per_file = containerd_store(engine) or engine.facts.per_file_whiteouts
    assert per_file != engine.facts.opaque_directories
    via = LayerChangeVia.WHITEOUT if per_file else LayerChangeVia.OPAQUE
    old = files.which("/data/dir/old")
    assert [(e.layer_index, e.kind, e.via) for e in old.events] == [(1, A, LayerChangeVia.CONTENT), (3, D, via)]
    assert files.which("/data/dir/new").source.layer_index == 3
    layer = files.layers[3]
    marker = "/data/dir/.wh.sub" if via is LayerChangeVia.WHITEOUT else "/data/dir/.wh..wh..opq"
    assert layer.get("/data/dir/sub").marker == marker
    assert {c.path for c in layer.deleted} == {"/data/dir/old", "/data/dir/sub"}


def test_which_under_a_deleted_directory(engine, edits_image):
    files = image_files(engine, edits_image)
    keep = files.which("/data/keep/k")
    assert [(e.layer_index, e.kind, e.via) for e in keep.events] == [(1, A, LayerChangeVia.CONTENT), (4, D, LayerChangeVia.PARENT_DELETED)]
    assert files.layers[4].get("/data/keep").via is LayerChangeVia.WHITEOUT
    assert files.which("/bin/busybox").source.layer_index == 0
    assert files.layers[0].get("/bin/sh").type is EntryType.SYMLINK


def test_cli_layers_and_which(engine, edits_image, test_learner):
    env = {"LAYERLAB_LEARNER": test_learner}
    shown = run_cli("which", edits_image, "/data/gone", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["present"] is False and [e["kind"] for e in data["events"]] == ["added", "deleted"]
    assert data["events"][1]["instruction"].startswith("RUN echo two-longer")
    listing = run_cli("layers", edits_image, env=env)
    assert listing.returncode == 0 and "D /data/keep/ (whiteout" in listing.stdout
    # both views name the whiteout form this engine writes, as docker info says it
    assert engine.facts.explain_whiteouts() in listing.stdout
    form = "one opaque directory" if engine.facts.opaque_directories else "one whiteout per deleted entry"
    assert form in listing.stdout
    deleted = run_cli("which", edits_image, "/data/dir/old", env=env)
    assert deleted.returncode == 0 and engine.facts.explain_whiteouts() in deleted.stdout
    assert engine.facts.explain_whiteouts() not in run_cli("which", edits_image, "/data/file", env=env).stdout
    as_json = json.loads(run_cli("layers", edits_image, "--json", env=env).stdout)
    assert len(as_json["entries"]) == len(engine.client.api.history(edits_image))
    missing = run_cli("which", "layerlab-nobody/none:0", "/x", env=env)
    assert missing.returncode != 0 and "no image" in missing.stderr and "Traceback" not in missing.stderr


def test_sharing_counts_and_the_rw_layer_goes_with_its_container(engine, namespace, edits_image):
    boxes = [
        engine.run(namespace, f"share{n}", edits_image, ["sh", "-c", f"head -c {1000 * n} /dev/zero > /data/own{n}"])
        for n in (1, 2)
    ]
    try:
        for box in boxes:
            assert box.wait(timeout=60) == 0
        # The engine answers concurrent `docker system df` calls with one computation: with a
        # second learner on the engine, the answer can predate our containers' writes. Wait on
        # the state (both R/W layers counted), with a margin.
        deadline = time.monotonic() + 30
        while True:
            before = sharing(engine, edits_image, boxes)
            counted = [c.size_rw >= 1000 * n for n, c in zip((1, 2), before.containers)]
            if (counted == [True, True] and before.usage.containers == 2) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert counted == [True, True], [(c.name, c.size_rw) for c in before.containers]
        assert before.usage.containers == 2 and before.on_disk < before.if_copied
        layer = engine.container_layer(boxes[0].id)
        assert ("/data/own1", ChangeKind.ADDED) in {(c.path, c.kind) for c in layer.changes}
        boxes[0].remove()
        deadline = time.monotonic() + 30  # the same: an answer computed before the removal may come back
        while True:
            after = before.after(sharing(engine, edits_image, boxes))
            if after.removed or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert [c.container_id for c in after.removed] == [boxes[0].id]
        assert not container_exists(engine, boxes[0].id)
        assert "removed, and its R/W layer" in after.summary()
        svg = html.unescape(sharing_graph(after).pipe(format="svg").decode())
        assert boxes[1].name in svg and "is gone" in svg
        drawn = drawn_entries(LayerStackView(after.stack, container=after.containers[0]).svg())
        assert drawn[0]["role"] == "container" and drawn[0]["container_id"] == boxes[1].id
    finally:
        for box in boxes:
            try:
                box.remove()
            except Exception:
                pass
