"""Replay tier: recordings of a real engine, and playing them back with no engine.

Core parts (request keys, the store, reduced `docker save` archives) need nothing; the
round trip records a scripted session against the live engine, then replays it with the
engine hidden and checks the course sees the same answers.
"""

from __future__ import annotations

import io
import tarfile
import time

import pytest

from layerlab.replay.httpwire import request_key, request_template
from layerlab.replay.store import Recording, reduce_saved_archive, real_size


def test_request_keys_ignore_version_and_random_names():
    assert request_key("GET", "/v1.45/containers/json?all=1&size=1") == request_key("GET", "/v1.41/containers/json?size=1&all=1")
    assert request_key("POST", "/v1.45/containers/create?name=layerlab-x-1-demo-a1b2c3") == "POST /containers/create"
    assert request_template("GET", "/v1.45/containers/" + "a" * 64 + "/changes") == "GET /containers/{id}/changes"
    assert request_template("GET", "/v1.45/images/json") == "GET /images/json"


def layer(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_reduced_save_keeps_names_and_sizes_not_contents():
    big = b"x" * 200_000
    archive = layer({"abc/layer.tar": layer({"usr/bin/tool": big, "etc/conf": b"a=1"}), "manifest.json": b"[]"})
    reduced = reduce_saved_archive(archive)
    assert len(reduced) < len(archive) / 10
    outer = tarfile.open(fileobj=io.BytesIO(reduced))
    assert outer.extractfile("manifest.json").read() == b"[]"
    inner = tarfile.open(fileobj=io.BytesIO(outer.extractfile("abc/layer.tar").read()))
    sizes = {m.name: real_size(m) for m in inner.getmembers()}
    assert sizes == {"usr/bin/tool": 200_000, "etc/conf": 3}


def test_store_round_trip(tmp_path):
    recording = Recording(header={"lesson": "x"})
    blob = recording.add_blob(b"hello")
    assert recording.add_blob(b"hello") == blob  # stored once
    path = tmp_path / "x.json.gz"
    recording.save(path)
    again = Recording.load(path)
    assert again.header == {"lesson": "x"} and again.blobs[blob] == b"hello"


@pytest.mark.engine
def test_record_then_replay_without_the_engine(engine, test_learner, tmp_path):
    from layerlab.engine import connect
    from layerlab.engine.prepare import base_for
    from layerlab.replay.source import SourceKind

    environ = dict(engine.environ, LAYERLAB_RECORD=str(tmp_path), LAYERLAB_SOURCE="live")
    live = connect(environ, lesson="replay-test")
    assert live.kind is SourceKind.RECORDING
    ping = base_for(live, "ping")
    ns = live.namespace("replay-test")
    box = live.run(ns, "talker", ping.reference, ["sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.3; done"])
    streamed = [chunk.decode() for chunk in box.follow_logs()]
    box.wait()
    layer_before = live.container_layer(box.id)
    stack_before = live.image_stack(ping.reference)
    box.remove()
    live.close()  # saves the recording
    assert (tmp_path / "replay-test.json.gz").exists()

    hidden = {"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock", "LAYERLAB_RECORDINGS": str(tmp_path),
              "LAYERLAB_LEARNER": test_learner}
    replayed = connect(hidden, lesson="replay-test")
    assert not replayed.live and replayed.source_note.startswith("Replay: recorded on Docker")
    assert replayed.facts == live.facts
    ping_again = base_for(replayed, "ping")
    assert ping_again.reference == ping.reference
    ns = replayed.namespace("replay-test")
    started = time.monotonic()
    box = replayed.run(ns, "talker", ping_again.reference, ["sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.3; done"])
    again = [chunk.decode() for chunk in box.follow_logs()]
    assert "".join(again) == "".join(streamed) == "line 1\nline 2\nline 3\n"
    assert time.monotonic() - started > 0.4, "the stream is replayed at the recorded pace"
    box.wait()
    assert replayed.container_layer(box.id) == layer_before
    assert replayed.image_stack(ping_again.reference) == stack_before
    box.remove()
    replayed.close()


def test_without_engine_or_recording_the_message_is_clear(tmp_path):
    from layerlab.core.errors import EngineError
    from layerlab.engine import connect

    with pytest.raises(EngineError, match="no Docker engine answers"):
        connect({"DOCKER_HOST": f"unix://{tmp_path}/none.sock", "LAYERLAB_RECORDINGS": str(tmp_path)}, lesson="nothing")
    with pytest.raises(EngineError, match="no recording of lesson nothing"):
        connect({"LAYERLAB_SOURCE": "replay", "LAYERLAB_RECORDINGS": str(tmp_path)}, lesson="nothing")


def test_replay_speed_reads_pace_factors_and_refuses_nonsense():
    from layerlab.core.errors import LayerlabError
    from layerlab.engine.sources import replay_speed

    assert replay_speed({}) == 1.0
    assert replay_speed({"LAYERLAB_REPLAY_SPEED": "50"}) == 50.0
    assert replay_speed({"LAYERLAB_REPLAY_SPEED": "instant"}) == 0.0
    assert replay_speed({"LAYERLAB_REPLAY_SPEED": "0"}) == 0.0
    for bad in ("fast", "-2"):
        with pytest.raises(LayerlabError, match="not a replay speed"):
            replay_speed({"LAYERLAB_REPLAY_SPEED": bad})


def test_notes_are_kept_while_recording_and_given_back_in_order_in_replay(tmp_path):
    from layerlab.replay.notes import LiveNotes, RecordingNotes, ReplayNotes

    assert LiveNotes().value("stop-seconds", 1.5) == 1.5
    recording = Recording(header={"lesson": "x"})
    kept = RecordingNotes(recording)
    assert kept.replayed("stop-seconds") is None  # live: nothing to give back
    assert kept.value("stop-seconds", 0.1) == 0.1
    assert kept.value("stop-seconds", 2.2) == 2.2
    kept.keep("stream-run", {"lines": 3, "stopped": False, "seconds": 2.0})
    path = tmp_path / "x.json.gz"
    recording.save(path)
    replay = ReplayNotes(Recording.load(path))
    # whatever the replay measures, the recorded values come back, per name, in order
    assert replay.value("stop-seconds", 9.9) == 0.1
    assert replay.value("stop-seconds", 9.9) == 2.2
    assert replay.replayed("stream-run") == {"lines": 3, "stopped": False, "seconds": 2.0}
    assert replay.value("stop-seconds", 9.9) == 9.9  # nothing recorded any more: the measured value


def test_replay_server_pace_follows_the_speed():
    from layerlab.replay.store import Exchange
    from layerlab.replay.wire import ReplayServer

    import socket

    recording = Recording(header={})
    head = recording.add_blob(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
    part = recording.add_blob(b"2\r\nok\r\n")
    end = recording.add_blob(b"0\r\n\r\n")
    recording.exchanges.append(Exchange(key="GET /slow", template="GET /slow", method="GET", target="/slow",
                                        status=200, chunks=[(0.0, head), (0.6, part), (1.2, end)]))

    def fetch(speed: float) -> float:
        recording_copy = Recording(header={}, exchanges=list(recording.exchanges), blobs=dict(recording.blobs))
        server = ReplayServer(recording_copy, speed=speed)
        try:
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.settimeout(10)
            client.connect(str(server.socket_path))
            started = time.monotonic()
            client.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while not data.endswith(b"0\r\n\r\n"):
                data += client.recv(4096)
            client.close()
            return time.monotonic() - started
        finally:
            server.stop()

    assert fetch(1.0) >= 1.1  # the recorded pace
    assert fetch(0.0) < 0.5  # instant (generous: a loaded machine)


def test_replayed_setup_speaks_of_the_recorded_engine_not_this_machine():
    """With no engine, lesson 00 must not claim one: its findings and table name the recording."""
    from layerlab.engine import connect
    from layerlab.views.setup import environment_findings, environment_html

    replayed = connect({"LAYERLAB_SOURCE": "replay", "LAYERLAB_REPLAY_SPEED": "instant"}, lesson="00-setup")
    try:
        findings = dict(environment_findings(replayed))
        assert "runs live" not in findings["engine"]
        assert "replays a recording" in findings["engine"] and replayed.recorded_header["recorded_at"] in findings["engine"]
        table = environment_html(replayed)
        assert "Your engine" not in table and "The recorded engine" in table
        assert replayed.facts.host not in table  # the recording machine's socket means nothing here
        live_table = environment_html(replayed.facts)  # bare facts are a live engine's
        assert "Your engine" in live_table
    finally:
        replayed.close()


def test_provenance_cell_is_first_and_renewed_not_repeated():
    import nbformat

    from layerlab.cli.record import PROVENANCE_TAG, stamp_provenance

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import layerlab")])
    # The facts as a real recording's header holds them: no "flavour" key (it is derived).
    facts = {"api_version": "1.45", "arch": "amd64", "buildkit": True, "buildx_version": "0.13.1",
             "cgroup_version": "2", "engine_version": "26.1.5", "host": "unix:///x.sock",
             "host_source": "from DOCKER_HOST", "kernel": "6.1", "min_api_version": "1.24", "os": "linux",
             "storage_driver": "overlayfs", "storage_kind": "CONTAINERD"}
    header = {"recorded_at": "2026-12-02", "facts": facts}
    stamp_provenance(notebook, header)
    stamp_provenance(notebook, dict(header, recorded_at="2026-12-03"))
    assert len(notebook.cells) == 2 and notebook.cells[1].source == "import layerlab"
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and PROVENANCE_TAG in first.metadata["tags"]
    assert "Docker 26.1.5" in first.source and "2026-12-03" in first.source and "2026-12-02" not in first.source
    assert "(docker-26-containerd, overlayfs storage, the classic builder and BuildKit)" in first.source


@pytest.mark.engine
@pytest.mark.timeout(240)
def test_time_limits_and_stop_times_replay_the_same_at_any_speed(engine, test_learner, tmp_path):
    """A run the engine refuses, one that ends by itself, one the course stops at its limit, and
    a timed stop: the replay tells the same story at the recorded pace, fifty times faster, and at once."""
    from layerlab.engine import connect
    from layerlab.course.runs import measure_stop, stream_run
    from layerlab.engine.prepare import base_for
    from layerlab.course.lesson import Lesson

    def story(source_engine):
        lesson = Lesson("replay-clock", engine=source_engine, quiet=True)
        ping = base_for(source_engine, "ping")
        # A run the engine refuses first (no such program): it keeps no note, and must not
        # take the next run's note in replay (lesson 05 starts with one).
        with pytest.raises(Exception, match="executable file not found"):
            stream_run(lesson, "refused", ping.reference, ["layerlab-no-such-program"], limit=5, on_line=None)
        ends = stream_run(lesson, "ends", ping.reference, ["ping", "-c", "3", "127.0.0.1"], limit=20, on_line=None)
        endless = stream_run(lesson, "endless", ping.reference, ["ping", "127.0.0.1"], limit=2.5, on_line=None)
        stop = measure_stop(lesson, "stopper", ping.reference, "exec form", ["ping", "127.0.0.1"])
        return ends, endless, stop

    base_for(engine, "ping")  # in place before recording: a replay finds bases, it cannot build them
    environ = dict(engine.environ, LAYERLAB_RECORD=str(tmp_path), LAYERLAB_SOURCE="live")
    live = connect(environ, lesson="replay-clock")
    try:
        ends, endless, stop = story(live)
    finally:
        live.close()
    assert not ends.stopped_at_limit and ends.exit_code == 0
    assert endless.stopped_at_limit and stop.seconds > 0
    for speed in ("1", "50", "instant"):
        hidden = {"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock", "LAYERLAB_RECORDINGS": str(tmp_path),
                  "LAYERLAB_LEARNER": test_learner, "LAYERLAB_REPLAY_SPEED": speed}
        replayed = connect(hidden, lesson="replay-clock")
        try:
            again = story(replayed)
        finally:
            replayed.close()
        for before, after in zip((ends, endless), again[:2]):
            assert after.summary() == before.summary(), f"speed {speed}"
            assert after.lines == before.lines and after.seconds == round(before.seconds, 3)
        assert again[2].summary() == stop.summary() and again[2].seconds == stop.seconds, f"speed {speed}"


@pytest.mark.timeout(600)
def test_replay_asks_the_host_for_nothing(tmp_path):
    """Every lesson, replayed: the course's code starts no program and opens no connection
    (no dpkg, busybox, debootstrap or docker CLI; no engine socket; no network)."""
    import os

    import nbformat
    from nbclient import NotebookClient

    from support import ROOT

    log = tmp_path / "hermetic.log"
    hermetic = {
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests" / "hermetic"), os.environ.get("PYTHONPATH", "")]),
        "LAYERLAB_HERMETIC_LOG": str(log),
        "LAYERLAB_SOURCE": "replay",
        "LAYERLAB_REPLAY_SPEED": "instant",
        "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
    }
    saved = dict(os.environ)
    os.environ.update(hermetic)
    failures = []
    try:
        for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")):
            notebook = nbformat.read(path, as_version=4)
            NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=True,
                           resources={"metadata": {"path": str(path.parent)}}).execute()
            failures += [f"{path.name}: {output.get('ename')}: {output.get('evalue')}"
                         for cell in notebook.cells for output in cell.get("outputs", [])
                         if output.get("output_type") == "error"]
    finally:
        os.environ.clear()
        os.environ.update(saved)
    asked = log.read_text() if log.exists() else ""
    assert not asked, "a replay asked the host:\n" + asked
    assert not failures, "replayed cells failed:\n" + "\n".join(failures)
