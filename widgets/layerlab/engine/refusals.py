"""The SDK's errors, turned into the course's at the engine door."""

from __future__ import annotations

import contextlib

from ..core.errors import EngineRefused, NotOnEngine
from ..core.i18n import _
from .sdk import docker, requests_exception


def explanation(error: docker.errors.APIError) -> str:
    text = error.explanation or str(error)
    return (text.decode(errors="replace") if isinstance(text, bytes) else str(text)).strip()


def refusal(error: docker.errors.APIError, what: str = "", fix: str = "") -> EngineRefused:
    said = explanation(error)
    kind = NotOnEngine if isinstance(error, docker.errors.NotFound) else EngineRefused
    if not what:
        what = (_("The engine answered {status}: {said}").format(status=error.status_code, said=said)
                if error.status_code else _("The engine refused: {said}").format(said=said))
    return kind(what, fix, status=error.status_code, explanation=said)


@contextlib.contextmanager
def refused():
    """Inside the door: an SDK APIError leaves as EngineRefused (NotOnEngine for a 404)."""
    try:
        yield
    except docker.errors.APIError as error:
        raise refusal(error) from None


def transport_errors() -> tuple[type[BaseException], ...]:
    """What a poller may meet besides a refusal: the socket closed, the engine restarting.
    (A function, so that importing the door does not import requests: an `except` clause
    evaluates it only when an exception reaches it.)"""
    return (requests_exception(), OSError)
