"""View tier (no engine, no graphviz): the sharing drawing is the course's own deterministic SVG.

Lesson 01 draws several containers sharing one image's layers. The drawing must be the same
bytes on a machine with graphviz (where the stored outputs are recorded) and on one without
(a bare `make test`, Binder without conda's graphviz), so the default renderer never runs `dot`.
"""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ElementTree
from datetime import datetime, timezone

import pytest

from layerlab.core.model import ContainerLayer, HistoryRecord, build_stack, human_size
from layerlab.core.sharing import ImageDiskUsage, SharingSnapshot, shared_prefix
from layerlab.views import sharing as view
from layerlab.views.sharing import drawn_sharing, fit, sharing_graph, sharing_svg

T = datetime(2024, 11, 11, tzinfo=timezone.utc)
DIFF = ["sha256:" + c * 64 for c in "abc"]
BASE_SIZE, COPY_SIZE, MAKE_SIZE = 97_302_435, 2190, 245
# (created_by, size, comment, empty_layer) oldest first: a classic build on an imported base
CLASSIC = [
    ("", BASE_SIZE, "Imported from -", False),
    ("/bin/sh -c #(nop) COPY dir:56fb in /app ", COPY_SIZE, "", False),
    ("/bin/sh -c make -C /app", MAKE_SIZE, "", False),
    ('/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "python /app/app.py"]', 0, "", True),
    ("/bin/sh -c #(nop)  LABEL layerlab.course=layerlab", 0, "", True),
]
TOTAL = BASE_SIZE + COPY_SIZE + MAKE_SIZE
NAME = "layerlab-you/01-layers-sample:latest"


def make_stack():
    history = [HistoryRecord(created_by=c, size=s, created=T, comment=m, image_id="sha256:" + str(n) * 64, empty_layer=e)
               for n, (c, s, m, e) in enumerate(CLASSIC)]
    return build_stack("sha256:" + "9" * 64, [NAME], history, DIFF, size=TOTAL)


def box(n: int, size_rw: int, name: str | None = None) -> ContainerLayer:
    return ContainerLayer(f"{n:x}" * 64, name or f"layerlab-you-01-layers-visitor{n}-{n:06x}", "sha256:" + "9" * 64,
                          size_rw, TOTAL + size_rw)


def snapshot(shared_size: int = BASE_SIZE, live=(1, 2, 3, 4), removed=(), **extra) -> SharingSnapshot:
    stack = make_stack()
    usage = ImageDiskUsage(stack.image_id, stack.tags, TOTAL, shared_size, len(live))
    return SharingSnapshot(stack, usage, tuple(box(n, 16 + n) for n in live),
                           removed=tuple(box(n, 16 + n) for n in removed), **extra)


@pytest.fixture
def no_dot(monkeypatch):
    """A machine without graphviz: `dot` is on no PATH, and running it would fail the test."""
    empty = os.path.join(os.path.dirname(__file__), "no-such-folder-for-dot")
    monkeypatch.setenv("PATH", empty)
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)

    def refuse(*args, **kwargs):
        raise AssertionError(f"the drawing ran a program: {args[:1]}")

    import subprocess

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(subprocess, "run", refuse)


def test_the_same_snapshot_draws_the_same_bytes():
    first = sharing_graph(snapshot(removed=(5,)))
    second = sharing_graph(snapshot(removed=(5,)))
    assert first.svg() == second.svg() and first.text() == second.text()
    assert first.renderer == "builtin" and "no graphviz needed" in first.note
    # No generated ids, so two drawings on one page cannot clash.
    assert " id=" not in first.svg()
    # A different snapshot is a different drawing: the bytes depend on the data, not on nothing.
    assert sharing_graph(snapshot(live=(1, 2))).svg() != first.svg()


