"""Sentences a learner reads are looked up when shown (a language chosen later still applies)."""

from __future__ import annotations

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from layerlab.core import i18n, text
from layerlab.core.questions import LAYER_COUNT


@pytest.fixture
def edition(monkeypatch, tmp_path):
    """A made-up language "xx" with a real compiled catalog, chosen only now: long after the
    questions and hints were made at import."""

    def install(messages: dict[str, str]) -> None:
        catalog = Catalog(locale=None, domain=i18n.DOMAIN)
        for english, translated in messages.items():
            catalog.add(english, translated)
        folder = tmp_path / "xx" / "LC_MESSAGES"
        folder.mkdir(parents=True)
        with open(folder / f"{i18n.DOMAIN}.mo", "wb") as mo:
            write_mo(mo, catalog)
        i18n._catalog.cache_clear()
        monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
        monkeypatch.setattr(i18n, "LANGUAGES", (*i18n.LANGUAGES, "xx"))
        monkeypatch.setenv(text.LANG_ENV, "xx")

    yield install
    i18n._catalog.cache_clear()  # the real catalogs again, for the tests after this one


def test_the_language_is_read_when_asked_and_english_is_the_default(monkeypatch):
    monkeypatch.delenv(text.LANG_ENV, raising=False)
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    assert text.language() == "en"
    assert text.language({text.LANG_ENV: "ko_KR.UTF-8"}) == "ko"
    assert text.tr("not a message of the course", {text.LANG_ENV: "ko"}) == "not a message of the course"


def test_a_question_made_at_import_is_shown_in_the_edition_chosen_later(edition):
    from layerlab.views.predict import Prediction

    edition({LAYER_COUNT.prompt: "XX: how many layers?", "2": "two (xx)"})
    widget = Prediction(LAYER_COUNT).widget()
    prompt, choices = widget.children[0], widget.children[1]
    assert "XX: how many layers?" in prompt.value and LAYER_COUNT.prompt not in prompt.value
    options = [tuple(option) for option in choices.options]
    assert ("two (xx)", "2") in options and ("0", "0") in options  # the value stays the English key


def test_an_error_hint_made_at_import_is_shown_in_the_edition(edition):
    from layerlab.engine.connection import START_ENGINE_HINT, translate_connection_error

    edition({START_ENGINE_HINT: "XX: start an engine."})
    error = translate_connection_error(ConnectionRefusedError("refused"), "unix:///none.sock", "default")
    assert error.fix == "XX: start an engine."
