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

from .i18n import N_, _

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
    # Defaults: recordings made before these facts were read have none of them.
    rootless: bool = False  # `docker info` SecurityOptions has name=rootless
    native_overlay_diff: bool | None = None  # overlay2's "Native Overlay Diff"; None: not overlay2
    operating_system: str = ""  # `docker info` OperatingSystem ("Docker Desktop", "Debian ...")

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
        if self.rootless:
            suffix += "-rootless"
        return f"docker-{version}{suffix}"

    @property
    def docker_desktop(self) -> bool:
        return self.operating_system.strip().lower().startswith("docker desktop")

    @property
    def per_file_whiteouts(self) -> bool:
        """A deleted directory's contents show up as one whiteout per file, not as one opaque
        directory: overlay2 without native diff (rootless engines) computes layer diffs by
        walking the files, and writes each deletion."""
        return self.storage_kind is StorageKind.OVERLAY2 and self.native_overlay_diff is False

    def lines(self) -> list[tuple[str, str]]:
        """(fact, value) pairs, in the order doctor prints them. The facts are English keys
        (code picks rows by them); whoever shows one translates it with `_()`."""
        builder = _("BuildKit via docker buildx {version}").format(version=self.buildx_version) if self.buildkit else (
            _("classic builder only (no `docker buildx` found)")
        )
        return [
            (N_("engine"), _("Docker {version} on {os}/{arch}, kernel {kernel}").format(
                version=self.engine_version, os=self.os, arch=self.arch, kernel=self.kernel)),
            (N_("reached at"), f"{self.host} ({self.host_source})"),
            (N_("API version"), _("{api} (engine accepts {min_api} and newer)").format(
                api=self.api_version, min_api=self.min_api_version)),
            (N_("storage"), f"{self.storage_driver} -> {self.storage_kind.value}"),
            (N_("builders"), builder),
            ("cgroup", f"v{self.cgroup_version}" if self.cgroup_version else _("unknown")),
            (N_("rootless"), _("yes: the engine runs as an unprivileged user, in namespaces of its own")
             if self.rootless else _("no")),
            (N_("flavour"), self.flavour),
        ]

    @property
    def opaque_directories(self) -> bool:
        """A directory removed and made again in one step is recorded as one opaque directory
        (`.wh..wh..opq`); otherwise as one whiteout per deleted entry."""
        return self.storage_kind is StorageKind.OVERLAY2 and not self.per_file_whiteouts

    def explain_whiteouts(self) -> str:
        """One line for learners: the whiteout form this engine writes, and why (tests/sanitize.cfg
        hides the form after "Whiteouts on this engine:" and its Korean, so a stored output holds
        on every engine)."""
        both = _("Both hide the same files from the layers below; an opaque directory needs one marker, "
                 "per-file whiteouts one marker per deleted entry.")
        if self.opaque_directories:
            return _("Whiteouts on this engine: a directory removed and made again is one opaque directory "
                     "(`.wh..wh..opq`), since overlay2 with native diff records what the kernel marked.") + " " + both
        if self.per_file_whiteouts:
            why = _("its overlay2 runs without native diff (`docker info`: Native Overlay Diff false, as on a "
                    "rootless engine) and finds deletions by comparing files")
        elif self.storage_kind is StorageKind.CONTAINERD:
            why = _("the containerd image store finds deletions by comparing snapshots")
        else:
            why = _("the '{driver}' storage driver finds deletions by comparing files").format(driver=self.storage_driver)
        return _("Whiteouts on this engine: a directory removed and made again is one whiteout per deleted "
                 "entry (`.wh.NAME`), since {why}.").format(why=why) + " " + both

    def explain_rootless(self) -> str:
        """What a rootless engine changes for the lessons ("" for a rootful one)."""
        if not self.rootless:
            return ""
        return _(
            "Your engine is rootless: it runs as your own user, in namespaces of its own. For the lessons "
            "that changes three things. Its 127.0.0.1 is its own, so lesson 04 serves the file for "
            "`ADD <url>` inside the engine's network namespace. Its overlay2 runs without native diff, so a "
            "replaced directory is recorded as per-file whiteouts (lessons 01 and 02). And a container's "
            "root is your user, mapped: files owned by root in an image belong to you on disk."
        )

    def explain_storage(self) -> str:
        """One sentence for learners on what their storage means for the course."""
        if self.storage_kind is StorageKind.OVERLAY2:
            return _(
                "Your engine keeps image layers with the overlay2 storage driver: each layer is a "
                "directory, and a container's R/W layer is the 'upper' directory of an overlay mount."
            )
        if self.storage_kind is StorageKind.CONTAINERD:
            return _(
                "Your engine uses the containerd image store (as Docker Desktop does): layers are "
                "containerd snapshots, layers are compressed in `docker save`, and the engine does "
                "not show layer directories. The course reads everything through the API, so every "
                "lesson works the same."
            )
        return _(
            "Your engine uses the '{driver}' storage driver. The lessons use the API "
            "only, so they work, but sizes and copy-up details may differ from overlay2."
        ).format(driver=self.storage_driver)


def is_rootless(security_options: Sequence[str] | None) -> bool:
    """`docker info` lists `name=rootless` among its security options on a rootless engine."""
    return any("name=rootless" in str(option).split(",") for option in security_options or ())


def native_overlay_diff(driver: str, driver_status: Sequence[Sequence[str]] | None) -> bool | None:
    """overlay2's "Native Overlay Diff" (true/false), or None for another driver or no answer."""
    if driver != "overlay2":
        return None
    for pair in driver_status or ():
        if len(pair) == 2 and str(pair[0]).strip().lower() == "native overlay diff":
            return str(pair[1]).strip().lower() == "true"
    return None


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
