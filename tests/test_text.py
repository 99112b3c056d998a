"""Sentences a learner reads are looked up when shown (the Korean edition swaps them then)."""

from __future__ import annotations

import pytest

from layerlab.core import text
from layerlab.core.questions import LAYER_COUNT


@pytest.fixture
def edition(monkeypatch):
    """A made-up edition "xx", registered only now: long after the questions were made."""
    saved = {lang: dict(table) for lang, table in text._catalogs.items()}
    monkeypatch.setenv(text.LANG_ENV, "xx")
    yield text.register
    text._catalogs.clear()
    text._catalogs.update(saved)


def test_the_language_is_read_when_asked_and_english_is_the_default(monkeypatch):
    monkeypatch.delenv(text.LANG_ENV, raising=False)
    assert text.language() == "en"
    assert text.language({text.LANG_ENV: "ko_KR.UTF-8"}) == "ko"
    assert text.tr("anything", {text.LANG_ENV: "ko"}) == "anything"  # no catalog ships yet: English


def test_a_question_made_at_import_is_shown_in_the_edition_registered_later(edition):
    from layerlab.views.predict import Prediction

    edition("xx", {LAYER_COUNT.prompt: "XX: how many layers?", "2": "two (xx)"})
    widget = Prediction(LAYER_COUNT).widget()
    prompt, choices = widget.children[0], widget.children[1]
    assert "XX: how many layers?" in prompt.value and LAYER_COUNT.prompt not in prompt.value
    options = [tuple(option) for option in choices.options]
    assert ("two (xx)", "2") in options and ("0", "0") in options  # the value stays the English key


def test_an_error_hint_made_at_import_is_shown_in_the_edition(edition):
    from layerlab.engine.connection import START_ENGINE_HINT, translate_connection_error

    edition("xx", {START_ENGINE_HINT: "XX: start an engine."})
    error = translate_connection_error(ConnectionRefusedError("refused"), "unix:///none.sock", "default")
    assert error.fix == "XX: start an engine."
