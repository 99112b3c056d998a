"""Docker's CMD x ENTRYPOINT table: each form of one against each form of the other.

    cells = matrix_cells(inherited)          # the 3 x 3 cells, predicted by core.command.resolve
    cells = fill_matrix(runner)              # ... and each one run for real
    print(matrix_summary(cells))

`fill_matrix` is the one loop that runs the table: it takes any `runner` with the call
signature of `course.cmd_entrypoint.LiveRunner` and never touches the engine itself. Whether a cell
matches is `Resolution.agrees_with`, the same rule the explorer's single run uses.

Nothing here imports docker or ipywidgets.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Callable, Sequence

from .command import FORMS, Form, ImageCommand, Instruction, Resolution, resolve
from .i18n import N_, _

#: What a cell of the text table says once compared (None: not run yet).
VERDICTS = {None: N_("not run"), True: N_("matches the engine"), False: N_("DIFFERS from the engine")}

#: Values for Docker's CMD x ENTRYPOINT table, chosen so that PID 1 keeps running in every
#: cell and can be read from inside: the exec-form ENTRYPOINT is a shell program (a shell
#: takes any extra words as $0, $1... and carries on), and every shell script has two
#: commands, because busybox sh, dash and bash replace themselves with a lone command.
MATRIX_ENTRYPOINTS: dict[Form, Instruction] = {
    Form.NONE: Instruction.none(),
    Form.EXEC: Instruction.exec_form(["sh", "-c", "sleep 20; echo entry"]),
    Form.SHELL: Instruction.shell_form("sleep 20; echo entry"),
}
MATRIX_CMDS: dict[Form, Instruction] = {
    Form.NONE: Instruction.none(),
    Form.EXEC: Instruction.exec_form(["sleep", "20"]),
    Form.SHELL: Instruction.shell_form("sleep 20; echo cmd"),
}


@dataclass(frozen=True)
class MatrixCell:
    """One cell of the table: the prediction and, once run, what really ran."""

    entrypoint_form: Form
    cmd_form: Form
    predicted: Resolution
    observed: tuple[str, ...] | None = None
    observed_error: str | None = None

    @property
    def checked(self) -> bool:
        return self.observed is not None or self.observed_error is not None

    @property
    def matches(self) -> bool | None:
        """True/False once run; None before."""
        if not self.checked:
            return None
        return self.predicted.agrees_with(self.observed, self.observed_error)


def matrix_cells(
    inherited: ImageCommand = ImageCommand(),
    run_args: Sequence[str] | None = None,
    entrypoints: dict[Form, Instruction] | None = None,
    cmds: dict[Form, Instruction] | None = None,
) -> list[MatrixCell]:
    """The 3 x 3 cells (CMD rows, ENTRYPOINT columns) with the pure function's answers."""
    entrypoints = entrypoints or MATRIX_ENTRYPOINTS
    cmds = cmds or MATRIX_CMDS
    return [
        MatrixCell(ef, cf, resolve(entrypoints[ef], cmds[cf], run_args, inherited=inherited))
        for cf in FORMS
        for ef in FORMS
    ]


def matrix_summary(cells: Sequence[MatrixCell]) -> str:
    """The table as plain text, one line per cell (deterministic: good for nbval)."""
    lines = []
    for cell in cells:
        predicted = (cell.predicted.command_line if cell.predicted.ok
                     else _("error: {error}").format(error=cell.predicted.error))
        verdict = _(VERDICTS[cell.matches])
        lines.append(
            f"ENTRYPOINT {cell.entrypoint_form.value:<5} CMD {cell.cmd_form.value:<5} -> {predicted}  [{verdict}]"
        )
        if cell.matches is False:
            ran = shlex.join(cell.observed) if cell.observed else cell.observed_error
            lines.append("    " + _("engine ran: {ran}").format(ran=ran))
    return "\n".join(lines)


def fill_matrix(
    runner: Callable,
    run_args: Sequence[str] | None = None,
    progress: Callable[[int, int, list[MatrixCell]], None] | None = None,
    inherited: ImageCommand | None = None,
    starting: Callable[[int, int], None] | None = None,
) -> list[MatrixCell]:
    """Docker's CMD x ENTRYPOINT table, each cell predicted and then run for real.

    `runner(entrypoint, cmd, run_args)` builds and runs one cell and returns `(image,
    observation)`, the observation with `argv` and `error`. The predictions are for
    `inherited` (by default the runner's `inherited`). `starting(number, total)` is called
    before a cell runs, `progress(done, total, table)` after it: `table` is the cells run so
    far followed by the predictions of the rest.
    """
    if inherited is None:
        inherited = getattr(runner, "inherited", ImageCommand())
    cells = matrix_cells(inherited, run_args)
    filled: list[MatrixCell] = []
    for index, cell in enumerate(cells):
        if starting:
            starting(index + 1, len(cells))
        _image, seen = runner(MATRIX_ENTRYPOINTS[cell.entrypoint_form], MATRIX_CMDS[cell.cmd_form], run_args)
        filled.append(MatrixCell(cell.entrypoint_form, cell.cmd_form, cell.predicted, seen.argv, seen.error))
        if progress:
            progress(index + 1, len(cells), filled + cells[len(filled):])
    return filled
