#!/usr/bin/env python3
"""Edit a notebook catalog as plain text (for translators who prefer that to a PO editor).

    scripts/catalog-text.py dump notebooks/ko/catalogs/02-copy-on-write.po > 02.txt
    ... replace each block's English by its translation ...
    scripts/catalog-text.py fill notebooks/ko/catalogs/02-copy-on-write.po 02.txt

A block is a line `=== <msgctxt>` (optionally followed by ` [seed-quote]`) and the text up to
the next such line; the text's last newline is not part of it. `dump` writes the current
translation where there is one, else the English; `fill` sets each block's text as the
translation of that context (leaving the fingerprint for `translate extract` to renew) and clears
the fuzzy flag. Unknown contexts are an error.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "widgets"))
from layerlab.edition import catalog as catalogs  # noqa: E402

HEAD = re.compile(r"^=== (\S+)( \[seed-quote\])?$")


def dump(path: Path) -> None:
    for context, message in catalogs.by_context(catalogs.read(path)).items():
        flag = " [seed-quote]" if catalogs.SEED_QUOTE in message.flags else ""
        sys.stdout.write(f"=== {context}{flag}\n{message.string or message.id}\n")


def blocks(text: str) -> list[tuple[str, bool, str]]:
    found, current, lines = [], None, []
    for line in text.splitlines(keepends=True):
        match = HEAD.match(line.rstrip("\n"))
        if match:
            if current:
                found.append((*current, "".join(lines)))
            current, lines = (match.group(1), bool(match.group(2))), []
        elif current:
            lines.append(line)
    if current:
        found.append((*current, "".join(lines)))
    return [(c, q, body[:-1] if body.endswith("\n") else body) for c, q, body in found]


def fill(path: Path, text_path: Path) -> None:
    catalog = catalogs.read(path)
    known = catalogs.by_context(catalog)
    for context, quote, body in blocks(text_path.read_text(encoding="utf-8")):
        if context not in known:
            raise SystemExit(f"{text_path}: no unit {context} in {path}")
        message = known[context]
        message.string = body
        message.flags.discard("fuzzy")
        message.flags.discard(catalogs.SEED_QUOTE)
        if quote:
            message.flags.add(catalogs.SEED_QUOTE)
    catalogs.write(catalog, path)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "dump":
        dump(Path(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "fill":
        fill(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        raise SystemExit(__doc__)
