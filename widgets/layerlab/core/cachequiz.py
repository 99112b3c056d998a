"""Predict, then build: the build-cache exercise, scored against what the engine did.

A scenario is one change to a build context (edit a file, only touch it, edit a file that
`.dockerignore` keeps out, or edit a file after the Dockerfile was reordered). The learner
predicts HIT or MISS for every step; the build runs; `score` compares step by step and
explains each wrong answer in a sentence or two, from what the engine *measured* (so the
mtime trap is explained by the builder's own answer, not by an assumption).

Pure: no `docker`, no widgets.
"""

from __future__ import annotations

from .i18n import N_, _
from .text import tr

import enum
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from .build import BuildRecord, CacheStatus
from .dockerfile import DockerfileLine, parse_dockerfile
from .errors import LayerlabError
from .model import truncate


class Change(enum.Enum):
    EDIT = "edit"  # the file's content changes
    TOUCH = "touch"  # only its modification time changes
    IGNORED = "ignored"  # a file that .dockerignore excludes changes
    REORDERED = "reordered"  # the same edit, on a Dockerfile that copies it last
    CHMOD = "chmod"  # only its mode changes (its bytes and times stay)


@dataclass(frozen=True)
class Scenario:
    key: str
    change: Change
    title: str
    what_you_do: str  # one sentence shown above the prediction
    file: str  # the file the scenario changes
    dockerfile: str = "naive"  # which Dockerfile of the lesson: "naive" or "reordered"


SCENARIOS: dict[str, Scenario] = {
    s.key: s
    for s in (
        Scenario("edit", Change.EDIT, N_("Edit a file"),
                 N_("message.txt gets a new line (its content changes)."), "message.txt"),
        Scenario("touch", Change.TOUCH, N_("Only touch a file (the mtime trap)"),
                 N_("message.txt is touched: its modification time changes, its bytes do not."), "message.txt"),
        Scenario("ignored", Change.IGNORED, N_("Edit a file that .dockerignore excludes"),
                 N_("NOTES.md gets a new line; .dockerignore lists NOTES.md."), "NOTES.md"),
        Scenario("reordered", Change.REORDERED, N_("Edit app.py, with the Dockerfile reordered"),
                 N_("app.py gets a new line; this Dockerfile copies what `make` needs first and app.py last."),
                 "app.py", dockerfile="reordered"),
        Scenario("chmod", Change.CHMOD, N_("Only change a file's mode"),
                 N_("message.txt gets mode 600 instead of 644 (`chmod 600 message.txt`): its bytes stay the same."),
                 "message.txt"),
    )
}


def scenario(key: str) -> Scenario:
    try:
        return SCENARIOS[key]
    except KeyError:
        raise LayerlabError(
            _("There is no exercise scenario {key}.").format(key=repr(key)),
            _("Choose one of: {keys}.").format(keys=", ".join(SCENARIOS)),
        ) from None


def predictable_steps(dockerfile: str) -> list[DockerfileLine]:
    """The steps a learner predicts: every instruction but FROM (the base is never built)."""
    return [i for i in parse_dockerfile(dockerfile) if i.keyword != "FROM"]


def normalize_answer(value) -> CacheStatus:
    if isinstance(value, CacheStatus) and value in (CacheStatus.HIT, CacheStatus.MISS):
        return value
    text = str(value or "").strip().lower()
    if text in ("hit", "h", "cached", "cache", "reused"):
        return CacheStatus.HIT
    if text in ("miss", "m", "rebuilt", "run", "built"):
        return CacheStatus.MISS
    raise LayerlabError(_("{value} is not an answer here.").format(value=repr(value)),
                        _("Answer HIT or MISS for each step."))


def check_prediction(dockerfile: str, answers: Mapping[int, object] | Sequence[object]) -> dict[int, CacheStatus]:
    """Answers keyed by step number (FROM is step 1), or a list in step order without FROM."""
    steps = predictable_steps(dockerfile)
    numbers = {i.line: n for n, i in enumerate(parse_dockerfile(dockerfile), start=1)}
    wanted = [numbers[i.line] for i in steps]
    if isinstance(answers, Mapping):
        given = {int(k): normalize_answer(v) for k, v in answers.items() if v not in (None, "")}
    else:
        answers = list(answers)
        if len(answers) != len(wanted):
            raise LayerlabError(
                _("{count} answer(s) for {steps} steps.").format(count=len(answers), steps=len(wanted)),
                _("Give one HIT or MISS per step after FROM ({steps} in all).").format(steps=len(wanted)),
            )
        given = {number: normalize_answer(value) for number, value in zip(wanted, answers)}
    missing = [n for n in wanted if n not in given]
    if missing:
        raise LayerlabError(
            _("No prediction yet for step(s) {steps}.").format(steps=", ".join(map(str, missing))),
            _("Choose HIT or MISS for every step, then build."),
        )
    return {n: given[n] for n in wanted}


