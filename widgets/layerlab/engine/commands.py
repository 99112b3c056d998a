"""Running the CMD/ENTRYPOINT lesson on a live engine.

Builds images from Dockerfile text, runs containers with their output streamed as it comes and
a time limit, reads PID 1's argv from inside a container (/proc/1/cmdline), and measures how
long `docker stop` takes. Every image and container goes through `Lesson` (so it carries the
course's labels and the learner's names), and every container is removed when its function
returns, whether it ended, was stopped at its time limit, or the cell was interrupted.

The truth about what *should* run is computed in `layerlab.core.command`; this module only
observes what did.
"""

from __future__ import annotations

import hashlib
import queue
import re
import shlex
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from ..core.command import (
    ImageCommand,
    Instruction,
    is_no_command,
    PingBasePlan,
    Variant,
    parse_cmdline,
    ping_base_plan,
    render_dockerfile,
    resolve_image,
)
from ..core.errors import BuildFailed, EngineRefused, LayerlabError, NotOnEngine
from .containers import Container
from .engine import Engine

#: Longest a lesson lets any container run before the course stops it.
DEFAULT_LIMIT = 8.0
#: How long `read_pid1` waits for the container to be running.
PID1_WAIT = 5.0


#: What the course says before the engine's own words when it would not start a container.
REFUSAL_PREFIX = "The engine would not run it: "


class RunFailed(LayerlabError):
    """The engine would not create or start a container; `engine_message` is its own words."""

    def __init__(self, what: str, fix: str = "", engine_message: str = ""):
        super().__init__(what, fix)
        self.engine_message = engine_message


@dataclass(frozen=True)
class BuiltImage:
    """An image the lesson built, with the Dockerfile it was built from."""

    name: str
    reference: str
    image_id: str
    dockerfile: str
    config: ImageCommand

    def show(self) -> str:
        text = "\n".join(f"    {line}" for line in self.dockerfile.rstrip("\n").splitlines())
        return f"{self.reference}, built from:\n{text}\n  config: {self.config.describe()}"


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
            how = "interrupted; the container was removed"
        elif self.stopped_at_limit:
            how = (f"it was still running, so the course stopped it (docker stop; exit code {self.exit_code}"
                   + (": killed after the grace period" if self.exit_code == 137 else "") + ")")
        else:
            how = f"ended by itself with exit code {self.exit_code}"
        count = f"{len(self.lines)} line{'' if len(self.lines) == 1 else 's'} of output"
        return f"{self.command_line}: {count}, {how}" + (
            "; container removed" if self.removed and not self.interrupted else "")


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
        return f"(not running: {self.error or 'PID 1 ended before it could be read'})"


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
            return (f"ignored {self.stop_signal}; killed (SIGKILL) when the {self.timeout:g} s timeout "
                    f"ran out (exit code 137)")
        return f"ended on {self.stop_signal} at once (exit code {self.exit_code})"

    def summary(self) -> str:
        pid1 = shlex.join(self.pid1) if self.pid1 else "?"
        return f"{self.label}: PID 1 is `{pid1}`; it {self.verdict()}"


# -- images -------------------------------------------------------------------------------


def read_image_command(engine: Engine, reference: str) -> ImageCommand:
    """An image's Entrypoint and Cmd, as the engine stores them."""
    try:
        config = engine.image(reference).config
    except NotOnEngine:
        raise LayerlabError(f"There is no image {reference!r}.", "Build it first (run the cells above).") from None
    return ImageCommand.of(config.get("Entrypoint"), config.get("Cmd"))


def build_from_text(
    lesson,
    name: str,
    dockerfile: str,
    tag: str = "latest",
    on_line: Callable[[str], None] | None = None,
    allow_network: bool = False,
) -> BuiltImage:
    """Build `dockerfile` (text) in a fresh context folder of the lesson's."""
    folder = lesson.context(f"{name}-{tag}" if tag != "latest" else name)
    (folder / "Dockerfile").write_text(dockerfile)
    build_kwargs = {"tag": tag}
    if allow_network:
        build_kwargs["allow_network"] = True
    if on_line is not None:
        build_kwargs["on_line"] = lambda line: on_line(line.text)
    try:
        image_id = lesson.build(name, folder, **build_kwargs)
    except BuildFailed:
        raise
    reference = lesson.image(name, tag)
    return BuiltImage(name, reference, image_id, dockerfile, read_image_command(lesson.engine, reference))


def dockerfile_tag(dockerfile: str) -> str:
    """A tag that names a Dockerfile's content (so each choice gets an image of its own)."""
    return "d" + hashlib.sha256(dockerfile.encode()).hexdigest()[:10]


class PingImages:
    """The lesson's ping base plan and the images built on it."""

    def __init__(self, lesson, base):
        self.lesson = lesson
        self.base = base
        self.plan: PingBasePlan = ping_base_plan(base.reference, base.source)
        self.inherited: ImageCommand = read_image_command(lesson.engine, base.reference)

    def dockerfile(self, variant: Variant) -> str:
        return render_dockerfile(self.plan.lines, variant)

    def build(self, variant: Variant, tag: str = "latest") -> BuiltImage:
        return build_from_text(
            self.lesson, variant.name, self.dockerfile(variant), tag=tag, allow_network=self.plan.needs_network
        )

    def build_instructions(self, name: str, entrypoint: Instruction, cmd: Instruction) -> BuiltImage:
        """An image with exactly these ENTRYPOINT/CMD, tagged by its Dockerfile's content."""
        variant = Variant(name, name, entrypoint=entrypoint, cmd=cmd)
        return self.build(variant, tag=dockerfile_tag(self.dockerfile(variant)))


