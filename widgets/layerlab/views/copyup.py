"""`CopyUpMonitor`: a container's R/W layer, changing as you watch.

    monitor = watch_copy_ups(lesson, box)      # (layerlab.course.copy_on_write) starts watching
    monitor.wait_for("/data/big.bin")          # the event, once the watcher has seen it
    print(monitor.summary())                   # plain text (what nbval compares)
    monitor.stop()

The state lives in a `CopyUpState` (core.copyup), fed by one `CopyUpWatcher` thread
(engine.watch) that the course hands in: the view starts and stops it, and draws its state. `render_html(state)` is a pure function from that state to HTML; the widget
is an `ipywidgets.HTML` whose value is set to it after each change, plus a button that stops watching (and watches again).
"""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING

from ..core.i18n import N_, _
from ..core.copyup import ChangeEvent, CopyUpState, RwPathOrigin, WatchStatus
from ..core.model import ChangeKind, human_size, truncate
from .banner import source_banner_html
from .overlay import Drawing, union_mount_svg, union_mount_text
from .throttle import Throttle

if TYPE_CHECKING:  # annotations only: no import at run time
    from ..core.objects import Provenance

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
#: at most one redraw sent to the front end per this many seconds, whatever the burst
REDRAW_EVERY = 0.1

KIND_STYLE = {
    ChangeKind.ADDED: ("#e6f4ea", "#1e7b34", N_("added")),
    ChangeKind.CHANGED: ("#fdf1d8", "#8a5a00", N_("changed")),
    ChangeKind.DELETED: ("#fdecea", "#b3261e", N_("deleted")),
    None: ("#f1f1f1", "#666666", N_("reverted")),
}
#: The columns of the table of paths.
TABLE_HEADINGS = (N_("change"), N_("path"), N_("size"), N_("from the image layer (docker diff + the image's file index)"))
STATUS_COLOR = {
    WatchStatus.STARTING: "#8a8a8a",
    WatchStatus.INDEXING: "#8a8a8a",
    WatchStatus.WATCHING: "#1e7b34",
    WatchStatus.STOPPED: "#666666",
    WatchStatus.CONTAINER_STOPPED: "#8a5a00",
    WatchStatus.CONTAINER_GONE: "#8a5a00",
    WatchStatus.FAILED: "#b3261e",
}


def _badge(kind: ChangeKind | None) -> str:
    fill, ink, word = KIND_STYLE[kind]
    word = _(word)
    return (
        f'<span style="background:{fill};color:{ink};border:1px solid {ink};border-radius:3px;white-space:nowrap;'
        f'padding:0 4px;font:11px monospace">{"-" if kind is None else kind.letter} {word}</span>'
    )


def _where(attribution) -> str:
    if attribution is None:
        return '<span style="color:#888">' + _("(no attribution)") + "</span>"
    text = html.escape(attribution.describe(width=48))
    if attribution.via in (RwPathOrigin.COPY_UP, RwPathOrigin.WHITEOUT, RwPathOrigin.COPY_UP_DIRECTORY):
        return f'<span title="{html.escape(attribution.instruction)}">{text}</span>'
    return f'<span style="color:#555">{text}</span>'


