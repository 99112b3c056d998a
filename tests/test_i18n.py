"""The package speaks the learner's language: gettext catalogs, chosen by LAYERLAB_LANG or the
locale, English as the source and the fallback."""

from __future__ import annotations

import pytest

from layerlab.core import i18n
from layerlab.core.errors import EngineUnreachable
from support import ROOT, run_cli

PO = ROOT / "widgets" / "layerlab" / "locale" / "ko" / "LC_MESSAGES" / "layerlab.po"


@pytest.mark.parametrize("environ, expected", [
    ({}, "en"),
    ({"LAYERLAB_LANG": "ko"}, "ko"),
    ({"LAYERLAB_LANG": "ko_KR.UTF-8"}, "ko"),
    ({"LAYERLAB_LANG": "fr"}, "en"),                      # a language the course lacks: English
    ({"LAYERLAB_LANG": "en", "LANG": "ko_KR.UTF-8"}, "en"),  # the learner's setting wins
    ({"LANG": "ko_KR.UTF-8"}, "ko"),
    ({"LANGUAGE": "fr:ko", "LANG": "C.UTF-8"}, "ko"),
    ({"LC_ALL": "C", "LANG": "ko_KR.UTF-8"}, "en"),        # LC_ALL overrides LANG, as in gettext
    ({"LANG": "POSIX"}, "en"),
])
def test_language_comes_from_layerlab_lang_else_the_locale(environ, expected):
    assert i18n.language(environ) == expected


def test_english_is_the_source_and_a_missing_translation_falls_back_to_it(monkeypatch):
    monkeypatch.setenv("LAYERLAB_LANG", "en")
    assert i18n._("What to do:") == "What to do:"
    monkeypatch.setenv("LAYERLAB_LANG", "ko")
    assert i18n._("What to do:") == "해결 방법:"
    assert i18n._("a sentence no catalog has") == "a sentence no catalog has"


def test_an_error_box_shows_in_korean(monkeypatch):
    from layerlab.views.notebook import ErrorDisplay, error_box_html

    error = EngineUnreachable("no engine", "start one")
    monkeypatch.setenv("LAYERLAB_LANG", "ko")
    assert "해결 방법:" in error_box_html(error) and "해결 방법: start one" in repr(ErrorDisplay(error))
    assert "해결 방법:" in error.explain()
    monkeypatch.setenv("LAYERLAB_LANG", "en")
    assert "What to do:" in error_box_html(error) and "해결" not in error.explain()


def test_the_no_engine_message_is_korean_with_layerlab_lang_ko():
    """A learner's first contact with no engine, from the CLI, as a new process."""
    env = {"DOCKER_HOST": "unix:///nonexistent/layerlab-i18n.sock", "LAYERLAB_SOURCE": "live", "LAYERLAB_LANG": "ko"}
    result = run_cli("layers", "busybox", env=env, timeout=120)
    assert result.returncode != 0
    assert "DOCKER_HOST가" in result.stderr and "응답하는 Docker 엔진이 없습니다(소켓이 없습니다)" in result.stderr, result.stderr
    assert "해결 방법:" in result.stderr and "Traceback" not in result.stderr
    english = run_cli("layers", "busybox", env=dict(env, LAYERLAB_LANG="en"), timeout=120)
    assert "no Docker engine answers there (the socket does not exist)" in english.stderr and "what to do:" in english.stderr


def test_the_korean_provenance_cell_names_the_recording():
    from layerlab.cli.record import provenance_text

    header = {"recorded_at": "2026-12-03", "facts": {"engine_version": "26.1.5", "storage_driver": "overlay2"}}
    english = provenance_text(header)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAYERLAB_LANG", "ko")
        korean = provenance_text(header, replayed=True)
    assert "recorded" in english and "녹화" in korean and "영어판" in korean
    assert "2026-12-03" in korean and "26.1.5" in korean and "overlay2" in korean


def test_the_shipped_mo_is_compiled_from_the_po():
    """`make i18n` was run after the last edit of a catalog: the .mo holds what the .po says."""
    pytest.importorskip("babel")
    from babel.messages import mofile, pofile

    with PO.open("rb") as handle:
        catalog = pofile.read_po(handle, locale="ko")
    with PO.with_suffix(".mo").open("rb") as handle:
        shipped = mofile.read_mo(handle)
    wanted = {(m.context, m.id): m.string for m in catalog if m.id and m.string and not m.fuzzy}
    got = {(m.context, m.id): m.string for m in shipped if m.id}
    assert got == wanted, "the .mo is older than its .po: run `make i18n`"


def test_every_format_placeholder_of_a_translation_is_in_its_english():
    pytest.importorskip("babel")
    import string

    from babel.messages import pofile

    def fields(text):
        return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)

    with PO.open("rb") as handle:
        catalog = pofile.read_po(handle, locale="ko")
    wrong = [m.id for m in catalog if m.id and m.string and fields(m.id) != fields(m.string)]
    assert not wrong, wrong


def test_the_catalog_template_is_in_step_with_the_code(tmp_path):
    """Every string the code marks is in the template (a new _() without `make i18n` fails)."""
    pytest.importorskip("babel")
    from babel.messages import pofile
    from babel.messages.extract import extract_from_dir

    keywords = {"_": None, "N_": None, "tr": None, "ngettext": (1, 2)}
    marked = {m[2] if isinstance(m[2], str) else m[2][0]
              for m in extract_from_dir(str(ROOT / "widgets" / "layerlab"), method_map=[("**.py", "python")],
                                        keywords=keywords)}
    marked = {m for m in marked if m}
    with (PO.parent.parent.parent / "layerlab.pot").open("rb") as handle:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in pofile.read_po(handle) if m.id}
    assert marked - template == set(), "run `make i18n`"
