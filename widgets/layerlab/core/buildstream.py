"""The builders' progress streams, read line by line into a `BuildRecord` (core.build).

Two builders write their progress differently:

- the classic builder (what the docker SDK drives) streams text lines: `Step 2/4 : COPY . /app`,
  then ` ---> Using cache` when the step was found in the cache, ` ---> Running in <id>` when
  it runs in an intermediate container, and ` ---> <id>` for the image the step produced;
- BuildKit (`docker buildx build --progress=rawjson`) writes JSON objects of "vertexes", one
  per build operation, named like `[2/4] COPY . /app`, with `started`/`completed` times,
  `cached: true` when the cache answered, and `error` when it failed. After a failure it
  prints, as plain text, the Dockerfile lines around the failing one and `ERROR: ...`.

An engine adapter makes a record (`BuildRecord.for_dockerfile`), a parser on it, and calls
`parser.feed_line(line)` for every line the builder writes, then `finish(...)` (or, for the
classic builder, `fail(message)`); `feed_line` returns True when a step changed, so a view
can redraw. `parse_classic_stream` and `parse_buildkit_stream` read a whole canned stream.

Pure: no `docker`, no widgets. Times come from the caller (`now=`) so tests are exact.
"""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import datetime
from typing import Iterable

from .build import BuildFailure, BuildRecord, BuildStep, CacheStatus, classify_failure
from .dockerfile import BUILDKIT_STEP_KEYWORDS, instruction_keyword
from .i18n import _
from .model import BuilderKind

#: The course's own labels: one `LABEL` instruction the course adds after a classic build's
#: Dockerfile (`engine.building`), so the stream has one step more than the learner wrote.
BOOKKEEPING_PREFIX = "LABEL layerlab."


def _line_from_message(message: str) -> int | None:
    match = re.search(r"\bline (\d+)\b", message)
    return int(match.group(1)) if match else None


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

    def __init__(self, record: BuildRecord, clock=time.monotonic, course_steps: int = 0):
        self.record = record
        self.clock = clock
        #: steps the course added after the learner's Dockerfile (its labels): left out of the
        #: step numbers the learner is shown, so they count the Dockerfile the learner sees
        self.course_steps = course_steps
        self.current: BuildStep | None = None
        self.started = clock()

    def shown(self, text: str) -> str:
        """A stream line as the learner is shown it: `Step 2/5` of a four-step Dockerfile
        reads `Step 2/4`, and the course's own step says what it is."""
        match = _STEP.match(_ANSI.sub("", text).strip())
        if not match or not self.course_steps:
            return text
        number, total, instruction = int(match.group(1)), int(match.group(2)), match.group(3)
        mine = total - self.course_steps
        if instruction.startswith(BOOKKEEPING_PREFIX) and number > mine:
            return _("Course step : {instruction}  (the course's labels, added after your {count} steps)").format(
                instruction=instruction, count=mine)
        return f"Step {number}/{mine} : {instruction}"

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
            step.builder_label = "course" if step.bookkeeping else f"{number}/{total - self.course_steps}"
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
        keyword = instruction_keyword(instruction)
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
        steps = [s for s in record.steps if s.keyword in BUILDKIT_STEP_KEYWORDS]
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
        keyword = instruction_keyword(instruction)
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
                self.vertex_errors[-1][1] if self.vertex_errors else _("docker buildx exited with {code}").format(code=returncode)
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
