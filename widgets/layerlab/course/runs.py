"""Running a lesson's containers on its engine: output streamed as it comes with a time limit,
PID 1's argv read from inside (/proc/1/cmdline), and how long `docker stop` takes.

Every container goes through `Lesson` (so it carries the course's labels and the learner's
names), and every one is removed when its function returns, whether it ended, was stopped
at its time limit, or the cell was interrupted.
"""

from __future__ import annotations

import queue
import shlex
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

from ..core.command import PID1_UNREAD, is_no_command, parse_cmdline
from ..core.errors import EngineRefused, LayerlabError
from ..core.i18n import N_, _, ngettext
from ..engine.containers import Container

if TYPE_CHECKING:  # annotations only: no import at run time
    from .lesson import Lesson

#: Longest a lesson lets any container run before the course stops it.
DEFAULT_LIMIT = 8.0
#: How long `read_pid1` waits for the container to be running.
PID1_WAIT = 5.0


#: What the course says before the engine's own words when it would not start a container.
REFUSAL_PREFIX = N_("The engine would not run it: ")


class RunFailed(LayerlabError):
    """The engine would not create or start a container; `engine_message` is its own words."""

    def __init__(self, what: str, fix: str = "", engine_message: str = ""):
        super().__init__(what, fix)
        self.engine_message = engine_message


@dataclass
class RunOutcome:
    """One container's run: its output, how it ended, how long it took."""

    name: str
    command_line: str
    lines: list[str] = field(default_factory=list)
    exit_code: int | None = None
    seconds: float = 0.0
    stopped_at_limit: bool = False
    interrupted: bool = False
    removed: bool = False

    def summary(self) -> str:
        if self.interrupted:
            how = _("interrupted; the container was removed")
        elif self.stopped_at_limit and self.exit_code == 137:
            how = _("it was still running, so the course stopped it (docker stop; exit code {code}: killed after "
                    "the grace period)").format(code=self.exit_code)
        elif self.stopped_at_limit:
            how = _("it was still running, so the course stopped it (docker stop; exit code {code})").format(
                code=self.exit_code)
        else:
            how = _("ended by itself with exit code {code}").format(code=self.exit_code)
        count = ngettext("{count} line of output", "{count} lines of output", len(self.lines)).format(
            count=len(self.lines))
        if self.removed and not self.interrupted:
            result = _("{count}, {how}; container removed").format(count=count, how=how)
        else:
            result = f"{count}, {how}"
        return f"{self.command_line}: {result}"


@dataclass(frozen=True)
class Observation:
    """What really ran: PID 1's argv read from inside, and what the engine recorded."""

    argv: tuple[str, ...] | None
    engine_argv: tuple[str, ...] | None = None
    error: str | None = None
    output: str = ""
    exit_code: int | None = None

    @property
    def command_line(self) -> str:
        if self.argv is not None:
            return shlex.join(self.argv)
        return _("(not running: {why})").format(why=self.error or _(PID1_UNREAD))


@dataclass(frozen=True)
class StopMeasurement:
    """How long `docker stop` took, and how the container ended."""

    label: str
    pid1: tuple[str, ...] | None
    stop_signal: str
    timeout: float
    seconds: float
    exit_code: int | None
    last_lines: tuple[str, ...] = ()

    @property
    def killed(self) -> bool:
        """True when the engine had to SIGKILL it after the timeout (exit code 137)."""
        return self.exit_code == 137

    def verdict(self) -> str:
        if self.killed:
            return _("ignored {signal}; killed (SIGKILL) when the {timeout:g} s timeout "
                     "ran out (exit code 137)").format(signal=self.stop_signal, timeout=self.timeout)
        return _("ended on {signal} at once (exit code {code})").format(signal=self.stop_signal, code=self.exit_code)

    def summary(self) -> str:
        pid1 = shlex.join(self.pid1) if self.pid1 else "?"
        return _("{label}: PID 1 is `{pid1}`; it {verdict}").format(label=self.label, pid1=pid1, verdict=self.verdict())


