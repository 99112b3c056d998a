"""Serve a folder where the engine's daemon can download it from (`ADD <url>`, lesson 04).

    with serve_for_engine(engine, folder) as served:
        print(served.how)                 # which path was used, in one sentence
        ... ADD {served.url}/release.tar  # served.url is "" when the engine cannot be served

The path is chosen by `layerlab.core.serving.plan_serving` from the engine's facts:

- a rootful engine on this machine: a server in this process, on the notebook's 127.0.0.1;
- a rootless engine: a server process entered into the engine's network namespace with
  `nsenter -U -n -t PID` (PID is rootlesskit's child, from `<socket dir>/dockerd-rootless/
  child_pid`), on the engine's own 127.0.0.1. Only the network namespace changes: the process
  reads the folder as the notebook does;
- Docker Desktop: the server on the notebook's 127.0.0.1, the URL naming host.docker.internal;
- a remote engine: no server, no URL.

In a replay nothing downloads: the server runs here (as the recording's path said) and the
sentence is the recorded engine's. Whatever happens in the block, the server is stopped.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator
from urllib.parse import urlsplit

from ..core.errors import LayerlabError
from ..core.serving import ServingPath, ServingPlan, plan_serving
from ..host.fileserver import FolderServer

if TYPE_CHECKING:  # annotations only
    from .engine import Engine

#: Seconds the namespaced server gets to say its port.
START_TIMEOUT = 15.0


@dataclass(frozen=True)
class Served:
    url: str  # http://HOST:PORT, or "" when the engine cannot reach any server of ours
    plan: ServingPlan

    @property
    def how(self) -> str:
        where = f"server: {self.url}" if self.url else "server: none"
        return f"{where} ({self.plan.path.value}). {self.plan.why}"


def rootless_child_pid(host: str, environ) -> tuple[int, Path]:
    """rootlesskit's child (the process whose namespaces the engine lives in), and where it
    was read: beside the engine's socket, as dockerd-rootless.sh lays them out."""
    candidates = []
    parts = urlsplit(host)
    if parts.scheme == "unix":
        candidates.append(Path(parts.path).parent / "dockerd-rootless" / "child_pid")
    if environ.get("XDG_RUNTIME_DIR"):
        candidates.append(Path(environ["XDG_RUNTIME_DIR"]) / "dockerd-rootless" / "child_pid")
    for path in candidates:
        try:
            return int(path.read_text().strip()), path
        except (OSError, ValueError):
            continue
    raise LayerlabError(
        "Your engine is rootless, but its network namespace was not found (no rootlesskit child_pid at "
        + " or ".join(str(p) for p in candidates) + "), so the file for `ADD <url>` cannot be served on its loopback.",
        "Start the engine with dockerd-rootless.sh (here: `scripts/engine.sh start docker-26-rootless`), "
        "which keeps child_pid beside its socket.",
    )


def namespace_command(pid: int) -> list[str]:
    """The command prefix that runs a program in the network namespace of `pid` (entering its
    user namespace, which owns it), keeping this process's credentials and files."""
    nsenter = shutil.which("nsenter")
    if not nsenter:
        raise LayerlabError("nsenter is not installed, so the rootless engine's loopback cannot be entered.",
                            "Install util-linux (as root: `apt-get install -y util-linux`).")
    return [nsenter, "-U", "--preserve-credentials", "-n", "-t", str(pid)]


def engine_loopback_command(engine: "Engine") -> list[str]:
    """The prefix that runs a program on the engine's loopback: none for an engine that shares
    this machine's, nsenter into a rootless engine's network namespace otherwise."""
    if not engine.facts.rootless:
        return []
    pid, _ = rootless_child_pid(engine.facts.host, engine.environ)
    return namespace_command(pid)


@contextlib.contextmanager
def _in_namespace(pid: int, folder: Path) -> Iterator[int]:
    """A server process inside the network namespace of `pid`; yields its port."""
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    command = namespace_command(pid) + [sys.executable, "-m", "layerlab.host.fileserver", str(folder)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, start_new_session=True)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
        line = process.stdout.readline().decode().strip() if ready else ""
        if not line.isdigit():
            process.kill()
            error = (process.stderr.read().decode(errors="replace").strip() if process.stderr else "")[-300:]
            raise LayerlabError(
                f"The file server could not start inside the rootless engine's network namespace "
                f"({error or 'it said nothing within ' + format(START_TIMEOUT, 'g') + ' s'}).",
                "Check that you run the notebook as the user who owns the engine.",
            )
        yield int(line)
    finally:
        if process.stdin:
            process.stdin.close()
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()


@contextlib.contextmanager
def _here(folder: Path) -> Iterator[int]:
    server = FolderServer(folder)
    try:
        yield server.port
    finally:
        server.stop()


@contextlib.contextmanager
def serve_for_engine(engine: "Engine", folder: str | Path) -> Iterator[Served]:
    plan = plan_serving(engine.facts)
    folder = Path(folder)
    if not plan.can_serve:
        yield Served(url="", plan=plan)
        return
    if plan.path is ServingPath.NAMESPACE and engine.live:
        pid, _ = rootless_child_pid(engine.facts.host, engine.environ)
        server = _in_namespace(pid, folder)
    else:
        server = _here(folder)
    with server as port:
        yield Served(url=f"http://{plan.url_host}:{port}", plan=plan)
