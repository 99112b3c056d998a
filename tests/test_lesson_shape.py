"""Every lesson opens with what the learner will be able to do and how long it takes, and ends
(before its clean-up) with a recap and a question to check understanding."""

from __future__ import annotations

import re

import nbformat
import pytest

from support import ROOT

LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_a_lesson_says_what_it_teaches_and_how_long_it_takes(path):
    cells = nbformat.read(path, as_version=4).cells
    title = next(c for c in cells if c.cell_type == "markdown" and c.source.startswith("# "))
    assert re.match(rf"# {path.name[:2]} · ", title.source), "the title names the lesson's number"
    assert "**By the end you can**" in title.source
    assert re.search(r"\*\*Time:\*\* about \d+ minutes", title.source)


@pytest.mark.parametrize("path", [p for p in LESSONS if not p.name.startswith("00-")], ids=lambda p: p.name)
def test_a_lesson_ends_with_a_recap_and_a_question(path):
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    recap = text.index("## What to remember")
    check = text.index("**Check yourself.**", recap)
    assert "<details><summary>Answer</summary>" in text[check:]


_BINARY_UNIT = re.compile(r"\b\d[\d.,]*\s?(KiB|MiB|GiB|KB)\b")
_CODE_SPAN = re.compile(r"`[^`\n]*`")


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_one_size_unit_throughout(path):
    """Sizes read in the decimal units `docker` prints (kB, MB, GB), in the prose and in every
    stored output; a binary unit may appear only inside code (`bs=1M`)."""
    found = []
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        texts = [_CODE_SPAN.sub("", cell.source)] if cell.cell_type == "markdown" else []
        for output in cell.get("outputs", []):
            texts.append(output.get("text", "") + str(output.get("data", {}).get("text/plain", "")))
            texts.append(str(output.get("data", {}).get("text/html", "")))
        found += [f"cell {index}: {m.group(0)}" for text in texts for m in _BINARY_UNIT.finditer(text)]
    assert not found


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_nbval_markers_stand_alone(path):
    """nbval honours a marker only when the comment is the marker alone (`# NBVAL_IGNORE_OUTPUT`):
    `# NBVAL_IGNORE_OUTPUT  (why)` is silently compared. The reason goes on the next line."""
    wrong = [line for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"
             for line in cell.source.splitlines()
             if "NBVAL_" in line and re.match(r"^\s*#", line) and not re.fullmatch(r"\s*#\s*NBVAL_[A-Z_]+\s*", line)]
    assert not wrong
