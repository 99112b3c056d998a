"""Lesson 06's printed figures, without an engine: what nbval compares must not depend on the
engine (the containerd store lists other sizes than overlay2), so a size is the last thing on its
line, and the BuildKit note says plainly when an engine has none."""

from __future__ import annotations

import re
from types import SimpleNamespace

from layerlab.course.what_layers_cost import buildkit_note, compare, cost_table, in_bytes

MB = 1_000_000


def cost(name, size, wasted, efficiency=1.0, inefficient=0):
    dive = SimpleNamespace(efficiency=efficiency, inefficient_bytes=inefficient)
    return SimpleNamespace(name=name, size=size, waste=SimpleNamespace(wasted_bytes=wasted, dive=dive))


def sanitized(text: str) -> str:
    return re.sub(r"\b\d+(\.\d+)? (MB|GB)\b", "N MB", text)  # as tests/sanitize.cfg does


def test_exact_bytes_beside_the_decimal_unit():
    assert in_bytes(27) == "27 B"
    assert in_bytes(20 * 1024 * 1024) == "21 MB (20,971,520 B)"


def test_compare_reads_the_same_whatever_sizes_the_engine_lists():
    overlay2 = compare(cost("cleanup-later", 23_000_000, 20_971_520), cost("cleanup-same-run", 1_980_000, 0))
    containerd = compare(cost("cleanup-later", 24_100_000, 20_971_520), cost("cleanup-same-run", 3_140_000, 0))
    assert sanitized(overlay2) == sanitized(containerd)
    assert "cleanup-same-run is 21 MB smaller than cleanup-later" in overlay2
    assert "20,971,520 B, docker images 23 MB" in overlay2
    assert compare(cost("a", 5 * MB, 0), cost("b", 5 * MB, 0)).endswith("b is the same size as a")


def test_cost_table_puts_the_size_last():
    rows = [cost("cleanup-later", 23 * MB, 20_971_520, 0.0864, 20_971_520), cost("tools-inside", 129 * MB, 0)]
    other = [cost("cleanup-later", 241 * MB // 10, 20_971_520, 0.0864, 20_971_520), cost("tools-inside", 178 * MB, 0)]
    assert sanitized(cost_table(rows)) == sanitized(cost_table(other))
    assert cost_table(rows).splitlines()[1].split()[1:4] == ["20,971,520", "0.0864", "20,971,520"]


def test_an_engine_without_buildkit_is_told_so():
    facts = SimpleNamespace(buildkit=False, engine_version="20.10.24+dfsg1")
    lesson = SimpleNamespace(engine=SimpleNamespace(facts=facts))
    note = buildkit_note(lesson, folder=None, classic=cost("multi-stage", 2 * MB, 0), base=None)
    assert note.startswith("This engine (Docker 20.10.24+dfsg1) has no BuildKit (`docker buildx`)")
    assert "classic builder" in note and "The final image is the same" in note
