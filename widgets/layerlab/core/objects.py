"""What the engine says about one image or container, as the engine door hands it out.

The door (`layerlab.engine.Engine`) turns the API's answers into these, so nothing outside
it reads the API's dictionaries or the SDK's objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol

from .model import short_id


@dataclass(frozen=True)
class ImageInfo:
    """`docker image inspect`, the parts the course reads."""

    id: str
    tags: tuple[str, ...] = ()
    repo_digests: tuple[str, ...] = ()
    diff_ids: tuple[str, ...] = ()
    size: int = 0
    config: Mapping = field(default_factory=dict)  # the image's run config: Cmd, Entrypoint, Labels...

    @property
    def labels(self) -> Mapping[str, str]:
        return self.config.get("Labels") or {}


@dataclass(frozen=True)
class ContainerInfo:
    """`docker container inspect`, the parts the course reads."""

    id: str
    name: str
    image: str  # the name it was started from
    image_id: str
    status: str  # created, running, exited, removing, dead...
    running: bool
    labels: Mapping[str, str] = field(default_factory=dict)
    exit_code: int | None = None
    size_rw: int | None = None  # only when asked for sizes
    cmdline: tuple[str, ...] = ()  # Path + Args: what the engine started as PID 1
    stop_signal: str = ""  # the signal `docker stop` sends first ("" = SIGTERM)


@dataclass(frozen=True)
class Labeled:
    """One object the course labeled: a container, image, volume or network."""

    kind: str
    id: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    created: float = 0.0  # seconds since the epoch, as the engine's list gives it

    @property
    def short_id(self) -> str:
        return short_id(self.id)


@dataclass(frozen=True)
class ExecResult:
    """What a command run in a container (`docker exec`) gave back."""

    exit_code: int
    output: bytes


@dataclass(frozen=True)
class PathStat:
    """The stat behind `docker cp` for one path in a container."""

    size: int
    is_dir: bool


class Provenance(Protocol):
    """What a view may ask of an engine: where its answers come from. Views draw; they never
    call the engine (`layerlab.engine.Engine` has these)."""

    live: bool
    source_note: str
    recorded_header: Mapping

    @property
    def facts(self): ...
