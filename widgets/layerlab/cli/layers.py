"""`python -m layerlab layers IMAGE` and `python -m layerlab which IMAGE PATH`.

    layers IMAGE [--json] [--all]   the stack (history matched to layers) and each layer's files
    which IMAGE PATH [--json]       the layer a path comes from, and what later layers did to it

Both read the image through the API (`docker save`, streamed), like dive does, and work with
any engine the course supports.
"""

from __future__ import annotations

import json
import sys

from ..core.errors import LayerlabError
from ..core.model import ChangeKind


def add_layers_parser(commands):
    layers = commands.add_parser(
        "layers", help="show an image's stack and the files each layer adds, changes and deletes"
    )
    layers.add_argument("image", help="image name or id")
    layers.add_argument("--json", action="store_true", help="print everything as JSON")
    layers.add_argument("--limit", type=int, default=15, metavar="N", help="files shown per layer (default 15)")
    layers.add_argument("--all", action="store_true", help="show every file of every layer")
    return layers


def add_which_parser(commands):
    which = commands.add_parser(
        "which", help="tell which layer of an image a path comes from (exit status 1 when none has it)"
    )
    which.add_argument("image", help="image name or id")
    which.add_argument("path", help="a path inside the image, e.g. /app/app.py")
    which.add_argument("--json", action="store_true", help="print the answer as JSON")
    return which


def run_layers(args) -> int:
    from ..engine import connect
    from ..engine.layers import image_layers

    if args.limit < 0:
        raise LayerlabError(f"--limit {args.limit} is below 0.", "Give how many files to show per layer, or --all.")
    engine = connect()
    found = image_layers(engine, args.image)
    say_if_cached(found.files, engine)
    if args.json:
        print(json.dumps(found.as_dict(), indent=1))
        return 0
    print(found.summary(limit=None if args.all else args.limit))
    return 0


def run_which(args) -> int:
    from ..engine import connect
    from ..engine.layers import image_layers

    if not args.path.strip() or args.path.strip() == "/":
        raise LayerlabError(
            f"{args.path!r} is not a path to look up.",
            "Name a file or directory inside the image, e.g. /app/app.py.",
        )
    engine = connect()
    found = image_layers(engine, args.image)
    say_if_cached(found.files, engine)
    answer = found.files.which(args.path)
    if args.json:
        data = answer.as_dict()
        for event in data["events"]:
            entry = found.entry_for_layer(event["layer_index"])
            event["instruction"] = entry.instruction
        print(json.dumps(data, indent=1))
        return 0
    print(answer.summary())
    for event in answer.events:
        entry = found.entry_for_layer(event.layer_index)
        print(f"  layer {event.layer_index + 1} was made by: {entry.instruction[:90]}")
    if any(event.kind is ChangeKind.DELETED for event in answer.events):
        print(found.whiteouts)
    return 0 if answer.events else 1


def say_if_cached(files, engine) -> None:
    """One line on stderr when file lists came from the learner's index cache (stdout stays the same)."""
    if files.cached_layers:
        from ..core.indexcache import CACHE_ENV, cache_folder

        print(f"layerlab: {len(files.cached_layers)} of {len(files.layers)} layers' file lists from the index cache "
              f"in {cache_folder(engine.environ)} ({CACHE_ENV}=off reads them from the engine)", file=sys.stderr)
