"""The Korean edition in the browser: a twin, replayed, rendered with a real Korean font.

A page can look right in a screenshot while the browser drew boxes ("tofu") or a Latin font
with no Hangul. The DevTools protocol says which platform fonts drew a node's text
(`CSS.getPlatformFontsForNode`): the Hangul of a heading must come from a font that has it
(fonts-nanum, installed by .ci/run), with glyphs counted."""

from __future__ import annotations

import re

import pytest

from conftest import ARTIFACTS, ROOT  # tests/browser/conftest.py
from jlab import PANEL, check_rendering, open_notebook, run_all_cells, screenshot

pytestmark = [pytest.mark.browser]
TWIN = "ko/00-setup.ipynb"
HANGUL = re.compile(r"[\uac00-\ud7a3]")
KOREAN_FONTS = re.compile(r"nanum|noto (sans|serif) cjk|noto sans kr|un(dotum|batang)|baekmuk", re.IGNORECASE)


def platform_fonts(page, selector: str) -> list[dict]:
    """The platform fonts that drew the text of the first node matching `selector`."""
    session = page.context.new_cdp_session(page)
    try:
        session.send("DOM.enable")
        session.send("CSS.enable")
        root = session.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        node = session.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        assert node, f"nothing matches {selector}"
        return session.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    finally:
        session.detach()


def test_a_korean_twin_replays_and_its_hangul_is_drawn_by_a_korean_font(replay_lab, page):
    assert (ROOT / "notebooks" / TWIN).exists()
    open_notebook(page, replay_lab, TWIN)
    run_all_cells(page, timeout_s=300)
    report = check_rendering(page)
    screenshot(page, ARTIFACTS / "ko-00-setup-replay.png")
    assert not report.problems, report.problems
    heading = f"{PANEL} .jp-MarkdownCell .jp-RenderedMarkdown h1"
    text = page.locator(heading).first.text_content()
    assert HANGUL.search(text), f"the first heading of {TWIN} has no Hangul: {text!r}"
    fonts = platform_fonts(page, heading)
    korean = [f for f in fonts if KOREAN_FONTS.search(f["familyName"]) and f["glyphCount"] > 0]
    assert korean, f"no Korean font drew {text!r}: {fonts}"
    hangul = len(HANGUL.findall(text))
    assert sum(f["glyphCount"] for f in korean) >= hangul, (fonts, hangul)
    # The lesson's own outputs: the replay banner, and the twin's language cell ran first.
    outputs = page.locator(f"{PANEL} .jp-OutputArea-output").all_text_contents()
    assert any("Replay" in t or "재생" in t for t in outputs), outputs[:3]
