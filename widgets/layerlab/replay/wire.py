"""The recorder (a proxy in front of a real engine) and the player (an engine stand-in).

Both listen on a unix socket of their own in a temporary folder; the docker SDK connects to
it exactly as to an engine, so every lesson, widget and watcher works unchanged in both
modes, streams and attach included.
"""

from __future__ import annotations

import collections
import json
import os
import re
import socket
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from .httpwire import (
    ConnectionClosed,
    Reader,
    body_framing,
    dechunk,
    iter_body,
    read_head,
    request_key,
    request_template,
)
from .store import Exchange, Recording, reduce_saved_archive

_SAVE = re.compile(r"^(/v\d+\.\d+)?/images/(.+/)?get$")
MERGE_WINDOW = 0.05
#: Pause between a hijacked stream's head and its first bytes, in replay.
HIJACK_SETTLE = 0.02


def _listen(prefix: str) -> tuple[socket.socket, Path]:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    path = folder / "engine.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(64)
    return server, path


def _connect_upstream(host: str) -> socket.socket:
    if host.startswith("unix://"):
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(host[len("unix://"):])
        return upstream
    parts = urlsplit(host.replace("tcp://", "http://", 1))
    return socket.create_connection((parts.hostname, parts.port or 2375))


class _Server:
    """Accepts connections on its own socket and serves each in a daemon thread."""

    prefix = "layerlab-"

    def __init__(self):
        self._server, self.socket_path = _listen(self.prefix)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, name=f"{self.prefix}accept", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve_safely, args=(client,), daemon=True).start()

    def _serve_safely(self, client: socket.socket) -> None:
        try:
            self.serve(client)
        except (OSError, ConnectionError, ConnectionClosed):
            pass
        finally:
            # shutdown, not only close: a thread still blocked in recv() on this socket (the
            # stdin pump after an exec's hijack) would keep it open, and the client would never
            # see the end of the stream.
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            client.close()

    def serve(self, client: socket.socket) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def stop(self) -> None:
        self._stopped.set()
        self._server.close()
        try:
            os.unlink(self.socket_path)
            os.rmdir(self.socket_path.parent)
        except OSError:
            pass


