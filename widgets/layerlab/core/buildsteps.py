"""Build steps: what each instruction of a Dockerfile did in one build, and the build cache.

Two builders write their progress differently:

- the classic builder (what the docker SDK drives) streams text lines: `Step 2/4 : COPY . /app`,
  then ` ---> Using cache` when the step was found in the cache, ` ---> Running in <id>` when
  it runs in an intermediate container, and ` ---> <id>` for the image the step produced;
- BuildKit (`docker buildx build --progress=rawjson`) writes JSON objects of "vertexes", one
  per build operation, named like `[2/4] COPY . /app`, with `started`/`completed` times,
  `cached: true` when the cache answered, and `error` when it failed. After a failure it
  prints, as plain text, the Dockerfile lines around the failing one and `ERROR: ...`.

Both parsers fill one model, `BuildRecord`: a list of `BuildStep`s, one per instruction,
each with its cache status (HIT, MISS...), the id it made, its time and its output. The
steps are known before the build starts (`parse_dockerfile`), so a view can show the whole
Dockerfile and light the steps up as they run.

The rule the course teaches, `cache_rule`: every step before the first changed one is a
cache hit; from that step on, every step is rebuilt (its cache key includes its parent).

Pure: no `docker`, no widgets. Times come from the caller (`now=`) so tests are exact.
"""

from __future__ import annotations

import base64
import enum
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Sequence

from .model import short_id, truncate

#: Instructions that BuildKit turns into a build step (a vertex); the rest only go into the
#: image's configuration.
BUILDKIT_STEP_KEYWORDS = frozenset({"FROM", "RUN", "COPY", "ADD", "WORKDIR"})
#: The course's own labels, which the classic builder adds as extra `LABEL` steps at the end.
BOOKKEEPING_PREFIX = "LABEL layerlab."
OUTPUT_LINES_KEPT = 40


class BuilderKind(enum.Enum):
    CLASSIC = "classic builder"
    BUILDKIT = "BuildKit"


class CacheStatus(enum.Enum):
    """What the build cache did for one step."""

    PENDING = "pending"  # known from the Dockerfile, not started yet
    RUNNING = "running"
    HIT = "HIT"  # reused from the build cache: nothing ran
    MISS = "MISS"  # executed: a new layer or config entry was made
    BASE = "base"  # FROM: the base image is looked up, never built
    CONFIG = "no step"  # BuildKit: not a build step at all, only a line of the image's config
    FAILED = "FAILED"
    NOT_REACHED = "not reached"  # the build stopped before it

    @property
    def done(self) -> bool:
        return self in (CacheStatus.HIT, CacheStatus.MISS, CacheStatus.BASE, CacheStatus.CONFIG)


class FailureKind(enum.Enum):
    SYNTAX = "the Dockerfile cannot be parsed"
    MISSING_FILE = "a file the step needs is not in the build context"
    COMMAND_FAILED = "a RUN command exited with an error"
    BASE_MISSING = "the base image is not on this engine"
    OTHER = "the engine stopped the build"


@dataclass(frozen=True)
class Instruction:
    """One instruction of a Dockerfile, continuation lines joined."""

    line: int  # 1-based line where it starts
    keyword: str
    text: str  # as written, on one line

    @property
    def makes_buildkit_step(self) -> bool:
        return self.keyword in BUILDKIT_STEP_KEYWORDS


_CONTINUATION = re.compile(r"\\\s*$")


