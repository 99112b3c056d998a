"""A Dockerfile as a list of lines: continuation lines joined, comments and blank lines left out.

`instruction_keyword` is the one place that reads an instruction's keyword (`RUN`, `COPY`...)
from its text; every other module asks it.

Pure: no `docker`, no widgets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Instructions that BuildKit turns into a build step (a vertex); the rest only go into the
#: image's configuration.
BUILDKIT_STEP_KEYWORDS = frozenset({"FROM", "RUN", "COPY", "ADD", "WORKDIR"})
#: What `instruction_keyword` answers for a text with no word in it.
NO_KEYWORD = "?"


def instruction_keyword(text: str) -> str:
    """The keyword of an instruction, upper case: `run make` -> `RUN`; `?` for empty text.

    >>> instruction_keyword("copy . /app"), instruction_keyword("  ")
    ('COPY', '?')
    """
    words = text.split(None, 1)
    return words[0].upper() if words else NO_KEYWORD


@dataclass(frozen=True)
class DockerfileLine:
    """One instruction of a Dockerfile, continuation lines joined."""

    line: int  # 1-based line where it starts
    keyword: str
    text: str  # as written, on one line

    @classmethod
    def of(cls, line: int, text: str) -> "DockerfileLine":
        return cls(line=line, keyword=instruction_keyword(text), text=text)

    @property
    def makes_buildkit_step(self) -> bool:
        return self.keyword in BUILDKIT_STEP_KEYWORDS


_CONTINUATION = re.compile(r"\\\s*$")


def parse_dockerfile(text: str) -> list[DockerfileLine]:
    """The instructions of a Dockerfile (comments, blank lines and directives left out).

    >>> [i.text for i in parse_dockerfile("FROM a\\nRUN x \\\\\\n  && y\\n# note\\nCMD z\\n")]
    ['FROM a', 'RUN x && y', 'CMD z']
    """
    instructions: list[DockerfileLine] = []
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
        instructions.append(DockerfileLine.of(start, joined))
    if pending:
        joined = " ".join(part for part in pending if part)
        instructions.append(DockerfileLine.of(start, joined))
    return instructions
