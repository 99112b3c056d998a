"""The translation catalogs of a notebook edition: one gettext PO file per notebook.

    notebooks/ko/catalogs/02-copy-on-write.po

Each entry is one unit: msgctxt is where it lives (`<cell id>/markdown`, ...), msgid its
English text, msgstr the translation, and an automatic comment `fingerprint: <hash>` the hash
of the English the translation was made from. `python -m layerlab translate extract` adds new
units, and when the English of a unit changed it keeps the old translation but marks it fuzzy,
with the old English as `#| msgid` (what PO editors show as the change to review). Removing
the fuzzy flag, once the translation is mended, and extracting again renews the fingerprint.

A unit is stale when it is missing, untranslated, fuzzy, or its fingerprint is not the hash of
today's English: `stale()` names each, by cell, and the tests fail on any.

Extra flags: `seed-quote` marks a translation that quotes the seed (its “…” spans must be the
seed's own words; tests/test_edition.py checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .units import Unit, fingerprint, units

FINGERPRINT = "fingerprint: "
SEED_QUOTE = "seed-quote"


def _babel():
    try:
        from babel.messages import pofile
        from babel.messages.catalog import Catalog
    except ImportError as error:  # the maintainers' tool: `pip install -e .[test]` has Babel
        raise SystemExit("layerlab translate needs Babel: pip install babel") from error
    return pofile, Catalog


def catalog_path(edition: Path, notebook: Path) -> Path:
    return edition / "catalogs" / f"{notebook.stem}.po"


def read(path: Path, locale: str = "ko"):
    pofile, _ = _babel()
    if not path.exists():
        return new_catalog(locale)
    with path.open("rb") as handle:
        return pofile.read_po(handle, locale=locale, abort_invalid=True)


def write(catalog, path: Path) -> None:
    pofile, _ = _babel()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        pofile.write_po(handle, catalog, width=0, omit_header=False, sort_output=False,
                        include_previous=True, no_location=True)


def recorded_fingerprint(message) -> str | None:
    for comment in message.auto_comments:
        if comment.startswith(FINGERPRINT):
            return comment[len(FINGERPRINT):].strip()
    return None


def _set_fingerprint(message, value: str) -> None:
    message.auto_comments = [c for c in message.auto_comments if not c.startswith(FINGERPRINT)] + [FINGERPRINT + value]


def by_context(catalog) -> dict:
    return {message.context: message for message in catalog if message.id and message.context}


HEADER = ("# The Korean edition of one layerlab notebook: its markdown cells, code comments and printed\n"
          "# strings (python -m layerlab translate). Terms: notebooks/ko/glossary.tsv.")
#: Fixed header dates: extracting twice gives the same file.
EPOCH = "2026-12-04 00:00+0000"


def new_catalog(locale: str = "ko"):
    _, Catalog = _babel()
    from datetime import datetime

    epoch = datetime.strptime(EPOCH, "%Y-%m-%d %H:%M%z")
    catalog = Catalog(locale=locale, project="layerlab", version="0.1.0", fuzzy=False, header_comment=HEADER,
                      creation_date=epoch, revision_date=epoch, language_team="layerlab",
                      last_translator="layerlab", msgid_bugs_address="-")
    return catalog


def extract(notebook, catalog):
    """`catalog` brought in step with `notebook`'s units, and counts of what happened."""
    old = by_context(catalog)
    fresh = new_catalog(str(catalog.locale or "ko"))
    counts = {"new": 0, "changed": 0, "kept": 0, "dropped": 0}
    for unit in units(notebook):
        previous = old.pop(unit.context, None)
        if previous is None:
            message = fresh.add(unit.text, "", context=unit.context)
            _set_fingerprint(message, unit.fingerprint)
            counts["new"] += 1
            continue
        message = fresh.add(unit.text, previous.string, context=unit.context, flags=set(previous.flags),
                            auto_comments=list(previous.auto_comments), user_comments=list(previous.user_comments))
        if previous.id != unit.text:
            message.flags.add("fuzzy")
            message.previous_id = [previous.id]
            counts["changed"] += 1
        elif "fuzzy" not in message.flags and message.string:
            _set_fingerprint(message, unit.fingerprint)  # reviewed: renew what it was made from
            counts["kept"] += 1
        else:
            message.previous_id = list(previous.previous_id or [])
            counts["kept"] += 1
    counts["dropped"] = len(old)
    return fresh, counts


@dataclass(frozen=True)
class Stale:
    notebook: str
    unit: Unit
    why: str

    def __str__(self) -> str:
        first = self.unit.text.strip().splitlines()[0][:70] if self.unit.text.strip() else ""
        return f"{self.notebook} cell {self.unit.cell_id} ({self.unit.context}): {self.why}: {first!r}"


def stale(notebook, catalog, name: str) -> list[Stale]:
    """The units of `notebook` whose translation in `catalog` is missing or out of date."""
    known = by_context(catalog)
    found = []
    for unit in units(notebook):
        message = known.get(unit.context)
        if message is None:
            found.append(Stale(name, unit, "not in the catalog"))
        elif not message.string:
            found.append(Stale(name, unit, "not translated"))
        elif "fuzzy" in message.flags:
            found.append(Stale(name, unit, "marked fuzzy (the English changed)"))
        elif recorded_fingerprint(message) != fingerprint(unit.text) or message.id != unit.text:
            found.append(Stale(name, unit, "the English changed since it was translated"))
    return found


def translations(catalog) -> dict[str, str]:
    return {context: message.string for context, message in by_context(catalog).items() if message.string}
