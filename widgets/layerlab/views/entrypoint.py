"""`EntrypointExplorer`: pick ENTRYPOINT, CMD and run arguments; see what becomes PID 1.

    explorer = EntrypointExplorer(runner)     # runner: layerlab.course.cmd_entrypoint.LiveRunner
    explorer                                  # the widget (JupyterLab)
    explorer.model.cmd_form = "shell"         # the same state, driven from Python
    explorer.run()                            # build + run for real, read PID 1 from inside
    print(explorer.summary())                 # plain text, for nbval and terminals

Three parts, each testable on its own:
- `ExplorerModel` (traitlets, no ipywidgets): the learner's choices, the prediction from
  `layerlab.core.command.resolve`, and the last live observation. It calls a `runner`
  (anything with the `LiveRunner` call signature) and never touches the engine itself.
- `render_html(model)` / `render_matrix_html(cells)`: pure functions from state to HTML.
- `EntrypointExplorer`: ipywidgets controls linked to the model, and an HTML view that is
  re-rendered whenever the model changes.
"""

from __future__ import annotations

import html
import shlex
from typing import Any, Callable, Sequence

import traitlets

from ..core.command import (
    PID1_UNREAD,
    FORMS,
    Form,
    ImageCommand,
    Instruction,
    InstructionError,
    Resolution,
    render_dockerfile,
    resolve,
    Variant,
)
from ..core.commandmatrix import (
    MATRIX_CMDS,
    MATRIX_ENTRYPOINTS,
    MatrixCell,
    fill_matrix,
    matrix_cells,
    matrix_summary,
)
from ..core.errors import LayerlabError
from ..core.i18n import N_, _, shown

FORM_VALUES = tuple(form.value for form in FORMS)
#: What the text summary says of a live run, and what the single-run view shows.
SUMMARY_VERDICTS = {True: N_("the prediction is what ran"), False: N_("DIFFERENT"), None: "-"}

#: The seed's third image is where the explorer starts.
DEFAULTS = {
    "entrypoint_exec": '["ping"]',
    "entrypoint_shell": "ping -c 3 127.0.0.1; echo done",
    "cmd_exec": '["-c", "3", "127.0.0.1"]',
    "cmd_shell": "ping -c 3 127.0.0.1; echo done",
}


