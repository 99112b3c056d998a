"""`python -m layerlab record`: run lessons against a live engine and keep what it answered.

Each notebook runs top to bottom in a fresh kernel (nbclient) with LAYERLAB_RECORD set;
the kernel records its engine traffic into the package's recordings folder, and the header
gets the fingerprint of the lesson's inputs, so that a stale recording is noticed.

The same run's outputs are written back into the notebook (they are what nbval compares,
live and in replay), under a first cell saying which engine they were recorded on and when:
a reader on GitHub or nbviewer sees that before running anything.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from ..core.engineinfo import EngineFacts
from ..core.build import BOTH_BUILDERS
from ..core.errors import LayerlabError
from ..core.i18n import _
from ..replay.fingerprint import lesson_fingerprint, notebook_lesson_id
from ..replay.store import PACKAGE_RECORDINGS, Recording


def add_parser(commands):
    record = commands.add_parser("record", help="run lessons live and store what the engine answered")
    record.add_argument("notebooks", nargs="*", help="notebooks to record (default: every numbered one)")
    record.add_argument("--notebook-dir", default="notebooks", help="where the lessons are (default: notebooks)")
    record.add_argument("--out", default=str(PACKAGE_RECORDINGS), help="where recordings go")
    record.add_argument("--timeout", type=int, default=900, help="seconds a cell may take")
    record.add_argument("--no-write", action="store_true",
                        help="keep the notebooks as they are (by default the run's outputs are stored in them)")
    return record


def run(args) -> int:
    import nbformat
    from nbclient import NotebookClient

    folder = Path(args.notebook_dir)
    paths = [Path(p) for p in args.notebooks] or sorted(folder.glob("[0-9][0-9]-*.ipynb"))
    if not paths:
        raise LayerlabError(f"No notebooks to record in {folder}.", "Run from the course folder, or name them.")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    prepare_outside_the_recording()
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        lesson = notebook_lesson_id(notebook)
        if lesson is None:
            raise LayerlabError(f"{path} does not call start_lesson(...).", "Every lesson starts with it.")
        started = time.monotonic()
        print(f"recording {path.name} (lesson {lesson}) ...", flush=True)
        # A recording is no learner's progress, and guesses given in advance would be stored as
        # the lesson's outputs: neither belongs in it.
        with environ_for(set_={"LAYERLAB_RECORD": str(out), "LAYERLAB_SOURCE": "live", "LAYERLAB_PROGRESS": "off"},
                         unset=("LAYERLAB_PREDICTIONS",)):
            NotebookClient(notebook, timeout=args.timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
        target = out / f"{lesson}.json.gz"
        recording = Recording.load(target)
        recording.header["notebook"] = path.name
        recording.header["fingerprint"] = lesson_fingerprint(path)
        recording.save(target)
        if not args.no_write:
            stamp_provenance(notebook, recording.header)
            nbformat.write(notebook, path)
        size = target.stat().st_size
        print(f"  {len(recording.exchanges)} exchanges, {size / 1000:.0f} kB, {time.monotonic() - started:.0f} s -> {target}")
    return 0


def prepare_outside_the_recording() -> None:
    """Provide the bases live, before any lesson is recorded.

    A replay cannot build a base (that asks the host for busybox or debootstrap), so it needs
    a recording in which lesson 00 found its bases in place. Preparing them here first, while
    nothing is being recorded, makes every recording replayable, even on a fresh engine.
    """
    from ..engine import connect
    from ..engine.prepare import prepare

    with environ_for(set_={"LAYERLAB_SOURCE": "live"}, unset=("LAYERLAB_RECORD",)):
        engine = connect()
        try:
            started = time.monotonic()
            for base in prepare(engine):
                print(f"base {base.key}: {base.source} ({time.monotonic() - started:.0f} s)", flush=True)
        finally:
            engine.close()


@contextlib.contextmanager
def environ_for(set_: dict, unset=()):
    """This process's environment (which the kernels it starts inherit) with `set_` set and
    `unset` removed, for the block only."""
    saved = dict(os.environ)
    for name in unset:
        os.environ.pop(name, None)
    os.environ.update(set_)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


PROVENANCE_TAG = "layerlab-provenance"


def provenance_text(header: dict, replayed: bool = False) -> str:
    """The first cell of a recorded notebook: where its stored outputs came from (`replayed`:
    a twin in another edition, whose outputs are a replay of its English source's recording)."""
    facts = header.get("facts", {})
    builders = _(BOTH_BUILDERS) if facts.get("buildkit") else _("the classic builder")
    try:
        flavour = EngineFacts.from_dict(facts).flavour
    except (KeyError, TypeError):
        flavour = "?"
    where = dict(version=facts.get("engine_version", "?"), flavour=flavour, builders=builders,
                 storage=facts.get("storage_driver", "?"), date=header.get("recorded_at", "?"))
    if replayed:
        first = _("> **The outputs below were recorded**, not computed on your machine: they replay what "
                  "`python -m layerlab record` recorded of the English edition of this lesson on Docker {version} "
                  "({flavour}, {storage} storage, {builders}) on {date}.").format(**where)
    else:
        first = _("> **The outputs below were recorded**, not computed on your machine: "
                  "`python -m layerlab record` ran this notebook on Docker {version} "
                  "({flavour}, {storage} storage, {builders}) on {date}.").format(**where)
    return first + "\n>\n" + _(
        "> Run the notebook to replace them: with a Docker engine every cell runs live on yours; "
        "with none (on Binder, for instance) the cells replay that recording, and the first output "
        "of the lesson says which of the two you got.")


def stamp_provenance(notebook, header: dict) -> None:
    """Put (or renew) the provenance cell at the top of `notebook`."""
    import nbformat

    cell = nbformat.v4.new_markdown_cell(provenance_text(header), metadata={"tags": [PROVENANCE_TAG]})
    cell.pop("id", None)
    first = notebook.cells[0] if notebook.cells else None
    if first is not None and PROVENANCE_TAG in first.get("metadata", {}).get("tags", []):
        first.source = cell.source
    else:
        notebook.cells.insert(0, cell)
