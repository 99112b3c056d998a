"""Every command of `python -m layerlab`, in the order `--help` lists them.

A command is its name, the function that adds its subparser to the `add_subparsers()` object
(and returns it), and the function that runs it with the parsed arguments and returns the
exit status. To add a command, write its module in this package and add one line here.

A command's module is imported only when its parser is built or it runs: `build_parser(only=)`
builds one command's parser in full and the others as bare names, so that
`python -m layerlab layers IMAGE` imports nothing the other commands need.
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Command:
    name: str
    module: str  # the module of this package that holds both functions
    add_function: str = "add_parser"
    run_function: str = "run"

    @property
    def add_parser(self) -> Callable[[argparse._SubParsersAction], argparse.ArgumentParser]:
        return getattr(importlib.import_module(f"{__package__}.{self.module}"), self.add_function)

    @property
    def run(self) -> Callable[[argparse.Namespace], int]:
        return getattr(importlib.import_module(f"{__package__}.{self.module}"), self.run_function)


COMMANDS: tuple[Command, ...] = (
    Command("doctor", "doctor"),
    Command("prepare", "prepare"),
    Command("cleanup", "cleanup"),
    Command("layers", "layers", "add_layers_parser", "run_layers"),
    Command("which", "layers", "add_which_parser", "run_which"),
    Command("watch", "watch"),
    Command("command", "command"),
    Command("record", "record"),
    Command("translate", "translate"),
)
