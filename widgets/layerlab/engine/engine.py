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
import threading
from typing import Callable, Mapping, Sequence

from ..core.engineinfo import EngineFacts
from ..core.naming import Namespace
from ..replay.cli import CliResult, cli_key
from ..replay.notes import LiveNotes
from ..replay.source import RequestBudget, Source, SourceKind
from .building import BuildsMixin
from .connection import CONNECT_TIMEOUT, work_client
from .containers import ContainersMixin
from .images import ImagesMixin
from .socketapi import SocketAPI
from .system import SystemMixin


class Engine(ImagesMixin, ContainersMixin, BuildsMixin, SystemMixin):
    """A connected engine. Create it with `layerlab.connect()`."""

    def __init__(self, source: Source, facts: EngineFacts, environ: Mapping[str, str], client=None):
        self.source = source
        self.facts = facts
        self.environ = dict(environ)
        self._configs: dict[str, dict] = {}
        self._client = client
        self._client_lock = threading.Lock()
        #: Inspect and history on a live local socket, without the SDK (see `socketapi`); None
        #: when a client was handed in, while recording, in a replay, and on other hosts.
        self.reader = None
        if client is None and source.kind is SourceKind.LIVE and source.base_url == facts.host:
            self.reader = SocketAPI.for_host(facts.host, CONNECT_TIMEOUT, facts.api_version)

    @property
    def client(self):
        """The SDK client every other call goes through: made from the source on first use (so
        that a command that needs only the `reader` never imports the SDK); tests may hand one in."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = work_client(self.source.base_url, self.facts, self.environ)
        return self._client

    def read(self, template: str, *args: str):
        """The JSON of GET `template` through the `reader`, or None: then ask the SDK."""
        if self.reader is None:
            return None
        with self._client_lock:
            return self.reader.get(template, *args)

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
        if self._client is not None:
            self._client.close()
        if self.reader is not None:
            self.reader.close()
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