class ExplorerModel(traitlets.HasTraits):
    """The explorer's state. Inputs are plain strings, as typed; the rest is derived."""

    entrypoint_form = traitlets.Unicode("exec", help="ENTRYPOINT: none, exec or shell")
    entrypoint_exec = traitlets.Unicode(DEFAULTS["entrypoint_exec"], help="exec-form ENTRYPOINT, a JSON list")
    entrypoint_shell = traitlets.Unicode(DEFAULTS["entrypoint_shell"], help="shell-form ENTRYPOINT, a command line")
    cmd_form = traitlets.Unicode("exec", help="CMD: none, exec or shell")
    cmd_exec = traitlets.Unicode(DEFAULTS["cmd_exec"], help="exec-form CMD, a JSON list")
    cmd_shell = traitlets.Unicode(DEFAULTS["cmd_shell"], help="shell-form CMD, a command line")
    run_args = traitlets.Unicode("", help="words after the image name in `docker run` (shell quoting)")
    use_override = traitlets.Bool(False, help="pass `docker run --entrypoint`")
    entrypoint_override = traitlets.Unicode("", help="the --entrypoint value: one program name, or empty")
    mode = traitlets.Unicode("single", help="single: one run; matrix: Docker's 3 x 3 table")

    # Derived state: views read it, only the model writes it.
    resolution = traitlets.Any(None, allow_none=True, help="the pure function's answer (Resolution)")
    input_error = traitlets.Unicode("", help="why the inputs cannot be read, in one sentence")
    dockerfile = traitlets.Unicode("", help="the Dockerfile a live run builds")
    observation = traitlets.Any(None, allow_none=True, help="what really ran (Observation) for `observed_inputs`")
    observed_inputs = traitlets.Any(None, allow_none=True, help="the inputs the observation belongs to")
    image_reference = traitlets.Unicode("")
    matrix = traitlets.List(help="MatrixCell objects (predicted, and observed once filled)")
    status = traitlets.Unicode("")
    busy = traitlets.Bool(False)

    def __init__(self, runner: Callable | None = None, inherited: ImageCommand | None = None, **kwargs):
        super().__init__(**kwargs)
        self.runner = runner
        self.inherited = inherited if inherited is not None else getattr(runner, "inherited", ImageCommand())
        self._dockerfile_for = getattr(runner, "dockerfile", None)
        self.observe(self._recompute, names=[
            "entrypoint_form", "entrypoint_exec", "entrypoint_shell", "cmd_form", "cmd_exec",
            "cmd_shell", "run_args", "use_override", "entrypoint_override",
        ])
        self._recompute()
        self.matrix = matrix_cells(self.inherited)

    @traitlets.validate("entrypoint_form", "cmd_form")
    def _valid_form(self, proposal):
        if proposal["value"] not in FORM_VALUES:
            raise traitlets.TraitError(f"form must be one of {', '.join(FORM_VALUES)}")
        return proposal["value"]

    @traitlets.validate("mode")
    def _valid_mode(self, proposal):
        if proposal["value"] not in ("single", "matrix"):
            raise traitlets.TraitError("mode must be 'single' or 'matrix'")
        return proposal["value"]

    # -- reading the inputs --------------------------------------------------------------

    def instruction(self, keyword: str) -> Instruction:
        """The ENTRYPOINT or CMD instruction the inputs describe (raises InstructionError)."""
        prefix = "entrypoint" if keyword == "ENTRYPOINT" else "cmd"
        form = Form(getattr(self, f"{prefix}_form"))
        if form is Form.NONE:
            return Instruction.none()
        if form is Form.EXEC:
            text = getattr(self, f"{prefix}_exec").strip()
            if not text.startswith("["):
                raise InstructionError(
                    _("Exec-form {keyword} must be a JSON list, like [\"ping\", \"-c\", \"3\"].").format(keyword=keyword),
                    _("Add the brackets and double quotes, or choose shell form."),
                )
            return Instruction.parse(text, keyword)
        text = getattr(self, f"{prefix}_shell")
        if text.strip().startswith("["):
            raise InstructionError(
                _("Shell-form {keyword} {value} looks like a JSON list.").format(keyword=keyword, value=text.strip()),
                _("Choose exec form for a JSON list, or write a plain command line."),
            )
        return Instruction.shell_form(text)

    def arguments(self) -> tuple[str, ...]:
        try:
            return tuple(shlex.split(self.run_args))
        except ValueError as error:
            raise InstructionError(_("The run arguments cannot be split into words: {error}.").format(error=error),
                                   _("Close the quote you opened.")) from None

    def override(self) -> str | None:
        return self.entrypoint_override if self.use_override else None

    def inputs(self) -> tuple:
        """A hashable key of everything a live run depends on."""
        return (self.instruction("ENTRYPOINT"), self.instruction("CMD"), self.arguments(), self.override())

    def _recompute(self, change=None) -> None:
        with self.hold_trait_notifications():
            try:
                entrypoint, cmd, args, override = self.inputs()
            except LayerlabError as error:
                self.input_error = error.what + (f" {error.fix}" if error.fix else "")
                self.resolution = None
                self.dockerfile = ""
                return
            self.input_error = ""
            self.resolution = resolve(entrypoint, cmd, args, override, inherited=self.inherited)
            if self._dockerfile_for is not None:
                self.dockerfile = self._dockerfile_for(entrypoint, cmd)
            else:
                self.dockerfile = render_dockerfile(["FROM " + _("<the ping base>")], Variant("x", "x", entrypoint, cmd))

    @property
    def stale(self) -> bool:
        """True when the last observation belongs to other inputs than the current ones."""
        try:
            return self.observation is not None and self.observed_inputs != self.inputs()
        except LayerlabError:
            return True

    @property
    def agrees(self) -> bool | None:
        """Whether the prediction equals what ran (None: nothing observed for these inputs)."""
        if self.observation is None or self.stale or self.resolution is None:
            return None
        return self.resolution.agrees_with(self.observation.argv, self.observation.error)

    # -- live runs ----------------------------------------------------------------------

    def run_live(self) -> None:
        """Build the Dockerfile, run it, and record what ran as PID 1."""
        if self.runner is None:
            self.status = _("No engine: the prediction above is all this explorer can show.")
            return
        if self.input_error:
            self.status = _("Fix the inputs first.")
            return
        inputs = self.inputs()
        self.busy = True
        self.status = _("building and running...")
        try:
            built, seen = self.runner(*inputs)
        except LayerlabError as error:
            self.status = error.what
            return
        finally:
            self.busy = False
        with self.hold_trait_notifications():
            self.image_reference = built.reference
            self.observed_inputs = inputs
            self.observation = seen
            self.status = {True: _("what ran is what the rules predict"),
                           False: _("what ran DIFFERS from the prediction"),
                           None: _("ran")}[self.agrees]

    def fill_matrix(self, run_args: Sequence[str] | None = None, progress: Callable | None = None) -> None:
        """Run all nine cells of Docker's table for real (a few seconds)."""
        if self.runner is None:
            self.matrix = matrix_cells(self.inherited, run_args)
            self.status = _("No engine: the table shows predictions only.")
            return
        self.busy = True

        def starting(number: int, total: int) -> None:
            self.status = _("running cell {number} of {total}...").format(number=number, total=total)

        def show(done: int, total: int, table: list[MatrixCell]) -> None:
            self.matrix = table
            if progress:
                progress(done, total)

        try:
            filled = fill_matrix(self.runner, run_args, show, inherited=self.inherited, starting=starting)
        finally:
            self.busy = False
        agree = sum(1 for cell in filled if cell.matches)
        self.status = _("{agree} of {total} cells: what ran is what the rules predict").format(
            agree=agree, total=len(filled))

    # -- text --------------------------------------------------------------------------

    def summary(self) -> str:
        """Plain text: the choice, the prediction and (if run) what ran. Deterministic."""
        if self.mode == "matrix":
            return (_("Docker's CMD x ENTRYPOINT table, on this base ({config}):").format(config=self.inherited.describe())
                    + "\n" + matrix_summary(self.matrix))
        lines = []
        for keyword in ("ENTRYPOINT", "CMD"):
            form = getattr(self, f"{keyword.lower()}_form")
            try:
                value = self.instruction(keyword).describe()
            except LayerlabError:
                value = _("(invalid)")
            lines.append(f"{keyword:<10} {form:<5} {value}")
        label, run_args = _("run args"), self.run_args or _("(none)")
        lines.append(f"{label:<10} {run_args}" + (
            f"   --entrypoint {self.entrypoint_override!r}" if self.use_override else ""))
        if self.input_error:
            lines.append(_("cannot predict: {error}").format(error=self.input_error))
            return "\n".join(lines)
        resolution: Resolution = self.resolution
        predicted = resolution.command_line if resolution.ok else _("error: {error}").format(error=resolution.error)
        lines.append(_("predicted: {line}").format(line=predicted))
        if resolution.ignored:
            lines.append(_("  (the shell-form ENTRYPOINT ignores: {words})").format(words=shlex.join(resolution.ignored)))
        if self.observation is not None and not self.stale:
            seen = self.observation
            pid1 = (shlex.join(seen.argv) if seen.argv is not None
                    else _("none - {why}").format(why=seen.error or _("it ended at once")))
            lines.append(_("PID 1 (read from /proc/1/cmdline): {argv}").format(argv=pid1))
            lines.append(_("verdict: {verdict}").format(verdict=_(SUMMARY_VERDICTS[self.agrees])))
        return "\n".join(lines)


