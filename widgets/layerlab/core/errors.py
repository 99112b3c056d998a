"""Every error the course explains to a learner.

Each error carries two short sentences: what went wrong, and what to do about it. The CLI
prints them and exits non-zero; notebooks show them as a small box instead of a traceback.
"""

from __future__ import annotations

from .i18n import _


class LayerlabError(Exception):
    """Root of every error layerlab raises on purpose."""

    exit_code = 1

    def __init__(self, what: str, fix: str = ""):
        super().__init__(what)
        self.what = what
        self.fix = fix

    def explain(self) -> str:
        return self.what if not self.fix else f"{self.what}\n" + _("What to do:") + f" {self.fix}"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.explain()


class EngineError(LayerlabError):
    """The Docker engine cannot be used."""

    exit_code = 2


class EngineUnreachable(EngineError):
    """Nothing answers on the socket or address the client uses."""


class EnginePermissionDenied(EngineError):
    """The socket exists but this user may not open it."""


class DockerHostUnreachable(EngineError):
    """DOCKER_HOST names an address that does not answer."""


class EngineTooOld(EngineError):
    """The engine speaks an API older than the course needs."""


class NoRegistryAndNoRecipe(LayerlabError):
    """A base image can neither be pulled nor built locally."""


class BuildFailed(LayerlabError):
    """A Dockerfile did not build; `step` and `engine_message` say where and why."""

    def __init__(self, what: str, fix: str = "", step: str = "", engine_message: str = ""):
        super().__init__(what, fix)
        self.step = step
        self.engine_message = engine_message


class ExerciseAnswerWrong(LayerlabError):
    """A learner's answer to an exercise is not right (yet)."""


class EngineRefused(LayerlabError):
    """The engine answered a request with an error; `status` and `explanation` are its own."""

    def __init__(self, what: str, fix: str = "", status: int | None = None, explanation: str = ""):
        super().__init__(what, fix)
        self.status = status
        self.explanation = explanation


class NotOnEngine(EngineRefused):
    """The engine has no such object (it answered 404)."""
