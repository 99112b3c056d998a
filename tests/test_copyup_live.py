"""Copy-up monitor, live tier: a real container, scripted writes, compared with `docker diff`."""

from __future__ import annotations

import _thread
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from support import ROOT, most_in_one_second

from layerlab.core.copyup import RwPathOrigin, WatchStatus, changes_from_api
from layerlab.core.model import ChangeKind

pytestmark = pytest.mark.engine

LESSON = "02-copy-on-write"
DOCKERFILE = """\
FROM {base}
RUN mkdir -p /data && dd if=/dev/zero of=/data/big.bin bs=1M count=2 2>/dev/null
RUN echo one > /data/one.txt && mkdir /data/sub && echo deep > /data/sub/deep.txt && echo keep > /data/keep.txt
RUN echo two > /data/one.txt
"""

# (step, shell command, {path: (kind, via, text the attributed instruction must contain)})
SCRIPT = [
    ("append one byte to a big lower file", "echo -n x >> /data/big.bin",
     {"/data/big.bin": (ChangeKind.CHANGED, RwPathOrigin.COPY_UP, "dd if=/dev/zero")}),
    ("create a new file", "echo new > /data/new.txt", {"/data/new.txt": (ChangeKind.ADDED, RwPathOrigin.NEW, None)}),
    ("delete a file a later layer replaced", "rm /data/one.txt",
     {"/data/one.txt": (ChangeKind.DELETED, RwPathOrigin.WHITEOUT, "echo two > /data/one.txt")}),
    ("delete a lower directory", "rm -rf /data/sub",
     {"/data/sub": (ChangeKind.DELETED, RwPathOrigin.WHITEOUT, "mkdir /data/sub")}),
    ("overwrite a lower file", "echo changed > /data/keep.txt",
     {"/data/keep.txt": (ChangeKind.CHANGED, RwPathOrigin.COPY_UP, "echo keep > /data/keep.txt")}),
    ("create and delete a scratch file", "echo tmp > /data/tmp.txt && rm /data/tmp.txt", {}),
    ("create a file in a new directory", "mkdir -p /srv/app && echo hi > /srv/app/hi.txt",
     {"/srv/app/hi.txt": (ChangeKind.ADDED, RwPathOrigin.NEW, None), "/srv": (ChangeKind.ADDED, RwPathOrigin.NEW, None)}),
]


@pytest.fixture(scope="module")
def lesson(engine, test_learner):
    from layerlab.course.lesson import Lesson

    return Lesson(LESSON, engine=engine, quiet=True)


@pytest.fixture(scope="module")
def image(lesson):
    base = lesson.base("ping", quiet=True)
    folder = lesson.context("cow-test")
    (folder / "Dockerfile").write_text(DOCKERFILE.format(base=base.reference))
    lesson.build("cow-test", folder)
    return lesson.image("cow-test")


def copyup_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("layerlab-copyup")]


def our_containers(lesson) -> list[str]:
    listed = lesson.engine.client.api.containers(all=True, filters={"label": lesson.namespace.label_filters()})
    return [c["Names"][0] for c in listed]


def test_monitor_matches_docker_diff_and_attributes_every_path(lesson, image):
    from layerlab.course.copy_on_write import watch_copy_ups

    base_layers = len(lesson.engine.image_stack(lesson.base("ping", quiet=True).reference).diff_ids)
    with lesson.container("diff", image, ["sleep", "300"]) as box:
        monitor = watch_copy_ups(lesson, box)
        try:
            monitor.sync()
            assert monitor.state.status is WatchStatus.WATCHING and not monitor.state.note
            assert monitor.state.current() == {}
            for step, command, expected in SCRIPT:
                result = box.exec_run(["sh", "-c", command])
                assert result.exit_code == 0, (step, result.output)
                for path in expected:
                    monitor.wait_for(path, expected[path][0], timeout=20)
                state = monitor.sync()
                diff = changes_from_api(lesson.engine.client.api.diff(box.id))
                assert state.current() == diff, step
                for path, (kind, via, instruction) in expected.items():
                    seen = state.paths[path]
                    assert (seen.kind, seen.attribution.via) == (kind, via), (step, path)
                    if instruction:
                        assert instruction in seen.attribution.instruction, (step, path, seen.attribution)
                        assert seen.attribution.layer > base_layers
            # Every changed or deleted path has a layer; parent directories too.
            final = monitor.state.paths
            for path, seen in final.items():
                if seen.kind is not ChangeKind.ADDED:
                    assert seen.attribution.layer is not None, path
            assert final["/data"].attribution.via is RwPathOrigin.COPY_UP_DIRECTORY
            assert final["/data/sub"].attribution.is_directory
            assert final["/data/big.bin"].size == 2 * 1024 * 1024 + 1
            assert final["/data/new.txt"].size == 4
            # The whole 2 MB file was copied up for a one-byte append.
            assert monitor.state.size_rw >= 2 * 1024 * 1024
            # A file made and removed between two polls may go unseen; if seen, it was seen to go.
            scratch = [e for e in monitor.state.events if e.path == "/data/tmp.txt"]
            assert not scratch or scratch[-1].kind is None
        finally:
            monitor.stop()
    assert not copyup_threads()


