"""`python -m layerlab translate`: the Korean edition, made from the English notebooks.

    translate extract [NOTEBOOK...]   bring each catalog (notebooks/ko/catalogs/*.po) in step
                                      with its English notebook: new units, changed ones fuzzy
    translate build [NOTEBOOK...]     write each twin (notebooks/ko/NN-*.ipynb) from its English
                                      notebook and catalog, then run it from the lesson's
                                      recording (no engine) to store its outputs
    translate check                   list the stale units and the twins not built from today's
                                      English and catalogs; exit 1 if there is any

A maintainer edits the English notebook, runs `extract`, mends the fuzzy entries in the
catalog, and runs `build`. The tests run `check`'s functions.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..core.errors import LayerlabError
from ..replay.store import Recording, recording_path
from ..replay.fingerprint import notebook_lesson_id

EDITION = "ko"


def add_parser(commands):
    translate = commands.add_parser("translate", help="keep the Korean edition (notebooks/ko) in step with the English")
    translate.add_argument("action", choices=("extract", "build", "check"))
    translate.add_argument("notebooks", nargs="*", help="English notebooks (default: every numbered one)")
    translate.add_argument("--notebook-dir", default="notebooks", help="where the English lessons are")
    translate.add_argument("--no-execute", action="store_true", help="build: write the twins without running them")
    translate.add_argument("--timeout", type=int, default=600, help="build: seconds a cell may take")
    return translate


def english_notebooks(args) -> list[Path]:
    folder = Path(args.notebook_dir)
    paths = [Path(p) for p in args.notebooks] or sorted(folder.glob("[0-9][0-9]-*.ipynb"))
    if not paths:
        raise LayerlabError(f"No notebooks in {folder}.", "Run from the course folder, or name them.")
    return paths


def run(args) -> int:
    import nbformat

    from ..edition import catalog as catalogs

    paths = english_notebooks(args)
    edition = paths[0].parent / EDITION
    if args.action == "check":
        problems = check(paths, edition)
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem(s) in the {EDITION} edition of {len(paths)} notebooks")
        return 1 if problems else 0
    for path in paths:
        english = nbformat.read(path, as_version=4)
        target = catalogs.catalog_path(edition, path)
        catalog = catalogs.read(target)
        if args.action == "extract":
            catalog, counts = catalogs.extract(english, catalog)
            catalogs.write(catalog, target)
            print(f"{target}: " + ", ".join(f"{n} {what}" for what, n in counts.items()))
        else:
            build_one(path, english, catalog, edition, args)
    return 0


def twin_of(path: Path, english, catalog, edition: Path):
    from ..edition import catalog as catalogs
    from ..edition.twin import build

    return build(english, catalogs.translations(catalog), language=EDITION,
                 source=os.path.relpath(path, edition), provenance=provenance(english))


def build_one(path: Path, english, catalog, edition: Path, args) -> None:
    import nbformat

    from ..edition import catalog as catalogs

    problems = catalogs.stale(english, catalog, path.name)
    if problems:
        raise LayerlabError(f"{len(problems)} unit(s) of {path.name} are not translated or are stale; first: {problems[0]}",
                            f"Run `python -m layerlab translate extract {path}`, translate them, then build again.")
    twin = twin_of(path, english, catalog, edition)
    target = edition / path.name
    started = time.monotonic()
    if not args.no_execute:
        execute(twin, edition, args.timeout)
    if target.exists() and same_twin(nbformat.read(target, as_version=4), twin):
        print(f"{target}: unchanged ({len(twin.cells)} cells, {time.monotonic() - started:.0f} s)")
        return
    nbformat.write(twin, target)
    print(f"{target}: {len(twin.cells)} cells, {time.monotonic() - started:.0f} s")


def same_twin(kept, built) -> bool:
    """The same sources and outputs, apart from what differs on every run (when each cell ran,
    the ids of widget models, how a stream was cut into chunks, the port a loopback server got):
    a rebuild that changes nothing leaves the file as it was."""
    import re

    def essence(notebook):
        cells = []
        for cell in notebook.cells:
            outputs = []
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream":
                    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", output.get("text", ""))
                    if outputs and outputs[-1][0] == ("stream", output.get("name")):
                        outputs[-1] = (outputs[-1][0], outputs[-1][1] + text)
                    else:
                        outputs.append((("stream", output.get("name")), text))
                    continue
                data = dict(output.get("data", {}))
                data.pop("application/vnd.jupyter.widget-view+json", None)
                outputs.append((output.get("output_type"), repr(sorted(data.items()))))
            cells.append((cell.cell_type, cell.get("id"), cell.source, outputs))
        return cells

    return essence(kept) == essence(built)


def provenance(english) -> str | None:
    """The twin's first cell, in its language, from the recording its outputs replay."""
    from .record import environ_for, provenance_text

    lesson = notebook_lesson_id(english)
    path = recording_path(lesson) if lesson else None
    if path is None or not path.exists():
        return None
    with environ_for(set_={"LAYERLAB_LANG": EDITION}):
        return provenance_text(Recording.load(path).header, replayed=True)


def execute(twin, edition: Path, timeout: int) -> None:
    """Run the twin in a fresh kernel from its lesson's recording, with no engine in sight."""
    from nbclient import NotebookClient

    from .record import environ_for

    hidden = {"LAYERLAB_SOURCE": "replay", "DOCKER_HOST": "unix:///nonexistent/layerlab-engine-hidden.sock",
              "LAYERLAB_REPLAY_SPEED": "instant", "LAYERLAB_PROGRESS": "off", "LAYERLAB_INDEX_CACHE": "off"}
    with environ_for(set_=hidden, unset=("LAYERLAB_RECORD", "LAYERLAB_PREDICTIONS", "LAYERLAB_LANG")):
        NotebookClient(twin, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(edition)}}).execute()


def check(paths: list[Path], edition: Path) -> list[str]:
    """Every stale unit, and every twin that is missing or not what its sources build."""
    import nbformat

    from ..edition import catalog as catalogs
    from ..edition.twin import sources

    problems: list[str] = []
    for path in paths:
        english = nbformat.read(path, as_version=4)
        catalog = catalogs.read(catalogs.catalog_path(edition, path))
        problems += [str(p) for p in catalogs.stale(english, catalog, path.name)]
        target = edition / path.name
        if not target.exists():
            problems.append(f"{target}: missing (python -m layerlab translate build {path})")
            continue
        built = sources(twin_of(path, english, catalog, edition))
        kept = sources(nbformat.read(target, as_version=4))
        if built != kept:
            differ = next((b[0] for b, k in zip(built, kept) if b != k), "(cell count)")
            problems.append(f"{target}: not built from today's English and catalog (first difference: cell {differ}); "
                            f"run `python -m layerlab translate build {path}`")
    return problems