# -- containers ---------------------------------------------------------------------------


def _start(lesson, name: str, image: str, run_args, entrypoint_override, **kwargs):
    entrypoint = None if entrypoint_override is None else [entrypoint_override]
    command = list(run_args) if run_args else None
    try:
        return lesson.run(name, image, command, entrypoint=entrypoint, **kwargs)
    except EngineRefused as refused:
        message = refused.explanation or refused.what
        raise RunFailed(REFUSAL_PREFIX + message, _run_fix(message), engine_message=message) from None


def _run_fix(message: str) -> str:
    if is_no_command(message):
        return "Give the image a CMD or ENTRYPOINT, or pass a command after the image name."
    if "executable file not found" in message:
        return "The first word of the command must be a program inside the image."
    return "Check the image name and the command."


def _api_seconds(seconds: float) -> int:
    """The engine's stop timeout is a whole number of seconds (API 1.41 refuses "1.5")."""
    return max(0, int(round(seconds)))


def _remove(container: Container) -> bool:
    return container.remove()


def stream_run(
    lesson,
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
    chunks: "queue.Queue[bytes | BaseException | None]" = queue.Queue()

    def pump() -> None:
        try:
            for chunk in container.follow_logs():
                chunks.put(chunk)
        except BaseException as error:  # the container went away under the stream
            chunks.put(error)
        finally:
            chunks.put(None)

    pending = b""

    def emit(line: bytes) -> None:
        text = line.decode("utf-8", errors="replace").rstrip("\r")
        outcome.lines.append(text)
        if on_line is not None:
            on_line(text)

    try:
        threading.Thread(target=pump, name=f"layerlab-logs-{name}", daemon=True).start()
        deadline = started + limit
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
    lesson,
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
    lesson,
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


class LiveRunner:
    """What `EntrypointExplorer` calls to check a prediction against the engine."""

    def __init__(self, lesson, base):
        self.images = PingImages(lesson, base)
        self.lesson = lesson

    @property
    def inherited(self) -> ImageCommand:
        return self.images.inherited

    def __call__(
        self,
        entrypoint: Instruction,
        cmd: Instruction,
        run_args: Sequence[str] | None = None,
        entrypoint_override: str | None = None,
    ) -> tuple[BuiltImage, Observation]:
        built = self.images.build_instructions("explorer", entrypoint, cmd)
        return built, observe(self.lesson, "explorer", built.reference, run_args, entrypoint_override)

    def dockerfile(self, entrypoint: Instruction, cmd: Instruction) -> str:
        return self.images.dockerfile(Variant("explorer", "explorer", entrypoint=entrypoint, cmd=cmd))


# -- what the notebook calls ---------------------------------------------------------------


def show_run(
    lesson,
    image: BuiltImage,
    run_args: Sequence[str] | None = None,
    entrypoint_override: str | None = None,
    limit: float = DEFAULT_LIMIT,
    max_lines: int | None = None,
    show_lines: int | None = None,
    prefix: str = "  | ",
) -> None:
    """Print the `docker run` line and the predicted PID 1, then stream the run's output.

    `max_lines` stops the container after that many lines; `show_lines` only shortens what
    is printed. An engine refusal is printed as one line (it is part of the lesson).
    """
    result = resolve_image(image.config, run_args, entrypoint_override)
    print(f"$ {result.docker_run(image.reference)}")
    print(f"  the rules say PID 1 is: {result.command_line}")
    shown = [0]

    def on_line(line: str) -> None:
        shown[0] += 1
        if show_lines is None or shown[0] <= show_lines:
            print(prefix + line, flush=True)

    try:
        outcome = stream_run(
            lesson, image.name, image.reference, run_args, entrypoint_override, limit=limit,
            on_line=on_line, max_lines=max_lines,
        )
    except RunFailed as error:
        print(f"  the engine refused to start it: {refusal(error.engine_message)}")
        return
    if show_lines is not None and len(outcome.lines) > show_lines:
        print(f"{prefix}... ({len(outcome.lines) - show_lines} more lines)")
    print(f"  -> {outcome.summary().split(': ', 1)[-1]}")


def refusal(message: str) -> str:
    """The engine's refusal in a few words (runc's message is long and engine-specific)."""
    match = re.search(r'exec: "([^"]*)": executable file not found in \$PATH', message)
    if match:
        return f'there is no program called "{match.group(1)}" in the image (executable file not found in $PATH)'
    return message


def show_pid1(lesson, image: BuiltImage, run_args: Sequence[str] | None = None,
              entrypoint_override: str | None = None, settle: float = 0.5) -> None:
    """Print what the engine was asked to start, and what runs as PID 1 a moment later."""
    result = resolve_image(image.config, run_args, entrypoint_override)
    seen = observe(lesson, image.name, image.reference, run_args, entrypoint_override, settle=settle)
    print(f"$ {result.docker_run(image.reference)}")
    print(f"  the engine starts:          {result.command_line}")
    if seen.argv is not None:
        print(f"  PID 1 (from /proc/1/cmdline): {shlex.join(seen.argv)}")
    else:
        print(f"  PID 1 could not be read: {seen.error or 'it had already ended'}")


def show_stops(measurements: Sequence[StopMeasurement]) -> None:
    """One line per measurement; seconds rounded to a tenth."""
    for m in measurements:
        print(f"{m.label}\n  PID 1: {shlex.join(m.pid1) if m.pid1 else '?'}\n"
              f"  docker stop took {m.seconds:.1f} s: {m.verdict()}")