BURST = "mkdir -p /w; i=0; while [ $i -lt 40 ]; do echo $i > /w/f$i; usleep 40000; i=$((i+1)); done"


def test_a_burst_of_writes_costs_at_most_three_diffs_a_second_and_loses_none(lesson, image, monkeypatch):
    """40 new files, one every ~40 ms: SizeRw changes at nearly every probe. The watcher walks
    the layer (`/changes`) at most 3 times in any second, and every file arrives."""
    from layerlab.course.copy_on_write import watch_copy_ups
    from layerlab.engine.watch import MAX_DIFFS_PER_SECOND

    calls = []
    changes = lesson.engine.container_changes

    def counted(container_id):
        calls.append(time.monotonic())
        return changes(container_id)

    monkeypatch.setattr(lesson.engine, "container_changes", counted)
    with lesson.container("burst", image, ["sleep", "300"]) as box:
        monitor = watch_copy_ups(lesson, box)
        try:
            monitor.sync()
            before = len(calls)
            started = time.monotonic()
            result = box.exec_run(["sh", "-c", BURST])
            assert result.exit_code == 0, result.output
            burst = calls[before:]
            took = time.monotonic() - started
            for i in range(40):
                assert monitor.wait_for(f"/w/f{i}", ChangeKind.ADDED, timeout=20).kind is ChangeKind.ADDED
        finally:
            monitor.stop()
    most = most_in_one_second(burst)
    assert most <= MAX_DIFFS_PER_SECOND, (most, len(burst), took)
    assert len(burst) >= 2  # it kept looking while the files came
    assert not copyup_threads()


def test_removing_the_container_stops_the_watcher(lesson, image):
    from layerlab.course.copy_on_write import watch_copy_ups

    box = lesson.run("gone", image, ["sleep", "300"])
    monitor = watch_copy_ups(lesson, box)
    box.exec_run(["sh", "-c", "dd if=/dev/zero of=/tmp/written bs=1024 count=64 2>/dev/null"])
    monitor.wait_for("/tmp/written", ChangeKind.ADDED)
    monitor.sync()
    box.remove()
    assert monitor.watcher.join(15)
    assert monitor.state.status is WatchStatus.CONTAINER_GONE
    # The engine answers SizeRw 0 while it deletes the layer; the monitor keeps the real figure.
    assert monitor.state.size_rw >= 64 * 1024
    assert "R/W layer is gone" in monitor.html()
    assert not copyup_threads()
    assert box.name not in [n.lstrip("/") for n in our_containers(lesson)]


def test_a_container_that_stops_stops_the_watcher(lesson, image):
    from layerlab.course.copy_on_write import watch_copy_ups

    with lesson.container("stops", image, ["sh", "-c", "sleep 2; echo bye > /data/bye.txt"]) as box:
        monitor = watch_copy_ups(lesson, box)
        assert monitor.watcher.join(30)
        assert monitor.state.status is WatchStatus.CONTAINER_STOPPED
        assert monitor.state.current() == changes_from_api(lesson.engine.client.api.diff(box.id))
    assert not copyup_threads()


def test_interrupting_the_cell_stops_the_watcher_and_leaves_no_container(lesson, image, capsys, ctrl_c):
    from layerlab.course.copy_on_write import watch_copy_ups

    timer = threading.Timer(1.5, _thread.interrupt_main)
    with lesson.container("interrupt", image, ["sleep", "300"]) as box:
        monitor = watch_copy_ups(lesson, box)
        timer.start()
        monitor.follow()  # blocks like a cell would, until the kernel is interrupted
    assert "stopped watching" in capsys.readouterr().out
    assert monitor.state.status is WatchStatus.STOPPED
    assert not copyup_threads()
    assert box.name not in [n.lstrip("/") for n in our_containers(lesson)]


def test_interrupting_a_plain_loop_then_leaving_the_block_stops_the_watcher(lesson, image, ctrl_c):
    from layerlab.course.copy_on_write import watch_copy_ups

    timer = threading.Timer(1.0, _thread.interrupt_main)
    with pytest.raises(KeyboardInterrupt):
        with lesson.container("loop", image, ["sleep", "300"]) as box:
            monitor = watch_copy_ups(lesson, box)
            timer.start()
            while True:  # the learner's own loop in a cell
                time.sleep(0.05)
    assert monitor.watcher.join(15)  # the container went with the block; the watcher saw it
    assert monitor.state.status is WatchStatus.CONTAINER_GONE
    assert not copyup_threads()
    assert box.name not in [n.lstrip("/") for n in our_containers(lesson)]


