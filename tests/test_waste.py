"""Core tier: wasted bytes and dive's efficiency score on hand-made layer indexes.

Every expected figure is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import pytest

from layerlab.core.filetree import stack_layers
from layerlab.core.layertar import EntryType, RawEntry
from layerlab.core.waste import WasteKind, check_gate, dive_score, measure_waste


def d(path):
    return RawEntry(path, EntryType.DIRECTORY)


def f(path, size):
    return RawEntry(path, EntryType.FILE, size)


def hard(path, target):
    return RawEntry(path, EntryType.HARDLINK, 0, target)


def wh(path):
    return RawEntry(path, EntryType.OTHER, whiteout="file")


def opq(path):
    return RawEntry(path, EntryType.DIRECTORY, whiteout="opaque")


def index_of(*layers):
    return stack_layers(layers, [f"sha256:{i:064x}" for i in range(len(layers))])


MIXED = index_of(
    [  # 1: base
        d("/etc"), f("/etc/old", 10), f("/etc/keep", 5), d("/usr"), d("/usr/bin"), f("/usr/bin/tool", 100),
        hard("/usr/bin/tool2", "/usr/bin/tool"), d("/d"), f("/d/a", 3), d("/d/sub"), f("/d/sub/b", 4),
        d("/gone"), f("/gone/x", 7),
    ],
    [d("/etc"), f("/etc/keep", 6)],  # 2: /etc/keep written again
    [d("/etc"), wh("/etc/old"), wh("/gone"), d("/d"), opq("/d"), f("/d/new", 1)],  # 3: rm, rm -rf, opaque /d
    [d("/usr/bin"), wh("/usr/bin/tool")],  # 4: the hard link /usr/bin/tool2 keeps the body visible
)


def test_mixed_image_split_by_hand():
    report = measure_waste(MIXED, ["FROM base", "COPY keep", "RUN rm", "RUN rm tool"])
    # shadowed: /etc/keep's 5 B; deleted: /etc/old 10 + /gone/x 7 + /d/a 3 + /d/sub/b 4 = 24
    assert (report.shadowed_bytes, report.deleted_bytes, report.wasted_bytes) == (5, 24, 29)
    # stored: 10+5+100+3+4+7 in layer 1, 6 in layer 2, 1 in layer 3
    assert report.stored_bytes == 136
    assert report.wasted_ratio == pytest.approx(29 / 136)
    top = report.offenders[0]
    assert (top.path, top.size, top.layer_index, top.kind, top.hidden_by, top.instruction) == (
        "/etc/old", 10, 0, WasteKind.DELETED, 2, "FROM base")
    keep = next(o for o in report.offenders if o.path == "/etc/keep")
    assert (keep.kind, keep.hidden_by) == (WasteKind.SHADOWED, 1)
    assert "/usr/bin/tool" not in {o.path for o in report.offenders}


def test_mixed_image_dive_score_by_hand():
    dive = measure_waste(MIXED).dive
    # leaves per path (whiteout of a file 0, of a directory the subtree below it):
    # /etc/old 10+0, /etc/keep 5+6, /usr/bin/tool 100+0 (inefficient: 121 B);
    # once: tool2 0, /d/a 3, /d/sub/b 4, /gone/x 7, /gone (whiteout) 7, /d/new 1
    assert dive.inefficient_bytes == 121
    assert [p.path for p in dive.inefficiencies] == ["/usr/bin/tool", "/etc/keep", "/etc/old"]
    assert dive.inefficiencies[1].layers == (0, 1)
    # minimum: 0+5+0+0+3+4+7+7+1 = 27; cumulative: 10+11+100+0+3+4+7+7+1 = 143
    assert dive.efficiency == pytest.approx(27 / 143)
    assert dive.user_size_bytes == 7
    assert dive.wasted_user_ratio == pytest.approx(121 / 7)


def test_dive_own_efficiency_test_case():
    # dive/filetree/efficiency_test.go (TestEfficency): no explicit directory entries, so the
    # whiteout of /etc/nginx removes a directory dive's tree only implies and counts 0.
    index = index_of(
        [f("/etc/nginx/nginx.conf", 2000), f("/etc/nginx/public", 3000)],
        [f("/etc/nginx/nginx.conf", 5000), f("/etc/athing", 10000)],
        [wh("/etc/nginx")],
    )
    report = measure_waste(index)
    assert report.dive.efficiency == 0.75
    assert [(p.path, p.cumulative_size) for p in report.dive.inefficiencies] == [("/etc/nginx/nginx.conf", 7000)]
    # layerlab: 2000 shadowed; 5000 + 3000 deleted with the directory
    assert (report.shadowed_bytes, report.deleted_bytes) == (2000, 8000)


def test_added_then_deleted_file_and_directory_differ_from_dive():
    index = index_of(
        [f("/keep", 1)],
        [f("/big", 1000), d("/junk"), f("/junk/big", 1000)],
        [wh("/big"), wh("/junk")],
    )
    report = measure_waste(index)
    assert (report.wasted_bytes, report.deleted_bytes, report.shadowed_bytes) == (2000, 2000, 0)
    # dive: /big is seen twice (the file, its whiteout): 1000 inefficient; /junk/big once and
    # /junk's whiteout once (1000): not inefficient. min 1+0+1000+0+1000 / cum 1+1000+1000+0+1000
    assert report.dive.inefficient_bytes == 1000
    assert report.dive.efficiency == pytest.approx(2001 / 3001)


def test_copy_up_is_shadowed_and_dive_counts_both_copies():
    index = index_of([d("/bin"), f("/bin/tool", 500)], [d("/bin"), f("/bin/tool", 500)])  # chmod: a copy-up
    report = measure_waste(index)
    assert (report.shadowed_bytes, report.deleted_bytes) == (500, 0)
    assert report.offenders[0].hidden_by == 1
    assert (report.dive.inefficient_bytes, report.dive.efficiency) == (1000, 0.5)


def test_hard_links_store_one_body_per_layer():
    index = index_of(
        [d("/x"), f("/x/a", 50), hard("/x/b", "/x/a"), f("/x/c", 9)],
        [d("/x"), wh("/x/a"), wh("/x/b")],  # every name of the body gone: 50 B once
    )
    report = measure_waste(index)
    assert report.wasted_bytes == 50
    assert report.stored_bytes == 59
    assert [o.path for o in report.offenders] == ["/x/a"]


def test_opaque_directory_hides_lower_contents():
    index = index_of([d("/cache"), f("/cache/one", 30), d("/cache/sub"), f("/cache/sub/two", 12)],
                     [d("/cache"), opq("/cache"), f("/cache/three", 2)])
    report = measure_waste(index)
    assert (report.deleted_bytes, report.shadowed_bytes) == (42, 0)
    assert {o.hidden_by for o in report.offenders} == {1}
    # dive ignores opaque markers: every path is seen once, nothing inefficient
    assert (report.dive.inefficient_bytes, report.dive.efficiency) == (0, 1.0)


def test_a_file_over_a_directory_shadows_what_was_inside():
    index = index_of([d("/x"), f("/x/f", 20)], [f("/x", 3)])
    report = measure_waste(index)
    assert (report.shadowed_bytes, report.deleted_bytes) == (20, 0)


def test_clean_up_in_the_same_layer_wastes_nothing():
    index = index_of([f("/a", 4)], [d("/app"), f("/app/out", 8)])
    report = measure_waste(index)
    assert (report.wasted_bytes, report.wasted_ratio, report.dive.efficiency) == (0, 0.0, 1.0)
    assert dive_score(index.layers).inefficient_bytes == 0
    assert "biggest offenders" not in report.summary()


def test_summary_and_json_carry_the_figures():
    report = measure_waste(MIXED)
    data = report.as_dict()
    assert (data["wasted_bytes"], data["wasted_shadowed_bytes"], data["wasted_deleted_bytes"]) == (29, 5, 24)
    assert (data["dive_inefficient_bytes"], data["offender_count"]) == (121, 5)
    assert data["offenders"][0]["layer"] == 1
    text = report.summary(limit=2)
    assert "wasted: 29 B" in text and "... and 3 more" in text and "dive's efficiency score: 0.1888" in text


def test_gate_verdicts():
    report = measure_waste(MIXED)
    verdicts = check_gate(report, max_wasted_bytes=29, max_wasted_ratio=0.1, min_efficiency=0.2)
    assert [(v.rule, v.passed) for v in verdicts] == [
        ("min-efficiency", False), ("max-wasted-bytes", True), ("max-wasted-ratio", False)]
    assert verdicts[1].line() == "PASS  max-wasted-bytes: 29 B wasted (29 B) (limit <= 29 B)"
    assert check_gate(report) == []
    assert not check_gate(report, max_wasted_bytes=28)[0].passed
