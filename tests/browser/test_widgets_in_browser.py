"""Browser tier: every notebook runs in JupyterLab 4 in a real Chromium and its widgets render.

nbval proves the kernel side; this proves what a learner sees. Saved in artifacts/browser/:
one screenshot per notebook as it ended, and one per widget (`NN-name-widget-K.png`).
"""

from __future__ import annotations

import pytest

from jlab import PANEL, check_rendering, open_notebook, run_all_cells, screenshot, screenshot_widgets
from conftest import ARTIFACTS, ROOT  # tests/browser/conftest.py
from drawings import (check_contrast, check_rebuild_drawings, check_union_mount, photograph_drawings,
                      switch_theme)

pytestmark = [pytest.mark.browser, pytest.mark.engine]

NOTEBOOKS = sorted(path.name for path in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def check_setup(page) -> None:
    bars = page.locator(f"{PANEL} .widget-hprogress")
    assert bars.count() == 2, "one progress bar per base image"
    done = page.locator(f"{PANEL} .widget-hprogress .progress-bar-success")
    assert done.count() == 2, "both bases prepared: both bars full and green"


def check_layer_stacks(page) -> None:
    """Every drawn stack has one block per history entry, as its data says."""
    svgs = page.locator(f"{PANEL} svg.layerlab-layer-stack")
    assert svgs.count() >= 1, "the lesson draws the sample image's stack"
    for index in range(svgs.count()):
        svg = svgs.nth(index)
        entries = int(svg.get_attribute("data-entries"))
        blocks = svg.locator("g.entry")
        assert blocks.count() == entries, f"stack {index}: {blocks.count()} blocks for {entries} history entries"
        assert svg.bounding_box()["height"] > 40 * min(entries, 3), "the stack is drawn, not collapsed"


def _click_inactive(group) -> None:
    buttons = group.locator("button")
    for index in range(buttons.count()):
        if "mod-active" not in (buttons.nth(index).get_attribute("class") or ""):
            buttons.nth(index).click(timeout=10_000)
            return
    raise AssertionError("no inactive button to click")


def check_explorer_responds(page) -> None:
    """The explorer reacts to clicks: switching its mode, then an ENTRYPOINT form, changes what it shows."""
    def shown() -> str:
        return page.locator(f"{PANEL} .ll-ep").first.text_content()

    groups = page.locator(f"{PANEL} .widget-toggle-buttons")
    before = shown()
    _click_inactive(groups.first)  # "one run" <-> "the table"
    page.wait_for_timeout(1500)
    assert shown() != before, "the explorer did not react to the mode click"
    forms = [groups.nth(i) for i in range(groups.count())
             if groups.nth(i).locator("button").count() == 3 and groups.nth(i).is_visible()]
    if not forms:  # the table mode hides the single-run controls: go back to them
        _click_inactive(groups.first)
        page.wait_for_timeout(1500)
        forms = [groups.nth(i) for i in range(groups.count())
                 if groups.nth(i).locator("button").count() == 3 and groups.nth(i).is_visible()]
    assert forms, "ENTRYPOINT and CMD each offer: none, exec form, shell form"
    before = shown()
    _click_inactive(forms[0])
    page.wait_for_timeout(1500)
    assert shown() != before, "the explorer did not react to choosing another ENTRYPOINT form"


def check_copy_up_monitor(page) -> None:
    """After the lesson's writes, the monitor lists the changed and added paths and SizeRw."""
    monitors = page.locator(f"{PANEL} .layerlab-copyup")
    assert monitors.count() >= 1, "the lesson shows a copy-up monitor"
    rows = page.locator(f"{PANEL} .layerlab-copyup tr.path")
    kinds = {rows.nth(i).get_attribute("data-kind") for i in range(rows.count())}
    assert kinds & {"changed", "added"}, f"no change shown after the writes (saw {kinds})"
    sizes = page.locator(f"{PANEL} .layerlab-copyup .size-rw")
    assert any((sizes.nth(i).get_attribute("data-size-rw") or "0") not in ("", "0") for i in range(sizes.count()))


#: What each lesson's widgets must show once its cells ran, by notebook number.
SPECIFIC_CHECKS = {
    "00": check_setup,
    "01": check_layer_stacks,
    "02": lambda page: (check_copy_up_monitor(page), check_union_mount(page)),
    "03": check_rebuild_drawings,
    "05": check_explorer_responds,
}
#: Lessons whose drawings are photographed and checked for contrast in the dark theme too.
DRAWN = ("02", "03")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_widgets_render(lab, page, name):
    open_notebook(page, lab, name)
    run_all_cells(page)
    report = check_rendering(page)
    screenshot(page, ARTIFACTS / f"{name.removesuffix('.ipynb')}.png")
    pictures = screenshot_widgets(page, ARTIFACTS, name.removesuffix(".ipynb"))
    assert not report.problems, report.problems
    assert report.widget_outputs == report.rendered_widgets
    assert pictures or not report.rendered_widgets, "no widget could be photographed"
    check = SPECIFIC_CHECKS.get(name[:2])
    if check:
        check(page)
    if name[:2] in DRAWN:
        stem = name.removesuffix(".ipynb")
        assert photograph_drawings(page, ARTIFACTS, stem), "the lesson's drawings could not be photographed"
        switch_theme(page, dark=True)  # after the run, with no re-run: the drawings must still read
        try:
            check_contrast(page)
            photograph_drawings(page, ARTIFACTS, f"{stem}-dark")
        finally:
            switch_theme(page, dark=False)  # the next notebooks open in the light theme


def test_a_broken_widget_front_end_is_caught(lab, page):
    """The checker is not blind: a widget whose front end is missing fails it."""
    open_notebook(page, lab, "broken-widget.ipynb")
    run_all_cells(page, timeout_s=120)
    report = check_rendering(page)
    screenshot(page, ARTIFACTS / "broken-widget.png")
    assert report.problems, "a widget with no front end must be reported"
    assert any("widget" in problem for problem in report.problems)


def test_replay_marks_every_output(replay_lab, page):
    """With no engine, the lesson replays its recording and every output says so."""
    open_notebook(page, replay_lab, "00-setup.ipynb")
    run_all_cells(page)
    report = check_rendering(page)
    screenshot(page, ARTIFACTS / "00-setup-replay.png")
    assert not report.problems, report.problems
    with_output = page.locator(f"{PANEL} .jp-CodeCell:has(.jp-OutputArea-output)")
    banners = page.locator(f"{PANEL} .jp-CodeCell .layerlab-replay-banner")
    assert with_output.count() > 5
    assert banners.count() >= with_output.count() - 1  # the first cell prints the banner as text
    assert "Replay: recorded on Docker" in page.locator(f"{PANEL} .jp-OutputArea-output").first.text_content()
