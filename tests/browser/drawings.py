"""Browser checks of the drawings (views.overlay, views.cachepicture), as a learner's browser
renders them: what each shows after the lesson's cells ran, a screenshot of each, and the
text contrast after switching JupyterLab to its dark theme with no re-run."""

from __future__ import annotations

import re

from jlab import PANEL

#: WCAG's contrast ratio of two sRGB colours, and the text of every drawing against what lies
#: under it (the topmost filled rectangle that holds the text's centre, blended by its opacity).
CONTRAST_JS = """
(selector) => {
  const rgb = (text) => (text.match(/[\\d.]+/g) || ['0', '0', '0']).slice(0, 3).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
      .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const out = [];
  for (const svg of document.querySelectorAll(selector)) {
    const rects = [...svg.querySelectorAll('rect')];
    for (const text of svg.querySelectorAll('text')) {
      if (!text.textContent.trim()) continue;
      const box = text.getBBox(), cx = box.x + box.width / 2, cy = box.y + box.height / 2;
      let under = [255, 255, 255];
      for (const rect of rects) {
        if (rect.compareDocumentPosition(text) & Node.DOCUMENT_POSITION_PRECEDING) continue;  // drawn after the text
        const r = rect.getBBox(), style = getComputedStyle(rect);
        if (style.fill === 'none' || cx < r.x || cx > r.x + r.width || cy < r.y || cy > r.y + r.height) continue;
        const alpha = Number(style.fillOpacity) * Number(style.opacity);
        const fill = rgb(style.fill);
        under = under.map((u, i) => fill[i] * alpha + u * (1 - alpha));
      }
      out.push({text: text.textContent.slice(0, 60), ratio: ratio(rgb(getComputedStyle(text).fill), under)});
    }
  }
  return out;
}
"""

DRAWINGS = f"{PANEL} svg.layerlab-overlay"


def photograph_drawings(page, directory, stem: str) -> list:
    directory.mkdir(parents=True, exist_ok=True)
    drawings = page.locator(DRAWINGS)
    paths = []
    for number in range(drawings.count()):
        drawing = drawings.nth(number)
        drawing.scroll_into_view_if_needed()
        path = directory / f"{stem}-drawing-{number + 1}.png"
        drawing.screenshot(path=str(path))
        paths.append(path)
    return paths


def check_union_mount(page) -> None:
    """After the writes: the copy-up joined to its layer, the whiteout over the deleted file,
    and the R/W bar grown from the empty layer the watch began with."""
    live = page.locator(f"{PANEL} .layerlab-copyup svg.layerlab-union-mount")
    assert live.count() >= 1, "the monitor draws the container as a union mount"
    stored = page.locator(f"{PANEL} .layerlab-drawing svg.layerlab-union-mount")
    assert stored.count() == 1, "the lesson keeps the union mount as a plain drawing"
    for svg in (live.first, stored.first):
        assert svg.locator('g.copy-up[data-path="/data/big.bin"]').count() == 1, "big.bin copied up"
        assert svg.locator("path.copy-up-connector").count() >= 1, "joined to the layer it came from"
        assert svg.locator('g.whiteout-mark[data-path="/data/note.txt"]').count() == 1, "the whiteout drawn"
        assert svg.locator('g.lower-file[data-path="/data/note.txt"][data-hidden="true"]').count() == 1
        assert svg.locator('g.new-file[data-path="/data/hello.txt"]').count() == 1
        bar = svg.locator("g.size-rw-bar")
        assert int(bar.get_attribute("data-size-rw")) > 20_000_000 and float(bar.get_attribute("data-share")) > 0.5
        assert svg.locator("g.image-layer").count() == 3 and svg.locator("g.rw-layer").count() == 1
    grown = page.locator(f"{PANEL} .layerlab-copyup .size-rw").first.text_content()
    assert "was 0 B when watching began" in grown, f"the R/W layer grew from empty: {grown}"
    shared = page.locator(f"{PANEL} svg.layerlab-shared-layers")
    assert shared.count() == 1 and shared.locator("g.rw-layer").count() == 3


def _steps(picture, css: str):
    """Each builder's steps of kind `css` in the last build: (index, its layer, the same step in
    the build before)."""
    for builder in picture.locator("g.cache-builder").all():
        steps = builder.locator(f".cache-now g.{css}").all()
        assert steps, f"{builder.get_attribute('data-builder')}: no {css} step drawn"
        for step in steps:
            index = step.get_attribute("data-index")
            yield index, step.get_attribute("data-layer"), builder.locator(f'.cache-before g.step[data-index="{index}"]')


def check_rebuild_drawings(page) -> None:
    """Build 2 reuses every layer of build 1 in place; build 3 replaces what it rebuilt."""
    pictures = page.locator(f"{PANEL} .layerlab-drawing svg.layerlab-cache-picture")  # the stored ones
    assert pictures.count() >= 2, "lesson 03 keeps the drawings after builds 2 and 3"
    for index, layer, before in _steps(pictures.nth(0), "cache-hit"):
        assert layer and before.get_attribute("data-layer") == layer, f"build 2, step {index}: the same layer, in place"
    for index, layer, before in _steps(pictures.nth(1), "cache-miss"):
        if before.get_attribute("data-layer") or layer:
            assert before.get_attribute("data-layer") != layer, f"build 3, step {index}: a new layer"
        assert "replaced" in before.get_attribute("class"), f"build 3, step {index}: marked replaced in build 2"


def switch_theme(page, dark: bool) -> None:
    """Settings > Theme > JupyterLab Dark (or Light), as a learner switches it."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    name = "JupyterLab Dark" if dark else "JupyterLab Light"
    page.locator(".lm-Menu-itemLabel").filter(has_text=re.compile(f"^{name}$")).click()
    page.wait_for_selector(f'body[data-jp-theme-light="{"false" if dark else "true"}"]', state="attached", timeout=30_000)


def check_contrast(page, minimum: float = 4.5) -> list[dict]:
    measured = page.evaluate(CONTRAST_JS, DRAWINGS)
    assert measured, "no drawing text to measure"
    low = [m for m in measured if m["ratio"] < minimum]
    assert not low, f"text below {minimum}:1 in the drawings: {low[:5]}"
    return measured
