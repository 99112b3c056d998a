"""The CMD/ENTRYPOINT rules (`layerlab.core.command`) and `python -m layerlab command`: no engine.

The same rules are checked against a live engine in tests/test_cmd_entrypoint_live.py.
"""

from __future__ import annotations

import json

import pytest

from layerlab.core.command import (
    FORMS,
    NO_COMMAND,
    Form,
    ImageCommand,
    Instruction,
    InstructionError,
    image_command,
    parse_cmdline,
    ping_base_plan,
    render_dockerfile,
    resolve,
    resolve_image,
    seed_variants,
)
from layerlab.core.commandmatrix import MatrixCell, matrix_cells, matrix_summary
from layerlab.core.errors import LayerlabError

from support import run_cli

E = Instruction.exec_form
S = Instruction.shell_form
NONE = Instruction.none()
BUSYBOX = ImageCommand(entrypoint=None, cmd=("sh",))


# -- reading instructions -------------------------------------------------------------------

def test_json_list_is_exec_form_and_text_is_shell_form():
    assert Instruction.parse('["ping", "-c", "3"]') == E(["ping", "-c", "3"])
    assert Instruction.parse("ping -c 3 127.0.0.1") == S("ping -c 3 127.0.0.1")
    assert Instruction.parse(None).form is Form.NONE
    assert Instruction.parse(["a", "b"]) == E(["a", "b"])


@pytest.mark.parametrize("text", ['["ping" "-c"]', "['ping']", '["ping", 3]', '[1]', '["ping",'])
def test_broken_exec_form_is_a_clear_error(text):
    with pytest.raises(InstructionError) as caught:
        Instruction.parse(text, "CMD")
    assert isinstance(caught.value, LayerlabError)
    assert "shell command" in caught.value.what  # says what Docker would silently do
    assert '["ping", "-c", "3", "127.0.0.1"]' in caught.value.fix


def test_empty_values_are_refused():
    with pytest.raises(InstructionError):
        Instruction.parse("   ", "CMD")
    with pytest.raises(InstructionError):
        Instruction.shell_form("")


def test_stored_forms_and_dockerfile_lines():
    assert S("ping -c 3 x").stored() == ("/bin/sh", "-c", "ping -c 3 x")
    assert E(["ping"]).stored() == ("ping",)
    assert NONE.stored() is None
    assert E(["ping", "-c", "3"]).dockerfile_line("CMD") == 'CMD ["ping", "-c", "3"]'
    assert S("ping -c 3 x").dockerfile_line("ENTRYPOINT") == "ENTRYPOINT ping -c 3 x"
    assert NONE.dockerfile_line("CMD") is None


def test_parse_cmdline():
    assert parse_cmdline(b"/bin/sh\0-c\0sleep 3; echo x\0") == ("/bin/sh", "-c", "sleep 3; echo x")
    assert parse_cmdline(b"") == ()
    assert parse_cmdline(b"a\0\0b\0") == ("a", "", "b")


# -- Docker's table ---------------------------------------------------------------------------

EXEC_ENTRY = E(["exec_entry", "p1_entry"])
SHELL_ENTRY = S("exec_entry p1_entry")
EXEC_CMD = E(["exec_cmd", "p1_cmd"])
SHELL_CMD = S("exec_cmd p1_cmd")


@pytest.mark.parametrize(
    "entrypoint, cmd, expected",
    [
        (NONE, NONE, None),
        (NONE, EXEC_CMD, ("exec_cmd", "p1_cmd")),
        (NONE, SHELL_CMD, ("/bin/sh", "-c", "exec_cmd p1_cmd")),
        (EXEC_ENTRY, NONE, ("exec_entry", "p1_entry")),
        (EXEC_ENTRY, EXEC_CMD, ("exec_entry", "p1_entry", "exec_cmd", "p1_cmd")),
        (EXEC_ENTRY, E(["p1_cmd", "p2_cmd"]), ("exec_entry", "p1_entry", "p1_cmd", "p2_cmd")),
        (EXEC_ENTRY, SHELL_CMD, ("exec_entry", "p1_entry", "/bin/sh", "-c", "exec_cmd p1_cmd")),
        (SHELL_ENTRY, NONE, ("/bin/sh", "-c", "exec_entry p1_entry")),
        # Docker's table shows `/bin/sh -c exec_entry p1_entry` here: the shell ignores the rest,
        # but the engine does pass it (checked live: /proc/1/cmdline has it).
        (SHELL_ENTRY, EXEC_CMD, ("/bin/sh", "-c", "exec_entry p1_entry", "exec_cmd", "p1_cmd")),
        (SHELL_ENTRY, SHELL_CMD, ("/bin/sh", "-c", "exec_entry p1_entry", "/bin/sh", "-c", "exec_cmd p1_cmd")),
    ],
)
def test_dockers_table(entrypoint, cmd, expected):
    result = resolve(entrypoint, cmd)
    if expected is None:
        assert not result.ok and result.error == NO_COMMAND
        assert "(error: No command specified)" == result.command_line
    else:
        assert result.ok and result.argv == expected


