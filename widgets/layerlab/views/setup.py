"""Views for the setup lesson: the engine's facts in a learner's words, and a progress bar
while the base images are prepared."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from ..core.bases import BASES
from ..core.build import BOTH_BUILDERS
from ..core.engineinfo import EngineFacts, MIN_API_VERSION, StorageKind, parse_api_version
from ..core.i18n import _

if TYPE_CHECKING:  # annotations only: no import at run time
    from ..core.objects import Provenance


def _facts_and_replay(engine_or_facts: Provenance | EngineFacts) -> tuple[EngineFacts, object]:
    """(facts, recording header or None): views take the engine, or bare facts (always live)."""
    if isinstance(engine_or_facts, EngineFacts):
        return engine_or_facts, None
    engine = engine_or_facts
    if engine.live:
        return engine.facts, None
    return engine.facts, engine.recorded_header


def _recorded_on(header) -> str:
    return header["recorded_at"] if "recorded_at" in header else _("an earlier day")


def engine_sentence(engine_or_facts: Provenance | EngineFacts) -> str:
    """Where the lesson's answers come from, in a learner's words."""
    facts, header = _facts_and_replay(engine_or_facts)
    if header is None:
        return _("a Docker engine answers, so every lesson runs live")
    return _("no engine answers here, so every lesson replays a recording of Docker {version} "
             "({flavour}) made on {when}; what follows describes that recorded engine").format(
        version=facts.engine_version, flavour=facts.flavour, when=_recorded_on(header))


def environment_findings(engine_or_facts: Provenance | EngineFacts) -> list[tuple[str, str]]:
    """(what, meaning) pairs, engine-independent wording first, so nbval can compare them.

    Pass the engine (`lesson.engine`): in replay the first finding says the facts are the
    recorded engine's, not this machine's. The first of a pair is shown too, so it speaks the
    learner's language, but for "API": notebooks pick that row by it.
    """
    facts, _header = _facts_and_replay(engine_or_facts)
    api_ok = parse_api_version(facts.api_version) >= MIN_API_VERSION
    storage = {
        StorageKind.OVERLAY2: _("overlay2 (each layer is a directory; the classic layout of the Docker docs)"),
        StorageKind.CONTAINERD: _("the containerd image store (as Docker Desktop has it)"),
        StorageKind.OTHER: _("'{driver}' (the lessons still work through the API)").format(driver=facts.storage_driver),
    }[facts.storage_kind]
    return [
        (_("engine"), engine_sentence(engine_or_facts)),
        ("API", _("new enough for the course") if api_ok else _("too old for the course")),
        (_("layers are kept by"), storage),
        (_("builders"), _(BOTH_BUILDERS) if facts.buildkit
         else _("the classic builder (BuildKit's CLI, docker buildx, is not installed)")),
    ]


def environment_html(engine_or_facts: Provenance | EngineFacts) -> str:
    """The engine's facts as a table: "Your engine" live, "The recorded engine" in replay.

    In replay the address the recording machine reached its engine at means nothing here,
    so that row is left out, and the storage sentence speaks of the recorded engine.
    """
    facts, header = _facts_and_replay(engine_or_facts)
    lines = facts.lines()
    storage = facts.explain_storage()
    yours, recorded = _("Your engine"), _("The recorded engine")
    if header is None:
        title = yours
    else:
        title = _("The recorded engine (not this machine's: no engine answers here; recorded on "
                  "{when})").format(when=_recorded_on(header))
        lines = [(k, v) for k, v in lines if k != "reached at"]
        storage = storage.replace(yours, recorded, 1)
    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(_(k))}</th><td>{html.escape(v)}</td></tr>"
        for k, v in lines
    )
    rootless = facts.explain_rootless()
    if rootless and header is not None:
        rootless = rootless.replace(yours, recorded, 1)
    extra = f"<p>{html.escape(rootless)}</p>" if rootless else ""
    return (
        f"<div class='layerlab-doctor'><b>{html.escape(title)}</b>"
        f"<table>{rows}</table><p>{html.escape(storage)}</p>{extra}</div>"
    )


class PrepareProgress:
    """One progress bar per base image, fed by `prepare`'s progress events."""

    def __init__(self, keys=None):
        import ipywidgets as widgets

        self.keys = list(keys or BASES)
        self.bars = {
            key: widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description=key,
                                       layout=widgets.Layout(width="60%"))
            for key in self.keys
        }
        self.labels = {key: widgets.Label(value=_("waiting")) for key in self.keys}
        self.widget = widgets.VBox([widgets.HBox([self.bars[k], self.labels[k]]) for k in self.keys])

    def __call__(self, progress) -> None:
        bar = self.bars.get(progress.key)
        if bar is None:
            return
        bar.value = progress.fraction
        self.labels[progress.key].value = progress.message.split(": ", 1)[-1]
        if progress.fraction >= 1.0:
            bar.bar_style = "success"

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
