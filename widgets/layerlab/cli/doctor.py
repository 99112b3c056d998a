"""`python -m layerlab doctor [--json]`: what engine the course talks to, and whether it will work."""

from __future__ import annotations

import json

from ..core.i18n import _
from ..core.text import ljust


def add_parser(commands):
    doctor = commands.add_parser("doctor", help=_("show the engine's facts and check they suit the course"))
    doctor.add_argument("--json", action="store_true", help=_("print the facts as JSON"))
    return doctor


def run(args) -> int:
    from ..engine import connect
    from ..engine.prepare import base_reference, find_base
    from ..core.bases import BASES

    engine = connect()
    facts = engine.facts
    ns = engine.namespace("base")
    bases = {}
    for key in BASES:
        found = [base_reference(engine, image) for image in find_base(engine, key)]
        bases[key] = found[0] if found else None
    if args.json:
        data = {name: value for name, value in facts.__dict__.items()}
        data["storage_kind"] = facts.storage_kind.value
        data["flavour"] = facts.flavour
        data["learner"] = ns.learner
        data["bases"] = bases
        print(json.dumps(data, indent=2))
        return 0
    print("layerlab doctor: " + _("a Docker engine answers."))
    for label, value in facts.lines():
        print("  " + ljust(_(label), 12), value)
    learner = _("{learner} (set LAYERLAB_LEARNER to change)").format(learner=ns.learner)
    print("  " + ljust(_("learner"), 12), learner)
    for key, reference in bases.items():
        shown = reference or _("not prepared yet: run `python -m layerlab prepare`")
        print("  " + ljust(_("base {key}").format(key=key), 12), shown)
    print(facts.explain_storage())
    for sentence in (facts.explain_whiteouts(), facts.explain_rootless()):
        if sentence:
            print(sentence)
    return 0