def test_shell_form_entrypoint_marks_what_it_ignores():
    result = resolve(SHELL_ENTRY, EXEC_CMD)
    assert result.ignored == ("exec_cmd", "p1_cmd")
    assert any("$0, $1" in note for note in result.notes)
    with_args = resolve(SHELL_ENTRY, EXEC_CMD, ["a", "b"])
    assert with_args.argv[-2:] == ("a", "b") and with_args.ignored == ("a", "b")
    assert resolve(EXEC_ENTRY, EXEC_CMD).ignored == ()


# -- the seed's three images -------------------------------------------------------------------

def test_seed_variants_run_plainly_give_the_same_ping():
    for variant in seed_variants():
        assert resolve(variant.entrypoint, variant.cmd, inherited=BUSYBOX).argv == ("ping", "-c", "3", "127.0.0.1")


def test_seed_variants_with_one_argument():
    cmd_only, entry_only, both = seed_variants()
    # CMD only: the argument replaces the whole CMD, so "127.0.0.1" is the program.
    assert resolve(cmd_only.entrypoint, cmd_only.cmd, ["127.0.0.1"], inherited=BUSYBOX).argv == ("127.0.0.1",)
    # ENTRYPOINT only: the argument is appended: ping gets two hosts.
    assert resolve(entry_only.entrypoint, entry_only.cmd, ["127.0.0.1"]).argv == (
        "ping", "-c", "3", "127.0.0.1", "127.0.0.1")
    # ENTRYPOINT + CMD: the argument replaces CMD, -c 3 is gone: it never ends.
    result = resolve(both.entrypoint, both.cmd, ["127.0.0.1"])
    assert result.argv == ("ping", "127.0.0.1")
    assert any("replace CMD" in note for note in result.notes)


def test_seed_variants_target_is_a_parameter():
    assert seed_variants("8.8.8.8")[0].cmd.words[-1] == "8.8.8.8"


# -- inheritance -------------------------------------------------------------------------------

def test_entrypoint_resets_an_inherited_cmd():
    image, notes = image_command(E(["echo", "hi"]), NONE, BUSYBOX)
    assert image == ImageCommand(("echo", "hi"), None)
    assert any("resets the CMD inherited" in n for n in notes)
    assert resolve(E(["echo", "hi"]), NONE, inherited=BUSYBOX).argv == ("echo", "hi")


def test_cmd_in_the_same_dockerfile_survives_entrypoint():
    image, _ = image_command(E(["ping"]), E(["127.0.0.1"]), BUSYBOX)
    assert image == ImageCommand(("ping",), ("127.0.0.1",))


def test_cmd_alone_keeps_an_inherited_entrypoint():
    base = ImageCommand(("docker-entrypoint.sh",), ("postgres",))
    image, notes = image_command(NONE, E(["-c", "x"]), base)
    assert image == ImageCommand(("docker-entrypoint.sh",), ("-c", "x"))
    assert any("inherited" in n for n in notes)


def test_no_instruction_inherits_everything():
    assert resolve(NONE, NONE, inherited=BUSYBOX).argv == ("sh",)


def test_empty_exec_cmd_clears_an_inherited_cmd():
    assert resolve(NONE, E([]), inherited=BUSYBOX).error == NO_COMMAND


# -- docker run --entrypoint -------------------------------------------------------------------

def test_entrypoint_override_drops_the_image_cmd():
    image = ImageCommand(("ping",), ("-c", "3", "127.0.0.1"))
    result = resolve_image(image, entrypoint_override="echo")
    assert result.argv == ("echo",)
    assert any("drops the image's CMD" in n for n in result.notes)
    assert resolve_image(image, ["hi"], entrypoint_override="echo").argv == ("echo", "hi")


def test_entrypoint_override_is_one_word():
    assert resolve_image(ImageCommand(), entrypoint_override="echo x").argv == ("echo x",)


