"""`BuildCacheView`: a build, step by step, as it runs: instruction, HIT or MISS, what it made, time.

Where the engine has BuildKit, the same context is built by both builders and shown side by
side: the classic builder (through the docker SDK) on the left, BuildKit (`docker buildx`) on
the right. A failed build shows the failing step in red, the engine's message, the Dockerfile
lines around it and the step's last output, with what to do.

The state lives in `BuildCacheState` (the records of the builds); `build_cache_html` draws it
and `build_cache_text` prints it, both pure functions of the state, tested without a browser.
The widget only holds an `ipywidgets.HTML` whose value is redrawn as the records change.

    view = BuildCacheView(state)     # the live table of a state (`course.build_cache` runs the builds)
    view.show()                      # display the widget
    view.on_update(record)           # a record changed: redraw
    print(view.text())               # plain text, for nbval
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from ..core.i18n import _
from ..core.build import BuildRecord, BuildStep, CacheStatus
from ..core.errors import LayerlabError
from ..core.model import BuilderKind, short_id, truncate
from .cachepicture import cache_picture_svg, cache_picture_text
from .overlay import Drawing
from .throttle import Throttle

STATUS_STYLE = {
    CacheStatus.PENDING: ("#f5f5f5", "#9e9e9e"),
    CacheStatus.RUNNING: ("#e3f2fd", "#1565c0"),
    CacheStatus.HIT: ("#e8f5e9", "#2e7d32"),
    CacheStatus.MISS: ("#fff3e0", "#e65100"),
    CacheStatus.BASE: ("#ede7f6", "#5e35b1"),
    CacheStatus.CONFIG: ("#fafafa", "#757575"),
    CacheStatus.FAILED: ("#ffebee", "#c62828"),
    CacheStatus.NOT_REACHED: ("#fafafa", "#bdbdbd"),
}
REDRAW_EVERY = 0.1  # at most one redraw per this many seconds while a build streams


@dataclass
class BuildCacheState:
    """What the view shows: the latest build of each builder, and why a builder is absent."""

    title: str = ""
    records: dict[BuilderKind, BuildRecord] = field(default_factory=dict)
    absent: dict[BuilderKind, str] = field(default_factory=dict)
    history: list[BuildRecord] = field(default_factory=list)

    def put(self, record: BuildRecord) -> None:
        self.records[record.builder] = record


def _badge(status: CacheStatus) -> str:
    background, color = STATUS_STYLE[status]
    return (
        f'<span class="status status-{status.name.lower()}" style="display:inline-block;min-width:64px;'
        f"text-align:center;padding:1px 6px;border-radius:3px;border:1px solid {color};background:{background};"
        f'color:{color};font-weight:bold;font-size:11px">{html.escape(status.label)}</span>'
    )


def _step_row(step: BuildStep) -> str:
    seconds = "" if step.seconds is None or step.status is CacheStatus.CONFIG else f"{step.seconds:.2f} s"
    made = step.what_it_made()
    title = html.escape(
        "\n".join(x for x in (step.instruction,
                              _("builder step {label}").format(label=step.builder_label) if step.builder_label else "",
                              _("layer {layer}").format(layer=step.layer) if step.layer else "",
                              f"vertex {step.vertex}" if step.vertex else "")
                  if x),
        quote=True,
    )
    style = "color:#9e9e9e" if step.bookkeeping else ""
    return (
        f'<tr class="step" data-index="{step.index}" data-status="{step.status.name}" title="{title}" style="{style}">'
        f'<td style="text-align:right;padding:2px 6px;color:#777">{step.index}</td>'
        f'<td style="padding:2px 6px;font-family:monospace;white-space:nowrap">{html.escape(truncate(step.instruction, 40))}</td>'
        f'<td style="padding:2px 6px">{_badge(step.status)}</td>'
        f'<td style="padding:2px 6px;font-family:monospace;font-size:11px;white-space:nowrap">{html.escape(made)}</td>'
        f'<td style="padding:2px 6px;text-align:right;font-size:11px;color:#555;white-space:nowrap">{seconds}</td></tr>'
    )


def _failure_box(record: BuildRecord) -> str:
    failure = record.failure
    if failure is None:
        return ""
    parts = [
        '<div class="build-failure" style="border-left:4px solid #c62828;background:#ffebee;padding:6px 10px;margin-top:6px;font-size:13px">',
        f"<div><b>{html.escape(failure.headline())}</b></div>",
        '<div style="margin-top:4px">{}</div>'.format(html.escape(_("The engine said: {message}")).format(
            message=f"<code>{html.escape(failure.message)}</code>")),
    ]
    if failure.excerpt:
        parts.append(f'<pre style="margin:4px 0;background:#fff;padding:4px">{html.escape(failure.excerpt)}</pre>')
    if failure.output:
        shown = "\n".join(failure.output[-6:])
        parts.append("<div>" + html.escape(_("Last output of the step:")) + "</div>"
                     f'<pre style="margin:4px 0;background:#fff;padding:4px">{html.escape(shown)}</pre>')
    parts.append("<div><b>" + html.escape(_("What to do:")) + f"</b> {html.escape(failure.fix())}</div></div>")
    return "".join(parts)


def record_html(record: BuildRecord) -> str:
    """One builder's build as an HTML table."""
    rows = "".join(_step_row(step) for step in record.steps)
    if record.finished and record.failure is None:
        hits, misses = len(record.cached_steps()), len(record.rebuilt_steps())
        if record.seconds is not None:
            status = _("{hits} from the cache, {misses} rebuilt in {seconds:.1f} s").format(
                hits=hits, misses=misses, seconds=record.seconds)
        else:
            status = _("{hits} from the cache, {misses} rebuilt").format(hits=hits, misses=misses)
        if record.image_id:
            status += " → " + _("image {image}").format(image=short_id(record.image_id))
    elif record.finished:
        status = _("failed")
    else:
        status = _("building…")
    return (
        f'<div class="build-record" data-builder="{record.builder.name}" style="flex:1 1 auto;max-width:100%;overflow-x:auto">'
        f'<div style="font-weight:bold;margin-bottom:2px">{html.escape(record.builder.value)}</div>'
        f'<div style="font-size:11px;color:#555;margin-bottom:4px">{html.escape(record.title or record.reference)} · {html.escape(status)}</div>'
        f'<table style="border-collapse:collapse;font-size:12px">{rows}</table>'
        f"{_failure_box(record)}</div>"
    )


