"""Running the docker CLI live (for BuildKit, which the SDK cannot drive).

`run_live_cli` streams the command's output lines as they come, each with its time (so a
recording source can keep them). The replay half is `layerlab.replay.cli`; which one runs is
the engine's source's choice (`Engine.run_docker`).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from typing import Callable, Mapping, Sequence

from ..core.errors import LayerlabError
from ..core.i18n import _


def run_live_cli(
    args: Sequence[str],
    on_line: Callable[[str], None] | None,
    timeout: float,
    cwd: str | None,
    env: Mapping[str, str],
) -> tuple[int, list[tuple[float, str]]]:
    """Run `docker ARGS` (stdout and stderr merged); the exit code and the timed lines."""
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        raise LayerlabError(_("The docker command is not installed."), _("Install the docker CLI (Debian: docker.io)."))
    started = time.monotonic()
    timed: list[tuple[float, str]] = []
    process = subprocess.Popen(
        [docker_cli, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(env), cwd=cwd,
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
    return returncode, timed
