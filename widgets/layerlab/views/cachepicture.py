"""The seed's rebuild figure, live: each builder's stack growing step by step.

For each builder, the build before (when there was one) and this build stand side by side,
base at the bottom. A step the cache answered is drawn in place, the same layer as before
(`cache-hit`); a step that ran is a new block (`cache-miss`) with the reason, and the block it
replaces is struck out in the build before; a step that only changed the configuration is a
dashed outline marked "no layer". A step still running is outlined in blue, one not reached
in grey.

`cache_picture_svg(state)` is a pure function of a `BuildCacheState`: the live view redraws it
as the stream arrives, lesson 03 stores its last one as a plain output, replay draws the same.
Light background of its own, so it reads in JupyterLab's light and dark themes.
"""

from __future__ import annotations

import html
from typing import Sequence

from ..core.build import BuildRecord, BuildStep, CacheStatus
from ..core.cacherule import step_reason
from ..core.i18n import N_, _
from ..core.model import BuilderKind, short_id, truncate
from .layerstack import _text
from .overlay import legend

WIDTH = 900
COLUMN = 206
PAIR_GAP = 24
STEP_H = 38
META_H = 22
LABEL_H = 12
HEADER = 52

INK, MUTED = "#1f1f1f", "#4d4d4d"
#: fill, stroke and the class for each kind of block
STYLE = {
    "base": ("#e3e0f3", "#5b4fa3", "cache-base"),
    "hit": ("#dcefdc", "#2e6b30", "cache-hit"),
    "miss": ("#ffe3c2", "#b34700", "cache-miss"),
    "config": ("#ffffff", "#7a7a7a", "cache-config"),
    "running": ("#e3f0fc", "#1456a0", "cache-running"),
    "failed": ("#ffdcdc", "#a61b1b", "cache-failed"),
    "pending": ("#f7f7f7", "#9a9a9a", "cache-pending"),
    "label": ("#f0f0f0", "#b8b8b8", "cache-label"),
}


def _kind(step: BuildStep) -> str:
    if step.bookkeeping:
        return "label"
    if step.is_base or step.status is CacheStatus.BASE:
        return "base"
    if step.status is CacheStatus.CONFIG or (step.status.done and step.makes_layer is False):
        return "config"
    return {CacheStatus.HIT: "hit", CacheStatus.MISS: "miss", CacheStatus.RUNNING: "running",
            CacheStatus.FAILED: "failed"}.get(step.status, "pending")


def _height(kind: str) -> int:
    return {"config": META_H, "label": LABEL_H}.get(kind, STEP_H)


def previous_build(history: Sequence[BuildRecord], record: BuildRecord) -> BuildRecord | None:
    """The same builder's finished build before `record` in `history`, if any."""
    before = history[: history.index(record)] if record in history else history
    earlier = [r for r in before if r.builder is record.builder and r.finished]
    return earlier[-1] if earlier else None


def _block(step: BuildStep, x: float, bottom: float, kind: str, caption: str,
           replaced: bool = False) -> tuple[str, float]:
    fill, stroke, css = STYLE[kind]
    height = _height(kind)
    top = bottom - height
    dashed = ' stroke-dasharray="5,3"' if kind in ("config", "pending") else ""
    classes = f"{css} step{' replaced' if replaced else ''}"
    layer = step.layer or ""
    out = [
        f'<g class="{classes}" data-index="{step.index}" data-status="{step.status.name}" '
        f'data-layer="{html.escape(layer)}" data-made="{html.escape(step.made or "")}">',
        f"<title>{html.escape(step.instruction)}\n{html.escape(caption)}"
        + ("\n" + _("layer {layer}").format(layer=html.escape(layer)) if layer else "") + "</title>",
        f'<rect x="{x:.1f}" y="{top:.1f}" width="{COLUMN}" height="{height}" rx="3" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="1.3"{dashed}' + (' opacity="0.55"' if replaced else "") + "/>",
    ]
    if kind == "label":
        out.append(_text(x + 6, top + 9, _("course label, no layer"), size=8, mono=False, fill="#5f5f5f"))
    else:
        out.append(_text(x + 6, top + 13, truncate(f"{step.index}. {step.instruction}", 30), size=10, fill=INK))
        if kind != "config":
            out.append(_text(x + 6, top + 28, truncate(caption, 42), size=9, mono=False, fill=MUTED))
        else:
            out[-1] = _text(x + 6, top + 14, _("{instruction}  · no layer").format(
                instruction=truncate(f"{step.index}. {step.instruction}", 19)), size=10, fill=MUTED)
    if replaced:
        out.append(f'<rect x="{x + COLUMN - 58:.1f}" y="{top + 3:.1f}" width="54" height="13" rx="2" fill="#ffffff" '
                   f'stroke="#b34700"/>' + _text(x + COLUMN - 31, top + 13, _("replaced"), size=9, mono=False,
                                                 anchor="middle", fill="#8a3700"))
    out.append("</g>")
    return "".join(out), top


