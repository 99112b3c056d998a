"""`tr()`: a sentence looked up when it is shown, in the learner's language (see core/i18n).

Constants made at import (a question's prompt, an exercise's title, a demo's name) keep their
English, marked with `N_()` for the catalog, and are passed through `tr()` only where they are
shown: a language chosen later (a notebook's first cell, a test) still applies.
"""

from __future__ import annotations

from typing import Mapping

from .i18n import _catalog, language

LANG_ENV = "LAYERLAB_LANG"
DEFAULT_LANG = "en"


def tr(english: str, environ: Mapping[str, str] | None = None) -> str:
    """`english` in the learner's language (as it is now), or English when there is no translation."""
    lang = language(None if environ is None else dict(environ))
    if lang == DEFAULT_LANG or not english:
        return english
    return _catalog(lang).gettext(english)


def columns(text: str) -> int:
    """How many terminal columns `text` takes: a Korean syllable (East Asian wide) takes two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def ljust(text: str, width: int) -> str:
    """`text` padded on the right to `width` columns (as str.ljust, counting wide letters twice)."""
    return text + " " * max(0, width - columns(text))


def rjust(text: str, width: int) -> str:
    return " " * max(0, width - columns(text)) + text
