"""Connecting to the Docker engine, and turning every way that fails into one clear message."""

from __future__ import annotations

import os
import socket
from typing import Mapping

from ..core.engineinfo import (
    MIN_API_VERSION,
    EngineFacts,
    api_too_old,
    classify_storage,
    is_rootless,
    native_overlay_diff,
    resolve_docker_host,
)
from ..core.i18n import N_, _
from ..core.text import tr
from ..core.errors import (
    DockerHostUnreachable,
    EngineError,
    EnginePermissionDenied,
    EngineTooOld,
    EngineUnreachable,
)
from . import socketapi
from .sdk import docker

CONNECT_TIMEOUT = 10
WORK_TIMEOUT = 900
START_ENGINE_HINT = N_(
    "Start a Docker engine. On Linux, as root: `bash scripts/engine.sh start` from the course "
    "folder (or `sudo systemctl start docker`); with Docker Desktop, open it and wait until it "
    "says it is running."
)


def probe_engine(environ: Mapping[str, str] | None = None, timeout: float = CONNECT_TIMEOUT,
                 ask_buildx: bool = True) -> EngineFacts:
    """Ask the engine the docker CLI would use what it is; its facts.

    `ask_buildx=False` skips `docker buildx version` (a process of its own, about a third of a
    warm `layers` command's time) for commands that never build: their facts then say
    `buildkit=False, buildx_version="not asked"`.

    Raises a subclass of `EngineError` with what went wrong and how to fix it.
    """
    environ = dict(os.environ if environ is None else environ)
    host, source = resolve_docker_host(environ)
    version, info, api_version = ask_engine(host, source, environ, timeout)
    buildx = buildx_version(host) if ask_buildx else None
    return EngineFacts(
        host=host,
        host_source=source,
        engine_version=str(version.get("Version", "?")),
        api_version=api_version,
        min_api_version=str(version.get("MinAPIVersion", "?")),
        storage_driver=str(info.get("Driver", "?")),
        storage_kind=classify_storage(str(info.get("Driver", "")), info.get("DriverStatus")),
        os=str(version.get("Os", info.get("OSType", "?"))),
        arch=str(version.get("Arch", info.get("Architecture", "?"))),
        kernel=str(version.get("KernelVersion", info.get("KernelVersion", "?"))),
        buildkit=buildx is not None,
        buildx_version=buildx or ("" if ask_buildx else "not asked"),
        cgroup_version=str(info.get("CgroupVersion", "")),
        rootless=is_rootless(info.get("SecurityOptions")),
        native_overlay_diff=native_overlay_diff(str(info.get("Driver", "")), info.get("DriverStatus")),
        operating_system=str(info.get("OperatingSystem", "")),
    )


def ask_engine(host: str, source: str, environ: Mapping[str, str], timeout: float) -> tuple[dict, dict, str]:
    """The engine's `/version` and `/info`, and the API version to speak.

    On a local socket they are asked with the standard library (`socketapi`: no SDK import);
    anything but a plain answer there, and every other host, goes through the SDK as before,
    so a missing engine or a refused socket fails with the same message either way."""
    try:
        asked = socketapi.probe(host, timeout)
    except OSError as exc:  # a timeout: asking the SDK would wait as long again
        raise translate_connection_error(exc, host, source) from None
    if asked is not None:
        version, api = asked
        try:
            refuse_if_too_old(version, host)
            info = api.get("/info")
        finally:
            api.close()
        if isinstance(info, dict):
            return version, info, api.api_version
    client = open_client(host, source, environ, timeout)
    try:
        version = client.version()
    except Exception as exc:  # pragma: no cover - the ping above answered moments ago
        raise translate_connection_error(exc, host, source) from None
    try:
        refuse_if_too_old(version, host)
    except EngineTooOld:
        client.close()
        raise
    try:
        info = client.info()
    except Exception as exc:  # pragma: no cover - the engine answered moments ago
        raise translate_connection_error(exc, host, source) from None
    client.close()
    return version, info, client.api.api_version


def refuse_if_too_old(version: Mapping, host: str) -> None:
    server_api = version.get("ApiVersion", "0.0")
    if api_too_old(server_api):
        raise EngineTooOld(
            f"The engine at {host} speaks Docker API {server_api} (Docker "
            f"{version.get('Version', '?')}); the course needs API "
            f"{'.'.join(map(str, MIN_API_VERSION))} (Docker 20.10) or newer.",
            "Upgrade the engine (Debian 12's docker.io or any Docker released since 2020 will "
            "do), or point DOCKER_HOST at a newer one.",
        )


