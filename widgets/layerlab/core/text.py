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
