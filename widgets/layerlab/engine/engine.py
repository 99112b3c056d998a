"""`Engine`: the one door to the docker SDK, for anything that touches Docker.

It turns the API's answers into core objects (`ImageInfo`, `ImageStack`, `ContainerInfo`,
`ContainerLayer`, ...) and applies the course's rules to everything it creates: the three
labels, a learner-namespaced name, no network but loopback, never privileged, no host
folders or sockets mounted. One mixin per resource, as docker-py has them:

    ImagesMixin      images.py      inspect, history, save, tag, remove, import, pull, push
    ContainersMixin  containers.py  run (a `Container` handle), inspect, diff, stat, exec, commit
    BuildsMixin      building.py    the classic builder's build, the registry's answers
    SystemMixin      system.py      disk usage, the course's labeled objects

The engine is handed one source (live, recording or replay: see `layerlab.replay.source`)
when it is made; it never changes.
"""

from __future__ import annotations

import os
from typing import Callable, Mapping, Sequence

from ..core.engineinfo import EngineFacts
from ..core.naming import Namespace
from ..replay.cli import CliResult, cli_key
from ..replay.notes import LiveNotes
from ..replay.source import RequestBudget, Source, SourceKind
from .building import BuildsMixin
from .connection import work_client
from .containers import ContainersMixin
from .images import ImagesMixin
from .system import SystemMixin


class Engine(ImagesMixin, ContainersMixin, BuildsMixin, SystemMixin):
    """A connected engine. Create it with `layerlab.connect()`."""

    def __init__(self, source: Source, facts: EngineFacts, environ: Mapping[str, str], client=None):
        self.source = source
        self.facts = facts
        self.environ = dict(environ)
        self._configs: dict[str, dict] = {}
        #: The SDK client every call goes through: made from the source (tests may hand one in).
        self.client = client if client is not None else work_client(source.base_url, facts, self.environ)

    def __repr__(self) -> str:
        return f"<Engine Docker {self.facts.engine_version} at {self.facts.host}, {self.facts.flavour}>"

    @property
    def live(self) -> bool:
        """A real engine answers (live, or live and recorded); False in a replay."""
        return self.source.kind.live

    @property
    def kind(self) -> SourceKind:
        return self.source.kind

    @property
    def notes(self) -> LiveNotes:
        """Values that depend on the clock: measured live, kept when recording, given back in replay."""
        return self.source.notes

    @property
    def source_note(self) -> str:
        """One sentence for the learner: live, recorded, or a replay (and why)."""
        return self.source.note

    @property
    def recorded_header(self) -> Mapping:
        """In a replay, the recording's header (engine facts, date, learner); else empty."""
        return {} if self.live else self.source.header

    def budget(self) -> RequestBudget:
        """How often a poller may ask one question (bounded only in replay)."""
        return self.source.budget()

    def flush(self) -> None:
        """Save what a recording source holds so far (nothing for other sources)."""
        self.source.flush()

    def close(self) -> None:
        self.client.close()
        self.source.close()

    def namespace(self, lesson: str) -> Namespace:
        return Namespace.for_lesson(lesson, self.environ)

    def run_docker(self, args: Sequence[str], on_line: Callable[[str], None] | None = None, timeout: float = 900,
                   cwd: str | None = None, extra_env: Mapping[str, str] | None = None) -> CliResult:
        """`docker ARGS` (for BuildKit, which the SDK cannot drive), one line at a time to
        `on_line`: run live (and kept, when recording), or played back in a replay."""
        env = dict(os.environ)
        env.update({k: v for k, v in self.environ.items() if k.startswith("DOCKER_")})
        env["DOCKER_HOST"] = self.facts.host
        env.pop("DOCKER_CONTEXT", None)
        env.update(extra_env or {})
        return self.source.run_cli(list(args), cli_key(args), on_line, timeout, cwd, env)