def test_empty_entrypoint_override_removes_it():
    image = ImageCommand(("ping",), ("-c", "3", "127.0.0.1"))
    assert resolve_image(image, entrypoint_override="").error == NO_COMMAND
    assert resolve_image(image, ["echo", "hi"], entrypoint_override="").argv == ("echo", "hi")


def test_docker_run_line():
    result = resolve_image(ImageCommand(("ping",)), ["127.0.0.1"], entrypoint_override="echo")
    assert result.docker_run("img") == "docker run --rm --network none --entrypoint echo img 127.0.0.1"


# -- Dockerfiles and the ping base ---------------------------------------------------------------

def test_ping_base_plan_alpine_when_pulled():
    plan = ping_base_plan("layerlab-x/base-alpine:3.20.3", "pulled")
    assert plan.lines == ("FROM layerlab-x/base-alpine:3.20.3", "RUN apk add --no-cache iputils")
    assert plan.needs_network and "registry answered" in plan.reason


def test_ping_base_plan_standin_offline():
    plan = ping_base_plan("layerlab-x/base-busybox:1.35.0", "stand-in")
    assert plan.lines == ("FROM layerlab-x/base-busybox:1.35.0",)
    assert not plan.needs_network and "No registry answers" in plan.reason


def test_render_dockerfile():
    both = seed_variants()[2]
    assert render_dockerfile(["FROM b"], both) == 'FROM b\nENTRYPOINT ["ping"]\nCMD ["-c", "3", "127.0.0.1"]\n'


# -- the matrix ----------------------------------------------------------------------------------

def test_matrix_cells_are_the_nine_combinations():
    cells = matrix_cells(BUSYBOX)
    assert {(c.entrypoint_form, c.cmd_form) for c in cells} == {(e, c) for e in FORMS for c in FORMS}
    assert all(cell.matches is None for cell in cells)
    assert "not run" in matrix_summary(cells)


def test_matrix_cell_verdicts():
    predicted = resolve(NONE, E(["sleep", "20"]))
    assert MatrixCell(Form.NONE, Form.EXEC, predicted, observed=("sleep", "20")).matches is True
    assert MatrixCell(Form.NONE, Form.EXEC, predicted, observed=("sleep",)).matches is False
    refused = resolve(NONE, NONE)
    assert MatrixCell(Form.NONE, Form.NONE, refused, observed_error="No command specified").matches is True
    text = matrix_summary([MatrixCell(Form.NONE, Form.EXEC, predicted, observed=("x",))])
    assert "DIFFERS" in text and "engine ran: x" in text


def test_matrix_shell_scripts_keep_the_shell_as_pid1():
    # A lone command would be exec'ed by busybox sh, dash and bash: PID 1 would not be the shell.
    from layerlab.core.commandmatrix import MATRIX_CMDS, MATRIX_ENTRYPOINTS

    for instruction in (MATRIX_ENTRYPOINTS[Form.SHELL], MATRIX_CMDS[Form.SHELL]):
        assert ";" in instruction.text


# -- the CLI -------------------------------------------------------------------------------------

def test_cli_seed_variant_three_with_an_argument():
    done = run_cli("command", "--entrypoint", '["ping"]', "--cmd", '["-c", "3", "127.0.0.1"]', "--", "127.0.0.1")
    assert done.returncode == 0, done.stderr
    assert "command line: ping 127.0.0.1" in done.stdout
    assert "replace CMD" in done.stdout


def test_cli_shell_form_and_json_output():
    done = run_cli("command", "--cmd", "ping -c 3 127.0.0.1", "--json")
    data = json.loads(done.stdout)
    assert data["argv"] == ["/bin/sh", "-c", "ping -c 3 127.0.0.1"]
    assert data["cmd"]["form"] == "shell"


def test_cli_inherited_cmd_and_override():
    done = run_cli("command", "--base-cmd", '["sh"]', "--entrypoint", '["echo", "hi"]', "--json")
    assert json.loads(done.stdout)["argv"] == ["echo", "hi"]
    done = run_cli("command", "--cmd", '["ping", "127.0.0.1"]', "--run-entrypoint", "echo", "--json")
    assert json.loads(done.stdout)["argv"] == ["echo"]


def test_cli_no_command_exits_non_zero():
    done = run_cli("command")
    assert done.returncode == 1
    assert "No command specified" in done.stdout


def test_cli_bad_json_is_two_lines_not_a_traceback():
    done = run_cli("command", "--cmd", '["ping" "127.0.0.1"]')
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "not valid JSON" in done.stderr and "what to do:" in done.stderr
