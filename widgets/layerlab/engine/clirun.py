"""Running the docker CLI (for BuildKit, which the SDK cannot drive), recorded and replayed.

`run_docker(engine, args, on_line)` streams the command's output lines as they come. Live,
it runs `docker ARGS` against the engine's real address; while recording it also keeps each
line with its time; in replay it plays the recorded lines back at the replay's pace, so a BuildKit
build looks the same with no engine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from ..core.errors import LayerlabError
from ..replay.store import CliRun

_ABSOLUTE = re.compile(r"(?<![\w.-])/[^\s=,]+")


@dataclass
class CliResult:
    returncode: int
    lines: list[str]


def cli_key(args: Sequence[str]) -> str:
    """The command with absolute paths reduced to their last part (folders differ per machine)."""
    return " ".join(_ABSOLUTE.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1], arg) for arg in args)


def run_docker(
    engine,
    args: Sequence[str],
    on_line: Callable[[str], None] | None = None,
    timeout: float = 900,
    cwd: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> CliResult:
    """Run `docker ARGS`, one output line at a time to `on_line` (stdout and stderr merged)."""
    key = cli_key(args)
    if not engine.live:
        return _replay(engine, key, on_line)
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        raise LayerlabError("The docker command is not installed.", "Install the docker CLI (Debian: docker.io).")
    env = dict(os.environ)
    env.update({k: v for k, v in engine.environ.items() if k.startswith("DOCKER_")})
    env["DOCKER_HOST"] = engine.facts.host
    env.pop("DOCKER_CONTEXT", None)
    env.update(extra_env or {})
    started = time.monotonic()
    timed: list[tuple[float, str]] = []
    process = subprocess.Popen(
        [docker_cli, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd,
    )
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            timed.append((round(time.monotonic() - started, 3), line))
            if on_line:
                on_line(line)
        returncode = process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    if engine.recording is not None:
        with engine.recording.lock:
            engine.recording.cli_runs.append(CliRun(key=key, returncode=returncode, lines=timed))
    return CliResult(returncode=returncode, lines=[line for _, line in timed])


def _replay(engine, key: str, on_line) -> CliResult:
    recording = engine.recording
    used = getattr(recording, "_cli_used", set())
    recording._cli_used = used
    for index, run in enumerate(recording.cli_runs):
        if index not in used and run.key == key:
            used.add(index)
            speed = getattr(engine._wire, "speed", 0.0)
            started = time.monotonic()
            for moment, line in run.lines:
                delay = 0.0 if speed <= 0 else started + moment / speed - time.monotonic()
                if delay > 0:
                    time.sleep(min(delay, 3.0))
                if on_line:
                    on_line(line)
            return CliResult(returncode=run.returncode, lines=[line for _, line in run.lines])
    raise LayerlabError(
        f"The recording has no run of `docker {key}`.",
        "Connect a Docker engine to run this cell live, or record the lesson again.",
    )
