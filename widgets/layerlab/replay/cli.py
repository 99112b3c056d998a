"""The docker CLI's output (BuildKit builds), played back from a recording."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

from ..core.errors import LayerlabError
if TYPE_CHECKING:  # a live engine's CLI runs never load a recording
    from .store import Recording

_ABSOLUTE = re.compile(r"(?<![\w.-])/[^\s=,]+")


@dataclass
class CliResult:
    returncode: int
    lines: list[str]


def cli_key(args: Sequence[str]) -> str:
    """The command with absolute paths reduced to their last part (folders differ per machine)."""
    return " ".join(_ABSOLUTE.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1], arg) for arg in args)


def replay_cli(recording: Recording, used: set[int], key: str, on_line: Callable[[str], None] | None,
               speed: float) -> CliResult:
    """The first recorded run of `key` not played yet, line by line at `speed` (0: at once)."""
    for index, run in enumerate(recording.cli_runs):
        if index not in used and run.key == key:
            used.add(index)
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
