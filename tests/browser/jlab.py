"""Driving a notebook in JupyterLab 4 from Playwright, and checking what the learner sees."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

RUN_ALL = "runmenu:run-all"
#: The notebook panel in front (JupyterLab keeps other notebooks open in hidden panels).
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"


@dataclass
class RenderReport:
    """What rendered in a notebook, and what did not."""

    widget_outputs: int = 0
    rendered_widgets: int = 0
    problems: list[str] = field(default_factory=list)


def open_notebook(page, lab, name: str, timeout_s: float = 120) -> None:
    page.goto(lab.url(f"lab/tree/{name}") + "&reset")
    page.wait_for_selector(f"{PANEL} .jp-Notebook .jp-Cell", timeout=timeout_s * 1000)
    accept_kernel_dialog(page)
    wait_kernel_idle(page, timeout_s)


def accept_kernel_dialog(page, wait_s: float = 5) -> None:
    """JupyterLab may ask which kernel to start; take the one it proposes."""
    try:
        page.wait_for_selector(".jp-Dialog .jp-mod-accept", timeout=wait_s * 1000)
    except Exception:
        return
    page.click(".jp-Dialog .jp-mod-accept")


def wait_kernel_idle(page, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = page.evaluate(
            "() => { const el = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');"
            " return el ? el.getAttribute('data-status') : null; }"
        )
        if status == "idle":
            return
        time.sleep(0.5)
    raise AssertionError(f"the kernel did not become idle within {timeout_s:.0f} s")


def run_all_cells(page, timeout_s: float = 600) -> None:
    """Run every cell from the Run menu, then wait until none is queued or running."""
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(f"li[data-command='{RUN_ALL}']")
    deadline = time.monotonic() + timeout_s
    time.sleep(1.0)
    while time.monotonic() < deadline:
        state = page.evaluate(
            """() => {
                const prompts = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')];
                const busy = prompts.filter(p => p.textContent.includes('*')).length;
                const empty = prompts.filter(p => p.textContent.trim() === '[ ]:' || p.textContent.trim() === '').length;
                const el = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
                return {busy, empty, total: prompts.length, status: el ? el.getAttribute('data-status') : null};
            }"""
        )
        if state["busy"] == 0 and state["empty"] == 0 and state["status"] == "idle":
            return
        time.sleep(1.0)
    raise AssertionError(f"cells still running after {timeout_s:.0f} s")


def check_rendering(page) -> RenderReport:
    """Every widget output rendered; no widget error, no traceback in any output.

    A widget whose front end is broken shows "Click to show javascript error" or "Error
    displaying widget"; one whose front end is missing altogether falls back to its text
    repr (`VBox(children=...)`) or stays at "Loading widget...".
    """
    data = page.evaluate(
        """() => {
            const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
            const outputs = panel ? [...panel.querySelectorAll('.jp-OutputArea-output')] : [];
            const widgets = outputs.filter(o => o.querySelector(':scope > .jupyter-widgets'));
            const text = o => (o.textContent || '').trim();
            return {
                widgets: widgets.length,
                broken: widgets.filter(o => /javascript error|Error displaying widget|Failed to load|Loading widget/i.test(text(o))).map(text),
                fallback: outputs.filter(o => o.getAttribute('data-mime-type') === 'text/plain' && /^[A-Z][A-Za-z]*\\(/.test(text(o))).map(text),
                tracebacks: outputs.filter(o => text(o).includes('Traceback (most recent call last)')).map(text),
            };
        }"""
    )
    broken = len(data["broken"])
    report = RenderReport(widget_outputs=data["widgets"] + len(data["fallback"]), rendered_widgets=data["widgets"] - broken)
    for text in data["broken"]:
        report.problems.append(f"widget did not render: {text[:200]}")
    for text in data["fallback"]:
        report.problems.append(f"widget shown as text, its front end is missing: {text[:200]}")
    for text in data["tracebacks"]:
        report.problems.append(f"traceback: {text[:200]}")
    return report


def screenshot(page, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)


def screenshot_widgets(page, directory, stem: str, limit: int = 8) -> list:
    """One picture per rendered widget (the page screenshot shows only where the notebook
    ended): `STEM-widget-N.png`, at most `limit`, in notebook order. Returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob(f"{stem}-widget-*.png"):
        old.unlink()
    outputs = page.locator(f"{PANEL} .jp-OutputArea-output:has(> .jupyter-widgets)")
    paths = []
    for number in range(min(outputs.count(), limit)):
        output = outputs.nth(number)
        output.scroll_into_view_if_needed()
        box = output.bounding_box()
        if not box or box["height"] < 2:
            continue  # an empty output widget (a finished progress bar): nothing to see
        path = directory / f"{stem}-widget-{number + 1}.png"
        output.screenshot(path=str(path))
        paths.append(path)
    return paths

