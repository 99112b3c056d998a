"""Core and view tier (no engine): drawing stacks from canned history, BuildKit included.

The BuildKit records are what Docker 26 with buildx writes for the seed's Dockerfile on a
classic-built base: `created_by` without the `/bin/sh -c #(nop)` prefix, a `# buildkit` suffix
on RUN, the comment `buildkit.dockerfile.v0`, and `<missing>` ids in `docker history`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from datetime import datetime, timezone

import pytest

from layerlab.core.model import BuilderKind, ContainerLayer, HistoryRecord, build_stack
from layerlab.core.sharing import ImageDiskUsage, SharingSnapshot
from layerlab.core.stackcheck import compare_with_history
from layerlab.views.layerstack import LayerStackView, drawn_entries, entry_details_html, is_bookkeeping

T = datetime(2024, 11, 11, tzinfo=timezone.utc)
DIFF = ["sha256:" + c * 64 for c in "abc"]
BK = "buildkit.dockerfile.v0"

# (created_by, size, comment, empty_layer, id in `docker history`) oldest first
BUILDKIT = [
    ("/bin/sh -c #(nop) ADD file:4b1be1de1a1e5aa608c688cad2824587262081866180bfef13f35d2f1d6aed4b in / ", 74_800_000, "", False, None),
    ('/bin/sh -c #(nop)  CMD ["bash"]', 0, "", True, None),
    ("COPY . /app # buildkit", 2190, BK, False, None),
    ("RUN /bin/sh -c make -C /app # buildkit", 245, BK, False, None),
    ('CMD ["/bin/sh" "-c" "python /app/app.py"]', 0, BK, True, "sha256:" + "f" * 64),
]
CLASSIC = [
    ("", 97_300_000, "Imported from -", False, "sha256:" + "1" * 64),
    ("/bin/sh -c #(nop) COPY dir:56fb in /app ", 2190, "", False, "sha256:" + "2" * 64),
    ("/bin/sh -c make -C /app", 245, "", False, "sha256:" + "3" * 64),
    ('/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "python /app/app.py"]', 0, "", True, "sha256:" + "4" * 64),
    ("/bin/sh -c #(nop)  LABEL layerlab.course=layerlab", 0, "", True, "sha256:" + "5" * 64),
    ("/bin/sh -c #(nop)  LABEL layerlab.learner=you", 0, "", True, "sha256:" + "6" * 64),
]


def records(rows, flags=True):
    return [HistoryRecord(created_by=c, size=s, created=T, comment=m, image_id=i, empty_layer=e if flags else None)
            for c, s, m, e, i in rows]


def make_stack(rows, diff_ids, flags=True):
    return build_stack("sha256:" + "9" * 64, ["layerlab-you/01-layers-sample:latest"], records(rows, flags), diff_ids,
                       size=sum(r[1] for r in rows))


@pytest.fixture
def buildkit():
    return make_stack(BUILDKIT, DIFF)


def test_buildkit_history_is_parsed(buildkit):
    entries = buildkit.entries
    assert [e.instruction for e in entries[2:]] == ["COPY . /app", "RUN make -C /app", 'CMD ["/bin/sh" "-c" "python /app/app.py"]']
    assert [e.builder for e in entries[2:]] == [BuilderKind.BUILDKIT] * 3
    assert [e.short_id for e in entries] == ["<missing>"] * 4 + ["f" * 12]
    assert [e.diff_id for e in entries] == [DIFF[0], None, DIFF[1], DIFF[2], None]


def test_buildkit_history_without_flags_is_inferred_the_same(buildkit):
    inferred = make_stack(BUILDKIT, DIFF, flags=False)
    assert not inferred.exact
    assert [e.diff_id for e in inferred.entries] == [e.diff_id for e in buildkit.entries]


def test_drawing_has_one_block_per_entry_top_first(buildkit):
    svg = LayerStackView(buildkit).svg()
    ElementTree.fromstring(svg)  # well-formed
    drawn = drawn_entries(svg)
    assert [d["index"] for d in drawn] == ["4", "3", "2", "1", "0"]
    assert [d["role"] for d in drawn] == ["metadata", "layer", "layer", "metadata", "layer"]
    assert [d["diff_id"] for d in drawn if d["diff_id"]] == list(reversed(DIFF))
    assert "no layer, 0 B" in svg and "RUN make -C /app" in svg


def test_hover_titles_hold_the_full_instruction_and_digest(buildkit):
    root = ElementTree.fromstring(LayerStackView(buildkit).svg())
    ns = "{http://www.w3.org/2000/svg}"
    titles = {g.get("data-index"): g.find(f"{ns}title").text for g in root.iter(f"{ns}g") if g.get("data-index")}
    assert BUILDKIT[0][0] in titles["0"] and DIFF[0] in titles["0"]
    assert "no filesystem layer" in titles["4"] and "BuildKit" in titles["3"]


def test_course_labels_are_drawn_discreetly_and_said_so():
    stack = make_stack(CLASSIC, DIFF)
    drawn = drawn_entries(LayerStackView(stack).svg())
    assert [d["role"] for d in drawn] == ["bookkeeping", "bookkeeping", "metadata", "layer", "layer", "layer"]
    assert sum(is_bookkeeping(e) for e in stack.entries) == 2
    text = LayerStackView(stack).text()
    assert "2 of the entries are the course's labels" in text and "[label]" in text
    assert "labels the course adds" in LayerStackView(stack).svg()


def test_container_layer_sits_on_top_and_base_is_marked():
    stack = make_stack(CLASSIC, DIFF)
    base = make_stack(CLASSIC[:1], DIFF[:1])
    box = ContainerLayer("c" * 64, "layerlab-you-01-layers-run-abc123", stack.image_id, 16, 97_302_451)
    view = LayerStackView(stack, container=box, base=base)
    drawn = drawn_entries(view.svg())
    assert drawn[0] == {"role": "container", "container_id": "c" * 64, "size": "16"}
    assert drawn[-1]["role"] == "base" and view.base_entries == 1
    assert view.text().splitlines()[0].startswith("[R/W]")
    bundle = view._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "text/plain"}


def test_entry_details_for_the_click_panel(buildkit):
    details = entry_details_html(buildkit.entries[3])
    assert "RUN /bin/sh -c make -C /app # buildkit" in details and DIFF[2] in details


def test_the_click_panel_names_the_whiteout_form_under_a_layer_that_deletes(buildkit):
    import types

    def layer(deleted):
        return types.SimpleNamespace(deleted=deleted, summary=lambda limit: "D /app/old (whiteout, hid 3 B)")

    sentence = "Whiteouts on this engine: one whiteout per deleted entry."
    entry = buildkit.entries[3]
    deleting = types.SimpleNamespace(layers=[layer(("x",))] * (entry.layer_index + 1))
    keeping = types.SimpleNamespace(layers=[layer(())] * (entry.layer_index + 1))
    assert sentence in entry_details_html(entry, deleting, whiteouts=sentence)
    assert sentence not in entry_details_html(entry, keeping, whiteouts=sentence)


def test_widget_builds_without_a_browser(buildkit):
    pytest.importorskip("ipywidgets")
    widget = LayerStackView(buildkit).widget()
    picker, details = widget.children[2].children
    picker.value = 3
    assert "make -C /app" in details.value
    picker.value = 1
    assert "configuration only" in details.value


def test_compare_with_history_agrees_on_canned_records(buildkit):
    newest_first = list(reversed(records(BUILDKIT)))
    check = compare_with_history(buildkit, newest_first, DIFF)
    assert check.agrees and "every entry and every layer match" in check.summary()
    wrong = compare_with_history(buildkit, newest_first, list(reversed(DIFF)))
    assert not wrong.agrees and "DISAGREE" in wrong.summary()


def test_sharing_snapshot_counts_like_system_df():
    stack = make_stack(CLASSIC, DIFF)
    boxes = tuple(ContainerLayer(c * 64, f"box-{c}", stack.image_id, 16 * (i + 1), 0) for i, c in enumerate("de"))
    usage = ImageDiskUsage(stack.image_id, stack.tags, 97_302_435, 97_300_000, 2)
    before = SharingSnapshot(stack, usage, boxes)
    assert usage.unique_size == 2435
    assert before.on_disk == 97_302_435 + 48 and before.if_copied == 2 * 97_302_435 + 48
    after = before.after(SharingSnapshot(stack, usage, boxes[1:]))
    assert [c.name for c in after.removed] == ["box-d"]
    text = after.summary()
    assert "box-d: removed, and its R/W layer (16 B) with it" in text and "UNIQUE SIZE 2.44 kB" in text


def test_sharing_graph_draws_every_container_without_graphviz():
    from layerlab.views.sharing import sharing_graph

    stack = make_stack(CLASSIC, DIFF)
    boxes = tuple(ContainerLayer(c * 64, f"box-{c}", stack.image_id, 16, 0) for c in "de")
    snapshot = SharingSnapshot(stack, ImageDiskUsage(stack.image_id, stack.tags, 100, 0, 2), boxes[1:], removed=boxes[:1])
    drawing = sharing_graph(snapshot)
    assert drawing.renderer == "builtin"
    assert "box-e" in drawing.svg() and "is gone" in drawing.svg()
