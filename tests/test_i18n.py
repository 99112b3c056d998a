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


def forms(text) -> tuple:
    """A message's text as a tuple of its forms (one, or a plural message's several)."""
    return tuple(text) if isinstance(text, (tuple, list)) else (text,)


def translated(message) -> bool:
    return all(forms(message.string))


def test_the_shipped_mo_is_compiled_from_the_po():
    """`make i18n` was run after the last edit of a catalog: the .mo holds what the .po says."""
    pytest.importorskip("babel")
    from babel.messages import mofile, pofile

    with PO.open("rb") as handle:
        catalog = pofile.read_po(handle, locale="ko")
    with PO.with_suffix(".mo").open("rb") as handle:
        shipped = mofile.read_mo(handle)
    wanted = {(m.context, forms(m.id)): forms(m.string) for m in catalog if m.id and translated(m) and not m.fuzzy}
    got = {(m.context, forms(m.id)): forms(m.string) for m in shipped if m.id}
    assert got == wanted, "the .mo is older than its .po: run `make i18n`"


def test_every_format_placeholder_of_a_translation_is_in_its_english():
    pytest.importorskip("babel")
    import string

    from babel.messages import pofile

    def fields(text):
        return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)

    with PO.open("rb") as handle:
        catalog = pofile.read_po(handle, locale="ko")
    # A plural message's every form names the fields of the English plural (Korean has one form).
    wrong = [m.id for m in catalog if m.id and translated(m)
             for form in forms(m.string) if fields(forms(m.id)[-1]) != fields(form)]
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


def test_a_prediction_speaks_korean_from_its_widget_to_the_engines_verdict(monkeypatch):
    """The prediction widget, the verdict and the measured answer: Korean with LAYERLAB_LANG=ko,
    the choices kept in English as their keys, and commands never translated."""
    pytest.importorskip("ipywidgets")
    from layerlab.core.questions import APPEND_ONE_BYTE, PID1, answer_append, answer_pid1
    from layerlab.views.predict import Prediction

    monkeypatch.setenv("LAYERLAB_LANG", "ko")
    guess = Prediction(APPEND_ONE_BYTE)
    box = guess.widget()
    prompt, choices, row = box.children
    assert "먼저 예측해 보세요." in prompt.value and "컨테이너의 R/W 레이어(SizeRw)" in prompt.value
    assert [label for label, _ in choices.options][0] == "약 1바이트"
    assert row.children[0].description == "이 답으로 확정"
    guess.commit(1)
    assert guess.guess == "about 1 byte" and "확정: 약 1바이트" in row.children[1].value
    verdict = str(guess.reveal(answer_append(21 * 2**20, 21 * 2**20 + 4096)))
    assert verdict.startswith("예측 약 1바이트: 이번에는 틀렸습니다. 엔진의 답: 약 21 MB (파일 전체).")
    assert "측정 결과: 1바이트를 썼을 뿐인데 SizeRw가 22,024,192바이트" in verdict
    assert "✘ 이번에는 틀렸습니다" in row.children[1].value
    pid1 = str(Prediction(PID1).reveal(answer_pid1(["ping", "127.0.0.1"])))
    assert "답을 보여 드립니다: ping 127.0.0.1." in pid1 and "`ping 127.0.0.1`" in pid1
    monkeypatch.setenv("LAYERLAB_LANG", "en")
    assert str(Prediction(PID1).reveal(answer_pid1(["ping", "127.0.0.1"]))).startswith(
        "No guess committed, so here is the answer: ping 127.0.0.1.")


def test_the_drawings_and_the_copy_up_monitor_speak_korean(monkeypatch):
    pytest.importorskip("ipywidgets")
    from types import SimpleNamespace

    from test_overlay import T, _Watcher

    from layerlab.core.model import HistoryRecord, build_stack
    from layerlab.views.copyup import CopyUpMonitor
    from layerlab.views.layerstack import layer_stack_svg

    rows = [("/bin/sh -c #(nop) ADD file:abc in / ", 1_000, False),
            ("/bin/sh -c #(nop)  LABEL layerlab.course=layerlab layerlab.lesson=01", 0, True)]
    records = [HistoryRecord(created_by=c, size=s, created=T, comment="", image_id="sha256:" + str(i) * 64,
                             empty_layer=e) for i, (c, s, e) in enumerate(rows)]
    stack = build_stack("sha256:" + "9" * 64, ["you/01:latest"], records, ["sha256:" + "1" * 64], size=1_000)
    monkeypatch.setenv("LAYERLAB_LANG", "ko")
    import re

    note = " ".join(re.findall(r'font-style="italic">([^<]*)</text>', layer_stack_svg(stack)))
    assert note.startswith("옅은 회색 항목 1개는") and "블록 위에 마우스를 올리면" in note
    monitor = CopyUpMonitor(_Watcher(), SimpleNamespace(live=True, source=None, facts=None), start=False)
    monitor.widget
    assert monitor._button.description == "관찰 멈추기" and "해 보세요: 터미널을 열고" in monitor.hint()
    monitor.stop()
    assert monitor._button.description == "다시 관찰하기" and monitor.hint().startswith("지금은 관찰하지 않습니다.")
    monkeypatch.setenv("LAYERLAB_LANG", "en")
    english = layer_stack_svg(stack)
    assert "1 thin grey entry is the labels" in english and "옅은" not in english
    assert monitor.hint() == "Not watching now: the button below watches again."


def test_no_marked_string_hides_inside_an_f_string():
    """Babel reads an f-string as one token before Python 3.12: a `_("...")` inside one is never
    extracted, so it would stay English in every edition without any other test noticing."""
    import ast

    hidden = []
    for path in sorted((ROOT / "widgets" / "layerlab").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr):
                hidden += [f"{path.relative_to(ROOT)}:{call.lineno} {call.func.id}({call.args[0].value!r})"
                           for call in ast.walk(node) if isinstance(call, ast.Call)
                           and isinstance(call.func, ast.Name) and call.func.id in ("_", "N_", "ngettext", "tr")
                           and call.args and isinstance(call.args[0], ast.Constant)]
    assert not hidden, hidden


def test_the_doctor_lines_up_its_korean_labels_by_their_width():
    from layerlab.core.text import columns, ljust

    assert columns("학습자") == 6 and ljust("학습자", 12) == "학습자      " and ljust("learner", 12) == "learner     "


def test_a_registry_begins_a_sentence_with_a_capital_and_keeps_its_own_name():
    from layerlab.engine.prepare import RegistrySetting

    assert RegistrySetting("hub", "docker.io", "").describe_first() == "Docker Hub"  # capitalize() said "Docker hub"
    assert RegistrySetting("off", "", "").describe_first() == "No registry"
    assert RegistrySetting("registry", "127.0.0.1:5000", "").describe_first() == "The registry 127.0.0.1:5000"
