"""The Korean edition (notebooks/ko): made from the English notebooks and one catalog each, and
never silently behind them."""

from __future__ import annotations

import re
import unicodedata

import pytest

from support import ROOT

pytest.importorskip("babel")
nbformat = pytest.importorskip("nbformat")

from layerlab.edition import catalog as catalogs  # noqa: E402
from layerlab.edition.twin import LANGUAGE_CELL_ID, build, sources  # noqa: E402
from layerlab.edition.units import literal_problem, translate_code, units  # noqa: E402
from layerlab.replay.fingerprint import lesson_fingerprint  # noqa: E402

ENGLISH = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
EDITION = ROOT / "notebooks" / "ko"
SEED = ROOT.parent / "shared" / "seed"
CODE = '''# NBVAL_IGNORE_OUTPUT
lesson = layerlab.start_lesson("99-toy")  # start here
print("the image still stores it:", 3)
print(f"layer {n + 1} holds {size:>8} bytes")
x = "not printed"
'''


def toy():
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("> recorded", metadata={"tags": ["layerlab-provenance"]}),
                      nbformat.v4.new_markdown_cell("# A layer\n\nAn image is a stack of layers."),
                      nbformat.v4.new_code_cell(CODE)]
    for n, cell in enumerate(notebook.cells):
        cell.id = f"cell{n}"
    return notebook


def test_units_are_markdown_cells_comments_and_printed_strings():
    found = {u.context: u.text for u in units(toy())}
    assert found == {"cell1/markdown": "# A layer\n\nAn image is a stack of layers.",
                     "cell2/comment/0": "start here",
                     "cell2/string/0": '"the image still stores it:"',
                     "cell2/string/1": 'f"layer {n + 1} holds {size:>8} bytes"'}


def test_translated_code_keeps_the_code_and_the_markers():
    new = translate_code(CODE, "cell2", {"cell2/comment/0": "여기서 시작", "cell2/string/0": '"이미지는 여전히 저장합니다:"',
                                         "cell2/string/1": 'f"레이어 {n + 1}에 {size:>8} 바이트"'})
    assert new.splitlines()[0] == "# NBVAL_IGNORE_OUTPUT"
    assert 'start_lesson("99-toy")  # 여기서 시작' in new
    assert 'print("이미지는 여전히 저장합니다:", 3)' in new and 'x = "not printed"' in new
    compile(new, "cell", "exec")


@pytest.mark.parametrize("translation, problem", [
    ('f"레이어 {n + 1}에 {size:>8} 바이트"', None),
    ('f"레이어 {n}에 {size:>8} 바이트"', "placeholders"),
    ('"레이어 {n + 1}"', "the English is a f-string"),
    ('f"레이어 {n + 1', "not Python"),
    ('f"레이어 {n + 1}에 {size:>8} 바이트 {\'새\' if n else \'옛\'}"', "placeholders"),
])
def test_a_printed_literal_must_keep_its_kind_and_placeholders(translation, problem):
    found = literal_problem('f"layer {n + 1} holds {size:>8} bytes"', translation)
    assert (found is None) if problem is None else (problem in found), found


@pytest.mark.parametrize("translation, problem", [
    ("f\"{base.key}: {'Debian 패키지' if base.source == 'stand-in' else '공식 이미지'}로 빌드\"", None),
    ("f\"{base.key}: {'Debian 패키지' if base.source == '대체' else '공식 이미지'}로 빌드\"", "placeholders"),
    ("f\"{base.name}: {'Debian 패키지' if base.source == 'stand-in' else '공식 이미지'}로 빌드\"", "placeholders"),
])
def test_a_placeholder_may_translate_only_the_words_it_prints(translation, problem):
    """The branches of a conditional are printed words; the value they are chosen by is code."""
    english = "f\"{base.key}: built from {'Debian packages' if base.source == 'stand-in' else 'an official image'}\""
    found = literal_problem(english, translation)
    assert (found is None) if problem is None else (problem in found), found


