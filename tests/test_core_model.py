"""Core tier: the image model, with canned history records (no engine)."""

import pytest

from layerlab.core.model import (
    EMPTY_LAYER_DIFF_ID,
    BuilderKind,
    ChangeKind,
    FileChange,
    HistoryRecord,
    InconsistentImage,
    build_stack,
    human_size,
    parse_created_by,
    short_id,
)


def digests(n):
    return [f"sha256:{i:064x}" for i in range(1, n + 1)]


@pytest.mark.parametrize(
    "created_by, comment, instruction, keyword, builder",
    [
        ('/bin/sh -c #(nop)  CMD ["sh"]', "", 'CMD ["sh"]', "CMD", BuilderKind.CLASSIC),
        ("/bin/sh -c #(nop) ADD file:abc in / ", "", "ADD file:abc in /", "ADD", BuilderKind.CLASSIC),
        ("/bin/sh -c #(nop) COPY dir:abc in /app ", "", "COPY dir:abc in /app", "COPY", BuilderKind.CLASSIC),
        ("/bin/sh -c make -C /app", "", "RUN make -C /app", "RUN", BuilderKind.CLASSIC),
        ("|1 VERSION=2 /bin/sh -c echo $VERSION", "", "RUN echo $VERSION", "RUN", BuilderKind.CLASSIC),
        ("/bin/sh -c #(nop) WORKDIR /app", "", "WORKDIR /app", "WORKDIR", BuilderKind.CLASSIC),
        ("RUN /bin/sh -c make -C /app # buildkit", "buildkit.dockerfile.v0", "RUN make -C /app", "RUN", BuilderKind.BUILDKIT),
        ("COPY . /app # buildkit", "buildkit.dockerfile.v0", "COPY . /app", "COPY", BuilderKind.BUILDKIT),
        ('CMD ["python" "/app/app.py"]', "buildkit.dockerfile.v0", 'CMD ["python" "/app/app.py"]', "CMD", BuilderKind.BUILDKIT),
        ("RUN |1 A=1 /bin/sh -c echo $A # buildkit", "buildkit.dockerfile.v0", "RUN echo $A", "RUN", BuilderKind.BUILDKIT),
        ("", "Imported from -", "IMPORT (docker import of a root filesystem tar)", "IMPORT", BuilderKind.IMPORT),
        ("", "snapshot before the demo", "snapshot before the demo", "?", BuilderKind.COMMIT),
    ],
)
def test_parse_created_by(created_by, comment, instruction, keyword, builder):
    assert parse_created_by(created_by, comment) == (instruction, keyword, builder)


def classic_history(empty_flags=True):
    """The seed's sample image, as the classic builder records it (oldest first)."""
    rows = [
        ("", 97_000_000, "Imported from -", False),
        ("/bin/sh -c #(nop) WORKDIR /app", 0, "", False),  # made /app: a 0 B layer
        ("/bin/sh -c true", 0, "", True),  # RUN that changed nothing: no layer
        ("/bin/sh -c #(nop) COPY dir:0123 in /app ", 1_200, "", False),
        ("/bin/sh -c make -C /app", 4_000, "", False),
        ('/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "python /app/app.py"]', 0, "", True),
        ("/bin/sh -c #(nop)  LABEL layerlab.course=layerlab", 0, "", True),
    ]
    return [
        HistoryRecord(created_by=c, size=s, comment=m, empty_layer=e if empty_flags else None)
        for c, s, m, e in rows
    ]


def test_exact_pairing_uses_empty_layer_flags():
    layers = digests(4)
    stack = build_stack("sha256:" + "f" * 64, ["demo:latest"], classic_history(), layers)
    assert stack.exact
    assert [e.keyword for e in stack.layer_entries] == ["IMPORT", "WORKDIR", "COPY", "RUN"]
    assert [e.diff_id for e in stack.layer_entries] == layers
    assert [e.layer_index for e in stack.layer_entries] == [0, 1, 2, 3]
    assert [e.keyword for e in stack.metadata_entries] == ["RUN", "CMD", "LABEL"]
    assert all(e.size == 0 and e.describe_size() == "no layer, 0 B" for e in stack.metadata_entries)
    assert stack.entry_for_diff_id(layers[2]).instruction == "COPY dir:0123 in /app"


def test_inferred_pairing_is_marked_and_counts_layers():
    layers = digests(4)
    stack = build_stack("sha256:" + "f" * 64, [], classic_history(empty_flags=False), layers)
    assert not stack.exact
    assert len(stack.layer_entries) == 4
    # Without the flags, a 0 B WORKDIR and a 0 B RUN look alike: the rule prefers the RUN.
    assert "matched by rule" in stack.summary()


def test_inference_prefers_the_empty_tar_digest():
    history = [
        HistoryRecord(created_by="", size=10, comment="Imported from -"),
        HistoryRecord(created_by="/bin/sh -c #(nop) WORKDIR /a", size=0),
        HistoryRecord(created_by="/bin/sh -c true", size=0),
    ]
    stack = build_stack("sha256:1", [], history, ["sha256:" + "a" * 64, EMPTY_LAYER_DIFF_ID])
    assert [e.keyword for e in stack.layer_entries] == ["IMPORT", "WORKDIR"] or [
        e.keyword for e in stack.layer_entries
    ] == ["IMPORT", "RUN"]
    assert stack.layer_entries[1].diff_id == EMPTY_LAYER_DIFF_ID


def test_inconsistent_history_is_refused():
    with pytest.raises(InconsistentImage, match="has 2 layers but its history names 4"):
        build_stack("sha256:" + "f" * 64, [], classic_history(), digests(2))


def test_image_without_history_gets_one_entry_per_layer():
    stack = build_stack("sha256:1", [], [], digests(3))
    assert len(stack.entries) == 3 and all(e.is_layer for e in stack.entries)


def test_summary_lists_top_first():
    stack = build_stack("sha256:" + "f" * 64, ["demo:latest"], classic_history(), digests(4))
    lines = stack.summary().splitlines()
    assert lines[0].startswith("demo:latest: 7 history entries, 4 filesystem layers")
    assert "LABEL" in lines[1] and "IMPORT" in lines[-1]


def test_change_kind_from_api_and_letters():
    assert [ChangeKind.from_api(k) for k in (0, 1, 2)] == [ChangeKind.CHANGED, ChangeKind.ADDED, ChangeKind.DELETED]
    assert str(FileChange("/tmp/f", ChangeKind.ADDED, 1500)) == "A /tmp/f (1.5 kB)"
    with pytest.raises(ValueError):
        ChangeKind.from_api(7)


@pytest.mark.parametrize("size, text", [(0, "0 B"), (999, "999 B"), (1000, "1 kB"), (97_289_170, "97.3 MB")])
def test_human_size_like_docker(size, text):
    assert human_size(size) == text


def test_short_id():
    assert short_id("sha256:" + "0123456789ab" + "f" * 52) == "0123456789ab"
    assert short_id(None) == ""
