"""Lesson 05, CMD and ENTRYPOINT, on the lesson's engine.

Builds the seed's images from Dockerfile text (`PingImages`), runs them and prints what ran
(`show_run`, `show_pid1`, `show_stops`), and gives the explorer widget its runner
(`LiveRunner`). Running the containers themselves is `course.runs`.

The truth about what *should* run is computed in `layerlab.core.command`; this module only
observes what did.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

from ..core.command import (
    ImageCommand,
    Instruction,
    PingBasePlan,
    Variant,
    ping_base_plan,
    render_dockerfile,
    resolve_image,
)
from ..core.errors import LayerlabError, NotOnEngine
from ..core.i18n import _
from ..engine.engine import Engine
from ..core.command import seed_variants
from ..core.questions import PID1, answer_pid1
from ..views.entrypoint import EntrypointExplorer
from .runs import DEFAULT_LIMIT, Observation, RunFailed, StopMeasurement, measure_stop, observe, stream_run

if TYPE_CHECKING:  # annotations only: no import at run time
    from .lesson import Lesson

__all__ = [
    "EntrypointExplorer", "Instruction", "LiveRunner", "PID1", "PingImages", "Variant", "answer_pid1",
    "measure_stop", "observe", "seed_variants", "show_pid1", "show_run", "show_stops",
]


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
        return (_("{reference}, built from:").format(reference=self.reference) + f"\n{text}\n"
                + _("  config: {config}").format(config=self.config.describe()))


def read_image_command(engine: Engine, reference: str) -> ImageCommand:
    """An image's Entrypoint and Cmd, as the engine stores them."""
    try:
        config = engine.image(reference).config
    except NotOnEngine:
        raise LayerlabError(_("There is no image {reference}.").format(reference=repr(reference)),
                            _("Build it first (run the cells above).")) from None
    return ImageCommand.of(config.get("Entrypoint"), config.get("Cmd"))


def build_from_text(
    lesson: Lesson,
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
    image_id = lesson.build(name, folder, on_line=on_line, **build_kwargs)
    reference = lesson.image(name, tag)
    return BuiltImage(name, reference, image_id, dockerfile, read_image_command(lesson.engine, reference))


def dockerfile_tag(dockerfile: str) -> str:
    """A tag that names a Dockerfile's content (so each choice gets an image of its own)."""
    return "d" + hashlib.sha256(dockerfile.encode()).hexdigest()[:10]


class PingImages:
    """The lesson's ping base plan and the images built on it."""

    def __init__(self, lesson: Lesson, base):
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


class LiveRunner:
    """What `EntrypointExplorer` calls to check a prediction against the engine."""

    def __init__(self, lesson: Lesson, base):
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
    lesson: Lesson,
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
    print(_("  the rules say PID 1 is: {line}").format(line=result.command_line))
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
        print(_("  the engine refused to start it: {why}").format(why=refusal(error.engine_message)))
        return
    if show_lines is not None and len(outcome.lines) > show_lines:
        print(prefix + _("... ({count} more lines)").format(count=len(outcome.lines) - show_lines))
    print(f"  -> {outcome.summary().split(': ', 1)[-1]}")


def refusal(message: str) -> str:
    """The engine's refusal in a few words (runc's message is long and engine-specific)."""
    match = re.search(r'exec: "([^"]*)": executable file not found in \$PATH', message)
    if match:
        return _('there is no program called "{program}" in the image (executable file not found in $PATH)').format(
            program=match.group(1))
    return message


def show_pid1(lesson: Lesson, image: BuiltImage, run_args: Sequence[str] | None = None,
              entrypoint_override: str | None = None, settle: float = 0.5) -> None:
    """Print what the engine was asked to start, and what runs as PID 1 a moment later."""
    result = resolve_image(image.config, run_args, entrypoint_override)
    seen = observe(lesson, image.name, image.reference, run_args, entrypoint_override, settle=settle)
    print(f"$ {result.docker_run(image.reference)}")
    print(_("  the engine starts:          {line}").format(line=result.command_line))
    if seen.argv is not None:
        print(_("  PID 1 (from /proc/1/cmdline): {argv}").format(argv=shlex.join(seen.argv)))
    else:
        print(_("  PID 1 could not be read: {why}").format(why=seen.error or _("it had already ended")))


def show_stops(measurements: Sequence[StopMeasurement]) -> None:
    """One line per measurement; seconds rounded to a tenth."""
    for m in measurements:
        pid1 = shlex.join(m.pid1) if m.pid1 else "?"
        print(f"{m.label}\n  PID 1: {pid1}\n"
              + _("  docker stop took {seconds:.1f} s: {verdict}").format(seconds=m.seconds, verdict=m.verdict()))