def size_sparkline(samples, width: int = 220, height: int = 28, until: float | None = None) -> str:
    """SizeRw over time as a small SVG step line, drawn on to `until` (the last poll) when given;
    empty when fewer than two samples."""
    points = list(samples)
    if len(points) < 2:
        return ""
    if until is not None and until > points[-1][0]:
        points.append((until, points[-1][1]))  # the size held since its last change
    t0, t1 = points[0][0], max(points[-1][0], points[0][0] + 1e-6)
    top = max(size for _moment, size in points) or 1
    coords = []
    previous_y = None
    for moment, size in points:
        x = (moment - t0) / (t1 - t0) * (width - 4) + 2
        y = height - 2 - size / top * (height - 4)
        if previous_y is not None:
            coords.append(f"{x:.1f},{previous_y:.1f}")
        coords.append(f"{x:.1f},{y:.1f}")
        previous_y = y
    caption = _("SizeRw from +{start:.1f} s to +{end:.1f} s: {smallest} to {largest}").format(
        start=t0, end=points[-1][0], smallest=human_size(min(size for _moment, size in points)),
        largest=human_size(max(size for _moment, size in points)))
    return (
        f'<div style="font-size:10px;color:#888;line-height:1.2">'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" class="layerlab-sizerw">'
        f"<title>{html.escape(caption)}</title>"
        f'<rect width="{width}" height="{height}" fill="#fffaf0" stroke="#e6d3a8"/>'
        f'<polyline fill="none" stroke="#c08a1e" stroke-width="1.5" points="{" ".join(coords)}"/></svg>'
        f"<br/>{html.escape(caption)}</div>"
    )


def render_html(state: CopyUpState, banner: str = "", hint: str = "", max_rows: int = 40, max_events: int = 12) -> str:
    """The monitor as HTML: a pure function of its state (no engine, no widgets)."""
    name = html.escape(state.name or state.short_id)
    color = STATUS_COLOR[state.status]
    size = "?" if state.size_rw is None else human_size(state.size_rw)
    grew = ""
    if state.size_rw is not None and state.size_rw_start is not None and state.size_rw != state.size_rw_start:
        grew = " " + _("(was {size} when watching began)").format(size=human_size(state.size_rw_start))
    counts = state.counts()
    title = _("R/W layer of {name}").format(name=name)
    tally = _("{added} added, {changed} changed, {deleted} deleted").format(
        added=counts["added"], changed=counts["changed"], deleted=counts["deleted"])
    out = [
        '<div class="layerlab-copyup" style="font-family:system-ui,sans-serif;font-size:12px;line-height:1.4;max-width:900px">',
        banner,
        f'<div style="display:flex;align-items:center;gap:12px;flex-wrap:wrap">'
        f'<div><b>{title}</b> <span style="color:#666">({html.escape(truncate(state.image, 50))})</span><br/>'
        f'<span class="status" data-status="{state.status.name.lower()}" style="color:{color}">&#9679; '
        f'{html.escape(state.status.text)}</span> &middot; '
        f'<span class="size-rw" data-size-rw="{"" if state.size_rw is None else state.size_rw}">SizeRw <b>{size}</b>{grew}</span>'
        f" &middot; {tally}</div>"
        f"{size_sparkline(state.size_samples, until=state.elapsed)}</div>",
    ]
    if state.error:
        out.append(
            '<div class="layerlab-error" style="border-left:4px solid #c62828;background:#fdecea;padding:4px 8px;margin:4px 0">'
            "<b>" + _("watcher:") + f"</b> {html.escape(state.error)}</div>"
        )
    if state.note:
        out.append(f'<div style="color:#8a5a00;margin:2px 0">{html.escape(state.note)}</div>')
    if state.stack is not None:
        out.append(f'<div class="union-mount" style="margin:6px 0;overflow-x:auto">{union_mount_svg(state)}</div>')
    rows = sorted(state.paths.values(), key=lambda s: s.path)
    cell = 'style="padding:1px 6px;border-bottom:1px solid #eee;vertical-align:top"'
    body = []
    for row in rows[:max_rows]:
        directory = row.is_dir or (row.attribution is not None and row.attribution.is_directory)
        shown_size = "" if row.size is None or directory else human_size(row.size)
        dim = ' style="color:#777"' if directory and row.kind is ChangeKind.CHANGED else ""
        body.append(
            f'<tr class="path" data-path="{html.escape(row.path)}" data-kind="{row.kind.value}"{dim}>'
            f"<td {cell}>{_badge(row.kind)}</td>"
            f'<td {cell}><code>{html.escape(row.path + ("/" if directory else ""))}</code></td>'
            f'<td {cell} align="right"><span style="white-space:nowrap">{shown_size}</span></td><td {cell}>{_where(row.attribution)}</td></tr>'
        )
    if len(rows) > max_rows:
        more = _("... and {count} more paths").format(count=len(rows) - max_rows)
        body.append(f'<tr><td colspan="4" {cell}>{more}</td></tr>')
    if not rows:
        nothing = _("nothing differs from the image yet")
        body.append(f'<tr><td colspan="4" {cell} style="color:#888">{nothing}</td></tr>')
    out.append(
        '<table style="border-collapse:collapse;margin-top:4px;width:100%">'
        '<tr style="text-align:left;color:#555;font-size:12px">'
        + "".join("<th>" + _(heading) + "</th>" for heading in TABLE_HEADINGS) + "</tr>"
        + "".join(body) + "</table>"
    )
    events = list(state.events)[-max_events:]
    if events:
        already = ' <span style="color:#888">' + _("(already there)") + "</span>"
        lines = "".join(
            f'<div class="event" data-seq="{e.seq}"><span style="color:#888">+{e.at:6.2f} s</span> '
            f"{_badge(e.kind)} <code>{html.escape(e.path)}</code> {html.escape(e.verb)}"
            + ("" if e.size_rw is None else f' <span style="color:#888">(SizeRw {human_size(e.size_rw)})</span>')
            + ("" if not e.initial else already)
            + "</div>"
            for e in reversed(events)
        )
        latest = _("latest changes, newest first ({count} in all)").format(count=state.events_total)
        out.append(f'<details open style="margin-top:4px"><summary>{latest}</summary>{lines}</details>')
    if hint:
        out.append(f'<div style="color:#555;margin-top:4px">{hint}</div>')
    out.append("</div>")
    return "".join(out)


