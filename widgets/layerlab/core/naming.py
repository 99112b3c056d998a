"""Labels and names for everything the course creates.

Every image, container, volume and network the course makes carries three labels
(`layerlab.course`, `layerlab.lesson`, `layerlab.learner`) and a name that contains the
learner's id, so that two learners sharing one engine never collide and cleanup can remove
exactly what the course made, and nothing else.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
from dataclasses import dataclass
from typing import Mapping

COURSE = "layerlab"
LABEL_COURSE = "layerlab.course"
LABEL_LESSON = "layerlab.lesson"
LABEL_LEARNER = "layerlab.learner"
#: Extra labels on prepared base images. Images built FROM a base inherit them, so the
#: lesson label (which every course build sets again) is what tells a base from the rest.
LABEL_BASE = "layerlab.base"
LABEL_BUILT_FROM = "layerlab.base.built-from"
LABEL_RECIPE = "layerlab.base.recipe"

#: The lesson id under which `prepare` files base images.
BASE_LESSON = "base"

LEARNER_ENV = "LAYERLAB_LEARNER"

_NAME_OK = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


def sanitize(raw: str) -> str:
    """Make `raw` usable inside image and container names (lower case, [a-z0-9._-]).

    When sanitizing changes the text, a short hash of the original is appended so that two
    different ids ("Bob" and "bob") never map to the same name.
    """
    cleaned = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")
    if not cleaned:
        cleaned = "learner"
    if cleaned != raw:
        cleaned = f"{cleaned}-{hashlib.sha256(raw.encode()).hexdigest()[:6]}"
    return cleaned


def learner_id(environ: Mapping[str, str] | None = None) -> str:
    """The learner's id: $LAYERLAB_LEARNER, or else the OS user name."""
    environ = os.environ if environ is None else environ
    raw = environ.get(LEARNER_ENV, "").strip()
    if not raw:
        try:
            raw = getpass.getuser()
        except Exception:  # no user name in some containers
            raw = f"uid{os.getuid()}"
    return sanitize(raw)


def check_lesson_id(lesson: str) -> str:
    if not _NAME_OK.match(lesson):
        raise ValueError(f"lesson id {lesson!r} must be lower case letters, digits, '.', '_' or '-'")
    return lesson


@dataclass(frozen=True)
class Namespace:
    """The names and labels one learner uses for one lesson."""

    learner: str
    lesson: str

    def __post_init__(self) -> None:
        check_lesson_id(self.lesson)
        if not _NAME_OK.match(self.learner):
            raise ValueError(f"learner id {self.learner!r} is not sanitized; use layerlab.core.naming.sanitize")

    @classmethod
    def for_lesson(cls, lesson: str, environ: Mapping[str, str] | None = None) -> "Namespace":
        return cls(learner=learner_id(environ), lesson=lesson)

    def labels(self, **extra: str) -> dict[str, str]:
        labels = {
            LABEL_COURSE: COURSE,
            LABEL_LESSON: self.lesson,
            LABEL_LEARNER: self.learner,
        }
        labels.update(extra)
        return labels

    def label_filters(self) -> list[str]:
        """Filters for the engine's list calls: this learner's objects of this lesson."""
        return [f"{LABEL_COURSE}={COURSE}", f"{LABEL_LEARNER}={self.learner}", f"{LABEL_LESSON}={self.lesson}"]

    @property
    def repository_prefix(self) -> str:
        return f"{COURSE}-{self.learner}/"

    @property
    def container_prefix(self) -> str:
        return f"{COURSE}-{self.learner}-"

    def image(self, name: str, tag: str = "latest") -> str:
        """An image reference in the learner's own repository namespace."""
        check_lesson_id(name)
        return f"{self.repository_prefix}{self.lesson}-{name}:{tag}"

    def container(self, name: str) -> str:
        """A container name, unique even when the same lesson runs twice at once."""
        import secrets  # here: only a run names a container

        check_lesson_id(name)
        return f"{COURSE}-{self.learner}-{self.lesson}-{name}-{secrets.token_hex(3)}"

    def volume(self, name: str) -> str:
        check_lesson_id(name)
        return f"{COURSE}-{self.learner}-{self.lesson}-{name}"

    network = volume


def learner_filters(learner: str) -> list[str]:
    """Filters for everything one learner's course made, every lesson."""
    return [f"{LABEL_COURSE}={COURSE}", f"{LABEL_LEARNER}={learner}"]


def is_ours(labels: Mapping[str, str] | None, learner: str, lesson: str | None = None) -> bool:
    """True when an object's labels say this course made it for this learner (and lesson)."""
    labels = labels or {}
    if labels.get(LABEL_COURSE) != COURSE or labels.get(LABEL_LEARNER) != learner:
        return False
    return lesson is None or labels.get(LABEL_LESSON) == lesson


#: The file the course adds to a classic build's context: the learner's Dockerfile plus one
#: `LABEL` line. The context's `.dockerignore` lists it, so the daemon reads it and drops it
#: (the docker CLI does the same for `docker build -f - .`).
COURSE_DOCKERFILE = ".layerlab.Dockerfile"

_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9._:/@+-]*$")


def label_instruction(labels: Mapping[str, str]) -> str:
    """One `LABEL` instruction for all of the course's labels, the learner's last.

    The classic builder turns each label it is handed through the API into a `LABEL` step and
    history entry of its own; one instruction in the Dockerfile makes one entry. Keys stay
    unquoted (so the entry reads `LABEL layerlab.…`); a value is quoted only when it must be."""
    ordered = [k for k in labels if k != LABEL_LEARNER] + ([LABEL_LEARNER] if LABEL_LEARNER in labels else [])
    parts = []
    for key in ordered:
        if not _PLAIN_VALUE.match(key):
            raise ValueError(f"label key {key!r} would need quoting")
        value = labels[key]
        parts.append(f"{key}={value}" if _PLAIN_VALUE.match(value) and value else f"{key}={_quoted(value)}")
    return "LABEL " + " ".join(parts)


def _quoted(value: str) -> str:
    """A Dockerfile double-quoted word: backslash, quote and `$` (which would expand) escaped."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("\n", " ")
    return f'"{escaped}"'


def course_dockerignore(existing: str | None) -> str:
    """The context's `.dockerignore` with the course's Dockerfile added, as the docker CLI
    amends it for a Dockerfile from stdin (with none, it lists itself too)."""
    text = existing if existing is not None else ".dockerignore"
    return f"{text}\n{COURSE_DOCKERFILE}\n"
