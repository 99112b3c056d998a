"""No engine: the standard-library client of `engine/socketapi.py` against a fake engine on a
unix socket. It reads Content-Length, chunked and close-delimited answers, asks again once on a
kept-alive connection the engine closed, and answers None (so that the caller asks the SDK)
for anything but a plain 2xx JSON answer. Hosts other than unix:///path never use it."""

from __future__ import annotations

import json
import os
import socket
import threading

import pytest

from layerlab.core.errors import EngineError
from layerlab.engine import socketapi
from layerlab.engine.connection import probe_engine
from layerlab.engine.socketapi import SocketAPI, socket_path


class FakeEngine:
    """A unix socket that answers each request with the next canned bytes (then keeps or closes)."""

    def __init__(self, path, answers):
        self.path = str(path)
        self.answers = list(answers)
        self.requests: list[bytes] = []
        self.connections = 0
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(self.path)
        self.listener.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.answers:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                while self.answers:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        piece = conn.recv(4096)
                        if not piece:
                            break
                        data += piece
                    if not data:
                        break
                    self.requests.append(data)
                    answer, keep = self.answers.pop(0)
                    conn.sendall(answer)
                    if not keep:
                        break

    def close(self):
        self.listener.close()


def answer(status: int, body: bytes, *headers: str) -> bytes:
    head = [f"HTTP/1.1 {status} X", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def sized(status: int, data) -> bytes:
    body = json.dumps(data).encode()
    return answer(status, body, "Content-Type: application/json", f"Content-Length: {len(body)}")


def chunked(data) -> bytes:
    body = json.dumps(data).encode()
    parts = [body[:7], body[7:20], body[20:]]
    encoded = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\nTrailer: x\r\n\r\n"
    return answer(200, encoded, "Transfer-Encoding: chunked")


@pytest.fixture
def fake(tmp_path):
    made = []

    def make(*answers):
        made.append(FakeEngine(tmp_path / "engine.sock", answers))
        return made[-1], SocketAPI(made[-1].path, timeout=5, api_version="1.45")

    yield make
    for engine in made:
        engine.close()


def test_only_a_local_unix_socket_path_is_used():
    assert socket_path("unix:///run/docker.sock") == "/run/docker.sock"
    for host in ("tcp://127.0.0.1:2375", "ssh://me@there", "https://h:2376", "npipe:////./pipe/docker_engine",
                 "unix://relative.sock", ""):
        assert socket_path(host) is None
        assert socketapi.probe(host, 1) is None


def test_it_reads_sized_chunked_and_close_delimited_answers_on_one_connection(fake):
    engine, api = fake((sized(200, {"Id": "sha256:abc"}), True), (chunked([{"Id": "x", "Size": 3}] * 5), True),
                       (answer(200, b'{"Os": "linux"}'), False))
    assert api.get("/images/{}/json", "layerlab-me/app:latest") == {"Id": "sha256:abc"}
    assert api.get("/images/{}/history", "sha256:abc") == [{"Id": "x", "Size": 3}] * 5
    assert api.get("/info") == {"Os": "linux"}
    assert engine.connections == 1
    first = engine.requests[0].split(b"\r\n")[0]
    assert first == b"GET /v1.45/images/layerlab-me/app:latest/json HTTP/1.1"  # quoted as the SDK does
    api.close()


def test_a_name_is_quoted_as_the_sdk_quotes_it():
    api = SocketAPI("/x.sock", 1, "1.41")
    assert api.url("/images/{}/json", "a b/c:1@sha256:ff") == "/v1.41/images/a%20b/c:1%40sha256:ff/json"
    assert SocketAPI("/x.sock", 1).url("/version") == "/version"


def test_a_kept_alive_connection_the_engine_closed_is_asked_again_once(fake):
    # the first answer does not say "Connection: close", but the engine closes it after
    engine, api = fake((sized(200, {"n": 1}), False), (sized(200, {"n": 2}), True))
    assert api.get("/a") == {"n": 1}
    assert api.get("/b") == {"n": 2}
    assert engine.connections == 2
    api.close()


@pytest.mark.parametrize("bad", [
    sized(404, {"message": "No such image: nope:1"}),
    sized(500, {"message": "boom"}),
    answer(200, b"not json", "Content-Length: 8"),
    answer(200, b'{"a": 1', "Content-Length: 99"),  # ends early
    b"SPDY/3 200 OK\r\n\r\n{}",
    answer(200, b"zz\r\nxx\r\n0\r\n\r\n", "Transfer-Encoding: chunked"),
])
def test_anything_but_a_plain_answer_is_none_so_the_sdk_is_asked(fake, bad):
    _, api = fake((bad, False))
    assert api.get("/images/{}/json", "nope:1") is None


def test_no_socket_or_nobody_listening_is_none_too(tmp_path):
    assert SocketAPI(str(tmp_path / "missing.sock"), 1).get("/version") is None
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(tmp_path / "stale.sock"))
    stale.close()
    assert SocketAPI(str(tmp_path / "stale.sock"), 1).get("/version") is None
    assert socketapi.probe(f"unix://{tmp_path}/missing.sock", 1) is None


def test_probe_versions_the_client_as_the_sdk_auto_version_would(fake):
    engine, _ = fake((sized(200, {"Version": "26.1.5", "ApiVersion": "1.45"}), True))
    version, api = socketapi.probe(f"unix://{engine.path}", 5)
    assert version["Version"] == "26.1.5" and api.api_version == "1.45"
    assert engine.requests[0].startswith(b"GET /version HTTP/1.1")
    api.close()


def test_an_engine_made_with_a_client_handed_in_never_reads_around_it():
    from layerlab.core.engineinfo import EngineFacts
    from layerlab.engine.engine import Engine
    from layerlab.engine.sources import LiveSource
    from test_engine_unit import FACTS

    assert isinstance(FACTS, EngineFacts)
    assert Engine(LiveSource(FACTS), FACTS, {}, client=object()).reader is None


# Needs no engine: it is about the case where there is none (so it runs in the bare tier too).
@pytest.mark.parametrize("host", ["unix:///nonexistent/layerlab-engine.sock"])
def test_no_engine_is_the_same_clear_error_either_way(host, monkeypatch):
    environ = dict(os.environ, DOCKER_HOST=host)
    with pytest.raises(EngineError) as fast:
        probe_engine(environ, ask_buildx=False)
    monkeypatch.setattr(socketapi, "probe", lambda host, timeout: None)
    with pytest.raises(EngineError) as slow:
        probe_engine(environ, ask_buildx=False)
    assert (type(fast.value), fast.value.what, fast.value.fix) == (type(slow.value), slow.value.what, slow.value.fix)
    assert "the socket does not exist" in fast.value.what
