"""`python -m layerlab layers IMAGE` and `python -m layerlab which IMAGE PATH`.

    layers IMAGE [--json] [--all]   the stack (history matched to layers) and each layer's files,
                                    then the wasted bytes and dive's efficiency score
    layers IMAGE --ci [--max-wasted-bytes N] [--max-wasted-ratio R] [--min-efficiency E]
                                    a gate for a build pipeline: one verdict per rule; exit 0
                                    when all pass, 1 when one fails, 2 when it cannot check
    which IMAGE PATH [--json]       the layer a path comes from, and what later layers did to it

Both read the image through the API (`docker save`, streamed), like dive does, and work with
any engine the course supports.
"""

from __future__ import annotations

import json
import sys

from ..core.errors import LayerlabError
from ..core.i18n import _
from ..core.model import ChangeKind
from ..core.waste import check_gate


class GateCannotRun(LayerlabError):
    """`layers --ci` could not check its rules (bad usage, no engine, no such image)."""

    exit_code = 2


def add_layers_parser(commands):
    layers = commands.add_parser(
        "layers", help=_("show an image's stack and the files each layer adds, changes and deletes")
    )
    layers.add_argument("image", help=_("image name or id"))
    layers.add_argument("--json", action="store_true", help=_("print everything as one line of JSON (pipe it to `python -m json.tool` to read it)"))
    layers.add_argument("--limit", type=int, default=15, metavar="N", help=_("files shown per layer (default 15)"))
    layers.add_argument("--all", action="store_true", help=_("show every file of every layer"))
    gate = layers.add_argument_group(_("CI gate (like dive's CI mode)"))
    gate.add_argument("--ci", action="store_true",
                      help=_("check the rules below, print one verdict each, exit 1 when one fails"))
    gate.add_argument("--max-wasted-bytes", type=int, metavar="N", help=_("fail above N wasted bytes"))
    gate.add_argument("--max-wasted-ratio", type=float, metavar="R",
                      help=_("fail when more than R (0-1) of the stored bytes are wasted"))
    gate.add_argument("--min-efficiency", type=float, metavar="E", help=_("fail below dive's efficiency E (0-1)"))
    return layers


def add_which_parser(commands):
    which = commands.add_parser(
        "which", help=_("tell which layer of an image a path comes from (exit status 1 when none has it)")
    )
    which.add_argument("image", help=_("image name or id"))
    which.add_argument("path", help=_("a path inside the image, e.g. /app/app.py"))
    which.add_argument("--json", action="store_true", help=_("print the answer as JSON"))
    return which


def run_layers(args) -> int:
    from ..engine import connect
    from ..engine.layers import image_layers

    if args.limit < 0:
        raise LayerlabError(_("--limit {limit} is below 0.").format(limit=args.limit),
                            _("Give how many files to show per layer, or --all."))
    rules = _gate_rules(args)
    if args.ci:
        try:
            found = image_layers(connect(ask_buildx=False), args.image)
        except LayerlabError as error:
            raise GateCannotRun(error.what, error.fix) from None
        return _run_gate(found.waste(), rules, args.json)
    engine = connect(ask_buildx=False)
    found = image_layers(engine, args.image)
    say_if_cached(found.files, engine)
    waste = found.waste()
    if args.json:
        print(json.dumps({**found.as_dict(), **waste.as_dict()}))  # one line: the C encoder (indent would not use it)
        return 0
    print(found.summary(limit=None if args.all else args.limit))
    print()
    print(waste.summary())
    return 0


def _gate_rules(args) -> dict:
    rules = {"max_wasted_bytes": args.max_wasted_bytes, "max_wasted_ratio": args.max_wasted_ratio,
             "min_efficiency": args.min_efficiency}
    given = {name: value for name, value in rules.items() if value is not None}
    if given and not args.ci:
        raise GateCannotRun(_("Rules were given without --ci."), _("Add --ci to check them, or leave them out."))
    if args.ci and not given:
        raise GateCannotRun(
            _("--ci was given no rule to check."),
            _("Add --max-wasted-bytes N, --max-wasted-ratio R or --min-efficiency E (dive's CI default is 0.9)."),
        )
    if given.get("max_wasted_bytes", 0) < 0:
        raise GateCannotRun(_("--max-wasted-bytes {value} is below 0.").format(value=args.max_wasted_bytes),
                            _("Give a number of bytes, 0 or more."))
    for name in ("max_wasted_ratio", "min_efficiency"):
        if not 0 <= given.get(name, 0) <= 1:
            flag = "--" + name.replace("_", "-")
            raise GateCannotRun(_("{flag} {value} is not between 0 and 1.").format(flag=flag, value=given[name]),
                                _("Give {flag} as a fraction, e.g. 0.9.").format(flag=flag))
    return given


def _run_gate(waste, rules: dict, as_json: bool) -> int:
    verdicts = check_gate(waste, **rules)
    passed = all(v.passed for v in verdicts)
    if as_json:
        print(json.dumps({**waste.as_dict(), "verdicts": [v.as_dict() for v in verdicts], "passed": passed}))
    else:
        for verdict in verdicts:
            print(verdict.line())
        print(("PASS" if passed else "FAIL") + ": " + _(
            "{passed} of {rules} rules passed ({wasted} B wasted, dive efficiency {efficiency:.4f})").format(
                passed=sum(v.passed for v in verdicts), rules=len(verdicts), wasted=waste.wasted_bytes,
                efficiency=waste.dive.efficiency))
    return 0 if passed else 1


def run_which(args) -> int:
    from ..engine import connect
    from ..engine.layers import image_layers

    if not args.path.strip() or args.path.strip() == "/":
        raise LayerlabError(
            _("{path!r} is not a path to look up.").format(path=args.path),
            _("Name a file or directory inside the image, e.g. /app/app.py."),
        )
    engine = connect(ask_buildx=False)
    found = image_layers(engine, args.image)
    say_if_cached(found.files, engine)
    answer = found.files.which(args.path)
    if args.json:
        data = answer.as_dict()
        for event in data["events"]:
            entry = found.entry_for_layer(event["layer_index"])
            event["instruction"] = entry.instruction
        print(json.dumps(data))
        return 0
    print(answer.summary())
    for event in answer.events:
        entry = found.entry_for_layer(event.layer_index)
        print("  " + _("layer {number} was made by: {instruction}").format(
            number=event.layer_index + 1, instruction=entry.instruction[:90]))
    if any(event.kind is ChangeKind.DELETED for event in answer.events):
        print(found.whiteouts)
    return 0 if answer.events else 1


def say_if_cached(files, engine) -> None:
    """One line on stderr when file lists came from the learner's index cache (stdout stays the same)."""
    if files.cached_layers:
        from ..core.indexcache import CACHE_ENV, cache_folder

        print("layerlab: " + _("{cached} of {layers} layers' file lists from the index cache in {folder} "
                               "({variable}=off reads them from the engine)").format(
            cached=len(files.cached_layers), layers=len(files.layers), folder=cache_folder(engine.environ),
            variable=CACHE_ENV), file=sys.stderr)
