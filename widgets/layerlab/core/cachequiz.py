"""Predict, then build: the build-cache exercise, scored against what the engine did.

A scenario is one change to a build context (edit a file, only touch it, edit a file that
`.dockerignore` keeps out, or edit a file after the Dockerfile was reordered). The learner
predicts HIT or MISS for every step; the build runs; `score` compares step by step and
explains each wrong answer in a sentence or two, from what the engine *measured* (so the
mtime trap is explained by the builder's own answer, not by an assumption).

Pure: no `docker`, no widgets.
"""

from __future__ import annotations

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
        Scenario("edit", Change.EDIT, "Edit a file",
                 "message.txt gets a new line (its content changes).", "message.txt"),
        Scenario("touch", Change.TOUCH, "Only touch a file (the mtime trap)",
                 "message.txt is touched: its modification time changes, its bytes do not.", "message.txt"),
        Scenario("ignored", Change.IGNORED, "Edit a file that .dockerignore excludes",
                 "NOTES.md gets a new line; .dockerignore lists NOTES.md.", "NOTES.md"),
        Scenario("reordered", Change.REORDERED, "Edit app.py, with the Dockerfile reordered",
                 "app.py gets a new line; this Dockerfile copies what `make` needs first and app.py last.",
                 "app.py", dockerfile="reordered"),
        Scenario("chmod", Change.CHMOD, "Only change a file's mode",
                 "message.txt gets mode 600 instead of 644 (`chmod 600 message.txt`): its bytes stay the same.",
                 "message.txt"),
    )
}


def scenario(key: str) -> Scenario:
    try:
        return SCENARIOS[key]
    except KeyError:
        raise LayerlabError(
            f"There is no exercise scenario {key!r}.", f"Choose one of: {', '.join(SCENARIOS)}."
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
    raise LayerlabError(f"{value!r} is not an answer here.", "Answer HIT or MISS for each step.")


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
                f"{len(answers)} answer(s) for {len(wanted)} steps.",
                f"Give one HIT or MISS per step after FROM ({len(wanted)} in all).",
            )
        given = {number: normalize_answer(value) for number, value in zip(wanted, answers)}
    missing = [n for n in wanted if n not in given]
    if missing:
        raise LayerlabError(
            f"No prediction yet for step(s) {', '.join(map(str, missing))}.",
            "Choose HIT or MISS for every step, then build.",
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
        lines = [f"{self.builder}, {tr(self.scenario.title)}: {self.right}/{self.total} right"]
        if self.failed:
            lines.append(f"  the build failed: {self.failed}")
        for v in self.verdicts:
            if not v.scored:
                lines.append(f"  {v.step}. {truncate(v.instruction, 40):<40} (not a build step for this builder)")
                continue
            mark = "ok   " if v.right else "WRONG"
            lines.append(
                f"  {v.step}. {truncate(v.instruction, 40):<40} you: {v.predicted.value:<4}  "
                f"engine: {v.actual.value:<4}  {mark}"
            )
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
    builder = "BuildKit" if record.builder.value == "BuildKit" else f"the {record.builder.value}"
    if step.status is CacheStatus.HIT:
        if step.keyword not in ("COPY", "ADD"):
            return (
                f"This {step.keyword} step reads no file of the build context: it is a hit because "
                "its parent step was reused and its instruction text is the same as before."
            )
        if scenario_.change is Change.TOUCH:
            return (
                f"Measured: {builder} reused this step although {scenario_.file} was touched. "
                "Its cache key for a COPY or ADD is a checksum of the files' contents and metadata "
                "(mode, owner), which leaves out the modification time."
            )
        if scenario_.change is Change.CHMOD:
            return (
                f"Measured: {builder} reused this step although the mode of {scenario_.file} changed: "
                "this builder's checksum left the mode out."
            )
        if scenario_.change is Change.IGNORED:
            return (
                f".dockerignore keeps {scenario_.file} out of the build context: {builder} never "
                "sees the change, so nothing it checksums changed."
            )
        return (
            "Nothing this step depends on changed, and every step above it was reused: "
            "same parent + same instruction + same files = a cache hit."
        )
    if step.status is CacheStatus.MISS:
        if first_miss is not None and number > first_miss:
            return (
                f"Step {first_miss} above it was rebuilt, so this step has a new parent layer. A step's "
                "cache key includes its parent: from the first rebuilt step on, every step is rebuilt, "
                "even one whose own files did not change."
            )
        if scenario_.change is Change.TOUCH:
            return (
                f"Measured: {builder} rebuilt this step after {scenario_.file} was only touched: "
                "this builder counted the modification time."
            )
        if scenario_.change is Change.CHMOD:
            return (
                f"Measured: {builder} rebuilt this step after only the mode of {scenario_.file} changed: "
                "a COPY's cache key covers its files' metadata (mode, owner), not only their bytes."
            )
        return (
            f"This is the first step that reads {scenario_.file}: its checksum changed, so the "
            "cache has no entry for it and the step runs again."
        )
    return f"{builder[0].upper() + builder[1:]} reported {step.status.value} for this step."


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
            return f"{self.builder}: touching the file busted the cache ({rebuilt} rebuilt)."
        return f"{self.builder}: touching the file changed nothing: every step was a cache hit."


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
        raise LayerlabError(f"Unknown Dockerfile variant {variant!r}.", "Use 'naive' or 'reordered'.")
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
        raise LayerlabError(f"{path} does not exist.", "Write the exercise's build context first.")
    if scenario_.change is Change.TOUCH:
        before = path.read_bytes()
        later = max(time.time(), path.stat().st_mtime + 2)
        os.utime(path, (later, later))
        assert path.read_bytes() == before
        return f"touched {scenario_.file}: its modification time moved on, its bytes are the same"
    if scenario_.change is Change.CHMOD:
        before = path.read_bytes()
        os.chmod(path, 0o600)
        assert path.read_bytes() == before
        return f"chmod 600 {scenario_.file}: its mode changed, its bytes are the same"
    comment = "#" if path.suffix == ".py" else ""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"{comment + ' ' if comment else ''}edited ({token})\n")
    return f"appended a line to {scenario_.file}"
