"""`Prediction`: the learner commits a guess, the engine answers, the guess is scored.

    guess = lesson.predict(LAYER_COUNT)   # shows the choices and a "Lock in" button
    ...                                    # the cells that make the engine answer
    print(guess.reveal(answer_layer_count(...)))  # the verdict (also recorded)

In code: `guess.commit("2")`. A reader who only reads runs on: `reveal` then says "no guess
committed" and shows the answer ("show me"). Once revealed, the choices are locked, so a
guess cannot be changed after the answer is known.
"""

from __future__ import annotations

from ..core.i18n import _
from ..core.text import tr

import html

from ..core.errors import LayerlabError
from ..core.predict import Answer, Outcome, Question, guesses_in_advance, score


class Prediction:
    def __init__(self, question: Question, on_outcome=None, environ=None):
        self.question = question
        self.guess: str | None = None
        self.outcome: Outcome | None = None
        self._on_outcome = on_outcome
        self._widget = None
        given = guesses_in_advance(environ).get(question.key)
        if given is not None:
            self.commit(given)

    # -- the learner's side ----------------------------------------------------------------

    def commit(self, guess) -> str:
        """Lock in a guess (the choice's text or its number); returns the choice."""
        if self.outcome is not None:
            raise LayerlabError(_("The engine has answered already, so the guess is locked."),
                                _("Predict before you run the cell that asks the engine."))
        self.guess = self.question.choice(guess)
        self._refresh()
        return self.guess

    # -- the engine's side -----------------------------------------------------------------

    def reveal(self, answer: Answer) -> Outcome:
        """Score the guess against the engine's answer (once) and record it; print() the
        outcome for its verdict."""
        if self.outcome is None:
            self.outcome = score(self.question, self.guess, answer)
            if self._on_outcome is not None:
                self._on_outcome(self.outcome)
            self._refresh()
        return self.outcome

    # -- the widget ------------------------------------------------------------------------

    def widget(self):
        import ipywidgets as w

        if self._widget is not None:
            return self._widget
        prompt = w.HTML("<b>{}</b> {}".format(html.escape(_("Predict first.")), html.escape(tr(self.question.prompt))))
        choices = w.RadioButtons(options=[(tr(c), c) for c in self.question.choices], value=None,
                                 layout=w.Layout(width="auto"))
        lock = w.Button(description=_("Lock in my guess"), button_style="primary", disabled=True)
        status = w.HTML("")

        def chosen(change) -> None:
            lock.disabled = change["new"] is None or self.outcome is not None

        def locked(_button) -> None:
            try:
                self.commit(choices.value)
            except LayerlabError as error:
                status.value = html.escape(error.what)

        choices.observe(chosen, names="value")
        lock.on_click(locked)
        self._widget = w.VBox([prompt, choices, w.HBox([lock, status])])
        self._widget.add_class("layerlab-prediction")
        self._parts = (choices, lock, status)
        self._refresh()
        return self._widget

    def _refresh(self) -> None:
        if self._widget is None:
            return
        choices, lock, status = self._parts
        if self.guess is not None and choices.value != self.guess:
            choices.value = self.guess
        frozen = self.guess is not None or self.outcome is not None
        choices.disabled = frozen
        lock.disabled = frozen or choices.value is None
        if self.outcome is not None:
            mark = {True: _("✔ right"), False: _("✘ not this time"), None: _("shown")}[self.outcome.right]
            status.value = f"<span>{html.escape(mark)}: {html.escape(tr(self.outcome.answer.choice))}</span>"
        elif self.guess is not None:
            status.value = "<span>{}</span>".format(html.escape(
                _("locked in: {guess}. Run the next cells: the engine answers.").format(guess=tr(self.guess))))
        else:
            status.value = "<span>{}</span>".format(html.escape(_("or just run on: the answer is shown either way")))

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget())
