"""The rule of the build cache, the one the course teaches.

Every step before the first changed one is a cache hit; from that step on, every step is
rebuilt (its cache key includes its parent). `cache_rule` says what the rule predicts,
`follows_cache_rule` and `rebuild_story` check one finished build against it.

Pure: no `docker`, no widgets.
"""

from __future__ import annotations

from typing import Sequence

from .build import BuildRecord, CacheStatus
from .dockerfile import instruction_keyword
from .i18n import _


def cache_rule(steps: Sequence[str], first_changed: int | None) -> list[CacheStatus]:
    """What the cache must do for `steps` (instructions) when step `first_changed` changed.

    Steps are 1-based; FROM is BASE. Before the first changed step: HIT. From it on: MISS.
    `first_changed=None`: nothing changed, every step is a HIT.
    """
    out = []
    for index, instruction in enumerate(steps, start=1):
        if instruction_keyword(instruction) == "FROM":
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
        return _("The build failed; the rule is about builds that finish.")
    if first is None:
        return _("Nothing changed: all {count} steps came from the cache (nothing ran).").format(count=len(steps))
    before = [s for s in steps if s.index < first.index]
    after = [s for s in steps if s.index >= first.index]
    rebuilt = [s for s in after if s.status is CacheStatus.MISS]
    holds = follows_cache_rule(record) and len(rebuilt) == len(after)
    reused = sum(1 for s in before if s.status is CacheStatus.HIT)
    lines = [
        _("First rebuilt step: {index} ({instruction}).").format(index=first.index, instruction=first.instruction),
        "  " + _("before it: {reused} of {total} step(s) from the cache: {steps}").format(
            reused=reused, total=len(before), steps=", ".join(s.instruction for s in before))
        if before else "  " + _("before it: only FROM (the base image is looked up, never built)"),
        "  " + _("from it on: {rebuilt} of {total} step(s) rebuilt: {steps}").format(
            rebuilt=len(rebuilt), total=len(after), steps=", ".join(s.instruction for s in after)),
        "  " + (_("the rule holds") if holds else _("the rule does NOT hold here")),
    ]
    return "\n".join(lines)


def step_reason(record: BuildRecord, index: int, previous: BuildRecord | None = None) -> str:
    """Why step `index` of `record` was reused or rebuilt, in a few words (for the drawings).

    `previous` is the same builder's build before this one, when there was one: a step whose
    text differs from the step at its place there changed itself; otherwise a first miss of a
    COPY or ADD means the files it reads changed."""
    step = record.step(index)
    if step.is_base:
        return _("the base image, looked up, never built")
    if step.status is CacheStatus.CONFIG:
        return _("config only: no layer, no step")
    if step.status is CacheStatus.HIT:
        if step.keyword in ("COPY", "ADD"):
            return _("reused: same parent, text and files")
        return _("reused: same parent and text")
    if step.status is not CacheStatus.MISS:
        return step.status.label
    first = record.first_rebuilt()
    if first is not None and first.index < index:
        return _("rebuilt: parent (step {index}) was rebuilt").format(index=first.index)
    if previous is None:
        return _("built: no earlier build to reuse")
    try:
        before = previous.step(index)
    except KeyError:
        return _("built: new since the last build")
    if before.instruction != step.instruction:
        return _("rebuilt: its text changed")
    if step.keyword in ("COPY", "ADD"):
        return _("rebuilt: the files it reads changed")
    return _("rebuilt: not in the cache (--no-cache?)")