def test_a_changed_english_sentence_makes_its_unit_stale_naming_the_cell():
    english = toy()
    catalog, counts = catalogs.extract(english, catalogs.read(EDITION / "catalogs" / "none.po"))
    assert counts["new"] == 4
    for message in catalog:
        if message.id:
            message.string = "번역"
    catalog, _ = catalogs.extract(english, catalog)
    assert catalogs.stale(english, catalog, "toy.ipynb") == []
    english.cells[1].source = "# A layer\n\nAn image is a stack of read-only layers."
    found = catalogs.stale(english, catalog, "toy.ipynb")
    assert [s.unit.context for s in found] == ["cell1/markdown"]
    assert "toy.ipynb cell cell1" in str(found[0]) and "English changed" in str(found[0])
    catalog, counts = catalogs.extract(english, catalog)  # the maintainer's extract: fuzzy, old English kept
    assert counts["changed"] == 1
    message = catalogs.by_context(catalog)["cell1/markdown"]
    assert "fuzzy" in message.flags and message.previous_id == ["# A layer\n\nAn image is a stack of layers."]
    assert "fuzzy" in str(catalogs.stale(english, catalog, "toy.ipynb")[0])


def test_a_twin_sets_its_language_first_and_has_its_sources_fingerprint(tmp_path):
    english = toy()
    twin = build(english, {"cell1/markdown": "# 레이어"}, language="ko", source="../99-toy.ipynb", provenance="> 녹화")
    assert [c.id for c in twin.cells][:2] == ["layerlab-provenance", LANGUAGE_CELL_ID]
    assert twin.cells[1].source.endswith('os.environ["LAYERLAB_LANG"] = "ko"')
    assert twin.cells[2].source == "# 레이어" and twin.cells[3].source == CODE  # untranslated stays English
    (tmp_path / "ko").mkdir()
    nbformat.write(english, tmp_path / "99-toy.ipynb")
    nbformat.write(twin, tmp_path / "ko" / "99-toy.ipynb")
    assert lesson_fingerprint(tmp_path / "ko" / "99-toy.ipynb") == lesson_fingerprint(tmp_path / "99-toy.ipynb")


# The real edition.

def catalog_of(path):
    return catalogs.read(catalogs.catalog_path(EDITION, path))


@pytest.mark.parametrize("path", ENGLISH, ids=lambda p: p.name)
def test_each_catalog_is_in_step_with_its_english_notebook(path):
    """Every unit of the English notebook is in its catalog, and every translation was made from
    today's English: changing one English sentence fails here, naming the cell."""
    english = nbformat.read(path, as_version=4)
    problems = [s for s in catalogs.stale(english, catalog_of(path), path.name) if s.why != "not translated"]
    assert not problems, "\n".join(map(str, problems)) + f"\nrun `python -m layerlab translate extract {path.relative_to(ROOT)}`"


def test_each_built_twin_is_what_its_english_and_catalog_make():
    """A twin is rebuilt from today's English and catalog, never edited by hand; a twin exists
    only once every unit of its notebook is translated (`translate build` refuses before)."""
    from layerlab.cli.translate import check

    twins = [p for p in ENGLISH if (EDITION / p.name).exists()]
    if twins:
        assert check(twins, EDITION) == []
    for twin in EDITION.glob("*.ipynb"):
        assert (ROOT / "notebooks" / twin.name).exists(), f"{twin} has no English source"