def work_client(base_url: str, facts: EngineFacts, environ: Mapping[str, str],
                timeout: float = WORK_TIMEOUT) -> docker.DockerClient:
    """The client an Engine works through: to the engine itself with the docker CLI's TLS
    settings, or to a recording proxy or a replay server (a local socket) without them."""
    kwargs = docker.utils.kwargs_from_env(environment=dict(environ)) if base_url == facts.host else {}
    kwargs["base_url"] = base_url
    return without_proxy_lookups(docker.DockerClient(version=facts.api_version, timeout=timeout, **kwargs))


def open_client(host: str, source: str, environ: Mapping[str, str], timeout: float) -> docker.DockerClient:
    kwargs = docker.utils.kwargs_from_env(environment=dict(environ))
    kwargs["base_url"] = host
    try:
        return without_proxy_lookups(docker.DockerClient(version="auto", timeout=timeout, **kwargs))
    except Exception as exc:
        raise translate_connection_error(exc, host, source) from None


def without_proxy_lookups(client: docker.DockerClient) -> docker.DockerClient:
    """On a local socket, stop requests from reading proxy settings on every call.

    The docker CLI never sends a unix socket's traffic through a proxy, and for each request
    requests looks the proxy variables up again: about a quarter of a small call's CPU in
    this process, which the copy-up watcher pays ten times a second. TCP hosts keep it.
    """
    if str(getattr(client.api, "base_url", "")).startswith("http+docker://"):
        client.api.trust_env = False
    return client


def translate_connection_error(exc: BaseException, host: str, source: str) -> EngineError:
    """Map the SDK's nested exceptions to one message a learner can act on."""
    chain = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 12:
        chain.append(current)
        current = current.__cause__ or current.__context__
    text = " ".join(str(e) for e in chain)
    from_env = source == "from DOCKER_HOST"
    if any(isinstance(e, PermissionError) for e in chain) or "Permission denied" in text:
        return EnginePermissionDenied(
            _("Permission denied on the Docker socket {host}: this user may not talk to the engine.").format(host=host),
            _("Add yourself to the docker group (`sudo usermod -aG docker $USER`, then log out and "
              "in again), or run the course as a user who may use Docker."),
        )
    if host.startswith(("tcp://", "ssh://", "http://", "https://")) or (from_env and not host.startswith("unix://")):
        return DockerHostUnreachable(
            _("DOCKER_HOST is {host} but no Docker engine answers there ({reason}).").format(host=host, reason=_reason(chain)),
            _("Start the engine at that address, fix DOCKER_HOST, or unset it to use the local "
              "socket (`unset DOCKER_HOST`)."),
        )
    if from_env:
        return DockerHostUnreachable(
            _("DOCKER_HOST is {host} but no Docker engine answers there ({reason}).").format(host=host, reason=_reason(chain)),
            _("Start the engine, fix DOCKER_HOST, or unset it to use the default socket.") + " " + tr(START_ENGINE_HINT),
        )
    return EngineUnreachable(
        _("No Docker engine answers at {host} ({reason}).").format(host=host, reason=_reason(chain)),
        tr(START_ENGINE_HINT),
    )


def _reason(chain: list[BaseException]) -> str:
    for e in chain:
        if isinstance(e, FileNotFoundError):
            return _("the socket does not exist")
        if isinstance(e, ConnectionRefusedError):
            return _("connection refused")
        if isinstance(e, (socket.timeout, TimeoutError)):
            return _("timed out")
        if isinstance(e, socket.gaierror):
            return "unknown host name"
    return type(chain[-1]).__name__


def buildx_version(host: str) -> str | None:
    """The `docker buildx` plugin's version, or None when there is no usable BuildKit CLI."""
    import shutil
    import subprocess

    docker_cli = shutil.which("docker")
    if not docker_cli:
        return None
    env = dict(os.environ, DOCKER_HOST=host)
    try:
        result = subprocess.run(
            [docker_cli, "buildx", "version"], capture_output=True, text=True, timeout=20, env=env
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    words = result.stdout.split()
    return words[1] if len(words) > 1 else result.stdout.strip()
