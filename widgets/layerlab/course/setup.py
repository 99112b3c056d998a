"""Lesson 00, setup: the engine's facts in a learner's words, and the base images prepared
with a progress bar. The notebook imports everything it uses from here."""

from __future__ import annotations

from ..engine.engine import Engine
from ..engine.prepare import prepare
from ..views.setup import PrepareProgress, environment_findings, environment_html

__all__ = ["environment_findings", "environment_html", "prepare_bases"]


def prepare_bases(engine: Engine, keys=None, show: bool = True):
    """Prepare the course's base images with a progress bar; returns the PreparedBase list."""
    bars = PrepareProgress(keys)
    if show:
        from IPython.display import display

        display(bars.widget)
    return prepare(engine, keys=keys, progress=bars)
