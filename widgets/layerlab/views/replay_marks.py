"""In replay, every cell that shows something also shows where it came from.

After each cell that printed or displayed anything, a thin banner widget follows: "Replay:
recorded on Docker X on date Y ... connect an engine to run it live". It is shown as a bare
widget view (no text form), so the stored outputs of a notebook are the same live and in
replay, and nbval compares them unchanged.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from .banner import source_banner_html

if TYPE_CHECKING:  # annotations only: no import at run time
    from ..core.objects import Provenance

_installed: dict = {}


def install_replay_marks(engine: Provenance) -> bool:
    """Register the per-cell banner for a replaying engine; False when live or outside IPython."""
    if engine.live:
        return False
    try:
        import ipywidgets
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    if shell is None:
        return False
    banner = ipywidgets.HTML(value=source_banner_html(engine))
    state = {"shown": False}

    def watch(session) -> None:
        """Note every output message the kernel sends (the one place all outputs pass)."""
        if session is None or getattr(session, "_layerlab_marked", False):
            return
        original = session.send

        def send(stream, msg_or_type, *args, **kwargs):
            kind = msg_or_type if isinstance(msg_or_type, str) else (
                msg_or_type.get("msg_type") or msg_or_type.get("header", {}).get("msg_type"))
            if kind in ("stream", "display_data", "execute_result"):
                state["shown"] = True
            return original(stream, msg_or_type, *args, **kwargs)

        session.send = send
        session._layerlab_marked = True

    kernel = getattr(shell, "kernel", None)
    watch(getattr(kernel, "session", None))
    for stream in (sys.stdout, sys.stderr):
        watch(getattr(stream, "session", None))

    def pre_run_cell(info=None):
        state["shown"] = False

    def post_run_cell(result=None):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()  # pending prints are sent now, so they count
            except Exception:
                pass
        if state["shown"]:
            view = {"version_major": 2, "version_minor": 0, "model_id": banner.model_id}
            display({"application/vnd.jupyter.widget-view+json": view}, raw=True)

    for event, handler in (("pre_run_cell", pre_run_cell), ("post_run_cell", post_run_cell)):
        old = _installed.pop(event, None)
        if old is not None:
            try:
                shell.events.unregister(event, old)
            except ValueError:
                pass
        shell.events.register(event, handler)
        _installed[event] = handler
    return True