def parse_dockerfile(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile (comments, blank lines and directives left out).

    >>> [i.text for i in parse_dockerfile("FROM a\\nRUN x \\\\\\n  && y\\n# note\\nCMD z\\n")]
    ['FROM a', 'RUN x && y', 'CMD z']
    """
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are dropped
        if not pending:
            start = number
        if _CONTINUATION.search(raw):
            pending.append(_CONTINUATION.sub("", raw).strip())
            continue
        pending.append(stripped)
        joined = " ".join(part for part in pending if part)
        pending = []
        keyword = joined.split(None, 1)[0].upper()
        instructions.append(Instruction(line=start, keyword=keyword, text=joined))
    if pending:
        joined = " ".join(part for part in pending if part)
        instructions.append(Instruction(line=start, keyword=joined.split(None, 1)[0].upper(), text=joined))
    return instructions


@dataclass
class BuildStep:
    """One instruction in one build: its cache status, what it made, how long it took."""

    index: int  # position in the Dockerfile, 1-based
    instruction: str
    keyword: str
    line: int | None = None  # Dockerfile line
    builder_label: str = ""  # how the builder numbered it: "2/4" (BuildKit skips config-only ones)
    status: CacheStatus = CacheStatus.PENDING
    made: str | None = None  # classic: id of the image the step produced (short)
    container: str | None = None  # classic: the intermediate container it ran in
    layer: str | None = None  # diff id of the layer it made (filled in after the build)
    layer_size: int | None = None
    makes_layer: bool | None = None
    seconds: float | None = None
    started: float | None = None
    output: list[str] = field(default_factory=list)
    error: str = ""
    bookkeeping: bool = False
    vertex: str = ""  # BuildKit: the vertex digest (its cache key for this build)

    @property
    def is_base(self) -> bool:
        return self.keyword == "FROM"

    def add_output(self, line: str) -> None:
        self.output.append(line)
        if len(self.output) > OUTPUT_LINES_KEPT:
            del self.output[: len(self.output) - OUTPUT_LINES_KEPT]

    def what_it_made(self, sizes: bool = True) -> str:
        """`image 1a2b3c4d5e6f`, `layer 9f8e... (245 B)`, `no layer (config)`, or ``."""
        from .model import human_size

        if self.status is CacheStatus.CONFIG:
            return ""  # the status says it all
        if self.layer is not None and self.makes_layer:
            size = "" if self.layer_size is None or not sizes else f" ({human_size(self.layer_size)})"
            return f"layer {short_id(self.layer)}{size}"
        if self.makes_layer is False:
            return "no layer (config)"
        if self.made:
            return f"image {short_id(self.made)}"
        return ""


@dataclass
class BuildFailure:
    """Where and why a build stopped, in the engine's own words."""

    kind: FailureKind
    message: str
    step: int | None = None  # index of the failing BuildStep
    instruction: str = ""
    line: int | None = None
    excerpt: str = ""  # the Dockerfile lines around it, as BuildKit prints them
    exit_code: int | None = None
    output: tuple[str, ...] = ()

    def headline(self) -> str:
        where = f"step {self.step} ({truncate(self.instruction, 60)})" if self.step else (
            f"Dockerfile line {self.line}" if self.line else "the start of the build"
        )
        return f"The build stopped at {where}: {self.kind.value}."

    def fix(self) -> str:
        return {
            FailureKind.SYNTAX: "Fix the instruction on that line (a typo in the keyword, or a missing argument).",
            FailureKind.MISSING_FILE: "Put the file in the build context folder, fix its name, or check .dockerignore.",
            FailureKind.COMMAND_FAILED: "Run the command in a container of the step's parent image to see why, then fix the RUN line.",
            FailureKind.BASE_MISSING: "Prepare the base (run the setup notebook) or fix the FROM line.",
            FailureKind.OTHER: "Read the engine's message above, fix that step, and build again.",
        }[self.kind]

    def summary(self) -> str:
        lines = [self.headline(), f"  engine: {self.message}"]
        if self.exit_code is not None:
            lines.append(f"  exit code: {self.exit_code}")
        for out in self.output[-5:]:
            lines.append(f"  output: {out}")
        return "\n".join(lines)


def classify_failure(message: str) -> tuple[FailureKind, int | None]:
    """The kind of failure and, for a failed command, its exit code."""
    lower = message.lower()
    code = re.search(r"(?:exit code: |non-zero code: )(\d+)", message)
    if code:
        return FailureKind.COMMAND_FAILED, int(code.group(1))
    if "parse error" in lower or "unknown instruction" in lower or "syntax" in lower:
        return FailureKind.SYNTAX, None
    if (
        "not found in build context" in lower
        or ("checksum" in lower and "not found" in lower)
        or "no such file or directory" in lower
        or "no source files were specified" in lower
        or ("copy failed" in lower and ("not found" in lower or "not exist" in lower))
    ):
        return FailureKind.MISSING_FILE, None
    if "pull access denied" in lower or "repository does not exist" in lower or (
        "failed to resolve source metadata" in lower
    ) or "no such image" in lower:
        return FailureKind.BASE_MISSING, None
    return FailureKind.OTHER, None


def _line_from_message(message: str) -> int | None:
    match = re.search(r"\bline (\d+)\b", message)
    return int(match.group(1)) if match else None


@dataclass
class BuildRecord:
    """One build by one builder: its steps in Dockerfile order, and how it ended."""

    builder: BuilderKind
    reference: str = ""
    title: str = ""
    steps: list[BuildStep] = field(default_factory=list)
    image_id: str | None = None
    failure: BuildFailure | None = None
    seconds: float | None = None
    finished: bool = False
    raw: list[str] = field(default_factory=list)  # what the engine reported, line by line
    dockerfile: str = ""

    @classmethod
    def for_dockerfile(cls, builder: BuilderKind, dockerfile: str, reference: str = "", title: str = "") -> "BuildRecord":
        """A record with one PENDING step per instruction of the Dockerfile."""
        record = cls(builder=builder, reference=reference, title=title, dockerfile=dockerfile)
        for position, instruction in enumerate(parse_dockerfile(dockerfile), start=1):
            record.steps.append(
                BuildStep(index=position, instruction=instruction.text, keyword=instruction.keyword, line=instruction.line)
            )
        return record

    # -- reading it ------------------------------------------------------------------------

    @property
    def ok(self) -> bool:
        return self.finished and self.failure is None

    @property
    def lesson_steps(self) -> list[BuildStep]:
        """The Dockerfile's own steps, without the course's bookkeeping labels."""
        return [s for s in self.steps if not s.bookkeeping]

    def step(self, index: int) -> BuildStep:
        for step in self.steps:
            if step.index == index:
                return step
        raise KeyError(index)

    def statuses(self) -> list[CacheStatus]:
        return [s.status for s in self.lesson_steps]

    def cached_steps(self) -> list[int]:
        return [s.index for s in self.lesson_steps if s.status is CacheStatus.HIT]

    def rebuilt_steps(self) -> list[int]:
        return [s.index for s in self.lesson_steps if s.status is CacheStatus.MISS]

    def first_rebuilt(self) -> BuildStep | None:
        return next((s for s in self.lesson_steps if s.status is CacheStatus.MISS), None)

    def summary(self, show_times: bool = False, sizes: bool = False) -> str:
        """Plain text, one line per step: what nbval compares (ids and times sanitized).

        Layer sizes are left out unless asked for: a `COPY . /app` layer holds the
        Dockerfile, whose FROM line names the learner, so its size differs per learner.
        """
        head = f"{self.builder.value}: {self.title or self.reference}"
        lines = [head]
        # The width ignores FROM, whose image name holds the learner's id: the other lines
        # must not shift with it (nbval compares them across learners).
        width = min(44, max((len(s.instruction) for s in self.lesson_steps if not s.is_base), default=10))
        for step in self.lesson_steps:
            what = step.what_it_made(sizes=sizes)
            timing = f"  {step.seconds:.1f} s" if show_times and step.seconds is not None else ""
            shown = step.instruction if step.is_base else truncate(step.instruction, width)
            lines.append(
                f"  {step.index:>2}. {shown:<{width}}  "
                f"{step.status.value:<11} {what}{timing}".rstrip()
            )
        extra = [s for s in self.steps if s.bookkeeping]
        if extra:
            lines.append(f"  (+{len(extra)} LABEL steps the course adds, {_count(extra)})")
        if self.failure is not None:
            lines.append(self.failure.summary())
        elif self.finished:
            hits, misses = len(self.cached_steps()), len(self.rebuilt_steps())
            lines.append(f"  -> {hits} from the cache, {misses} rebuilt")
        return "\n".join(lines)


def _count(steps: Sequence[BuildStep]) -> str:
    hits = sum(1 for s in steps if s.status is CacheStatus.HIT)
    return f"{hits} from the cache, {len(steps) - hits} rebuilt"


# -- the classic builder ------------------------------------------------------------------

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_MADE = re.compile(r"^---> ([0-9a-f]{12,64})$")
_RUNNING_IN = re.compile(r"^---> Running in ([0-9a-f]{12,64})$")
_NOISE = re.compile(
    r"^(Removing intermediate container|---> Removed intermediate container|Successfully built|"
    r"Successfully tagged|Sending build context)"
)
#: Docker 23+ colours a RUN step's stderr in the classic stream.
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ClassicStreamParser:
    """Feed the classic builder's stream line by line; it keeps `record` up to date."""

    def __init__(self, record: BuildRecord, clock=time.monotonic):
        self.record = record
        self.clock = clock
        self.current: BuildStep | None = None
        self.started = clock()

    def feed_line(self, text: str, now: float | None = None) -> bool:
        """One line of the stream; returns True when a step changed."""
        now = self.clock() if now is None else now
        line = _ANSI.sub("", text).strip()
        if not line:
            return False
        self.record.raw.append(text.rstrip("\n"))
        match = _STEP.match(line)
        if match:
            self._close(now)
            number, total, instruction = int(match.group(1)), int(match.group(2)), match.group(3)
            step = self._step(number, instruction)
            step.builder_label = f"{number}/{total}"
            step.status = CacheStatus.RUNNING
            step.started = now
            self.current = step
            return True
        step = self.current
        if step is None:
            return False
        if line == "---> Using cache":
            step.status = CacheStatus.HIT
            return True
        running = _RUNNING_IN.match(line)
        if running:
            step.container = running.group(1)
            return True
        made = _MADE.match(line)
        if made:
            step.made = made.group(1)
            if step.is_base:
                step.status = CacheStatus.BASE
            elif step.status is not CacheStatus.HIT:
                step.status = CacheStatus.MISS
            step.seconds = now - (step.started if step.started is not None else now)
            return True
        if _NOISE.match(line):
            return False
        step.add_output(line)
        return True

    def _step(self, number: int, instruction: str) -> BuildStep:
        keyword = instruction.split(None, 1)[0].upper() if instruction.strip() else "?"
        bookkeeping = instruction.startswith(BOOKKEEPING_PREFIX)
        for step in self.record.steps:
            if step.index == number and not bookkeeping:
                return step
        step = BuildStep(index=number, instruction=instruction, keyword=keyword, bookkeeping=bookkeeping)
        self.record.steps.append(step)
        return step

    def _close(self, now: float) -> None:
        step = self.current
        if step is not None and step.seconds is None and step.started is not None:
            step.seconds = now - step.started

    def fail(self, message: str, now: float | None = None) -> BuildFailure:
        """The engine reported an error: mark the running step FAILED and the rest not reached."""
        now = self.clock() if now is None else now
        message = message.strip()
        self.record.raw.append(f"ERROR: {message}")
        kind, code = classify_failure(message)
        step = self.current if self.current is not None and not self.current.status.done else None
        line = _line_from_message(message) if step is None else step.line
        if step is not None:
            step.status = CacheStatus.FAILED
            step.error = message
            if step.started is not None:
                step.seconds = now - step.started
        instruction = step.instruction if step else _instruction_at(self.record, line)
        failure = BuildFailure(
            kind=kind, message=message, step=step.index if step else _index_at(self.record, line),
            instruction=instruction, line=line, excerpt=_excerpt(self.record.dockerfile, line),
            exit_code=code, output=tuple(step.output) if step else (),
        )
        if step is None and failure.step is not None:
            self.record.step(failure.step).status = CacheStatus.FAILED
            self.record.step(failure.step).error = message
        self.record.failure = failure
        self._finish(now)
        return failure

    def finish(self, image_id: str | None, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        self._close(now)
        self.record.image_id = image_id
        self._finish(now)

    def _finish(self, now: float) -> None:
        for step in self.record.steps:
            if step.status in (CacheStatus.PENDING, CacheStatus.RUNNING):
                step.status = CacheStatus.NOT_REACHED if self.record.failure else CacheStatus.MISS
        self.record.seconds = now - self.started
        self.record.finished = True


def _index_at(record: BuildRecord, line: int | None) -> int | None:
    if line is None:
        return None
    for step in record.steps:
        if step.line == line:
            return step.index
    return None


def _instruction_at(record: BuildRecord, line: int | None) -> str:
    if line is None or not record.dockerfile:
        return ""
    lines = record.dockerfile.splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def _excerpt(dockerfile: str, line: int | None) -> str:
    if not dockerfile or line is None:
        return ""
    lines = dockerfile.splitlines()
    out = []
    for number in range(max(1, line - 1), min(len(lines), line + 1) + 1):
        mark = ">>>" if number == line else "   "
        out.append(f"{number:>4} | {mark} {lines[number - 1]}")
    return "\n".join(out)


def parse_classic_stream(lines: Iterable[str], dockerfile: str = "", error: str | None = None,
                         image_id: str | None = None) -> BuildRecord:
    """A whole canned classic stream at once (times are all 0)."""
    record = BuildRecord.for_dockerfile(BuilderKind.CLASSIC, dockerfile)
    parser = ClassicStreamParser(record, clock=lambda: 0.0)
    for line in lines:
        for piece in line.splitlines():
            parser.feed_line(piece)
    if error is not None:
        parser.fail(error)
    else:
        parser.finish(image_id)
    return record


# -- BuildKit (--progress=rawjson) ---------------------------------------------------------

_VERTEX_NAME = re.compile(r"^\[(?:(?P<stage>[^\]]*?) )?(?P<n>\d+)/(?P<m>\d+)\] (?P<instruction>.*)$")
_CANCELED = re.compile(r"\bcancel(?:l)?ed\b")
_FRACTION = re.compile(r"^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$")


def parse_timestamp(text: str | None) -> float | None:
    """BuildKit's RFC 3339 times (nanoseconds, `Z`) as epoch seconds."""
    if not text:
        return None
    match = _FRACTION.match(text.strip())
    if not match:
        return None
    base, fraction, zone = match.group(1), match.group(2) or "0", match.group(3) or "Z"
    try:
        moment = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return None
    return moment.timestamp() + float("0." + fraction)


class BuildKitStreamParser:
    """Feed `docker buildx build --progress=rawjson` stderr line by line.

    The JSON objects are pretty-printed over several lines (`{` and `}` at column 0); what
    is not JSON is plain text (after a failure: the Dockerfile excerpt and `ERROR: ...`).
    """

    def __init__(self, record: BuildRecord, clock=time.monotonic):
        self.record = record
        self.clock = clock
        self.started = clock()
        self._buffer: list[str] = []
        self._by_digest: dict[str, BuildStep] = {}
        self._by_label: dict[str, BuildStep] = {}
        self.trailer: list[str] = []
        self.vertex_errors: list[tuple[str, str]] = []  # (vertex name, error)
        steps = [s for s in record.steps if Instruction(0, s.keyword, s.instruction).makes_buildkit_step]
        self._planned = {position: step for position, step in enumerate(steps, start=1)}
        for step in record.steps:
            if step.keyword not in BUILDKIT_STEP_KEYWORDS:
                step.status = CacheStatus.CONFIG

    def feed_line(self, text: str, now: float | None = None) -> bool:
        line = text.rstrip("\n")
        self.record.raw.append(line)  # exactly what the CLI wrote
        if self._buffer or line.startswith("{"):
            self._buffer.append(line)
            if line.rstrip() == "}" or (len(self._buffer) == 1 and line.rstrip().endswith("}")):
                try:
                    document = json.loads("\n".join(self._buffer))
                except ValueError:
                    return False  # not complete yet
                self._buffer = []
                return self.feed_document(document)
            return False
        if line.strip():
            self.trailer.append(line)
        return False

    def feed_document(self, document: dict) -> bool:
        changed = False
        for vertex in document.get("vertexes") or []:
            changed |= self._vertex(vertex)
        for log in document.get("logs") or []:
            step = self._by_digest.get(log.get("vertex", ""))
            if step is None:
                continue
            try:
                data = base64.b64decode(log.get("data") or "").decode("utf-8", "replace")
            except (ValueError, TypeError):
                continue
            for out in data.splitlines():
                if out.strip():
                    step.add_output(out.rstrip())
                    changed = True
        return changed

    def _vertex(self, vertex: dict) -> bool:
        name = vertex.get("name") or ""
        error = vertex.get("error") or ""
        match = _VERTEX_NAME.match(name)
        if not match:
            if error:
                self.vertex_errors.append((name, error))
            return False
        digest = vertex.get("digest") or ""
        stage = match.group("stage") or ""
        label = f"{stage + ' ' if stage else ''}{match.group('n')}/{match.group('m')}"
        step = self._by_label.get(label)
        if step is None:
            step = self._match_step(int(match.group("n")), match.group("instruction"), stage)
            step.builder_label = label
            self._by_label[label] = step
        if digest:
            self._by_digest[digest] = step
            step.vertex = digest
        started = parse_timestamp(vertex.get("started"))
        completed = parse_timestamp(vertex.get("completed"))
        if started is not None:
            step.started = started
        if vertex.get("cached"):
            step.status = CacheStatus.BASE if step.is_base else CacheStatus.HIT
        elif error and _CANCELED.search(error):
            # Stopped because another step failed (the containerd store reports it so).
            if step.status in (CacheStatus.PENDING, CacheStatus.RUNNING):
                step.status = CacheStatus.NOT_REACHED
        elif error:
            step.status = CacheStatus.FAILED
            step.error = error
        elif completed is not None:
            if step.status is not CacheStatus.HIT:
                step.status = CacheStatus.BASE if step.is_base else CacheStatus.MISS
        elif started is not None and step.status is CacheStatus.PENDING:
            step.status = CacheStatus.RUNNING
        if completed is not None and started is not None:
            step.seconds = max(0.0, completed - started)
        return True

    def _match_step(self, n: int, instruction: str, stage: str) -> BuildStep:
        keyword = instruction.split(None, 1)[0].upper() if instruction.strip() else "?"
        planned = self._planned.get(n) if not stage else None
        if planned is not None and planned.keyword == keyword:
            return planned  # keep the Dockerfile's words (BuildKit expands FROM to docker.io/...)
        step = BuildStep(index=len(self.record.steps) + 1, instruction=instruction, keyword=keyword)
        self.record.steps.append(step)
        return step

    def finish(self, returncode: int, image_id: str | None = None, now: float | None = None) -> BuildFailure | None:
        """The CLI exited: read the trailer for the error, mark what never ran."""
        now = self.clock() if now is None else now
        self.record.seconds = now - self.started
        self.record.finished = True
        self.record.image_id = image_id
        failure = None
        if returncode != 0:
            failure = self._failure(returncode)
            self.record.failure = failure
        for step in self.record.steps:
            if step.status in (CacheStatus.PENDING, CacheStatus.RUNNING):
                step.status = CacheStatus.NOT_REACHED if failure else CacheStatus.MISS
        return failure

    def _failure(self, returncode: int) -> BuildFailure:
        message = ""
        for line in self.trailer:
            if line.startswith("ERROR:"):
                message = line[len("ERROR:"):].strip()
        for prefix in ("failed to solve: ", "failed to compute cache key: "):
            if message.startswith(prefix):
                message = message[len(prefix):]
        failed = None
        for text in self.trailer:
            located = re.match(r"^(?:\S*Dockerfile\S*?):(\d+)$", text.strip())
            if located and _index_at(self.record, int(located.group(1))) is not None:
                failed = self.record.step(_index_at(self.record, int(located.group(1))))
        if failed is None or failed.status is not CacheStatus.FAILED:
            failed = next((s for s in self.record.steps if s.status is CacheStatus.FAILED), failed)
        for step in self.record.steps:
            if step.status is CacheStatus.FAILED and step is not failed:
                step.status = CacheStatus.NOT_REACHED  # failed only as a consequence
        if not message:
            message = failed.error if failed else (
                self.vertex_errors[-1][1] if self.vertex_errors else f"docker buildx exited with {returncode}"
            )
        line = None
        for text in self.trailer:
            located = re.match(r"^(?:\S*Dockerfile\S*?):(\d+)$", text.strip())
            if located:
                line = int(located.group(1))
        if line is None:
            line = _line_from_message(message)
        excerpt = "\n".join(t for t in self.trailer if re.match(r"^\s*\d+ \|", t))
        if failed is None and line is not None and _index_at(self.record, line) is not None:
            failed = self.record.step(_index_at(self.record, line))
        if failed is not None and failed.status is not CacheStatus.FAILED:
            failed.status = CacheStatus.FAILED
            failed.error = message
        kind, code = classify_failure(message)
        return BuildFailure(
            kind=kind, message=message, step=failed.index if failed else None,
            instruction=failed.instruction if failed else _instruction_at(self.record, line),
            line=failed.line if failed and failed.line else line,
            excerpt=excerpt or _excerpt(self.record.dockerfile, line), exit_code=code,
            output=tuple(failed.output) if failed else (),
        )


def parse_buildkit_stream(text: str, dockerfile: str = "", returncode: int = 0,
                          image_id: str | None = None) -> BuildRecord:
    """A whole canned rawjson stream at once."""
    record = BuildRecord.for_dockerfile(BuilderKind.BUILDKIT, dockerfile)
    parser = BuildKitStreamParser(record, clock=lambda: 0.0)
    for line in text.splitlines():
        parser.feed_line(line)
    parser.finish(returncode, image_id)
    return record


# -- after the build: which layer each step made -------------------------------------------


def attach_layers(record: BuildRecord, entries: Sequence, base_entries: int) -> None:
    """Give each step the layer it made, from the finished image's history.

    `entries` are the image's `HistoryEntry`s, oldest first; the first `base_entries` came
    with the base image. Both builders write one history entry per instruction after FROM,
    in order (the classic builder's bookkeeping labels included), so steps and entries are
    paired by keyword, in order.
    """
    own = list(entries)[base_entries:]
    position = 0
    for step in record.steps:
        if step.is_base:
            continue
        while position < len(own) and own[position].keyword not in (step.keyword, "?"):
            position += 1
        if position >= len(own):
            break
        entry = own[position]
        position += 1
        step.makes_layer = entry.is_layer
        step.layer = entry.diff_id
        step.layer_size = entry.size if entry.is_layer else 0
        if entry.image_id and not step.made:
            step.made = entry.image_id


# -- the rule of the build cache ----------------------------------------------------------


def cache_rule(steps: Sequence[str], first_changed: int | None) -> list[CacheStatus]:
    """What the cache must do for `steps` (instructions) when step `first_changed` changed.

    Steps are 1-based; FROM is BASE. Before the first changed step: HIT. From it on: MISS.
    `first_changed=None`: nothing changed, every step is a HIT.
    """
    out = []
    for index, instruction in enumerate(steps, start=1):
        if instruction.split(None, 1)[0].upper() == "FROM":
            out.append(CacheStatus.BASE)
        elif first_changed is not None and index >= first_changed:
            out.append(CacheStatus.MISS)
        else:
            out.append(CacheStatus.HIT)
    return out


def follows_cache_rule(record: BuildRecord) -> bool:
    """True when the record's hits all come before its first miss (the chain rule)."""
    seen_miss = False
    for step in record.lesson_steps:
        if step.status is CacheStatus.MISS:
            seen_miss = True
        elif step.status is CacheStatus.HIT and seen_miss:
            return False
    return True


def rebuild_story(record: BuildRecord) -> str:
    """The rule, checked on one build: reused before the first rebuilt step, rebuilt from it on."""
    steps = [s for s in record.lesson_steps if not s.is_base and s.status is not CacheStatus.CONFIG]
    first = record.first_rebuilt()
    if record.failure is not None:
        return "The build failed; the rule is about builds that finish."
    if first is None:
        return f"Nothing changed: all {len(steps)} steps came from the cache (nothing ran)."
    before = [s for s in steps if s.index < first.index]
    after = [s for s in steps if s.index >= first.index]
    rebuilt = [s for s in after if s.status is CacheStatus.MISS]
    holds = follows_cache_rule(record) and len(rebuilt) == len(after)
    reused = sum(1 for s in before if s.status is CacheStatus.HIT)
    lines = [
        f"First rebuilt step: {first.index} ({first.instruction}).",
        f"  before it: {reused} of {len(before)} step(s) from the cache: " + ", ".join(s.instruction for s in before)
        if before else "  before it: only FROM (the base image is looked up, never built)",
        f"  from it on: {len(rebuilt)} of {len(after)} step(s) rebuilt: " + ", ".join(s.instruction for s in after),
        "  the rule holds" if holds else "  the rule does NOT hold here",
    ]
    return "\n".join(lines)