def terminal_command(engine: Provenance, name: str) -> str:
    """The exact command a learner types in a terminal to get a shell in the container."""
    host = getattr(getattr(engine, "facts", None), "host", DEFAULT_DOCKER_HOST) or DEFAULT_DOCKER_HOST
    prefix = "" if host == DEFAULT_DOCKER_HOST else f"DOCKER_HOST={host} "
    return f"{prefix}docker exec -it {name} sh"


class CopyUpMonitor:
    """A live view of a running container's R/W layer, fed by a watcher (see `watch_copy_ups`).

    `engine` is only asked whether it is live, what its source says and where it is (for the
    terminal command); the watcher does every request.
    """

    def __init__(self, watcher, engine: Provenance, start: bool = True):
        self.engine = engine
        self.watcher = watcher
        watcher.on_update = self._updated
        self._html = None
        self._button = None
        self._widget = None
        self.renders = 0
        self._throttle = Throttle(REDRAW_EVERY, self._send)
        if start:
            self.start()

    # -- state and control --------------------------------------------------------------

    @property
    def state(self) -> CopyUpState:
        return self.watcher.state

    @property
    def name(self) -> str:
        return self.state.name

    @property
    def running(self) -> bool:
        return self.watcher.running

    def start(self) -> "CopyUpMonitor":
        self.watcher.start()
        return self

    def stop(self) -> None:
        self.watcher.stop()

    def wait_for(self, path: str, kind: ChangeKind | None = None, timeout: float = 30.0) -> ChangeEvent:
        """The first change of `path` (of `kind`); interrupting the wait stops the watcher."""
        try:
            return self.watcher.wait_for(path, kind, timeout)
        except KeyboardInterrupt:
            self.stop()
            raise

    def sync(self, timeout: float = 30.0) -> CopyUpState:
        """The state after a poll that began after this call; interrupting it stops the watcher."""
        try:
            state = self.watcher.sync(timeout)
        except KeyboardInterrupt:
            self.stop()
            raise
        if self._html is not None:
            self._throttle.settle()  # the cell after this one sees the widget as of the state
        return state

    def follow(self, seconds: float | None = None) -> CopyUpState:
        """Block the cell while watching, until the container goes away, `seconds` pass, or
        you interrupt the kernel (the square button): then the watcher stops, quietly."""
        deadline = None if seconds is None else time.monotonic() + seconds
        try:
            while self.watcher.running:
                if deadline is not None and time.monotonic() >= deadline:
                    break
                self.watcher.join(0.2)
        except KeyboardInterrupt:
            self.stop()
            print(_("stopped watching {name}").format(name=self.name))
        return self.state

    def summary(self, paths=None, directories: bool = False, sizes: bool = False) -> str:
        """Plain text of the R/W layer as last seen (sorted, no times): what nbval compares."""
        with self.watcher.lock:
            return self.state.summary(paths, directories, sizes)

    def terminal_command(self) -> str:
        """The command that opens a shell in this container; in replay, why there is none."""
        if not self.engine.live:
            return _("(needs a live engine) {command}: this is a replay, no container runs, so there is nothing "
                     "to enter. Connect an engine and run the lesson to try it.").format(
                command=f"docker exec -it {self.name} sh")
        return terminal_command(self.engine, self.name)

    # -- display ------------------------------------------------------------------------

    def hint(self) -> str:
        """What the learner can do now: it follows the watcher (no terminal hint for a removed container)."""
        status = self.state.status
        if not self.engine.live:
            return _("This is a replay: no container runs, so a terminal cannot reach it.")
        if status is WatchStatus.STOPPED:
            return _("Not watching now: the button below watches again.")
        if not status.active:
            return ""
        return _("Try it: open a terminal (File &rarr; New &rarr; Terminal), run {command}, write or delete "
                 "files, and watch this list.").format(command=f"<code>{html.escape(self.terminal_command())}</code>")

    def html(self) -> str:
        with self.watcher.lock:
            return render_html(self.state, banner=source_banner_html(self.engine), hint=self.hint())

    def drawing(self) -> Drawing:
        """The union-mount drawing as last seen, as a plain output (SVG, with its text twin for
        nbval): it stays in the notebook where the live widget does not render (GitHub, HTML)."""
        with self.watcher.lock:
            return Drawing(union_mount_svg(self.state), union_mount_text(self.state))

    def _updated(self, state, events) -> None:
        """The watcher saw something: redraw now, or once REDRAW_EVERY has passed since the last
        redraw, so a burst sends few messages; the end of a watch is drawn at once."""
        if self._html is None:
            return
        if state.status.active:
            self._throttle.request()
        else:
            self._throttle.flush()

    def _send(self) -> None:
        self._html.value = self.html()
        self._sync_button()
        self.renders += 1

    def _sync_button(self) -> None:
        """Stop while watching; watch again after a stop; nothing to do once the container is done."""
        status = self.state.status
        if status.active:
            self._button.description, self._button.icon, self._button.disabled = _("Stop watching"), "stop", False
        elif status is WatchStatus.STOPPED:
            self._button.description, self._button.icon, self._button.disabled = _("Watch again"), "play", False
        else:
            self._button.description, self._button.icon, self._button.disabled = _("Not watching"), "stop", True

    def _clicked(self, _button=None) -> None:
        if self.state.status.active:
            self.stop()
        elif self.state.status is WatchStatus.STOPPED:
            self.start()

    @property
    def widget(self):
        if self._widget is None:
            import ipywidgets

            self._html = ipywidgets.HTML(value=self.html())
            self._button = ipywidgets.Button(layout=ipywidgets.Layout(width="160px"))
            self._sync_button()
            self._button.on_click(self._clicked)
            self._widget = ipywidgets.VBox([self._html, self._button])
        return self._widget

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude) or {}
        with self.watcher.lock:
            bundle["text/plain"] = self.state.headline()
        return bundle

    def __repr__(self) -> str:
        return f"<CopyUpMonitor {self.state.headline()}>"
