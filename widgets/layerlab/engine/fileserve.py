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
import json
import os
import select
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator
from urllib.parse import urlsplit

from ..core.errors import LayerlabError
from ..core.i18n import _
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
    _requests: list = field(default_factory=list, repr=False, compare=False)
    _sync: Callable[[], None] = field(default=lambda: None, repr=False, compare=False)

    def requests(self) -> list[dict]:
        """Every request the server answered so far (method, status, conditional), in order:
        all of them, also those a namespaced server is still reporting."""
        self._sync()
        return list(self._requests)

    @property
    def how(self) -> str:
        # English in every language: the notebooks' sanitizer reads this line (tests/sanitize.cfg).
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
    places = ""
    for path in candidates:
        places = _("{paths} or {path}").format(paths=places, path=path) if places else str(path)
    raise LayerlabError(
        _("Your engine is rootless, but its network namespace was not found (no rootlesskit child_pid at "
          "{paths}), so the file for `ADD <url>` cannot be served on its loopback.").format(paths=places),
        _("Start the engine with dockerd-rootless.sh (here: `scripts/engine.sh start docker-26-rootless`), "
          "which keeps child_pid beside its socket."),
    )


def namespace_command(pid: int) -> list[str]:
    """The command prefix that runs a program in the network namespace of `pid` (entering its
    user namespace, which owns it), keeping this process's credentials and files."""
    nsenter = shutil.which("nsenter")
    if not nsenter:
        raise LayerlabError(_("nsenter is not installed, so the rootless engine's loopback cannot be entered."),
                            _("Install util-linux (as root: `apt-get install -y util-linux`)."))
    return [nsenter, "-U", "--preserve-credentials", "-n", "-t", str(pid)]


def engine_loopback_command(engine: "Engine") -> list[str]:
    """The prefix that runs a program on the engine's loopback: none for an engine that shares
    this machine's, nsenter into a rootless engine's network namespace otherwise."""
    if not engine.facts.rootless:
        return []
    pid, _where = rootless_child_pid(engine.facts.host, engine.environ)
    return namespace_command(pid)


class _Reports:
    """The namespaced server's request lines, read in a thread; `sync` waits for all so far."""

    def __init__(self, process: subprocess.Popen, requests: list):
        self.process = process
        self.requests = requests
        self.synced = threading.Condition()
        self.syncs = 0
        self.thread = threading.Thread(target=self._read, name="layerlab-add-url-log", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for raw in self.process.stdout:
            line = raw.decode(errors="replace").strip()
            if line == "sync":
                with self.synced:
                    self.syncs += 1
                    self.synced.notify_all()
            elif line.startswith("{"):
                self.requests.append(json.loads(line))
        with self.synced:
            self.syncs = -1  # ended: nothing more will come
            self.synced.notify_all()

    def sync(self) -> None:
        with self.synced:
            target = self.syncs + 1
            try:
                self.process.stdin.write(b"sync\n")
                self.process.stdin.flush()
            except (OSError, ValueError):
                return
            self.synced.wait_for(lambda: self.syncs >= target or self.syncs < 0, timeout=START_TIMEOUT)


@contextlib.contextmanager
def _in_namespace(pid: int, folder: Path, requests: list) -> Iterator[tuple[int, Callable[[], None]]]:
    """A server process inside the network namespace of `pid`; yields its port and a sync."""
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    command = namespace_command(pid) + [sys.executable, "-m", "layerlab.host.fileserver", str(folder)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, start_new_session=True)
    reports = None
    try:
        assert process.stdout is not None
        ready, _writable, _failed = select.select([process.stdout], [], [], START_TIMEOUT)
        line = process.stdout.readline().decode().strip() if ready else ""
        if not line.isdigit():
            process.kill()
            error = (process.stderr.read().decode(errors="replace").strip() if process.stderr else "")[-300:]
            if error:
                what = _("The file server could not start inside the rootless engine's network namespace "
                         "({error}).").format(error=error)
            else:
                what = _("The file server could not start inside the rootless engine's network namespace "
                         "(it said nothing within {seconds:g} s).").format(seconds=START_TIMEOUT)
            raise LayerlabError(what, _("Check that you run the notebook as the user who owns the engine."))
        reports = _Reports(process, requests)
        yield int(line), reports.sync
    finally:
        if process.stdin:
            process.stdin.close()
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if reports is not None:
            reports.thread.join(timeout=5)  # it reads to the end of the output first
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()


@contextlib.contextmanager
def _here(folder: Path, requests: list) -> Iterator[tuple[int, Callable[[], None]]]:
    server = FolderServer(folder, on_request=requests.append)  # appended before each answer
    try:
        yield server.port, lambda: None
    finally:
        server.stop()


@contextlib.contextmanager
def serve_for_engine(engine: "Engine", folder: str | Path) -> Iterator[Served]:
    plan = plan_serving(engine.facts)
    folder = Path(folder)
    if not plan.can_serve:
        yield Served(url="", plan=plan)
        return
    requests: list = []
    if plan.path is ServingPath.NAMESPACE and engine.live:
        pid, _where = rootless_child_pid(engine.facts.host, engine.environ)
        server = _in_namespace(pid, folder, requests)
    else:
        server = _here(folder, requests)
    with server as (port, sync):
        yield Served(url=f"http://{plan.url_host}:{port}", plan=plan, _requests=requests, _sync=sync)
