"""CMD and ENTRYPOINT on a live engine: the pure rules against what really runs as PID 1.

Every container here is made through `Lesson` under the session's test learner; the
`test_learner` fixture removes everything at the end, and the tests themselves check that no
container is left behind, also after an interrupt.
"""

from __future__ import annotations

import _thread
import threading
import time

import pytest

from layerlab.core.command import (
    FORMS,
    NO_COMMAND,
    ImageCommand,
    Instruction,
    Variant,
    is_no_command,
    resolve,
    resolve_image,
    seed_variants,
)
from layerlab.core.commandmatrix import fill_matrix, matrix_summary
from layerlab.core.errors import BuildFailed
from layerlab.core.naming import Namespace
from layerlab.course.cmd_entrypoint import LiveRunner, PingImages, build_from_text, read_image_command
from layerlab.course.runs import RunFailed, measure_stop, observe, read_pid1, stream_run
from layerlab.course.lesson import Lesson

pytestmark = pytest.mark.engine
LESSON = "05-cmd-entrypoint"
E = Instruction.exec_form
S = Instruction.shell_form


@pytest.fixture(scope="module")
def lesson(engine, test_learner):
    return Lesson(LESSON, engine=engine, quiet=True)


@pytest.fixture(scope="module")
def base(lesson):
    return lesson.base("ping", quiet=True)


@pytest.fixture(scope="module")
def images(lesson, base):
    return PingImages(lesson, base)


@pytest.fixture(scope="module")
def runner(lesson, base):
    return LiveRunner(lesson, base)


def our_containers(engine, lesson):
    filters = {"label": Namespace.for_lesson(LESSON, engine.environ).label_filters()}
    return engine.client.containers.list(all=True, filters=filters)


