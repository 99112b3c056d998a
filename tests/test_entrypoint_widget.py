"""`EntrypointExplorer` and its model, driven from Python: no browser, no engine.

A fake runner stands in for the engine: it "runs" by returning the prediction (or a chosen
wrong answer), so these tests check the state machine and the rendering; the live tier
checks the real engine.
"""

from __future__ import annotations

import pytest

from layerlab.core.command import FORMS, ImageCommand, Instruction, resolve
from layerlab.views.entrypoint import EntrypointExplorer, ExplorerModel, render_html, render_matrix_html

BUSYBOX = ImageCommand(entrypoint=None, cmd=("sh",))


class Built:
    reference = "layerlab-test/05-cmd-entrypoint-explorer:dabc"


class Seen:
    def __init__(self, argv=None, error=None, output=""):
        self.argv, self.error, self.output = argv, error, output


class FakeRunner:
    inherited = BUSYBOX

    def __init__(self, lie: tuple[str, ...] | None = None):
        self.calls = []
        self.lie = lie

    def dockerfile(self, entrypoint, cmd):
        lines = ["FROM base"] + [l for l in (entrypoint.dockerfile_line("ENTRYPOINT"), cmd.dockerfile_line("CMD")) if l]
        return "\n".join(lines) + "\n"

    def __call__(self, entrypoint, cmd, run_args=None, override=None):
        self.calls.append((entrypoint, cmd, tuple(run_args or ()), override))
        result = resolve(entrypoint, cmd, run_args, override, inherited=self.inherited)
        if self.lie is not None:
            return Built(), Seen(argv=self.lie)
        if not result.ok:
            return Built(), Seen(error=result.error)
        return Built(), Seen(argv=result.argv)


def test_model_starts_on_the_seeds_third_image():
    model = ExplorerModel(FakeRunner())
    assert model.resolution.argv == ("ping", "-c", "3", "127.0.0.1")
    assert 'ENTRYPOINT ["ping"]' in model.dockerfile


def test_widget_controls_drive_the_model():
    explorer = EntrypointExplorer(FakeRunner())
    explorer.run_args.value = "127.0.0.1"
    assert explorer.model.run_args == "127.0.0.1"
    assert explorer.model.resolution.argv == ("ping", "127.0.0.1")
    explorer.cmd_form.value = "shell"
    explorer.entrypoint_form.value = "none"
    explorer.run_args.value = ""
    assert explorer.model.resolution.argv == ("/bin/sh", "-c", "ping -c 3 127.0.0.1; echo done")
    assert "/bin/sh" in explorer.view.value  # the view re-rendered
    # hidden fields follow the chosen forms
    assert explorer.cmd_exec.layout.display == "none" and explorer.cmd_shell.layout.display is None


def test_model_changes_reach_the_controls():
    explorer = EntrypointExplorer(FakeRunner())
    explorer.model.entrypoint_form = "shell"
    assert explorer.entrypoint_form.value == "shell"
    assert explorer.entrypoint_shell.layout.display is None


def test_run_records_the_observation_and_agreement():
    runner = FakeRunner()
    explorer = EntrypointExplorer(runner)
    explorer.run()
    model = explorer.model
    assert model.observation.argv == ("ping", "-c", "3", "127.0.0.1")
    assert model.agrees is True
    assert "the prediction is what ran" in explorer.summary()
    assert "PID 1, read inside" in explorer.view.value
    assert runner.calls[0][0] == Instruction.exec_form(["ping"])


def test_a_changed_input_makes_the_observation_stale():
    explorer = EntrypointExplorer(FakeRunner())
    explorer.run()
    explorer.run_args.value = "127.0.0.1"
    assert explorer.model.stale and explorer.model.agrees is None
    assert "run again" in explorer.view.value
    assert "PID 1 (read" not in explorer.summary()


def test_disagreement_is_shown():
    explorer = EntrypointExplorer(FakeRunner(lie=("sh",)))
    explorer.run()
    assert explorer.model.agrees is False
    assert "DIFFERENT" in explorer.summary()
    assert "different from the prediction" in explorer.view.value


def test_bad_json_is_a_message_not_an_exception():
    explorer = EntrypointExplorer(FakeRunner())
    explorer.cmd_exec.value = '["-c", 3]'
    assert explorer.model.resolution is None
    assert "list of strings" in explorer.model.input_error
    assert "list of strings" in explorer.view.value
    runner_calls = len(explorer.model.runner.calls)
    explorer.run()
    assert len(explorer.model.runner.calls) == runner_calls  # nothing was run
    explorer.cmd_exec.value = "-c 3"
    assert "must be a JSON list" in explorer.model.input_error


def test_no_command_prediction_and_engine_refusal_agree():
    explorer = EntrypointExplorer(FakeRunner())
    explorer.model.entrypoint_form = "none"
    explorer.model.cmd_form = "exec"
    explorer.model.cmd_exec = "[]"
    assert explorer.model.resolution.error == "No command specified"
    explorer.run()
    assert explorer.model.agrees is True


def test_entrypoint_override_in_the_widget():
    explorer = EntrypointExplorer(FakeRunner())
    explorer.use_override.value = True
    explorer.entrypoint_override.value = "echo"
    assert explorer.model.resolution.argv == ("echo",)
    assert "--entrypoint echo" in explorer.view.value
    assert explorer.entrypoint_override.layout.display is None


def test_invalid_form_is_refused_by_the_model():
    model = ExplorerModel(FakeRunner())
    with pytest.raises(Exception):
        model.cmd_form = "json"


def test_matrix_mode_fills_nine_cells():
    runner = FakeRunner()
    explorer = EntrypointExplorer(runner)
    explorer.fill_matrix()
    cells = explorer.model.matrix
    assert len(cells) == 9 and all(cell.matches for cell in cells)
    assert len(runner.calls) == 9
    text = explorer.summary()
    assert text.count("matches the engine") == 9
    assert "CMD none" in text and "ENTRYPOINT shell" in text
    assert explorer.view.value.count("the engine ran exactly this") == 9
    assert explorer.single_controls.layout.display == "none"


def test_render_functions_are_pure():
    model = ExplorerModel(None, BUSYBOX)
    assert render_html(model) == render_html(model)
    html = render_matrix_html(model.matrix)
    assert html.count("not run yet") == 9
    assert all(f"CMD {form.label}" in html for form in FORMS)


def test_without_an_engine_the_explorer_still_predicts():
    model = ExplorerModel(None, BUSYBOX)
    model.run_live()
    assert "No engine" in model.status
    assert model.resolution.ok
