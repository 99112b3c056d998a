"""Showing the course's errors in a notebook as a short box, not a traceback wall."""

from __future__ import annotations

import html

from ..core.errors import LayerlabError
from ..core.i18n import _


def error_box_html(error: LayerlabError) -> str:
    what_to_do = html.escape(_("What to do:"))
    fix = f"<div><b>{what_to_do}</b> {html.escape(error.fix)}</div>" if error.fix else ""
    return (
        '<div class="layerlab-error" style="border-left:4px solid #c62828;background:#fdecea;'
        'padding:8px 12px;margin:4px 0;font-family:sans-serif">'
        f"<div><b>layerlab:</b> {html.escape(error.what)}</div>{fix}</div>"
    )


class ErrorDisplay:
    """A rich display of a LayerlabError: HTML in JupyterLab, two lines of text elsewhere."""

    def __init__(self, error: LayerlabError):
        self.error = error

    def _repr_html_(self) -> str:
        return error_box_html(self.error)

    def __repr__(self) -> str:
        text = f"layerlab: {self.error.what}"
        return text + ("\n" + _("What to do:") + f" {self.error.fix}" if self.error.fix else "")


def install_error_display() -> bool:
    """In IPython, show LayerlabError as a short box. Returns False outside IPython."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with jupyterlab
        return False
    shell = get_ipython()
    if shell is None:
        return False

    def handler(shell, etype, value, tb, tb_offset=None):
        display(ErrorDisplay(value))
        return None

    shell.set_custom_exc((LayerlabError,), handler)
    return True
