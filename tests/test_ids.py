"""The ids lesson 01 explains, side by side, with the seed's ids mapped onto the learner's stack."""

from __future__ import annotations

from layerlab.core.model import BuilderKind, HistoryEntry

from test_predict import entry, stack


def test_ids_table_maps_the_seeds_ids_onto_the_learners_stack():
    from layerlab.core.ids import ids_table

    base = stack(entry(0, "ADD", True), entry(1, "CMD", False))
    built = stack(*base.entries, entry(2, "COPY", True), entry(3, "RUN", True), entry(4, "CMD", False),
                  HistoryEntry(index=5, instruction="LABEL layerlab.course=layerlab", keyword="LABEL",
                               builder=BuilderKind.CLASSIC, created_by="", size=0, created=None, comment="",
                               image_id=None, diff_id=None, layer_index=None))
    text = ids_table(built, base)
    rows = text.splitlines()
    assert rows[2].startswith("CMD") and rows[2].endswith("91e54dfb1179") and "no layer" in rows[2]
    assert rows[3].startswith("RUN") and f"{3:012x}" in rows[3] and rows[3].endswith("d74508fb6632")
    assert rows[4].startswith("COPY") and rows[4].endswith("c22013c84729")
    assert rows[5].startswith("FROM (the base: 1 layer(s))") and rows[5].endswith("d3a1f33e8a5a")
    assert "layerlab.course" not in text  # the course's bookkeeping is not the seed's Dockerfile
    assert "repo digest: none" in text and "image id: aaaaaaaaaaaa" in text
    assert "repo digest: r@sha256:1" in ids_table(built, base, repo_digests=["r@sha256:1"])