# -- rendering -----------------------------------------------------------------------------

_CSS = (
    "<style>.ll-ep{font-family:sans-serif;font-size:13px}.ll-ep table{border-collapse:collapse}"
    ".ll-ep td,.ll-ep th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}"
    ".ll-ep .argv span{display:inline-block;background:#eef3fb;border:1px solid #9db3d9;border-radius:3px;"
    "padding:0 4px;margin:1px;font-family:monospace}.ll-ep .argv span.ign{background:#f4f4f4;color:#888;"
    "border-style:dashed}.ll-ep pre{background:#f7f7f7;padding:6px;margin:2px 0}"
    ".ll-ep .ok{color:#1b5e20}.ll-ep .bad{color:#b71c1c}.ll-ep .err{color:#b71c1c;font-weight:bold}</style>"
)


def argv_html(argv: Sequence[str] | None, ignored: Sequence[str] = ()) -> str:
    """One box per argv word, so spaces inside a word stay visible."""
    if argv is None:
        return "<i>" + html.escape(_("none")) + "</i>"
    words = list(argv)
    first_ignored = len(words) - len(ignored) if ignored else len(words)
    return '<span class="argv">' + "".join(
        f'<span class="{"ign" if i >= first_ignored else ""}" title="argv[{i}]">{html.escape(w) or "&nbsp;"}</span>'
        for i, w in enumerate(words)
    ) + "</span>"