def _caption(record: BuildRecord, step: BuildStep, previous: BuildRecord | None, kind: str) -> str:
    if kind == "base":
        return _("base image {image_id}").format(image_id=short_id(step.made)) if step.made else _("base image")
    if kind in ("running", "pending", "failed"):
        return step.status.value
    return step_reason(record, step.index, previous)


def _column(record: BuildRecord, x: float, bottom: float, previous: BuildRecord | None,
            replaced_by: set[int] | None = None) -> list[str]:
    """One build, base at the bottom; `replaced_by`: steps the next build rebuilt (struck out here)."""
    out, y = [], bottom
    for step in record.steps:
        kind = _kind(step)
        caption = _caption(record, step, previous, kind)
        replaced = replaced_by is not None and step.index in replaced_by and kind not in ("config", "label")
        drawn, y = _block(step, x, y, kind, caption, replaced)
        out.append(drawn)
        y -= 3
    return out


def _pair_height(records: Sequence[BuildRecord]) -> int:
    return max((sum(_height(_kind(s)) + 3 for s in r.steps) for r in records), default=0)


def cache_picture_svg(state) -> str:
    """Every builder of `state` (a `BuildCacheState`): the build before and this one."""
    builders = [b for b in (BuilderKind.CLASSIC, BuilderKind.BUILDKIT) if b in state.records]
    pairs = []
    for builder in builders:
        record = state.records[builder]
        pairs.append((record, previous_build(state.history, record)))
    tallest = _pair_height([r for pair in pairs for r in pair if r is not None])
    height = HEADER + tallest + 58
    bottom = HEADER + tallest + 8
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="layerlab-overlay layerlab-cache-picture" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" data-builders="{len(pairs)}">',
        f"<title>{html.escape(cache_picture_text(state))}</title>",
        '<rect width="100%" height="100%" rx="6" fill="#ffffff" stroke="#d0d0d0"/>',
        _text(12, 20, state.title or _("the build cache, step by step"), size=13, mono=False, weight="bold", fill=INK),
        _text(12, 36, _("base at the bottom; a reused step stays in place, a step that ran is a new layer, "
                        "and so is every step above it"), size=10, mono=False, fill=MUTED),
    ]
    for number, (record, previous) in enumerate(pairs):
        x0 = 12 + number * (2 * COLUMN + PAIR_GAP + 20)
        group = [f'<g class="cache-builder" data-builder="{record.builder.name}">']
        rebuilt = {s.index for s in record.steps if s.status is CacheStatus.MISS}
        if previous is not None:
            drawn = _column(previous, x0, bottom, None, replaced_by=rebuilt)
            group.append(f'<g class="cache-before">{"".join(drawn)}</g>')
            group.append(_text(x0, bottom + 16, _("the build before"), size=10, mono=False, fill=MUTED))
        drawn = _column(record, x0 + COLUMN + 12, bottom, previous)
        group.append(f'<g class="cache-now">{"".join(drawn)}</g>')
        status = (_("building…") if not record.finished else _("failed") if record.failure is not None
                  else _("{reused} reused, {rebuilt} rebuilt").format(reused=len(record.cached_steps()),
                                                                      rebuilt=len(record.rebuilt_steps())))
        group.append(_text(x0 + COLUMN + 12, bottom + 16, f"{record.builder.value}: {status}", size=10,
                           mono=False, weight="bold", fill=INK))
        group.append(_text(x0 + COLUMN + 12, HEADER - 2, truncate(record.title or record.reference, 34), size=10,
                           mono=False, fill=MUTED))
        group.append("</g>")
        out += group
    out.append(legend(height - 14, 12.0, CACHE_KEY))
    out.append("</svg>")
    return "".join(out)


CACHE_KEY = tuple((STYLE[kind][0], STYLE[kind][1], kind == "config", label) for kind, label in (
    ("hit", N_("reused from the cache")), ("miss", N_("ran: a new layer")), ("config", N_("no layer (config only)")),
    ("base", N_("the base image"))))


def cache_picture_text(state) -> str:
    """The drawing's plain-text twin: each builder's steps bottom-up, reused or rebuilt, and why."""
    lines = []
    for builder in (BuilderKind.CLASSIC, BuilderKind.BUILDKIT):
        record = state.records.get(builder)
        if record is None:
            continue
        previous = previous_build(state.history, record)
        lines.append(f"{builder.value}:")
        for step in record.lesson_steps:
            kind = _kind(step)
            if kind == "base":
                lines.append("  " + _("{index}. {instruction}: the base").format(index=step.index, instruction=step.instruction))
            else:
                lines.append(f"  {step.index}. {truncate(step.instruction, 40)}: {step_reason(record, step.index, previous)}")
    return "\n".join(lines)