def test_bad_containers_get_a_short_error(lesson, image):
    from layerlab.core.errors import LayerlabError
    from layerlab.course.copy_on_write import watch_copy_ups

    with pytest.raises(LayerlabError, match="There is no container"):
        watch_copy_ups(lesson, "layerlab-no-such-container")
    box = lesson.run("exited", image, ["true"])
    try:
        box.wait()
        with pytest.raises(LayerlabError, match="is not running") as error:
            watch_copy_ups(lesson, box)
        assert "docker start" in error.value.fix
    finally:
        box.remove()
    assert not copyup_threads()


# `python -m layerlab watch`, with Ctrl-C (SIGINT) handled as in a terminal: a suite started by
# `nohup` or a shell's `&` passes SIGINT on ignored, and then the CLI would never see our Ctrl-C.
WATCH_WITH_CTRL_C = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('layerlab', run_name='__main__', alter_sys=True)"
)


def _watch(*args):
    env = dict(os.environ)
    return subprocess.Popen(
        [sys.executable, "-c", WATCH_WITH_CTRL_C, "watch", *args], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_until_watching(process, timeout=60.0) -> str:
    """The CLI's stderr up to its "watching ..." line (it says so before its first poll)."""
    seen: list[str] = []
    done = threading.Event()

    def reader():
        for line in process.stderr:
            seen.append(line)
            if "watching" in line:
                done.set()
                return
        done.set()

    threading.Thread(target=reader, daemon=True).start()
    assert done.wait(timeout), f"the CLI did not start watching within {timeout:.0f} s: {seen}"
    assert any("watching" in line for line in seen), f"the CLI ended before watching: {seen}"
    return "".join(seen)


def _read_until(process, predicate, timeout=30.0) -> list[str]:
    lines: list[str] = []
    done = threading.Event()

    def reader():
        for line in process.stdout:
            lines.append(line)
            if predicate(lines):
                break
        done.set()  # seen, or the CLI ended: either way, no reason to wait longer

    threading.Thread(target=reader, daemon=True).start()
    done.wait(timeout)
    return list(lines)


def test_cli_json_lines_until_ctrl_c(lesson, image):
    with lesson.container("cli", image, ["sleep", "300"]) as box:
        process = _watch(box.name, "--json")
        try:
            _wait_until_watching(process)
            # Changes made before its first diff are reported too (that diff is against the image).
            box.exec_run(["sh", "-c", "echo -n x >> /data/big.bin; rm /data/keep.txt"])
            wanted = ('"path": "/data/big.bin"', '"path": "/data/keep.txt"')
            lines = _read_until(process, lambda ls: all(any(w in line for line in ls) for w in wanted), timeout=60)
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
        events = {e["path"]: e for e in (json.loads(line) for line in lines + out.splitlines() if line.strip())}
        assert events["/data/big.bin"]["kind"] == "changed"
        assert events["/data/big.bin"]["attribution"]["via"] == "copy_up"
        assert "dd if=/dev/zero" in events["/data/big.bin"]["attribution"]["instruction"]
        assert events["/data/keep.txt"]["kind"] == "deleted"
        assert events["/data/keep.txt"]["attribution"]["via"] == "whiteout"
        assert process.returncode == 0, err
        assert "Traceback" not in err and "stopped watching" in err


def test_cli_ends_when_the_container_goes_and_explains_bad_names(lesson, image):
    box = lesson.run("cli-gone", image, ["sleep", "300"])
    process = _watch(box.name)
    try:
        _wait_until_watching(process)
        box.exec_run(["sh", "-c", "echo hello > /data/hello.txt"])
        lines = _read_until(process, lambda ls: any("/data/hello.txt" in line for line in ls), timeout=60)
        box.remove()
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        try:
            box.remove()
        except Exception:
            pass
    text = "".join(lines) + out
    # The size is measured when the watcher first sees the file: just created (0 B) or written (6 B).
    assert re.search(r"A /data/hello\.txt \((0|6) B\) added: new in the R/W layer", text), text
    assert process.returncode == 0 and "its R/W layer is gone" in err and "Traceback" not in err
    missing = subprocess.run([sys.executable, "-m", "layerlab", "watch", "layerlab-no-such-container"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1
    assert "There is no container" in missing.stderr and "Traceback" not in missing.stderr


def test_commit_turns_the_rw_layer_into_a_labeled_namespaced_image(lesson, image):
    from layerlab.core.naming import is_ours
    from layerlab.engine.layers import image_layers
    from layerlab.course.copy_on_write import commit_rw_layer

    with lesson.container("commit", image, ["sleep", "300"]) as box:
        box.exec_run(["sh", "-c", "echo -n x >> /data/big.bin && rm /data/keep.txt"])
        reference = commit_rw_layer(lesson.engine, lesson.namespace, box, "cow-test-committed")
    assert reference.startswith(lesson.namespace.repository_prefix)
    labels = lesson.engine.image(reference).labels
    assert is_ours(labels, lesson.namespace.learner, LESSON)
    top = image_layers(lesson.engine, reference).files.layers[-1]
    assert top.get("/data/big.bin").kind is ChangeKind.CHANGED and top.get("/data/big.bin").size == 2 * 1024 * 1024 + 1
    assert top.get("/data/keep.txt").kind is ChangeKind.DELETED