# -- images -------------------------------------------------------------------------------


def _start(lesson: Lesson, name: str, image: str, run_args, entrypoint_override, **kwargs):
    entrypoint = None if entrypoint_override is None else [entrypoint_override]
    command = list(run_args) if run_args else None
    try:
        return lesson.run(name, image, command, entrypoint=entrypoint, **kwargs)
    except EngineRefused as refused:
        message = refused.explanation or refused.what
        raise RunFailed(_(REFUSAL_PREFIX) + message, _run_fix(message), engine_message=message) from None


def _run_fix(message: str) -> str:
    if is_no_command(message):
        return _("Give the image a CMD or ENTRYPOINT, or pass a command after the image name.")
    if "executable file not found" in message:
        return _("The first word of the command must be a program inside the image.")
    return _("Check the image name and the command.")


def _api_seconds(seconds: float) -> int:
    """The engine's stop timeout is a whole number of seconds (API 1.41 refuses "1.5")."""
    return max(0, int(round(seconds)))


def _remove(container: Container) -> bool:
    return container.remove()


def stream_run(
    lesson: Lesson,
    name: str,
    image: str,
    run_args: Sequence[str] | None = None,
    entrypoint_override: str | None = None,
    limit: float = DEFAULT_LIMIT,
    on_line: Callable[[str], None] | None = print,
    stop_timeout: float = 1.0,
    label: str | None = None,
    max_lines: int | None = None,
) -> RunOutcome:
    """Run a container, pass each output line to `on_line` as it comes, stop it at `limit` s
    (or once it has printed `max_lines` lines, whichever comes first).

    The container is removed however this ends: by itself, at the time limit, or by an
    exception (KeyboardInterrupt when a notebook cell is interrupted). Output lines are handed
    to `on_line` from the calling thread, so a notebook prints them in the right cell.
    """
    words = ["docker", "run", "--network", "none"] + (["--entrypoint", entrypoint_override] if entrypoint_override is not None else [])
    outcome = RunOutcome(name=name, command_line=label or shlex.join(words + [image] + list(run_args or ())))
    notes = lesson.engine.notes
    started = time.monotonic()
    container = _start(lesson, name, image, run_args, entrypoint_override)
    # In replay, the recorded run says how many lines came before the limit and whether it
    # was reached; the replay's own clock (any speed) decides nothing. Asked only once the
    # container started: a run the engine refused kept no note when it was recorded.
    plan = notes.replayed("stream-run")
    if plan is not None:
        limit, max_lines = float("inf"), (plan["lines"] if plan["stopped"] else None)
    try:
        _stream_lines(container, name, outcome, started + limit, max_lines, on_line)
        if outcome.stopped_at_limit:
            container.stop(timeout=_api_seconds(stop_timeout))
        outcome.exit_code = container.wait(timeout=max(stop_timeout, 1) + 10)
    except BaseException:
        outcome.interrupted = True
        raise
    finally:
        outcome.seconds = time.monotonic() - started
        outcome.removed = _remove(container)
    if plan is None:
        notes.keep("stream-run", {"lines": len(outcome.lines), "stopped": outcome.stopped_at_limit,
                                  "seconds": round(outcome.seconds, 3)})
    else:
        outcome.seconds = plan["seconds"]
    return outcome


def _follow(container: Container, name: str) -> "queue.Queue[bytes | BaseException | None]":
    """The container's output, chunk by chunk, from a thread of its own; None when it ends."""
    chunks: "queue.Queue[bytes | BaseException | None]" = queue.Queue()

    def pump() -> None:
        try:
            for chunk in container.follow_logs():
                chunks.put(chunk)
        except BaseException as error:  # the container went away under the stream
            chunks.put(error)
        finally:
            chunks.put(None)

    threading.Thread(target=pump, name=f"layerlab-logs-{name}", daemon=True).start()
    return chunks


