"""Every sentence a learner reads is looked up when it is shown, in the learner's language.

Code writes the English sentence and passes it through `tr()` at the place it is shown (a
view, a printed walkthrough, an error). Constants made at import (a question's prompt, an
exercise's title, a demo's name) keep their English, which is the key, and are looked up
only when shown: a catalog registered or a language chosen later still applies.

    LAYERLAB_LANG=en   (default) English, the sentences as written
    LAYERLAB_LANG=ko   the Korean edition, once its catalog exists (layerlab/text/ko.json)

A catalog maps an English sentence to its translation; a sentence it lacks is shown in
English, never as a blank.
"""

from __future__ import annotations

import json
import os
from typing import Mapping

LANG_ENV = "LAYERLAB_LANG"
DEFAULT_LANG = "en"

_catalogs: dict[str, dict[str, str]] = {}


def language(environ: Mapping[str, str] | None = None) -> str:
    """The learner's language, as LAYERLAB_LANG names it now (not at import)."""
    value = (os.environ if environ is None else environ).get(LANG_ENV, "") or DEFAULT_LANG
    return value.strip().lower().split("_")[0].split(".")[0] or DEFAULT_LANG


def register(lang: str, translations: Mapping[str, str]) -> None:
    """Add translations for `lang` (an edition's catalog; tests register their own)."""
    _catalogs.setdefault(lang, {}).update(translations)


def catalog(lang: str) -> Mapping[str, str]:
    """The translations for `lang`: those registered, and the package's file when it ships one."""
    if lang not in _catalogs:
        _catalogs[lang] = {}
        from importlib import resources  # here, not at import: it brings tempfile, zipfile, ...

        try:
            shipped = resources.files("layerlab").joinpath("text", f"{lang}.json")
            if shipped.is_file():
                _catalogs[lang].update(json.loads(shipped.read_text(encoding="utf-8")))
        except (OSError, ValueError, ModuleNotFoundError):
            pass  # no catalog: English it is
    return _catalogs[lang]


def tr(english: str, environ: Mapping[str, str] | None = None) -> str:
    """`english` in the learner's language (as it is now), or English when there is no translation."""
    lang = language(environ)
    if lang == DEFAULT_LANG or not english:
        return english
    return catalog(lang).get(english, english)
