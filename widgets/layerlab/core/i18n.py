"""The language the course speaks to a learner, and its translations (standard gettext).

The learner chooses with `LAYERLAB_LANG` (`en`, `ko`); without it the locale decides
(`LANGUAGE`, `LC_ALL`, `LC_MESSAGES`, `LANG`, as gettext reads them). English is the source
text and the fallback: a string with no translation, or a language with no catalog, prints as
written. The language is read at each call, so a notebook that sets `LAYERLAB_LANG` in its first
cell, or a test that switches it, is obeyed at once.

Marking strings:
    from layerlab.core.i18n import _, N_
    _("Image {name} has {count} layers.").format(name=name, count=count)
    TITLE = N_("The layer stack")   # module constant: marked for extraction ...
    _(TITLE)                        # ... translated where it is shown

Catalogs: `layerlab/locale/<lang>/LC_MESSAGES/layerlab.po`, compiled to `.mo` beside it by
`make i18n` (Babel: extract, update, compile). Code, commands, file names and Docker's own
output are never passed through `_()`.
"""

from __future__ import annotations

import gettext
import os
from functools import lru_cache
from pathlib import Path

DOMAIN = "layerlab"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
#: The languages the course has catalogs for, besides its source language.
LANGUAGES = ("en", "ko")
_LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def _normalize(value: str) -> str:
    """`ko_KR.UTF-8` -> `ko`; `C` and `POSIX` -> `en`."""
    code = value.split(".")[0].split("@")[0].replace("-", "_").split("_")[0].strip().lower()
    return "en" if code in ("", "c", "posix") else code


def language(environ: dict | None = None) -> str:
    """The learner's language: LAYERLAB_LANG, else the first supported one in the locale."""
    env = os.environ if environ is None else environ
    chosen = env.get("LAYERLAB_LANG", "").strip()
    if chosen:
        code = _normalize(chosen)
        return code if code in LANGUAGES else "en"
    for variable in _LOCALE_VARIABLES:
        value = env.get(variable, "")
        if not value:
            continue
        # LANGUAGE may list several, "ko:en"; the other variables hold one.
        for part in value.split(":"):
            code = _normalize(part)
            if code in LANGUAGES:
                return code
        return "en"  # a locale is set, in a language the course does not speak
    return "en"


@lru_cache(maxsize=None)
def _catalog(code: str) -> gettext.NullTranslations:
    if code == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[code], fallback=True)


def _(message: str) -> str:
    """`message` in the learner's language (as written when it has no translation)."""
    code = language()
    if code == "en" or not message:  # gettext("") is the catalog's header, never a message
        return message
    return _catalog(code).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The singular or plural form of a message, in the learner's language."""
    code = language()
    if code == "en":
        return singular if count == 1 else plural
    return _catalog(code).ngettext(singular, plural, count)


def N_(message: str) -> str:
    """Mark `message` for translation without translating it now (pass it through `_()` later)."""
    return message


class Phrase(str):
    """A sentence that stays English where code, `--json` or a sanitized line reads it (the str
    itself), and can be shown in the learner's language (`shown()`): made from a marked template
    and its fields, `Phrase(N_("CMD {cmd} is inherited"), cmd=...)`."""

    def __new__(cls, template: str, **fields) -> "Phrase":
        phrase = super().__new__(cls, template.format(**fields))
        phrase.template = template
        phrase.fields = fields
        return phrase

    def __getnewargs_ex__(self):  # copy and pickle make it again from its template
        return (self.template,), self.fields

    def shown(self) -> str:
        return _(self.template).format(**self.fields)


def shown(text: str) -> str:
    """`text` as the learner reads it: a Phrase translated, any other str as it is."""
    return text.shown() if isinstance(text, Phrase) else text


class Worded:
    """An enum mixin for members whose values are English words marked with N_(): the value stays
    the key code compares, `text` is the word in the learner's language."""

    @property
    def text(self) -> str:
        return _(self.value)


def is_korean() -> bool:
    return language() == "ko"
