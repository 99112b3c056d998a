"""Every command of `python -m layerlab`, in the order `--help` lists them.

A command is its name, the function that adds its subparser to the `add_subparsers()` object
(and returns it), and the function that runs it with the parsed arguments and returns the
exit status. To add a command, write its module in this package and add one line here.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable

from . import cleanup, command, doctor, layers, prepare, record, watch


@dataclass(frozen=True)
class Command:
    name: str
    add_parser: Callable[[argparse._SubParsersAction], argparse.ArgumentParser]
    run: Callable[[argparse.Namespace], int]


COMMANDS: tuple[Command, ...] = (
    Command("doctor", doctor.add_parser, doctor.run),
    Command("prepare", prepare.add_parser, prepare.run),
    Command("cleanup", cleanup.add_parser, cleanup.run),
    Command("layers", layers.add_layers_parser, layers.run_layers),
    Command("which", layers.add_which_parser, layers.run_which),
    Command("watch", watch.add_parser, watch.run),
    Command("command", command.add_parser, command.run),
    Command("record", record.add_parser, record.run),
)