@dataclass(frozen=True)
class Verdict:
    step: int
    instruction: str
    predicted: CacheStatus
    actual: CacheStatus
    explanation: str = ""

    @property
    def scored(self) -> bool:
        return self.actual in (CacheStatus.HIT, CacheStatus.MISS)

    @property
    def right(self) -> bool:
        return not self.scored or self.predicted is self.actual


@dataclass(frozen=True)
class Score:
    builder: str
    scenario: Scenario
    verdicts: tuple[Verdict, ...]
    failed: str = ""  # the build itself failed (message)

    @property
    def right(self) -> int:
        return sum(1 for v in self.verdicts if v.scored and v.right)

    @property
    def total(self) -> int:
        return sum(1 for v in self.verdicts if v.scored)

    @property
    def perfect(self) -> bool:
        return not self.failed and self.right == self.total

    def summary(self) -> str:
        lines = [_("{builder}, {title}: {right}/{total} right").format(
            builder=self.builder, title=tr(self.scenario.title), right=self.right, total=self.total)]
        if self.failed:
            lines.append("  " + _("the build failed: {message}").format(message=self.failed))
        for v in self.verdicts:
            step = f"  {v.step}. {truncate(v.instruction, 40):<40} "
            if not v.scored:
                lines.append(step + _("(not a build step for this builder)"))
                continue
            mark = _("ok") if v.right else _("WRONG")
            lines.append(step + _("you: {predicted:<4}  engine: {actual:<4}  {mark:<5}").format(
                predicted=v.predicted.value, actual=v.actual.value, mark=mark))
            if not v.right:
                lines.append(f"       {v.explanation}")
        return "\n".join(lines)


def score(scenario_: Scenario, predictions: Mapping[int, CacheStatus], record: BuildRecord) -> Score:
    """Compare predictions with the build the engine just did, and explain each wrong one."""
    if record.failure is not None:
        return Score(record.builder.value, scenario_, (), failed=record.failure.message)
    first_miss = record.first_rebuilt()
    verdicts = []
    for number, predicted in predictions.items():
        step = record.step(number)
        actual = step.status
        explanation = "" if predicted is actual else explain(scenario_, record, number, first_miss.index if first_miss else None)
        verdicts.append(Verdict(number, step.instruction, predicted, actual, explanation))
    return Score(record.builder.value, scenario_, tuple(verdicts))


def explain(scenario_: Scenario, record: BuildRecord, number: int, first_miss: int | None) -> str:
    """Why the engine did what it did at step `number` (for a wrong prediction)."""
    step = record.step(number)
    builder = "BuildKit" if record.builder.value == "BuildKit" else _("the classic builder")
    file = scenario_.file
    if step.status is CacheStatus.HIT:
        if step.keyword not in ("COPY", "ADD"):
            return _(
                "This {keyword} step reads no file of the build context: it is a hit because "
                "its parent step was reused and its instruction text is the same as before."
            ).format(keyword=step.keyword)
        if scenario_.change is Change.TOUCH:
            return _(
                "Measured: {builder} reused this step although {file} was touched. "
                "Its cache key for a COPY or ADD is a checksum of the files' contents and metadata "
                "(mode, owner), which leaves out the modification time."
            ).format(builder=builder, file=file)
        if scenario_.change is Change.CHMOD:
            return _(
                "Measured: {builder} reused this step although the mode of {file} changed: "
                "this builder's checksum left the mode out."
            ).format(builder=builder, file=file)
        if scenario_.change is Change.IGNORED:
            return _(
                ".dockerignore keeps {file} out of the build context: {builder} never "
                "sees the change, so nothing it checksums changed."
            ).format(builder=builder, file=file)
        return _(
            "Nothing this step depends on changed, and every step above it was reused: "
            "same parent + same instruction + same files = a cache hit."
        )
    if step.status is CacheStatus.MISS:
        if first_miss is not None and number > first_miss:
            return _(
                "Step {first_miss} above it was rebuilt, so this step has a new parent layer. A step's "
                "cache key includes its parent: from the first rebuilt step on, every step is rebuilt, "
                "even one whose own files did not change."
            ).format(first_miss=first_miss)
        if scenario_.change is Change.TOUCH:
            return _(
                "Measured: {builder} rebuilt this step after {file} was only touched: "
                "this builder counted the modification time."
            ).format(builder=builder, file=file)
        if scenario_.change is Change.CHMOD:
            return _(
                "Measured: {builder} rebuilt this step after only the mode of {file} changed: "
                "a COPY's cache key covers its files' metadata (mode, owner), not only their bytes."
            ).format(builder=builder, file=file)
        return _(
            "This is the first step that reads {file}: its checksum changed, so the "
            "cache has no entry for it and the step runs again."
        ).format(file=file)
    return _("{builder} reported {status} for this step.").format(
        builder=builder[0].upper() + builder[1:], status=step.status.label)


