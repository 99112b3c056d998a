"""Browser tier: every notebook runs in JupyterLab 4 in a real Chromium and its widgets render.

nbval proves the kernel side; this proves what a learner sees. One screenshot per notebook
is saved in artifacts/browser/.
"""

from __future__ import annotations

import pytest

from jlab import PANEL, check_rendering, open_notebook, run_all_cells, screenshot
from conftest import ARTIFACTS, ROOT  # tests/browser/conftest.py

pytestmark = [pytest.mark.browser, pytest.mark.engine]

NOTEBOOKS = sorted(path.name for path in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def check_setup(page) -> None:
    bars = page.locator(f"{PANEL} .widget-hprogress")
    assert bars.count() == 2, "one progress bar per base image"
    done = page.locator(f"{PANEL} .widget-hprogress .progress-bar-success")
    assert done.count() == 2, "both bases prepared: both bars full and green"


#: What each lesson's widgets must show once its cells ran, by notebook number.
SPECIFIC_CHECKS = {
    "00": check_setup,
}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_widgets_render(lab, page, name):
    open_notebook(page, lab, name)
    run_all_cells(page)
    report = check_rendering(page)
    screenshot(page, ARTIFACTS / f"{name.removesuffix('.ipynb')}.png")
    assert not report.problems, report.problems
    assert report.widget_outputs == report.rendered_widgets
    check = SPECIFIC_CHECKS.get(name[:2])
    if check:
        check(page)


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
