"""What a notebook offers for translation, and putting translations back.

A unit is one of:
    <cell id>/markdown     a whole markdown cell (the provenance cell is written, not translated)
    <cell id>/comment/<n>  the n-th comment of a code cell, without its `# ` (NBVAL markers stay)
    <cell id>/string/<n>   the n-th string literal passed straight to print(), as source code
                           (quotes and f-prefix included, so its placeholders are visible)

Code itself, commands, file names and what the package prints never are units: the package's
strings have their own catalog (layerlab/locale), Docker's output stays as Docker wrote it.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import io
import tokenize
from dataclasses import dataclass

PROVENANCE_TAG = "layerlab-provenance"
EDITION_TAG = "layerlab-edition"
_KEEP_COMMENTS = ("# NBVAL_",)


@dataclass(frozen=True)
class Unit:
    context: str   # "<cell id>/<kind>[/<n>]": where the unit lives
    text: str      # the English text

    @property
    def cell_id(self) -> str:
        return self.context.split("/")[0]

    @property
    def kind(self) -> str:
        return self.context.split("/")[1]

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.text)


def fingerprint(text: str) -> str:
    """A short hash of an English text: what its translation was made from."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def is_generated(cell) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    return PROVENANCE_TAG in tags or EDITION_TAG in tags


def _comments(source: str) -> list[tuple[int, int, str]]:
    """(line, column, text without '# ') of each translatable comment, in order."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and not token.string.startswith(_KEEP_COMMENTS):
            text = token.string[1:].lstrip() if token.string.startswith("# ") or token.string == "#" else token.string[1:]
            found.append((token.start[0], token.start[1], text))
    return found


def _printed_strings(source: str) -> list[ast.expr]:
    """The string literals (plain and f-strings) given straight to print(), in source order."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
            found += [a for a in node.args if isinstance(a, ast.JoinedStr)
                      or (isinstance(a, ast.Constant) and isinstance(a.value, str))]
    return sorted(found, key=lambda n: (n.lineno, n.col_offset))


def units(notebook) -> list[Unit]:
    """Every unit of `notebook`, in reading order."""
    found = []
    for cell in notebook.cells:
        if is_generated(cell):
            continue
        if cell.cell_type == "markdown":
            found.append(Unit(f"{cell.id}/markdown", cell.source))
        elif cell.cell_type == "code":
            for n, (_line, _col, text) in enumerate(_comments(cell.source)):
                found.append(Unit(f"{cell.id}/comment/{n}", text))
            for n, node in enumerate(_printed_strings(cell.source)):
                found.append(Unit(f"{cell.id}/string/{n}", ast.get_source_segment(cell.source, node)))
    return found


def _offset(lines: list[str], line: int, column: int) -> int:
    return sum(len(text) for text in lines[: line - 1]) + column


def translate_code(source: str, cell_id: str, translated: dict[str, str]) -> str:
    """`source` with its comments and printed strings replaced by their translations
    (`translated` maps a unit's context to its translation; a missing one stays English)."""
    lines = source.splitlines(keepends=True)
    edits = []  # (start, end, replacement), as offsets into source
    for n, (line, column, _text) in enumerate(_comments(source)):
        new = translated.get(f"{cell_id}/comment/{n}")
        if new is not None:
            start = _offset(lines, line, column)
            end = start + len(lines[line - 1].rstrip("\r\n")) - column
            edits.append((start, end, "# " + new))
    for n, node in enumerate(_printed_strings(source)):
        new = translated.get(f"{cell_id}/string/{n}")
        if new is not None:
            start = _offset(lines, node.lineno, node.col_offset)
            end = _offset(lines, node.end_lineno, node.end_col_offset)
            edits.append((start, end, new))
    for start, end, new in sorted(edits, reverse=True):
        source = source[:start] + new + source[end:]
    return source


def literal_problem(english: str, translation: str) -> str | None:
    """Why `translation` cannot replace the printed literal `english` (None when it can): it
    must be one string literal of the same kind, with the same placeholders. Inside a
    placeholder only the words it prints may change: the two string branches of a conditional
    (`{'Debian packages' if ... else 'an official image'}`); everything else is code."""
    def words_masked(expression: ast.expr) -> str:
        expression = copy.deepcopy(expression)
        for node in ast.walk(expression):
            if isinstance(node, ast.IfExp):
                for branch in ("body", "orelse"):
                    value = getattr(node, branch)
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        setattr(node, branch, ast.Constant("…"))
        return ast.unparse(expression)

    def shape(text):
        node = ast.parse(text, mode="eval").body
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return "string", []
        if isinstance(node, ast.JoinedStr):
            return "f-string", sorted(words_masked(v.value) for v in node.values if isinstance(v, ast.FormattedValue))
        return type(node).__name__, []

    try:
        wanted, got = shape(english), shape(translation)
    except SyntaxError as error:
        return f"is not Python ({error.msg})"
    if wanted[0] != got[0]:
        return f"is a {got[0]}, the English is a {wanted[0]}"
    if wanted[1] != got[1]:
        return f"has the placeholders {got[1]}, the English has {wanted[1]}"
    return None