def render_html(model: ExplorerModel) -> str:
    """The single-run view: Dockerfile, image config, prediction, what ran."""
    if model.mode == "matrix":
        return render_matrix_html(model.matrix, model.status)
    rows = [("Dockerfile", f"<pre>{html.escape(model.dockerfile)}</pre>")]
    if model.input_error:
        rows.append((_("Prediction"), f'<span class="err">{html.escape(model.input_error)}</span>'))
    else:
        res: Resolution = model.resolution
        rows.append((_("Image config"), html.escape(res.image.describe())))
        rows.append(("docker run", f"<code>{html.escape(res.docker_run(model.image_reference or 'IMAGE'))}</code>"))
        if res.ok:
            rows.append((_("Predicted PID 1"), argv_html(res.argv, res.ignored)))
        else:
            refuses = html.escape(_("the engine refuses: {error}").format(error=res.error))
            rows.append((_("Predicted PID 1"), f'<span class="err">{refuses}</span>'))
        rows.append((_("Why"), "<ul>" + "".join(f"<li>{html.escape(shown(n))}</li>" for n in res.notes) + "</ul>"
                     if res.notes else "-"))
    if model.observation is not None and not model.stale:
        seen = model.observation
        if seen.argv is not None:
            observed = argv_html(seen.argv)
        else:
            observed = '<span class="err">' + html.escape(seen.error or _(PID1_UNREAD)) + "</span>"
            if seen.output:
                observed += f"<pre>{html.escape(seen.output[-600:])}</pre>"
        rows.append((_("PID 1, read inside"), observed))
        verdict = model.agrees
        rows.append((_("Verdict"), {True: '<b class="ok">' + html.escape(_("the prediction is what ran")) + "</b>",
                                    False: '<b class="bad">' + html.escape(_("different from the prediction")) + "</b>",
                                    None: "-"}[verdict]))
    elif model.observation is not None:
        changed = html.escape(_("inputs changed since the last run: run again"))
        rows.append((_("PID 1, read inside"), f"<i>{changed}</i>"))
    if model.status:
        rows.append((_("Status"), html.escape(model.status)))
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'{_CSS}<div class="ll-ep" style="line-height:1.4"><table>{body}</table></div>'


def render_matrix_html(cells: Sequence[MatrixCell], status: str = "") -> str:
    """Docker's table: CMD down the side, ENTRYPOINT across the top, one live result per cell."""
    by_key = {(c.entrypoint_form, c.cmd_form): c for c in cells}
    head = "<tr><th></th>" + "".join(
        f"<th>ENTRYPOINT {form.label}<br><code>{html.escape(MATRIX_ENTRYPOINTS[form].describe())}</code></th>"
        for form in FORMS) + "</tr>"
    rows = []
    for cmd_form in FORMS:
        cells_html = []
        for ep_form in FORMS:
            cell = by_key.get((ep_form, cmd_form))
            if cell is None:
                cells_html.append("<td></td>")
                continue
            res = cell.predicted
            content = argv_html(res.argv, res.ignored) if res.ok else f'<span class="err">{html.escape(res.error)}</span>'
            mark = {None: "<div><i>" + html.escape(_("not run yet")) + "</i></div>",
                    True: '<div class="ok">&#10003; ' + html.escape(_("the engine ran exactly this")) + "</div>",
                    False: '<div class="bad">&#10007; ' + html.escape(_("the engine ran: {ran}")).format(
                        ran=argv_html(cell.observed) if cell.observed else html.escape(cell.observed_error or "?"))
                           + "</div>"}[cell.matches]
            cells_html.append(f"<td>{content}{mark}</td>")
        rows.append(f"<tr><th>CMD {cmd_form.label}<br><code>{html.escape(MATRIX_CMDS[cmd_form].describe())}</code></th>"
                    + "".join(cells_html) + "</tr>")
    note = f"<div>{html.escape(status)}</div>" if status else ""
    return (f'{_CSS}<div class="ll-ep" style="line-height:1.4"><table>{head}{"".join(rows)}</table>'
            "<div>" + html.escape(_(
                "Grey dashed words reach the shell-form ENTRYPOINT but its script ignores them ($0, $1...). "
                "The exec-form ENTRYPOINT here is a {sh_c} script too, so that PID 1 keeps running "
                "to be read: its script ignores CMD in the same way, where a program such as {ping} "
                "would take those words as its arguments.")).format(sh_c="<code>sh -c</code>", ping="<code>ping</code>")
            + f"</div>{note}</div>")


