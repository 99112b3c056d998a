"""`Lesson`: what a notebook holds on to while it teaches.

    lesson = layerlab.start_lesson("01-layers")
    base = lesson.base("app")              # prints which image it got, and why
    folder = lesson.context("sample")       # a fresh build-context folder of the learner's
    with lesson.container("demo", base.reference, ["sleep", "30"]) as box:
        ...                                  # removed when the block ends, even on interrupt
    lesson.cleanup()

Everything it makes is labeled and named for this learner and lesson.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.i18n import _
from ..core.naming import Namespace
from ..core.workspace import context_dir
from ..views.notebook import install_error_display
from ..views.replay_marks import install_replay_marks

if TYPE_CHECKING:  # annotations only: no import at run time
    from ..engine.engine import Engine


class Lesson:
    def __init__(self, lesson_id: str, engine: Engine | None = None, quiet: bool = False):
        if engine is None:
            from ..engine import connect

            engine = connect(lesson=lesson_id)
        self.engine = engine
        self.id = lesson_id
        self.namespace: Namespace = engine.namespace(lesson_id)
        if not quiet:
            print(self.banner())

    # -- the progress record -------------------------------------------------------------------

    @property
    def source(self) -> str:
        return "live" if self.engine.live else "replay"

    def record_event(self, kind: str, **fields) -> bool:
        """Append one event to the learner's progress record (see `layerlab.core.progress`).

        The learner is the person running the notebook (their own id, also in a replay, whose
        engine objects carry the recording's names)."""
        from ..core.naming import learner_id
        from ..core.progress import append_event, make_event, progress_path

        learner = learner_id()
        return append_event(make_event(kind, learner, self.id, self.source, **fields), progress_path(learner))

    def predict(self, question):
        """Ask the learner to commit a guess before the engine answers (see `views.predict`)."""
        from ..views.predict import Prediction

        def recorded(outcome) -> None:
            self.record_event("prediction", question=outcome.question.key, guess=outcome.guess,
                              answer=outcome.answer.choice, right=outcome.right)

        return Prediction(question, on_outcome=recorded)

    def banner(self) -> str:
        return self.engine.source_note + "\n" + _("Learner '{learner}', lesson {lesson}.").format(
            learner=self.namespace.learner, lesson=self.id)

    def base(self, key: str, quiet: bool = False):
        """The prepared base image for `key` ('ping' or 'app'), prepared now if missing."""
        from ..engine.prepare import base_for

        base = base_for(self.engine, key)
        if not quiet:
            print(base.explain())
        return base

    def context(self, name: str, fresh: bool = True) -> Path:
        return context_dir(self.namespace, name, self.engine.environ, fresh=fresh)

    def image(self, name: str, tag: str = "latest") -> str:
        return self.namespace.image(name, tag)

    def build(self, name: str, context: Path, **kwargs) -> str:
        return self.engine.build(self.namespace, name, context, **kwargs)

    def run(self, name: str, image: str, command=None, **kwargs):
        return self.engine.run(self.namespace, name, image, command, **kwargs)

    @contextlib.contextmanager
    def container(self, name: str, image: str, command=None, **kwargs):
        """A container that is force-removed when the block ends, however it ends."""
        box = self.run(name, image, command, **kwargs)
        try:
            yield box
        finally:
            try:
                box.remove()
            except Exception:  # already gone
                pass

    def cleanup(self, quiet: bool = False):
        from ..engine.cleanup import cleanup

        report = cleanup(self.engine, lesson=self.id)
        self.engine.flush()
        if not quiet:
            removed = len(report.removed)
            if report.kept:
                print(_("cleanup of lesson {lesson}: removed {removed} object(s), kept {kept}").format(
                    lesson=self.id, removed=removed, kept=len(report.kept)))
            else:
                print(_("cleanup of lesson {lesson}: removed {removed} object(s)").format(lesson=self.id, removed=removed))
            for line in report.kept_lines():
                print("  " + line)
        return report


def start_lesson(lesson_id: str, engine: Engine | None = None) -> Lesson:
    """Connect, explain errors as short boxes in the notebook, and return the lesson.

    In replay, every cell that shows something is followed by a banner naming the recording.
    """
    install_error_display()
    lesson = Lesson(lesson_id, engine=engine)
    install_replay_marks(lesson.engine)
    lesson.record_event("lesson-started")
    return lesson
