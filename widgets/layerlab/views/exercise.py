"""`CacheExercise`: predict HIT or MISS for each step, then build, then see the score.

    quiz = CacheExercise(lesson, "touch")   # writes the context, builds it once (warm cache)
    quiz.widget()                            # one HIT/MISS toggle per step, and a Build button
    quiz.answer("MISS", "MISS", "MISS")      # ... or answer in code
    result = quiz.check()                    # makes the change, builds, scores, explains
    print(result.summary())

Each builder the engine has is scored separately: the same prediction can be right for one
and wrong for the other. Wrong answers get a sentence of explanation, built from what the
engine measured (see `core.cachequiz`). Bad input is a short LayerlabError, never a traceback.
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass

from ..core.build import BuildRecord, CacheStatus
from ..core.model import BuilderKind
from ..core.cachequiz import (
    Scenario,
    Score,
    apply_change,
    check_prediction,
    mark_run,
    predictable_steps,
    scenario,
    score,
    write_exercise_context,
)
from ..core.errors import LayerlabError
from .buildcache import BuildCacheView


@dataclass
class ExerciseResult:
    scenario: Scenario
    change: str
    scores: dict[BuilderKind, Score]
    records: dict[BuilderKind, BuildRecord]

    def summary(self, builders=None) -> str:
        lines = [f"{self.scenario.title}: {self.change}"]
        for builder in builders or self.scores:
            if builder in self.scores:
                lines.append(self.scores[builder].summary())
        return "\n".join(lines)

    def html(self) -> str:
        parts = [f"<div><b>{html.escape(self.scenario.title)}</b>: {html.escape(self.change)}</div>"]
        for builder, result in self.scores.items():
            colour = "#2e7d32" if result.perfect else "#e65100"
            rows = []
            for v in result.verdicts:
                if not v.scored:
                    continue
                mark = "✔" if v.right else "✘"
                why = f'<div style="color:#555;font-size:11px">{html.escape(v.explanation)}</div>' if not v.right else ""
                rows.append(
                    f"<tr><td>{v.step}</td><td style='font-family:monospace'>{html.escape(v.instruction)}</td>"
                    f"<td>you: {v.predicted.value}</td><td>engine: {v.actual.value}</td>"
                    f"<td style='color:{colour}'>{mark}{why}</td></tr>"
                )
            failed = f"<div style='color:#c62828'>The build failed: {html.escape(result.failed)}</div>" if result.failed else ""
            parts.append(
                f"<div style='margin-top:6px'><b style='color:{colour}'>{html.escape(builder.value)}: "
                f"{result.right}/{result.total} right</b>{failed}<table style='font-size:12px'>{''.join(rows)}</table></div>"
            )
        return "<div class='layerlab-exercise-result'>" + "".join(parts) + "</div>"


class CacheExercise:
    """One scenario of the predict-then-build exercise, on the lesson's engine."""

    def __init__(self, lesson, scenario_key: str, warm: bool = True):
        self.lesson = lesson
        self.scenario = scenario(scenario_key)
        base = lesson.base("app", quiet=True)
        self.folder = lesson.context(f"quiz-{self.scenario.key}")
        self.dockerfile = write_exercise_context(self.folder, base.reference, self.scenario.dockerfile)
        # A shared engine shares its build cache: this run's context must be its own, or another
        # learner's identical build (the same change included) would answer for it.
        mark_run(self.folder, lesson.namespace.learner, secrets.token_hex(6))
        self.steps = predictable_steps(self.dockerfile)
        self.view = BuildCacheView(lesson, f"quiz-{self.scenario.key}", self.folder, title=self.scenario.title)
        self.predictions: dict[int, CacheStatus] | None = None
        self.result: ExerciseResult | None = None
        self._toggles = {}
        self._output = None
        if warm:
            # The first build fills the cache; the exercise is about the build after the change.
            self.view.build(title=f"{self.scenario.title}: before the change")

    def describe(self) -> str:
        numbered = "\n".join(
            f"  {n}. {i.text}" for n, i in enumerate(_all(self.dockerfile), start=1) if i.keyword != "FROM"
        )
        return f"{self.scenario.title}. {self.scenario.what_you_do}\nPredict HIT or MISS for:\n{numbered}"

    def answer(self, *answers) -> dict[int, CacheStatus]:
        """`answer("HIT", "MISS", ...)` in step order (FROM left out), or `answer({2: "HIT"})`."""
        given = answers[0] if len(answers) == 1 and isinstance(answers[0], dict) else list(answers)
        self.predictions = check_prediction(self.dockerfile, given)
        return self.predictions

    def check(self) -> ExerciseResult:
        """Make the change, build with every builder, score the prediction."""
        if self.predictions is None:
            raise LayerlabError("There is no prediction to check yet.", "Answer HIT or MISS for each step first.")
        change = apply_change(self.folder, self.scenario, secrets.token_hex(6))
        records = self.view.build(title=f"{self.scenario.title}: after the change")
        scores = {builder: score(self.scenario, self.predictions, record) for builder, record in records.items()}
        self.result = ExerciseResult(self.scenario, change, scores, records)
        for builder, result in scores.items():
            self.lesson.record_event("exercise", exercise=f"{self.lesson.id}.{self.scenario.key}",
                                     builder=builder.value, right=result.right, total=result.total,
                                     passed=result.perfect)
        return self.result

    # -- the widget -----------------------------------------------------------------------

    def widget(self):
        import ipywidgets

        numbers = {i.line: n for n, i in enumerate(_all(self.dockerfile), start=1)}
        rows = []
        for instruction in self.steps:
            number = numbers[instruction.line]
            toggle = ipywidgets.ToggleButtons(options=["HIT", "MISS"], value=None, style={"button_width": "60px"})
            self._toggles[number] = toggle
            rows.append(ipywidgets.HBox([
                ipywidgets.HTML(f"<code>{number}. {html.escape(instruction.text)}</code>",
                                layout=ipywidgets.Layout(width="360px")),
                toggle,
            ]))
        button = ipywidgets.Button(description="Build and check", button_style="primary")
        self._button = button
        self._output = ipywidgets.HTML()

        def on_click(_):
            try:
                self.answer({n: t.value for n, t in self._toggles.items()})
                self._output.value = "<i>building…</i>"
                self._output.value = self.check().html()
            except Exception as error:  # a click must end in a short box, never in a traceback
                from .notebook import error_box_html

                if not isinstance(error, LayerlabError):
                    error = LayerlabError(
                        f"The build could not run: {error}",
                        "Check that the engine still answers (python -m layerlab doctor), then press the button again.",
                    )
                self._output.value = error_box_html(error)

        button.on_click(on_click)
        intro = ipywidgets.HTML(
            f"<b>{html.escape(self.scenario.title)}</b>: {html.escape(self.scenario.what_you_do)} "
            "Predict each step, then build."
        )
        return ipywidgets.VBox([intro, *rows, button, self._output, self.view.widget()])


def _all(dockerfile: str):
    from ..core.dockerfile import parse_dockerfile

    return parse_dockerfile(dockerfile)


def measure_touch(lesson) -> dict[BuilderKind, BuildRecord]:
    """The mtime trap, measured: build, touch a file of the context, build again."""
    quiz = CacheExercise(lesson, "touch")
    apply_change(quiz.folder, quiz.scenario, "")
    return quiz.view.build(title="after touching message.txt")
