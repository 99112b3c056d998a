"""The build model: what each instruction of a Dockerfile did in one build.

One model, `BuildRecord`, for both builders: a list of `BuildStep`s, one per instruction,
each with its cache status (HIT, MISS...), the id it made, its time and its output; and, when
the build stopped, a `BuildFailure` that says where and why. The steps are known before the
build starts (`BuildRecord.for_dockerfile`), so a view can show the whole Dockerfile and light
the steps up as they run. The builders' streams are read into it by `core.buildstream`; the
rule the cache follows is `core.cacherule`.

Pure: no `docker`, no widgets.
"""

from __future__ import annotations

from .i18n import N_, Worded, _  # noqa: E402  (the constant below is shown through tr())

#: How the course names the two builders together (the setup lesson and `record` say it).
BOTH_BUILDERS = N_("the classic builder and BuildKit")

import enum
import re
from dataclasses import dataclass, field
from typing import Sequence

from .dockerfile import parse_dockerfile
from .model import BuilderKind, human_size, short_id, truncate

OUTPUT_LINES_KEPT = 40


class CacheStatus(enum.Enum):
    """What the build cache did for one step."""

    PENDING = N_("pending")  # known from the Dockerfile, not started yet
    RUNNING = N_("running")
    HIT = "HIT"  # reused from the build cache: nothing ran
    MISS = "MISS"  # executed: a new layer or config entry was made
    BASE = N_("base")  # FROM: the base image is looked up, never built
    CONFIG = N_("no step")  # BuildKit: not a build step at all, only a line of the image's config
    FAILED = N_("FAILED")
    NOT_REACHED = N_("not reached")  # the build stopped before it

    @property
    def done(self) -> bool:
        return self in (CacheStatus.HIT, CacheStatus.MISS, CacheStatus.BASE, CacheStatus.CONFIG)

    @property
    def label(self) -> str:
        """The status as the learner reads it: HIT and MISS as they are, the others translated
        (`value` stays the key the code compares)."""
        return self.value if self in (CacheStatus.HIT, CacheStatus.MISS) else _(self.value)


class FailureKind(Worded, enum.Enum):
    SYNTAX = N_("the Dockerfile cannot be parsed")
    MISSING_FILE = N_("a file the step needs is not in the build context")
    COMMAND_FAILED = N_("a RUN command exited with an error")
    BASE_MISSING = N_("the base image is not on this engine")
    OTHER = N_("the engine stopped the build")


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
        if self.status is CacheStatus.CONFIG:
            return ""  # the status says it all
        if self.layer is not None and self.makes_layer:
            if self.layer_size is None or not sizes:
                return _("layer {layer}").format(layer=short_id(self.layer))
            return _("layer {layer} ({size})").format(layer=short_id(self.layer), size=human_size(self.layer_size))
        if self.makes_layer is False:
            return _("no layer (config)")
        if self.made:
            return _("image {image}").format(image=short_id(self.made))
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
        reason = self.kind.text
        if self.step:
            return _("The build stopped at step {step} ({instruction}): {reason}.").format(
                step=self.step, instruction=truncate(self.instruction, 60), reason=reason)
        if self.line:
            return _("The build stopped at Dockerfile line {line}: {reason}.").format(line=self.line, reason=reason)
        return _("The build stopped at the start of the build: {reason}.").format(reason=reason)

    def fix(self) -> str:
        return _({
            FailureKind.SYNTAX: N_("Fix the instruction on that line (a typo in the keyword, or a missing argument)."),
            FailureKind.MISSING_FILE: N_("Put the file in the build context folder, fix its name, or check .dockerignore."),
            FailureKind.COMMAND_FAILED: N_("Run the command in a container of the step's parent image to see why, then fix the RUN line."),
            FailureKind.BASE_MISSING: N_("Prepare the base (run the setup notebook) or fix the FROM line."),
            FailureKind.OTHER: N_("Read the engine's message above, fix that step, and build again."),
        }[self.kind])

    def summary(self) -> str:
        lines = [self.headline(), "  " + _("engine: {message}").format(message=self.message)]
        if self.exit_code is not None:
            lines.append("  " + _("exit code: {code}").format(code=self.exit_code))
        for out in self.output[-5:]:
            lines.append("  " + _("output: {line}").format(line=out))
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
                f"{step.status.label:<11} {what}{timing}".rstrip()
            )
        extra = [s for s in self.steps if s.bookkeeping]
        if extra:
            lines.append("  " + _course_steps(extra))
        if self.failure is not None:
            lines.append(self.failure.summary())
        elif self.finished:
            hits, misses = len(self.cached_steps()), len(self.rebuilt_steps())
            lines.append("  -> " + _("{hits} from the cache, {misses} rebuilt").format(hits=hits, misses=misses))
        return "\n".join(lines)


def _course_steps(steps: Sequence[BuildStep]) -> str:
    """The course's own LABEL step(s) of a build, and what the cache did for them."""
    hits = sum(1 for s in steps if s.status is CacheStatus.HIT)
    if len(steps) == 1:
        if hits:
            return _("(+ the LABEL step the course adds, from the cache)")
        return _("(+ the LABEL step the course adds, rebuilt)")
    return _("(+ {count} LABEL steps the course adds, {hits} from the cache, {misses} rebuilt)").format(
        count=len(steps), hits=hits, misses=len(steps) - hits)


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
