"""Facts about a Docker engine, and how the course reads them.

`EngineFacts` is what `python -m layerlab doctor` prints and what lessons adapt their words
to. The functions here take plain values, so they are tested without an engine.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

#: Docker 20.10 speaks API 1.41; the course needs what it added (e.g. `docker save` of
#: several images, cgroup v2 stats) and is tested from there on.
MIN_API_VERSION = (1, 41)
DEFAULT_HOST = "unix:///var/run/docker.sock"


class StorageKind(enum.Enum):
    """Where image layers live, which decides what the engine can show about them."""

    OVERLAY2 = "overlay2"
    CONTAINERD = "containerd image store"
    OTHER = "other"


@dataclass(frozen=True)
class EngineFacts:
    host: str
    host_source: str
    engine_version: str
    api_version: str
    min_api_version: str
    storage_driver: str
    storage_kind: StorageKind
    os: str
    arch: str
    kernel: str
    buildkit: bool
    buildx_version: str
    cgroup_version: str

    @classmethod
    def from_dict(cls, data: Mapping) -> "EngineFacts":
        """The facts as a recording's header stores them (storage_kind by its enum name)."""
        values = dict(data)
        values["storage_kind"] = StorageKind[values["storage_kind"]]
        return cls(**values)

    def to_dict(self) -> dict:
        """The facts as a recording's header stores them: the inverse of `from_dict`."""
        data = dict(self.__dict__)
        data["storage_kind"] = self.storage_kind.name
        return data

    @property
    def flavour(self) -> str:
        """A short name for the kind of engine, as the course's engine script names them."""
        parts = self.engine_version.split(".")
        # Versions before 23 were year.month (20.10); since then the major number says it all.
        version = ".".join(parts[:2]) if parts[0].isdigit() and int(parts[0]) < 23 else parts[0]
        suffix = "-containerd" if self.storage_kind is StorageKind.CONTAINERD else ""
        return f"docker-{version}{suffix}"

    def lines(self) -> list[tuple[str, str]]:
        """(fact, value) pairs, in the order doctor prints them."""
        builder = f"BuildKit via docker buildx {self.buildx_version}" if self.buildkit else (
            "classic builder only (no `docker buildx` found)"
        )
        return [
            ("engine", f"Docker {self.engine_version} on {self.os}/{self.arch}, kernel {self.kernel}"),
            ("reached at", f"{self.host} ({self.host_source})"),
            ("API version", f"{self.api_version} (engine accepts {self.min_api_version} and newer)"),
            ("storage", f"{self.storage_driver} -> {self.storage_kind.value}"),
            ("builders", builder),
            ("cgroup", f"v{self.cgroup_version}" if self.cgroup_version else "unknown"),
            ("flavour", self.flavour),
        ]

    def explain_storage(self) -> str:
        """One sentence for learners on what their storage means for the course."""
        if self.storage_kind is StorageKind.OVERLAY2:
            return (
                "Your engine keeps image layers with the overlay2 storage driver: each layer is a "
                "directory, and a container's R/W layer is the 'upper' directory of an overlay mount."
            )
        if self.storage_kind is StorageKind.CONTAINERD:
            return (
                "Your engine uses the containerd image store (as Docker Desktop does): layers are "
                "containerd snapshots, layers are compressed in `docker save`, and the engine does "
                "not show layer directories. The course reads everything through the API, so every "
                "lesson works the same."
            )
        return (
            f"Your engine uses the '{self.storage_driver}' storage driver. The lessons use the API "
            "only, so they work, but sizes and copy-up details may differ from overlay2."
        )


def parse_api_version(text: str) -> tuple[int, int]:
    try:
        major, minor = text.strip().split(".")[:2]
        return int(major), int(minor)
    except (ValueError, AttributeError):
        raise ValueError(f"not an API version: {text!r}") from None


def api_too_old(version: str) -> bool:
    return parse_api_version(version) < MIN_API_VERSION


def classify_storage(driver: str, driver_status: Sequence[Sequence[str]] | None) -> StorageKind:
    """overlay2, the containerd snapshotter (Driver 'overlayfs' with a driver-type), or other."""
    status = {str(k).strip().lower(): str(v) for k, v in (driver_status or []) if k is not None}
    if "snapshotter" in status.get("driver-type", "") or driver.startswith("io.containerd"):
        return StorageKind.CONTAINERD
    if driver == "overlay2":
        return StorageKind.OVERLAY2
    if driver == "overlayfs" and not status:
        # Docker 24+ with the containerd store may show 'overlayfs' and little else.
        return StorageKind.CONTAINERD
    return StorageKind.OTHER


def resolve_docker_host(environ: Mapping[str, str] | None = None, config_dir: Path | None = None) -> tuple[str, str]:
    """The address the docker CLI would use, and where it came from.

    Order, as the CLI has it: $DOCKER_HOST; else the context named by $DOCKER_CONTEXT or by
    `currentContext` in the CLI's config.json; else the default socket.
    """
    environ = os.environ if environ is None else environ
    host = environ.get("DOCKER_HOST", "").strip()
    if host:
        return host, "from DOCKER_HOST"
    if config_dir is None:
        config_dir = Path(environ.get("DOCKER_CONFIG") or Path(environ.get("HOME", "~")).expanduser() / ".docker")
    context = environ.get("DOCKER_CONTEXT", "").strip()
    source = "from DOCKER_CONTEXT"
    if not context:
        try:
            context = json.loads((config_dir / "config.json").read_text()).get("currentContext", "")
        except (OSError, ValueError, AttributeError):
            context = ""
        source = f"from the docker CLI's current context in {config_dir / 'config.json'}"
    if context and context != "default":
        digest = hashlib.sha256(context.encode()).hexdigest()
        meta = config_dir / "contexts" / "meta" / digest / "meta.json"
        try:
            endpoint = json.loads(meta.read_text())["Endpoints"]["docker"]["Host"]
            return endpoint, f"{source} ('{context}')"
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return DEFAULT_HOST, "the default socket"