def wait_until(predicate, timeout: float, what: str, every: float = 0.05):
    """Wait on a state, with a margin: the predicate's first true value, or a clear failure."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:g} s", pytrace=False)
        time.sleep(every)


@pytest.fixture(autouse=True)
def leaves_no_container(engine, lesson):
    yield
    left = our_containers(engine, lesson)
    assert not left, f"containers left behind: {[c.name for c in left]}"


# -- the matrix ------------------------------------------------------------------------------


def test_every_cell_of_the_matrix_is_what_the_engine_runs(runner):
    cells = fill_matrix(runner)
    assert len(cells) == 9
    assert all(cell.matches for cell in cells), matrix_summary(cells)
    # The table really varies: nine different argvs (the none/none cell is the base's CMD).
    assert len({cell.observed for cell in cells}) == 9
    none_none = next(c for c in cells if c.entrypoint_form.value == "none" and c.cmd_form.value == "none")
    assert none_none.observed == runner.inherited.cmd


def test_every_cell_with_run_arguments(runner):
    cells = fill_matrix(runner, run_args=["sleep", "15"])
    assert all(cell.matches for cell in cells), matrix_summary(cells)
    by_form = {(c.entrypoint_form.value, c.cmd_form.value): c for c in cells}
    # Run arguments replace CMD whatever its form...
    assert {by_form[("none", f.value)].observed for f in FORMS} == {("sleep", "15")}
    # ...and a shell-form ENTRYPOINT receives them after its script (and ignores them).
    assert by_form[("shell", "exec")].observed[-2:] == ("sleep", "15")
    assert by_form[("shell", "exec")].predicted.ignored == ("sleep", "15")


def test_no_command_at_all_is_refused_as_predicted(images, lesson):
    built = images.build_instructions("nocmd", Instruction.none(), E([]))
    # `CMD []`: stored as [] (overlay2 engines) or as null (the containerd image store);
    # either way there is no command.
    assert built.config.entrypoint is None and not built.config.cmd
    predicted = resolve_image(built.config)
    assert predicted.error == NO_COMMAND
    seen = observe(lesson, "nocmd", built.reference)
    assert seen.argv is None and is_no_command(seen.error)


# -- the seed's three images ---------------------------------------------------------------


@pytest.mark.parametrize("variant", seed_variants(), ids=lambda v: v.name)
def test_seed_variant_run_plainly(images, lesson, variant):
    built = images.build(variant)
    predicted = resolve_image(built.config)
    assert predicted.argv == ("ping", "-c", "3", "127.0.0.1")
    seen = observe(lesson, variant.name, built.reference)
    assert seen.argv == predicted.argv
    outcome = stream_run(lesson, variant.name, built.reference, on_line=None, limit=15)
    assert outcome.exit_code == 0 and not outcome.stopped_at_limit
    assert sum("bytes from 127.0.0.1" in line for line in outcome.lines) == 3


def test_seed_variants_with_one_argument(images, lesson):
    cmd_only, entry_only, both = (images.build(v) for v in seed_variants())
    # 1: the argument replaces CMD: "127.0.0.1" becomes the program, which does not exist.
    assert resolve_image(cmd_only.config, ["127.0.0.1"]).argv == ("127.0.0.1",)
    with pytest.raises(RunFailed) as refused:
        stream_run(lesson, cmd_only.name, cmd_only.reference, ["127.0.0.1"], on_line=None)
    assert "127.0.0.1" in refused.value.what and "not found" in refused.value.what
    # 2: the argument is appended to ENTRYPOINT: ping gets two hosts and exits with its usage.
    predicted = resolve_image(entry_only.config, ["127.0.0.1"])
    seen = observe(lesson, entry_only.name, entry_only.reference, ["127.0.0.1"])
    assert seen.engine_argv == predicted.argv == ("ping", "-c", "3", "127.0.0.1", "127.0.0.1")
    assert seen.exit_code not in (None, 0)
    # 3: the argument replaces CMD: `-c 3` is gone.
    predicted = resolve_image(both.config, ["127.0.0.1"])
    seen = observe(lesson, both.name, both.reference, ["127.0.0.1"])
    assert seen.argv == predicted.argv == ("ping", "127.0.0.1")


# -- the endless ping: bounded, removed, also when interrupted -----------------------------


def test_endless_ping_is_stopped_and_removed(images, lesson, engine):
    both = images.build(seed_variants()[2])
    started = time.monotonic()
    outcome = stream_run(lesson, both.name, both.reference, ["127.0.0.1"], on_line=None, limit=3)
    assert outcome.stopped_at_limit and outcome.removed
    assert outcome.exit_code == 137  # busybox ping as PID 1 ignores SIGTERM: killed after the grace
    # Bounded: the 3 s limit and the 1 s grace, with room for an engine another learner keeps busy.
    assert time.monotonic() - started < 3 + 1 + 20
    assert any("bytes from 127.0.0.1" in line for line in outcome.lines)
    assert not our_containers(engine, lesson)


def test_max_lines_bounds_the_output(images, lesson):
    both = images.build(seed_variants()[2])
    outcome = stream_run(lesson, both.name, both.reference, ["127.0.0.1"], on_line=None, limit=20, max_lines=3)
    assert outcome.stopped_at_limit and len(outcome.lines) == 3


def test_interrupt_from_the_output_callback_removes_the_container(images, lesson, engine):
    both = images.build(seed_variants()[2])
    seen = []

    def interrupt(line):
        seen.append(line)
        if len(seen) == 2:
            assert our_containers(engine, lesson), "the ping should be running now"
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stream_run(lesson, both.name, both.reference, ["127.0.0.1"], on_line=interrupt, limit=30)
    assert len(seen) == 2
    assert not our_containers(engine, lesson)


def test_interrupt_signal_while_waiting_removes_the_container(images, lesson, engine, ctrl_c):
    """As a notebook interrupt does: SIGINT reaches the main thread while it waits for output."""
    both = images.build(seed_variants()[2])
    pinging = threading.Event()

    def interrupt_once_it_pings():
        # Wait on state, not a clock: the ping container exists and has printed a reply.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            boxes = our_containers(engine, lesson)
            if boxes and any(b"bytes from" in box.logs() for box in boxes):
                pinging.set()
                break
            time.sleep(0.05)
        _thread.interrupt_main()  # also when it never pinged: the test ends, and fails below

    threading.Thread(target=interrupt_once_it_pings, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        stream_run(lesson, both.name, both.reference, ["127.0.0.1"], on_line=None, limit=60)
    assert pinging.is_set(), "the ping never answered within 30 s"
    assert time.monotonic() - started < 45  # the interrupt ended it, not the 60 s limit
    assert not our_containers(engine, lesson)


# -- --entrypoint, inheritance, shell form ------------------------------------------------


def test_entrypoint_override(images, lesson):
    both = images.build(seed_variants()[2])
    with_args = observe(lesson, both.name, both.reference, ["5"], entrypoint_override="sleep")
    assert with_args.argv == resolve_image(both.config, ["5"], "sleep").argv == ("sleep", "5")
    # Without arguments the image's CMD is dropped too: `sleep` alone (exits with its usage).
    alone = observe(lesson, both.name, both.reference, entrypoint_override="sleep")
    assert alone.engine_argv == resolve_image(both.config, None, "sleep").argv == ("sleep",)
    # --entrypoint "" removes it: the run arguments are the whole command...
    reset = observe(lesson, both.name, both.reference, ["sleep", "5"], entrypoint_override="")
    assert reset.argv == ("sleep", "5")
    # ...and without them nothing is left.
    empty = observe(lesson, both.name, both.reference, entrypoint_override="")
    assert resolve_image(both.config, None, "").error == NO_COMMAND and is_no_command(empty.error)


def test_entrypoint_resets_the_inherited_cmd(images, lesson, base, engine):
    assert read_image_command(engine, base.reference).cmd  # the base has a CMD (["sh"])
    built = images.build_instructions("reset", E(["sleep", "5"]), Instruction.none())
    assert built.config.cmd is None
    predicted = resolve(E(["sleep", "5"]), Instruction.none(), inherited=images.inherited)
    seen = observe(lesson, "reset", built.reference)
    assert seen.argv == predicted.argv == ("sleep", "5")


def pid1_once_ping_runs(lesson, name: str, image: str):
    """(PID 1's argv, the engine's argv), read once a ping process runs in the container.

    The shell has then either exec'd ping (PID 1 is ping) or forked it (PID 1 is still the
    shell): a state to wait on, where a fixed pause is too short on a busy engine.
    """
    box = lesson.run(name, image, None, stdin_open=True)
    try:
        wait_until(lambda: box.exec_run(["pidof", "ping"]).exit_code == 0, 30, f"{name}: ping did not start")
        return read_pid1(box), box.info().cmdline
    finally:
        box.remove()


def test_a_lone_shell_command_replaces_the_shell(images, lesson):
    """busybox sh (like dash and bash) execs a lone command: the engine starts /bin/sh, PID 1 is ping."""
    lone = images.build_instructions("lone", Instruction.none(), S("ping 127.0.0.1"))
    argv, engine_argv = pid1_once_ping_runs(lesson, "lone", lone.reference)
    assert engine_argv == ("/bin/sh", "-c", "ping 127.0.0.1")
    assert argv == ("ping", "127.0.0.1")
    two = images.build_instructions("two", Instruction.none(), S("ping 127.0.0.1; echo bye"))
    argv, engine_argv = pid1_once_ping_runs(lesson, "two", two.reference)
    assert argv == engine_argv == ("/bin/sh", "-c", "ping 127.0.0.1; echo bye")
    # The course's own `observe` reads the same (its settle pause is what the lesson uses).
    seen = observe(lesson, "lone", lone.reference, settle=0.5)
    assert seen.engine_argv == ("/bin/sh", "-c", "ping 127.0.0.1")
    assert seen.argv in {("ping", "127.0.0.1"), ("/bin/sh", "-c", "ping 127.0.0.1")}


def test_docker_stop_shell_form_against_exec_form(images, lesson):
    exec_int = images.build(Variant("stop-exec", "", entrypoint=E(["ping"]), cmd=E(["127.0.0.1"]), stop_signal="SIGINT"))
    shell_int = images.build(Variant("stop-shell", "", cmd=S("ping 127.0.0.1; echo ping ended"), stop_signal="SIGINT"))
    exec_term = images.build(Variant("stop-term", "", entrypoint=E(["ping"]), cmd=E(["127.0.0.1"])))
    fast = measure_stop(lesson, "stop-exec", exec_int.reference, "exec", timeout=2)
    slow = measure_stop(lesson, "stop-shell", shell_int.reference, "shell", timeout=2)
    term = measure_stop(lesson, "stop-term", exec_term.reference, "term", timeout=2)
    assert fast.pid1 == ("ping", "127.0.0.1") and not fast.killed  # SIGINT ended it, no SIGKILL
    assert any("packets transmitted" in line for line in fast.last_lines)  # ping ended cleanly
    assert slow.pid1[0] == "/bin/sh" and slow.killed and slow.seconds >= 1.9
    assert term.stop_signal == "SIGTERM" and term.killed and term.seconds >= 1.9
    # Faster than waiting out the 2 s grace; compared with a kill measured under the same load,
    # not with a fixed figure (a busy engine slows every stop down).
    assert fast.seconds < min(slow.seconds, term.seconds), (fast.seconds, slow.seconds, term.seconds)


# -- bad input -----------------------------------------------------------------------------


def test_a_dockerfile_that_fails_is_a_short_message(lesson, base):
    with pytest.raises(BuildFailed) as failed:
        build_from_text(lesson, "broken", f"FROM {base.reference}\nRUN exit 3\n")
    assert "step 2/" in failed.value.what and "RUN exit 3" in failed.value.what and failed.value.fix
    with pytest.raises(BuildFailed) as unknown:
        build_from_text(lesson, "broken", f"FROM {base.reference}\nPING 127.0.0.1\n")
    assert "PING" in unknown.value.what or "unknown instruction" in unknown.value.what.lower()