# -- the widget ----------------------------------------------------------------------------


class EntrypointExplorer:
    """ipywidgets controls over an `ExplorerModel`, and the HTML view of its state."""

    def __init__(self, runner: Callable | None = None, inherited: ImageCommand | None = None,
                 model: ExplorerModel | None = None):
        import ipywidgets as w

        self.model = model or ExplorerModel(runner, inherited)
        m = self.model
        self.entrypoint_form = w.ToggleButtons(options=FORM_VALUES, value=m.entrypoint_form, description="ENTRYPOINT")
        self.entrypoint_exec = w.Text(value=m.entrypoint_exec, description=_("exec form"), layout=w.Layout(width="420px"))
        self.entrypoint_shell = w.Text(value=m.entrypoint_shell, description=_("shell form"), layout=w.Layout(width="420px"))
        self.cmd_form = w.ToggleButtons(options=FORM_VALUES, value=m.cmd_form, description="CMD")
        self.cmd_exec = w.Text(value=m.cmd_exec, description=_("exec form"), layout=w.Layout(width="420px"))
        self.cmd_shell = w.Text(value=m.cmd_shell, description=_("shell form"), layout=w.Layout(width="420px"))
        self.run_args = w.Text(value=m.run_args, description=_("run args"), placeholder=_("e.g. 127.0.0.1"),
                               layout=w.Layout(width="420px"))
        self.use_override = w.Checkbox(value=m.use_override, description="docker run --entrypoint")
        self.entrypoint_override = w.Text(value=m.entrypoint_override, description=_("program"),
                                          layout=w.Layout(width="260px"))
        self.mode = w.ToggleButtons(options=[(_("one run"), "single"), (_("the table"), "matrix")], value=m.mode)
        self.run_button = w.Button(description=_("Build and run"), button_style="primary", icon="play")
        self.matrix_button = w.Button(description=_("Fill the table live"), icon="table")
        self.view = w.HTML(value=render_html(m))
        self._links = [
            w.link((m, name), (getattr(self, name), "value"))
            for name in ("entrypoint_form", "entrypoint_exec", "entrypoint_shell", "cmd_form", "cmd_exec",
                         "cmd_shell", "run_args", "use_override", "entrypoint_override", "mode")
        ]
        self.run_button.on_click(lambda _button: self.run())
        self.matrix_button.on_click(lambda _button: self.fill_matrix())
        m.observe(self._render, names=traitlets.All)
        m.observe(self._show_fields, names=["entrypoint_form", "cmd_form", "use_override", "mode", "busy"])
        self._show_fields()
        self.single_controls = w.VBox([
            w.HBox([self.entrypoint_form]), self.entrypoint_exec, self.entrypoint_shell,
            w.HBox([self.cmd_form]), self.cmd_exec, self.cmd_shell,
            self.run_args, w.HBox([self.use_override, self.entrypoint_override]), self.run_button,
        ])
        self.matrix_controls = w.VBox([self.matrix_button])
        self.controls = w.VBox([self.mode, self.single_controls, self.matrix_controls])
        self._show_fields()
        self.widget = w.VBox([self.controls, self.view])

    def _render(self, change=None) -> None:
        self.view.value = render_html(self.model)

    def _show_fields(self, change=None) -> None:
        m = self.model

        def show(widget, visible: bool) -> None:
            widget.layout.display = None if visible else "none"

        show(self.entrypoint_exec, m.entrypoint_form == "exec")
        show(self.entrypoint_shell, m.entrypoint_form == "shell")
        show(self.cmd_exec, m.cmd_form == "exec")
        show(self.cmd_shell, m.cmd_form == "shell")
        show(self.entrypoint_override, m.use_override)
        if hasattr(self, "single_controls"):
            show(self.single_controls, m.mode == "single")
            show(self.matrix_controls, m.mode == "matrix")
        self.run_button.disabled = m.busy
        self.matrix_button.disabled = m.busy

    def run(self) -> "EntrypointExplorer":
        self.model.mode = "single"
        self.model.run_live()
        return self

    def fill_matrix(self, run_args: Sequence[str] | None = None) -> "EntrypointExplorer":
        self.model.mode = "matrix"
        self.model.fill_matrix(run_args)
        return self

    def summary(self) -> str:
        return self.model.summary()

    def _repr_mimebundle_(self, **kwargs) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return self.summary()
