"""The replay banner: every view built from a recording says so, visibly."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: no import at run time
    from ..core.objects import Provenance


def source_banner_html(engine: Provenance) -> str:
    """A thin strip naming the recording, or "" when the engine is live."""
    if engine is None or engine.live:
        return ""
    note = engine.source_note
    return (
        '<div class="layerlab-replay-banner" style="background:#fff4e5;border:1px solid #f0a020;'
        'color:#6b4200;padding:2px 8px;margin:2px 0;font:12px sans-serif"><b>REPLAY</b> '
        f"{html.escape(note)}</div>"
    )


def source_banner_text(engine: Provenance) -> str:
    """The same, for terminal output ("" when live)."""
    if engine is None or engine.live:
        return ""
    return f"[{engine.source_note}]"