class RecordingProxy(_Server):
    """Relays every request to the real engine and records each answer with its timing."""

    prefix = "layerlab-record-"

    def __init__(self, upstream: str, recording: Recording):
        self.upstream = upstream
        self.recording = recording
        self._inflight = 0
        self._idle = threading.Condition()
        super().__init__()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no exchange is on its way, so that a save holds every answer given."""
        with self._idle:
            return self._idle.wait_for(lambda: self._inflight == 0, timeout=timeout)

    def _busy(self, delta: int) -> None:
        with self._idle:
            self._inflight += delta
            self._idle.notify_all()

    def serve(self, client: socket.socket) -> None:
        upstream = _connect_upstream(self.upstream)
        client_reader, upstream_reader = Reader(client), Reader(upstream)
        try:
            while True:
                try:
                    head = read_head(client_reader)
                except ConnectionClosed:
                    return
                started = time.monotonic()
                self._busy(+1)
                try:
                    client_alive = self._exchange(head, started, client, client_reader, upstream, upstream_reader)
                finally:
                    self._busy(-1)
                if not client_alive:
                    return
        finally:
            upstream.close()

    def _exchange(self, head, started, client, client_reader, upstream, upstream_reader) -> bool:
        """Relay one request and its answer; False when the connection is done."""
        upstream.sendall(head.raw)
        for part in iter_body(client_reader, head, body_framing(head, is_response=False)):
            upstream.sendall(part)
        answer = read_head(upstream_reader)
        framing = body_framing(answer, is_response=True, request_method=head.method)
        chunks = [(time.monotonic() - started, answer.raw)]
        client_alive = _send(client, answer.raw)
        if framing == "close":
            self._pump(client_reader, upstream)
        for part in iter_body(upstream_reader, answer, framing):
            chunks.append((time.monotonic() - started, part))
            if client_alive:
                client_alive = _send(client, part)
            if not client_alive and framing == "close":
                break
        self._record(head, answer, framing, chunks, cut_short=not client_alive)
        return client_alive and framing != "close"

    def _pump(self, client_reader: Reader, upstream: socket.socket) -> None:
        """After a hijack, the client may write (stdin): pass it on, unrecorded."""

        def pump() -> None:
            try:
                data = client_reader.read_some()
                while data:
                    upstream.sendall(data)
                    data = client_reader.read_some()
                upstream.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        threading.Thread(target=pump, daemon=True).start()

    def _record(self, head, answer, framing, chunks, cut_short: bool = False) -> None:
        path = urlsplit(head.target).path
        if _SAVE.match(path) and answer.status == 200:
            body = b"".join(part for _, part in chunks[1:])
            if framing == "chunked":
                body = dechunk(body)
            reduced = reduce_saved_archive(body)
            new_head = (
                f"HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nContent-Length: {len(reduced)}\r\n\r\n"
            ).encode()
            chunks = [(chunks[0][0], new_head + reduced)]
        merged: list[tuple[float, bytes]] = []
        for moment, data in chunks:
            if merged and moment - merged[-1][0] < MERGE_WINDOW:
                merged[-1] = (merged[-1][0], merged[-1][1] + data)
            else:
                merged.append((moment, data))
        with self.recording.lock:
            self.recording.exchanges.append(
                Exchange(
                    key=request_key(head.method, head.target),
                    template=request_template(head.method, head.target),
                    method=head.method,
                    target=head.target,
                    status=answer.status,
                    chunks=[(round(moment, 3), self.recording.add_blob(data)) for moment, data in merged],
                    # A stream the client stopped reading ends the connection in replay too.
                    until_close=framing == "close" or cut_short,
                )
            )


def _send(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
        return True
    except OSError:
        return False


class ReplayServer(_Server):
    """Answers like the recorded engine: the same bytes, matched by request and order.

    Each request gets the next unused answer recorded for the same request (or, failing that,
    for the same request with its ids and names left out). The clock plays no part in which
    answer is given. `speed` only sets the pace inside one answer (the gaps between a stream's
    chunks): 1 is the recorded pace, 50 fifty times faster, 0 no waiting at all. Values the
    course measured with a clock come from the recording's notes, not from this pace.
    """

    prefix = "layerlab-replay-"

    def __init__(self, recording: Recording, speed: float = 1.0, max_pause: float = 5.0):
        self.recording = recording
        self.speed = speed
        self.max_pause = max_pause
        self._lock = threading.Lock()
        self._used: set[int] = set()
        self._by_key: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._by_template: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._last: dict[str, int] = {}
        self.misses: list[str] = []
        for index, exchange in enumerate(recording.exchanges):
            self._by_key[exchange.key].append(index)
            self._by_template[exchange.template].append(index)
        super().__init__()

    def answer_for(self, method: str, target: str) -> Exchange | None:
        key, template = request_key(method, target), request_template(method, target)
        with self._lock:
            for queue in (self._by_key.get(key), self._by_template.get(template)):
                while queue:
                    index = queue.popleft()
                    if index not in self._used:
                        self._used.add(index)
                        self._last[key] = self._last[template] = index
                        return self.recording.exchanges[index]
            # Polling (a watcher asking again and again) gets the last answer again.
            index = self._last.get(key, self._last.get(template))
            if index is not None:
                return self.recording.exchanges[index]
        self.misses.append(f"{method} {target}")
        return None

    def serve(self, client: socket.socket) -> None:
        reader = Reader(client)
        while True:
            try:
                head = read_head(reader)
            except ConnectionClosed:
                return
            for _ in iter_body(reader, head, body_framing(head, is_response=False)):
                pass
            exchange = self.answer_for(head.method, head.target)
            if exchange is None:
                message = json.dumps({
                    "message": "layerlab replay: the recording has no answer for "
                    f"{request_key(head.method, head.target)}. Connect a Docker engine to run this live."
                }).encode()
                client.sendall(
                    b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(message)}\r\n\r\n".encode() + message
                )
                continue
            started = time.monotonic()
            shift = 0.0
            previous = 0.0
            for number, (moment, blob_id) in enumerate(exchange.chunks):
                pause = 0.0 if self.speed <= 0 else min((moment - previous) / self.speed, self.max_pause)
                shift += pause
                previous = moment
                delay = started + shift - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                data = self.recording.blobs[blob_id]
                if number == 0 and exchange.status == 101:
                    # A hijacked stream (exec, attach): the client reads the head through a
                    # buffered reader, then the stream from the raw socket. Bytes that arrive
                    # with the head would be lost in that buffer, so the head goes alone.
                    # The same holds for the next chunks, which at a fast pace follow at once:
                    # the head always goes alone, and the stream waits a moment after it.
                    head_end = data.find(b"\r\n\r\n") + 4
                    if head_end >= 4:
                        client.sendall(data[:head_end])
                        time.sleep(HIJACK_SETTLE)
                        data = data[head_end:]
                if data:
                    client.sendall(data)
            if exchange.until_close:
                return
