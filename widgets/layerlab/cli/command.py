"""`python -m layerlab command`: print the command the engine will run for an ENTRYPOINT and CMD.

    python -m layerlab command --entrypoint '["ping"]' --cmd '["-c", "3", "127.0.0.1"]'
    python -m layerlab command --entrypoint '["ping"]' --cmd '["-c", "3", "127.0.0.1"]' -- 127.0.0.1
    python -m layerlab command --cmd 'ping -c 3 127.0.0.1'            # shell form
    python -m layerlab command --cmd '["ping", "127.0.0.1"]' --run-entrypoint echo -- hi

A value that parses as a JSON list is exec form; anything else is shell form. Everything is
computed by `layerlab.core.command.resolve`, the same function the lesson checks live; no
engine is needed.
"""

from __future__ import annotations

import argparse
import json

from ..core.i18n import N_, _
from ..core.command import ImageCommand, Instruction, InstructionError, resolve

EPILOG = N_(
    "A JSON list (e.g. '[\"ping\", \"-c\", \"3\"]') is exec form; any other text is shell form, run "
    "as /bin/sh -c TEXT. Arguments after `--` are what you would type after the image in "
    "`docker run IMAGE ARGS...`."
)


def add_parser(commands):
    parser = commands.add_parser(
        "command",
        help=_("print the command the engine runs for an ENTRYPOINT, a CMD and run arguments"),
        description=__doc__.split("\n\n")[0],
        epilog=_(EPILOG),
    )
    parser.add_argument("--entrypoint", metavar="JSON|STRING", help=_("the Dockerfile's ENTRYPOINT (none if omitted)"))
    parser.add_argument("--cmd", metavar="JSON|STRING", help=_("the Dockerfile's CMD (none if omitted)"))
    parser.add_argument(
        "--base-entrypoint", metavar="JSON", help=_("ENTRYPOINT inherited from the base image (exec form JSON)")
    )
    parser.add_argument(
        "--base-cmd", metavar="JSON", help=_('CMD inherited from the base image, e.g. \'["sh"]\' (exec form JSON)')
    )
    parser.add_argument(
        "--run-entrypoint", metavar="PROGRAM",
        help=_("as `docker run --entrypoint PROGRAM`: one program name (\"\" removes the entrypoint)"),
    )
    parser.add_argument("--json", action="store_true", help=_("print the answer as JSON"))
    parser.add_argument("args", nargs=argparse.REMAINDER, help=_("-- then the run arguments"))
    return parser


def _inherited(text: str | None, option: str) -> tuple[str, ...] | None:
    if text is None:
        return None
    instruction = Instruction.parse(text, option)
    if instruction.stored() is None:
        return None
    if not text.strip().startswith("["):
        raise InstructionError(
            _("{option} must be written as the image config stores it: a JSON list.").format(option=option),
            _('For a base with CMD sh, write {option} \'["sh"]\'.').format(option=option),
        )
    return instruction.stored()


def run(args) -> int:
    run_args = list(args.args)
    if run_args and run_args[0] == "--":
        run_args = run_args[1:]
    entrypoint = Instruction.parse(args.entrypoint, "--entrypoint")
    cmd = Instruction.parse(args.cmd, "--cmd")
    inherited = ImageCommand(
        entrypoint=_inherited(args.base_entrypoint, "--base-entrypoint"),
        cmd=_inherited(args.base_cmd, "--base-cmd"),
    )
    result = resolve(entrypoint, cmd, run_args, args.run_entrypoint, inherited=inherited)
    if args.json:
        print(json.dumps({
            "entrypoint": {"form": entrypoint.form.value, "stored": entrypoint.stored()},
            "cmd": {"form": cmd.form.value, "stored": cmd.stored()},
            "image": {"Entrypoint": result.image.entrypoint, "Cmd": result.image.cmd},
            "run_args": run_args,
            "entrypoint_override": args.run_entrypoint,
            "argv": list(result.argv) if result.ok else None,
            "error": result.error,
            "ignored": list(result.ignored),
            "notes": list(result.notes),
        }, indent=2))
        return 0 if result.ok else 1
    for keyword, instruction in (("ENTRYPOINT", entrypoint), ("CMD", cmd)):
        line = instruction.dockerfile_line(keyword)
        print("Dockerfile:   " + (line or _("(no {keyword})").format(keyword=keyword)))
    print(f"docker run:   {result.docker_run()}")
    print(result.summary())
    return 0 if result.ok else 1
