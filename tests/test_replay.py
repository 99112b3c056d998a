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

    environ = dict(engine.environ, LAYERLAB_RECORD=str(tmp_path), LAYERLAB_SOURCE="live")
    live = connect(environ, lesson="replay-test")
    assert live.recording is not None
    ping = base_for(live, "ping")
    ns = live.namespace("replay-test")
    box = live.run(ns, "talker", ping.reference, ["sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.3; done"])
    streamed = [chunk.decode() for chunk in box.logs(stream=True, follow=True)]
    box.wait()
    layer_before = live.container_layer(box.id)
    stack_before = live.image_stack(ping.reference)
    box.remove(force=True)
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
    again = [chunk.decode() for chunk in box.logs(stream=True, follow=True)]
    assert "".join(again) == "".join(streamed) == "line 1\nline 2\nline 3\n"
    assert time.monotonic() - started > 0.4, "the stream is replayed at the recorded pace"
    box.wait()
    assert replayed.container_layer(box.id) == layer_before
    assert replayed.image_stack(ping_again.reference) == stack_before
    box.remove(force=True)
    replayed.close()


def test_without_engine_or_recording_the_message_is_clear(tmp_path):
    from layerlab.core.errors import EngineError
    from layerlab.engine import connect

    with pytest.raises(EngineError, match="no Docker engine answers"):
        connect({"DOCKER_HOST": f"unix://{tmp_path}/none.sock", "LAYERLAB_RECORDINGS": str(tmp_path)}, lesson="nothing")
    with pytest.raises(EngineError, match="no recording of lesson nothing"):
        connect({"LAYERLAB_SOURCE": "replay", "LAYERLAB_RECORDINGS": str(tmp_path)}, lesson="nothing")