def build_cache_html(state: BuildCacheState) -> str:
    """The whole view: one column per builder, side by side."""
    columns = []
    for builder in (BuilderKind.CLASSIC, BuilderKind.BUILDKIT):
        if builder in state.records:
            columns.append(record_html(state.records[builder]))
        elif builder in state.absent:
            columns.append(
                f'<div class="build-record absent" data-builder="{builder.name}" style="flex:1;min-width:260px;color:#777">'
                f"<b>{html.escape(builder.value)}</b><div>{html.escape(state.absent[builder])}</div></div>"
            )
    legend = " ".join(
        f"{_badge(status)} {html.escape(meaning)}"
        for status, meaning in (
            (CacheStatus.HIT, _("reused from the cache")),
            (CacheStatus.MISS, _("ran again")),
            (CacheStatus.CONFIG, _("BuildKit: config only, no step")),
        )
    )
    title = f'<div style="font-weight:bold;font-size:14px;margin-bottom:6px">{html.escape(state.title)}</div>' if state.title else ""
    picture = (f'<div class="cache-picture" style="margin:4px 0 8px;overflow-x:auto">{cache_picture_svg(state)}</div>'
               if state.records else "")
    return (
        '<div class="layerlab-build-cache" style="font-family:system-ui,sans-serif;line-height:1.4">'
        f'{title}{picture}<div style="display:flex;gap:18px;flex-wrap:wrap">{"".join(columns)}</div>'
        f'<div style="margin-top:6px;font-size:11px">{legend}</div></div>'
    )