def test_every_container_and_layer_is_drawn_with_its_size():
    drawing = sharing_graph(snapshot(removed=(5, 6)))
    root = ElementTree.fromstring(drawing.svg())  # well-formed XML
    assert root.get("class") == "layerlab-sharing" and root.get("data-renderer") == "builtin"
    drawn = drawn_sharing(drawing.svg())
    assert [layer["diff_id"] for layer in drawn["layers"]] == list(reversed(DIFF))  # top first
    assert [layer["size"] for layer in drawn["layers"]] == [str(MAKE_SIZE), str(COPY_SIZE), str(BASE_SIZE)]
    for layer, size in zip(drawn["layers"], (MAKE_SIZE, COPY_SIZE, BASE_SIZE)):
        assert layer["text"].endswith(human_size(size))
    assert [c["container_id"] for c in drawn["containers"]] == [box(n, 0).container_id for n in (1, 2, 3, 4)]
    for container, n in zip(drawn["containers"], (1, 2, 3, 4)):
        assert f"visitor{n}" in container["text"] and f"R/W layer {16 + n} B" in container["text"]
    assert [c["size_rw"] for c in drawn["removed"]] == ["21", "22"]
    assert all("is gone" in c["text"] for c in drawn["removed"])
    svg = drawing.svg()
    assert "SIZE 97.3 MB = SHARED SIZE 97.3 MB" in svg and "UNIQUE SIZE 2.44 kB" in svg and "CONTAINERS 4" in svg
    assert "(74 B for 4 containers)" in svg  # 17 + 18 + 19 + 20: the containers' SIZE is their R/W layers only