def glossary():
    rows = []
    for line in (EDITION / "glossary.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            english, korean, *avoid = line.split("\t")
            rows.append((english, korean, [v for v in (avoid[0].split(",") if avoid else []) if v]))
    return rows


def translated_messages():
    for path in ENGLISH:
        for message in catalog_of(path):
            if message.id and message.string:
                yield path.name, message
    po = ROOT / "widgets" / "layerlab" / "locale" / "ko" / "LC_MESSAGES" / "layerlab.po"
    for message in catalogs.read(po):
        if message.id and message.string:
            yield "layerlab.po", message


def test_translations_follow_the_glossary():
    rows = glossary()
    assert ("layer", "레이어", ["계층", "레이아"]) in rows
    wrong = [f"{name} {m.context or m.id[:40]}: {variant!r} (the glossary says {korean!r} for {english!r})"
             for name, m in translated_messages() for english, korean, avoid in rows for variant in avoid
             if variant in m.string]
    assert not wrong, "\n".join(wrong)
    # A markdown cell that speaks of layers, images or containers uses the glossary's words.
    missing = [f"{name} {m.context}: {korean!r}" for name, m in translated_messages()
               if (m.context or "").endswith("/markdown")
               for english, korean in (("layer", "레이어"), ("image", "이미지"), ("container", "컨테이너"))
               if re.search(rf"\b{english}s?\b", m.id, re.IGNORECASE) and korean not in m.string
               and not re.fullmatch(r"[\s\S]*`[^`]*\b" + english + r"[^`]*`[\s\S]*", m.id)]
    assert not missing, "\n".join(missing)


def test_printed_strings_of_the_twins_keep_their_placeholders():
    wrong = [f"{name} {m.context}: {literal_problem(m.id, m.string)}" for name, m in translated_messages()
             if "/string/" in (m.context or "") and literal_problem(m.id, m.string)]
    assert not wrong, "\n".join(wrong)


def normalized(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


SEED_QUOTES = EDITION / "seed-quotes.txt"


def seed_quotes() -> list[str]:
    lines = SEED_QUOTES.read_text(encoding="utf-8").splitlines() if SEED_QUOTES.exists() else []
    return [normalized(line) for line in lines if line.strip() and not line.startswith("#")]


def test_where_the_korean_quotes_the_seed_it_quotes_the_seeds_own_words():
    """A unit flagged seed-quote quotes in “…” only words of the list notebooks/ko/seed-quotes.txt,
    and every line of that list is the seed's own words, character for character (checked where
    the seed is: ../shared/seed beside the course, as in CI)."""
    quoted = [(name, m) for name, m in translated_messages() if catalogs.SEED_QUOTE in m.flags]
    if any(EDITION.glob("*.ipynb")):
        assert quoted, "the Korean edition quotes the seed somewhere: flag those units seed-quote"
    listed = seed_quotes()
    wrong = []
    for name, message in quoted:
        spans = re.findall(r"“([^”]+)”", message.string)
        if not spans:
            wrong.append(f"{name} {message.context}: flagged seed-quote but quotes nothing in “…”")
        wrong += [f"{name} {message.context}: “{span}” is not in {SEED_QUOTES.name}" for span in spans
                  if normalized(span) not in listed]
    if SEED.exists():
        seed = normalized("\n".join(p.read_text(encoding="utf-8") for p in SEED.glob("*.txt")))
        wrong += [f"{SEED_QUOTES.name}: “{line}” is not in the seed" for line in listed if line not in seed]
    assert not wrong, "\n".join(wrong)


def test_a_rebuild_that_changes_nothing_but_run_noise_keeps_the_twin():
    """`translate build` leaves a twin alone when only timings, widget ids, stream chunks or a
    loopback port differ; a changed word is written."""
    import nbformat

    from layerlab.cli.translate import same_twin

    def notebook(chunks, model="a1", extra=""):
        cell = nbformat.v4.new_code_cell("print(1)", id="c1")
        cell.metadata["execution"] = {"iopub.execute_input": model}
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=t) for t in chunks]
        cell.outputs.append(nbformat.v4.new_output("display_data", data={
            "text/plain": "VBox()" + extra, "application/vnd.jupyter.widget-view+json": {"model_id": model}}))
        return nbformat.v4.new_notebook(cells=[cell])

    kept = notebook(["served on 127.0.0.1:40123\n", "레이어 3개\n"])
    assert same_twin(kept, notebook(["served on 127.0.0.1:35000\n레이어 3개\n"], model="b2"))
    assert not same_twin(kept, notebook(["served on 127.0.0.1:40123\n레이어 4개\n"]))
    assert not same_twin(kept, notebook(["served on 127.0.0.1:40123\n", "레이어 3개\n"], extra=" changed"))