def build_cache_text(state: BuildCacheState, builders=None) -> str:
    """Plain text of the chosen builders' builds (all by default)."""
    out = []
    for builder in builders or (BuilderKind.CLASSIC, BuilderKind.BUILDKIT):
        if builder in state.records:
            out.append(state.records[builder].summary())
        elif builder in state.absent:
            out.append(f"{builder.value}: {state.absent[builder]}")
    return "\n".join(out)


def agreement(classic: BuildRecord, buildkit: BuildRecord) -> str:
    """Do both builders agree on HIT and MISS for the steps both ran?"""
    differ = []
    for step in classic.lesson_steps:
        try:
            other = buildkit.step(step.index)
        except KeyError:
            continue
        pair = (step.status, other.status)
        if CacheStatus.CONFIG in pair or step.keyword == "FROM":
            continue
        if pair[0] is not pair[1]:
            differ.append(_("step {index} ({instruction}): classic {classic}, BuildKit {buildkit}").format(
                index=step.index, instruction=truncate(step.instruction, 30), classic=pair[0].label,
                buildkit=pair[1].label))
    if not differ:
        return _("Both builders made the same cache decision for every step they both run.")
    return _("The builders differ: {steps}").format(steps="; ".join(differ))


class BuildCacheView:
    """The live table of a `BuildCacheState`: redrawn when a record changes (`on_update`).

    It runs nothing: the course's `CacheBuilds` runs the builds and hands each record here.
    """

    def __init__(self, state: BuildCacheState):
        self.state = state
        self._widget = None
        self._throttle = Throttle(REDRAW_EVERY, self._send)

    def on_update(self, record: BuildRecord) -> None:
        """A build's record changed (a step started, hit, missed or failed)."""
        self.state.put(record)
        self.redraw()

    def record(self, builder: BuilderKind = BuilderKind.CLASSIC) -> BuildRecord:
        try:
            return self.state.records[builder]
        except KeyError:
            raise LayerlabError(_("No {builder} build has run in this view yet.").format(builder=builder.value),
                                _("Run view.build() first.")) from None

    def html(self) -> str:
        return build_cache_html(self.state)

    def text(self, builder: BuilderKind | str | None = None) -> str:
        if isinstance(builder, str):
            builder = BuilderKind[builder.upper()]  # "classic" or "buildkit"
        return build_cache_text(self.state, [builder] if builder else None)

    def drawing(self) -> Drawing:
        """The stacks as last drawn, as a plain output (SVG and its text twin, for nbval)."""
        return Drawing(cache_picture_svg(self.state), cache_picture_text(self.state))

    def agreement(self) -> str:
        if BuilderKind.BUILDKIT not in self.state.records:
            return "BuildKit: " + self.state.absent.get(BuilderKind.BUILDKIT, _("not built yet"))
        return agreement(self.record(BuilderKind.CLASSIC), self.record(BuilderKind.BUILDKIT))

    def redraw(self, force: bool = False) -> None:
        """Draw the state again: at once when `force` (a build finished), else at most once per
        REDRAW_EVERY while a build streams, the newest state last."""
        if self._widget is None:
            return
        if force:
            self._throttle.flush()
        else:
            self._throttle.request()

    def _send(self) -> None:
        self._widget.value = self.html()

    def widget(self):
        if self._widget is None:
            import ipywidgets

            self._widget = ipywidgets.HTML(value=self.html())
        return self._widget

    def show(self):
        """Display the live widget in the notebook (before the builds run)."""
        from IPython.display import display

        display(self.widget())
        return None

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": self.text() or _("(no build yet)"), "text/html": self.html()}