@dataclass
class MeasuredTrap:
    """What one builder did after a file was only touched (measured, not assumed)."""

    builder: str
    statuses: dict[str, str] = field(default_factory=dict)

    @property
    def busted(self) -> bool:
        return any(value == CacheStatus.MISS.value for value in self.statuses.values())

    def sentence(self) -> str:
        if self.busted:
            rebuilt = ", ".join(k for k, v in self.statuses.items() if v == CacheStatus.MISS.value)
            return _("{builder}: touching the file busted the cache ({rebuilt} rebuilt).").format(
                builder=self.builder, rebuilt=rebuilt)
        return _("{builder}: touching the file changed nothing: every step was a cache hit.").format(
            builder=self.builder)


def measured_trap(record: BuildRecord) -> MeasuredTrap:
    return MeasuredTrap(
        builder=record.builder.value,
        statuses={s.instruction: s.status.value for s in record.lesson_steps if s.keyword != "FROM"},
    )


# -- the exercise's build context ---------------------------------------------------------

REORDERED_DOCKERFILE = """\
FROM {base}
COPY Makefile banner.py message.txt /app/
RUN make -C /app
COPY app.py /app/
CMD python /app/app.py
"""
NOTES = "Notes for the team: not part of the image (.dockerignore keeps this file out).\n"
DOCKERIGNORE = "# Kept out of the build context: the builder never sees these files.\nNOTES.md\nDockerfile\n.dockerignore\n"


def write_exercise_context(folder, base_reference: str, variant: str = "naive") -> str:
    """The sample app, NOTES.md and a .dockerignore; the seed's Dockerfile or the reordered one."""
    from pathlib import Path

    from .sample_app import write_sample_context

    folder = Path(folder)
    dockerfile = write_sample_context(folder, base_reference)
    (folder / "NOTES.md").write_text(NOTES, encoding="utf-8")
    (folder / ".dockerignore").write_text(DOCKERIGNORE, encoding="utf-8")
    if variant == "reordered":
        dockerfile = REORDERED_DOCKERFILE.format(base=base_reference)
        (folder / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    elif variant != "naive":
        raise LayerlabError(_("Unknown Dockerfile variant {variant}.").format(variant=repr(variant)),
                            _("Use 'naive' or 'reordered'."))
    return dockerfile


RUN_FILE = "run-id.txt"


def mark_run(folder, learner: str, token: str) -> str:
    """Make a build context unique to this learner and this run; returns the file's name.

    On a shared engine the build cache is shared: BuildKit keys a step by the contents of its
    inputs (the base's layers, not the base's name), so another learner's build of the same
    files is a HIT for you. A small file that `COPY . /app` takes along, holding the learner
    id and a fresh `token`, makes the steps whose point is a MISS miss for this run alone.
    Nothing prints it: the lesson's outputs stay the same from run to run.
    """
    from .workspace import build_context

    folder = build_context(folder)
    if not token:
        raise LayerlabError("mark_run needs a fresh token.", "Pass secrets.token_hex(6).")
    (folder / RUN_FILE).write_text(f"learner {learner}, run {token}\n", encoding="utf-8")
    return RUN_FILE


def apply_change(folder, scenario_: Scenario, token: str) -> str:
    """Make the scenario's change in the context folder; returns what was done, in words.

    `token` makes an edit new content every time (a build cache that outlives the lesson,
    as BuildKit's does, must not have seen it before); it is not shown.
    """
    import os
    import time
    from pathlib import Path

    path = Path(folder) / scenario_.file
    if not path.exists():
        raise LayerlabError(_("{path} does not exist.").format(path=path), _("Write the exercise's build context first."))
    if scenario_.change is Change.TOUCH:
        before = path.read_bytes()
        later = max(time.time(), path.stat().st_mtime + 2)
        os.utime(path, (later, later))
        assert path.read_bytes() == before
        return _("touched {file}: its modification time moved on, its bytes are the same").format(file=scenario_.file)
    if scenario_.change is Change.CHMOD:
        before = path.read_bytes()
        os.chmod(path, 0o600)
        assert path.read_bytes() == before
        return _("chmod 600 {file}: its mode changed, its bytes are the same").format(file=scenario_.file)
    comment = "#" if path.suffix == ".py" else ""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"{comment + ' ' if comment else ''}edited ({token})\n")
    return _("appended a line to {file}").format(file=scenario_.file)
