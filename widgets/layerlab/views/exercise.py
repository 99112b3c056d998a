"""The build-cache exercise's views: the scored result (`ExerciseResult`) and the widget of
HIT/MISS toggles with its "Build and check" button (`exercise_widget`).

The exercise itself (writing the context, building, scoring) is `course.build_cache.CacheExercise`.
Each builder the engine has is scored separately: the same prediction can be right for one
and wrong for the other. Wrong answers get a sentence of explanation, built from what the
engine measured (see `core.cachequiz`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Callable

from ..core.i18n import _
from ..core.build import BuildRecord
from ..core.cachequiz import Scenario, Score, predictable_steps
from ..core.errors import LayerlabError
from ..core.model import BuilderKind
from ..core.text import tr


@dataclass
class ExerciseResult:
    scenario: Scenario
    change: str
    scores: dict[BuilderKind, Score]
    records: dict[BuilderKind, BuildRecord]

    def summary(self, builders=None) -> str:
        lines = [f"{tr(self.scenario.title)}: {self.change}"]
        for builder in builders or self.scores:
            if builder in self.scores:
                lines.append(self.scores[builder].summary())
        return "\n".join(lines)

    def html(self) -> str:
        parts = [f"<div><b>{html.escape(tr(self.scenario.title))}</b>: {html.escape(self.change)}</div>"]
        for builder, result in self.scores.items():
            colour = "#2e7d32" if result.perfect else "#e65100"
            rows = []
            for v in result.verdicts:
                if not v.scored:
                    continue
                mark = "✔" if v.right else "✘"
                why = f'<div style="color:#555;font-size:11px">{html.escape(v.explanation)}</div>' if not v.right else ""
                you = html.escape(_("you: {answer}").format(answer=v.predicted.value))
                engine = html.escape(_("engine: {answer}").format(answer=v.actual.value))
                rows.append(
                    f"<tr><td>{v.step}</td><td style='font-family:monospace'>{html.escape(v.instruction)}</td>"
                    f"<td>{you}</td><td>{engine}</td>"
                    f"<td style='color:{colour}'>{mark}{why}</td></tr>"
                )
            failed = ""
            if result.failed:
                failed = "<div style='color:#c62828'>{}</div>".format(
                    html.escape(_("The build failed: {message}").format(message=result.failed)))
            right = html.escape(_("{builder}: {right}/{total} right").format(
                builder=builder.value, right=result.right, total=result.total))
            parts.append(
                f"<div style='margin-top:6px'><b style='color:{colour}'>{right}"
                f"</b>{failed}<table style='font-size:12px'>{''.join(rows)}</table></div>"
            )
        return "<div class='layerlab-exercise-result'>" + "".join(parts) + "</div>"


def exercise_widget(scenario_: Scenario, dockerfile: str, on_check: Callable[[dict[int, object]], str],
                    below=None):
    """One HIT/MISS toggle per predictable step and a "Build and check" button.

    A click hands the answers ({step number: "HIT"|"MISS"|None}) to `on_check`, which builds
    and returns the result's HTML; any error it raises ends in a short box, never a traceback.
    `below` is a widget shown under it (the live build table).
    """
    import ipywidgets

    from ..core.dockerfile import parse_dockerfile

    numbers = {i.line: n for n, i in enumerate(parse_dockerfile(dockerfile), start=1)}
    toggles = {}
    rows = []
    for instruction in predictable_steps(dockerfile):
        number = numbers[instruction.line]
        toggle = ipywidgets.ToggleButtons(options=["HIT", "MISS"], value=None, style={"button_width": "60px"})
        toggles[number] = toggle
        rows.append(ipywidgets.HBox([
            ipywidgets.HTML(f"<code>{number}. {html.escape(instruction.text)}</code>",
                            layout=ipywidgets.Layout(width="360px")),
            toggle,
        ]))
    button = ipywidgets.Button(description=_("Build and check"), button_style="primary")
    output = ipywidgets.HTML()

    def on_click(_button):
        try:
            output.value = "<i>{}</i>".format(html.escape(_("building…")))
            output.value = on_check({n: t.value for n, t in toggles.items()})
        except Exception as error:  # a click must end in a short box, never in a traceback
            from .notebook import error_box_html

            if not isinstance(error, LayerlabError):
                error = LayerlabError(
                    _("The build could not run: {error}").format(error=error),
                    _("Check that the engine still answers (python -m layerlab doctor), then press the button again."),
                )
            output.value = error_box_html(error)

    button.on_click(on_click)
    intro = ipywidgets.HTML(
        f"<b>{html.escape(tr(scenario_.title))}</b>: {html.escape(tr(scenario_.what_you_do))} "
        + html.escape(_("Predict each step, then build."))
    )
    box = ipywidgets.VBox([intro, *rows, button, output] + ([below] if below is not None else []))
    return box
