"""tests/sanitize.cfg, as nbval applies it: every engine-specific or learner-specific line of a
stored output compares equal in each of its variants, and nothing else is made equal."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

from layerlab.core.engineinfo import StorageKind
from layerlab.core.serving import plan_serving
from layerlab.engine.fileserve import Served

from test_engineinfo import facts

CONFIG = Path(__file__).with_name("sanitize.cfg")


def patterns() -> list[tuple[str, str]]:
    parser = configparser.ConfigParser()
    parser.read(CONFIG, encoding="utf-8")
    return [(parser[name]["regex"], parser[name]["replace"]) for name in parser.sections()]


def sanitize(text: str) -> str:
    """What nbval does with each output before comparing: every regex, in the file's order."""
    for regex, replace in patterns():
        text = re.sub(regex, replace, text)
    return text


def test_every_section_has_a_regex_that_compiles():
    assert len(patterns()) > 10
    for regex, _ in patterns():
        re.compile(regex)


@pytest.mark.parametrize("short, long", [("root", "learner-with-a-much-longer-id"), ("zq", "layerlab-learner")])
def test_the_learner_label_and_its_padding_compare_equal_for_ids_of_any_length(short, long):
    def stack_line(learner):  # the drawn stack's text: a fixed column, cut with an ellipsis
        text = f"LABEL layerlab.learner={learner}"
        text = text if len(text) <= 56 else text[:55] + "\u2026"
        return f"[label] {text:<57} 6506321d09cc  no layer, 0 B"

    def history_line(learner):  # check_history: 48 characters, then a right-aligned size
        text = f"/bin/sh -c #(nop)  LABEL layerlab.learner={learner}"
        text = text if len(text) <= 48 else text[:47] + "\u2026"
        return f"  {text:<48} {'0 B':>9}   no layer, 0 B  ok"

    for line in (stack_line, history_line):
        assert sanitize(line(short)) == sanitize(line(long))
    assert sanitize(stack_line(short)) != sanitize(stack_line(short).replace("no layer", "layer"))


def test_learner_names_in_tags_and_banners_compare_equal():
    for text in ("FROM layerlab-{}/base-debian-app:bookworm", "Learner '{}', lesson 01-layers.", "learner '{}'"):
        assert sanitize(text.format("root")) == sanitize(text.format("layerlab-learner"))


@pytest.mark.parametrize("changes", [{"rootless": True}, {"operating_system": "Docker Desktop"}])
def test_the_serving_path_line_compares_equal_for_every_local_engine(changes):
    def how(**given):
        return Served(url=f"http://{plan_serving(facts(**given)).url_host}:40123", plan=plan_serving(facts(**given))).how

    assert sanitize(how()) == sanitize(how(**changes))
    assert "server: URL" in sanitize(how())


def test_a_remote_engine_line_is_not_made_equal_to_a_served_one():
    remote = Served(url="", plan=plan_serving(facts(host="tcp://10.1.2.3:2376"))).how
    served = Served(url="http://127.0.0.1:40123", plan=plan_serving(facts())).how
    assert sanitize(remote) != sanitize(served)


def test_the_whiteout_form_compares_equal_on_each_engine():
    forms = [
        facts(native_overlay_diff=True),
        facts(native_overlay_diff=False, rootless=True),
        facts(storage_kind=StorageKind.CONTAINERD, storage_driver="overlayfs"),
    ]
    sentences = {sanitize(engine.explain_whiteouts()) for engine in forms}
    assert len(sentences) == 1 and sentences != {forms[0].explain_whiteouts()}


def test_the_whiteout_form_compares_equal_on_each_engine_in_korean_too(monkeypatch):
    monkeypatch.setenv("LAYERLAB_LANG", "ko")
    forms = [
        facts(native_overlay_diff=True),
        facts(native_overlay_diff=False, rootless=True),
        facts(storage_kind=StorageKind.CONTAINERD, storage_driver="overlayfs"),
    ]
    korean = [engine.explain_whiteouts() for engine in forms]
    assert all(sentence.startswith("이 엔진의 whiteout: ") for sentence in korean), korean
    assert len({sanitize(sentence) for sentence in korean}) == 1


def test_a_replaced_directory_compares_equal_in_either_form():
    opaque = ["  D /app/build/banner.txt (opaque directory, hid 245 B)",
              "  layer 4 (a651fb42da67): deleted by an opaque directory above it (file)"]
    per_file = ["  D /app/build/banner.txt (whiteout, hid 245 B)",
                "  layer 4 (a651fb42da67): deleted by a whiteout file (file)"]
    for one, other in zip(opaque, per_file):
        assert sanitize(one) == sanitize(other)
    assert sanitize("D /app/build/banner.txt (whiteout, hid 245 B)") != sanitize("A /app/build/banner.txt (245 B)")


def test_the_flavour_names_compare_equal_and_other_words_stay():
    names = ["(docker-20.10)", "(docker-26)", "(docker-26-containerd)", "(docker-26-rootless)"]
    assert len({sanitize(name) for name in names}) == 1
    assert sanitize("(docker-26-something)") == "(docker-26-something)"


def test_names_ids_and_sizes_directly_followed_by_korean_are_found():
    """Korean particles follow a name with no space (…-0cfcf3의, 3 s에): still sanitized."""
    one = "layerlab-root-02-copy-on-write-cow-051753의 R/W 레이어, 135503a266ab이(가), 3 s에, 21 MB를"
    two = "layerlab-ci-a-longer-learner-id-02-copy-on-write-cow-0cfcf3의 R/W 레이어, 0123456789ab이(가), 7 s에, 4 MB를"
    assert sanitize(one) == sanitize(two)