def test_layers_other_images_hold_are_marked_from_shared_size():
    # SHARED SIZE is the base layer's size: only that layer is shared with other images.
    drawn = drawn_sharing(sharing_graph(snapshot()).svg())
    assert [layer["shared"] for layer in drawn["layers"]] == ["false", "false", "true"]
    text = sharing_graph(snapshot()).text()
    assert "[shared] IMPORT" in text and "[layer]  RUN make -C /app" in text
    # Everything shared (the classic builder's intermediate images hold every layer too).
    everything = drawn_sharing(sharing_graph(snapshot(shared_size=TOTAL)).svg())
    assert [layer["shared"] for layer in everything["layers"]] == ["true", "true", "true"]
    # Figures that match no bottom run of layers, or an engine that did not compute them: nothing claimed.
    for unknown in (BASE_SIZE // 2, -1):
        drawn = drawn_sharing(sharing_graph(snapshot(shared_size=unknown)).svg())
        assert {layer["shared"] for layer in drawn["layers"]} == {"unknown"}
    # A caller that knows the shared layers exactly wins over the inference.
    exact = drawn_sharing(sharing_graph(snapshot(shared_diff_ids=(DIFF[0], DIFF[1]))).svg())
    assert [layer["shared"] for layer in exact["layers"]] == ["false", "true", "true"]


def test_shared_prefix_finds_the_bottom_run_of_layers():
    assert shared_prefix([100, 50, 7], 150) == 2
    assert shared_prefix([100, 0, 50], 100) == 1  # a 0 B layer on top is not claimed
    assert shared_prefix([100, 50], 0) == 0
    assert shared_prefix([100, 50], 151) == 2  # within 1 %
    assert shared_prefix([100, 50], 120) is None and shared_prefix([100, 50], -1) is None


def test_it_draws_without_dot(no_dot):
    assert shutil.which("dot") is None
    drawing = sharing_graph(snapshot(removed=(5,)))
    assert drawing.renderer == "builtin"
    assert len(drawn_sharing(drawing.svg())["containers"]) == 4
    bundle = drawing._repr_mimebundle_()
    assert bundle["image/svg+xml"].startswith("<svg") and "visitor4" in bundle["text/plain"]
    # Asking for graphviz where it cannot draw falls back to the same picture, and says why.
    asked = sharing_graph(snapshot(removed=(5,)), renderer="graphviz")
    assert asked.renderer == "builtin" and "`dot` program is not installed" in asked.note
    assert drawn_sharing(asked.svg()) == drawn_sharing(drawing.svg())
    assert asked.note in asked.text()


def test_the_drawing_does_not_depend_on_dot_being_installed(monkeypatch):
    with_dot = sharing_graph(snapshot(removed=(5,))).svg()
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    assert sharing_graph(snapshot(removed=(5,))).svg() == with_dot


def test_graphviz_draws_when_asked_and_present_and_falls_back_otherwise():
    # No skip: the bare tier (no dot) must skip only engine and browser tests.
    missing = view.graphviz_missing()
    drawing = sharing_graph(snapshot(removed=(5,)), renderer="graphviz")
    if missing:
        assert os.environ.get("CI") != "true" or not shutil.which("dot"), f"CI has dot but cannot use it: {missing}"
        assert drawing.renderer == "builtin" and missing in drawing.note
        assert drawing.svg() == sharing_svg(snapshot(removed=(5,)), note=drawing.note)
        return
    assert drawing.renderer == "graphviz" and drawing.note == "Drawn by graphviz (dot)."
    svg = drawing.pipe(format="svg").decode()
    assert "visitor4" in svg and "is gone" in svg
    source = view.sharing_digraph(snapshot(removed=(5,))).source
    assert source.count("image -> ") == 5


def test_an_unknown_renderer_is_refused():
    with pytest.raises(ValueError, match="renderer must be one of"):
        sharing_graph(snapshot(), renderer="dot")


def test_text_summary_lists_every_layer_and_container():
    text = sharing_graph(snapshot(removed=(5,)), show_metadata=True).text()
    lines = text.splitlines()
    assert lines[0] == f"image {NAME}: 3 read-only layers, stored once, read by 4 containers"
    assert any(line.startswith("  [ -- ]   CMD") for line in lines)  # metadata shown only when asked
    assert "LABEL layerlab" not in text  # the course's bookkeeping labels are never drawn
    assert "[gone]   container layerlab-you-01-layers-visitor5-000005: removed, its R/W layer (21 B) is gone" in text
    assert sum(line.startswith("  [R/W]") for line in lines) == 4
    assert "CMD" not in sharing_graph(snapshot()).text()


def test_no_container_left_and_long_names_still_fit():
    empty = sharing_graph(snapshot(live=(), removed=(1,)))
    assert "no R/W layer" in empty.svg() and "the image only, 97.3 MB" in empty.text()
    assert fit("abcdefghij", 20) == "abcdefghij"
    long_name = "layerlab-a-very-long-learner-name-01-layers-visitor1-00000a"
    squeezed = fit(long_name, 40)
    assert len(squeezed) == 40 and squeezed.endswith("visitor1-00000a") and squeezed.startswith("layerlab-")
    drawing = sharing_graph(SharingSnapshot(make_stack(), ImageDiskUsage("sha256:" + "9" * 64, (NAME,), TOTAL, 0, 1),
                                            (box(10, 5, name=long_name),)))
    assert long_name in drawing.svg()  # whole in the tooltip
    shown = drawn_sharing(drawing.svg())["containers"][0]["text"].split(" | ")[0]
    assert "…" in shown and shown.endswith("visitor1-00000a") and len(shown) < len(long_name)


def test_every_text_stays_inside_the_drawing():
    svg = sharing_graph(snapshot(removed=(5, 6)), show_metadata=True).svg()
    root = ElementTree.fromstring(svg)
    width, height = float(root.get("width")), float(root.get("height"))
    assert width <= 900, "it must read well at notebook width"
    for text in root.iter("{http://www.w3.org/2000/svg}text"):
        x, y = float(text.get("x")), float(text.get("y"))
        size = float(text.get("font-size"))
        chars = len("".join(text.itertext()))
        per_char = 0.6 * size if "monospace" in text.get("font-family") else 0.55 * size
        anchor = text.get("text-anchor")
        left = x - chars * per_char if anchor == "end" else x
        right = x if anchor == "end" else x + chars * per_char
        assert 0 <= left and right <= width and 0 < y <= height, "".join(text.itertext())