def _stream_lines(container: Container, name: str, outcome: "RunOutcome", deadline: float,
                  max_lines: int | None, on_line: Callable[[str], None] | None) -> None:
    """Hand each output line to `on_line` (from this thread) until the container ends, the
    deadline passes or `max_lines` lines came; say in `outcome` which one it was."""
    chunks = _follow(container, name)
    pending = b""

    def emit(line: bytes) -> None:
        text = line.decode("utf-8", errors="replace").rstrip("\r")
        outcome.lines.append(text)
        if on_line is not None:
            on_line(text)

    if max_lines == 0:  # a replayed run that was stopped before its first line
        outcome.stopped_at_limit = True
    while not outcome.stopped_at_limit:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            outcome.stopped_at_limit = True
            break
        try:
            item = chunks.get(timeout=min(remaining, 0.25))
        except queue.Empty:
            continue
        if item is None or isinstance(item, BaseException):
            break
        pending += item
        while b"\n" in pending and not outcome.stopped_at_limit:
            line, pending = pending.split(b"\n", 1)
            emit(line)
            if max_lines is not None and len(outcome.lines) >= max_lines:
                outcome.stopped_at_limit = True
        if outcome.stopped_at_limit:
            pending = b""
            break
    if pending:
        emit(pending)


def read_pid1(container: Container, wait: float = PID1_WAIT) -> tuple[str, ...] | None:
    """PID 1's argv, read from inside the container; None when PID 1 has already ended."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        status = container.info().status
        if status in ("exited", "dead"):
            return None
        if status == "running":
            try:
                result = container.exec_run(["cat", "/proc/1/cmdline"])
            except EngineRefused:  # it ended between inspect and exec
                return None
            if result.exit_code == 0:
                argv = parse_cmdline(result.output)
                if argv and not argv[0].startswith(("runc", "/proc/self/exe")):
                    return argv
        time.sleep(0.05)
    return None


def _engine_argv(container: Container) -> tuple[str, ...]:
    return container.info().cmdline


def observe(
    lesson: Lesson,
    name: str,
    image: str,
    run_args: Sequence[str] | None = None,
    entrypoint_override: str | None = None,
    settle: float = 0.0,
) -> Observation:
    """Start a container, read what runs as PID 1 from inside, then remove it.

    The container gets an open stdin (as `docker run -i`), so a shell with nothing to read
    keeps waiting and can be read too. An engine refusal is returned as `error`.
    """
    try:
        container = _start(lesson, name, image, run_args, entrypoint_override, stdin_open=True)
    except RunFailed as error:
        return Observation(argv=None, error=error.engine_message)
    try:
        if settle and not lesson.engine.notes.replaying:
            time.sleep(settle)
        argv = read_pid1(container)
        engine_argv = _engine_argv(container)
        output = ""
        exit_code = None
        if argv is None:
            exit_code = container.wait(timeout=10)
            output = container.logs()
        return Observation(argv=argv, engine_argv=engine_argv, output=output, exit_code=exit_code)
    finally:
        _remove(container)


def measure_stop(
    lesson: Lesson,
    name: str,
    image: str,
    label: str,
    run_args: Sequence[str] | None = None,
    timeout: float = 2.0,
    ready_line: str = "bytes from",
) -> StopMeasurement:
    """Time `docker stop` (signal, then SIGKILL after `timeout` s) on a running container."""
    container = _start(lesson, name, image, run_args, None)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # wait until the program is really at work
            if ready_line in container.logs():
                break
            time.sleep(0.05)
        pid1 = read_pid1(container)
        stop_signal = container.info().stop_signal or "SIGTERM"
        started = time.monotonic()
        container.stop(timeout=_api_seconds(timeout))
        seconds = lesson.engine.notes.value("stop-seconds", round(time.monotonic() - started, 3))
        exit_code = container.info().exit_code
        tail = tuple(container.logs().splitlines()[-3:])
        return StopMeasurement(label, pid1, stop_signal, timeout, seconds, exit_code, tail)
    finally:
        _remove(container)


# -- the explorer's live side ------------------------------------------------------------

