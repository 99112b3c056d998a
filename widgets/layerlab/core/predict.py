"""Predict first: the learner commits a guess, then the engine answers and the guess is scored.

A `Question` offers a few choices. The lesson measures something on the engine and turns
the measurement into one of those choices, with a sentence saying why (`Answer`). `score`
compares the two. A reader who only reads asks "show me": no guess, the answer is shown.

Guesses can also be given in advance, as JSON in `$LAYERLAB_PREDICTIONS`
(`{"01-layers.layer-count": "2"}`): an instructor's demo, or a test, answers without clicking.

Pure: no widgets, no engine.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Mapping

from .errors import LayerlabError
from .i18n import _

PREDICTIONS_ENV = "LAYERLAB_PREDICTIONS"


@dataclass(frozen=True)
class Question:
    key: str  # "<lesson>.<name>", unique in the course
    prompt: str
    choices: tuple[str, ...]

    def choice(self, guess) -> str:
        """The choice `guess` names: the text itself (any case), or its number from 1."""
        if isinstance(guess, int) and not isinstance(guess, bool):
            if 1 <= guess <= len(self.choices):
                return self.choices[guess - 1]
        elif isinstance(guess, str):
            wanted = " ".join(guess.split()).lower()
            for choice in self.choices:
                if choice.lower() == wanted:
                    return choice
            if wanted.isdigit() and wanted not in (c.lower() for c in self.choices):
                return self.choice(int(wanted))
        listed = "; ".join(f"{n}: {_(c)}" for n, c in enumerate(self.choices, 1))
        raise LayerlabError(_("{guess!r} is not one of the choices.").format(guess=guess),
                            _("Pick one of them (by text or number): {listed}.").format(listed=listed))


@dataclass(frozen=True)
class Answer:
    choice: str  # one of the question's choices
    because: str  # what the engine measured, in a sentence


@dataclass(frozen=True)
class Outcome:
    question: Question
    guess: str | None  # None: the learner asked to be shown
    answer: Answer

    @property
    def right(self) -> bool | None:
        return None if self.guess is None else self.guess == self.answer.choice

    def summary(self) -> str:
        answer = _(self.answer.choice)  # a choice is stored in English, its key; shown translated
        if self.guess is None:
            head = _("No guess committed, so here is the answer: {answer}.").format(answer=answer)
        elif self.right:
            head = _("Your guess, {guess}: right.").format(guess=_(self.guess))
        else:
            head = _("Your guess, {guess}: not this time. The engine's answer: {answer}.").format(
                guess=_(self.guess), answer=answer)
        return f"{head}\n{self.answer.because}"

    __str__ = summary


def score(question: Question, guess: str | None, answer: Answer) -> Outcome:
    if answer.choice not in question.choices:
        raise ValueError(f"{answer.choice!r} is not a choice of {question.key}")
    return Outcome(question, None if guess is None else question.choice(guess), answer)


def guesses_in_advance(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Guesses given in `$LAYERLAB_PREDICTIONS`; a value that is not a JSON object is an error."""
    environ = os.environ if environ is None else environ
    text = environ.get(PREDICTIONS_ENV, "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise LayerlabError(f"{PREDICTIONS_ENV} is not a JSON object of guesses.",
                            'Set it like {"01-layers.layer-count": "2"}, or unset it.')
    return {str(k): v for k, v in value.items()}
