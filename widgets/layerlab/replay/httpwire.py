"""Just enough HTTP/1.1 to relay the Docker API byte for byte, and to know where each message ends.

The recorder sits between the client and the engine; the player answers in the engine's
place. Both must find message boundaries on keep-alive connections: Content-Length,
chunked transfer encoding, or (hijacked attach streams, bodies without a length) the end
of the connection.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
import re
from urllib.parse import parse_qsl, urlencode, urlsplit


class ConnectionClosed(Exception):
    """The peer closed the connection between messages."""


class Reader:
    """A buffered reader over a socket that also hands back the exact bytes it consumed."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buffer += data
        return True

    def read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            if not self._fill():
                if self.buffer:
                    raise ConnectionError("connection closed in the middle of a message")
                raise ConnectionClosed()
        index = self.buffer.index(marker) + len(marker)
        data, self.buffer = self.buffer[:index], self.buffer[index:]
        return data

    def read_exact(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._fill():
                raise ConnectionError("connection closed in the middle of a body")
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def read_some(self) -> bytes:
        """Whatever is buffered, or the next recv (b"" at the end of the connection)."""
        if self.buffer:
            data, self.buffer = self.buffer, b""
            return data
        return self.sock.recv(65536)


@dataclass
class Head:
    raw: bytes
    start_line: str
    headers: dict[str, str]

    @property
    def method(self) -> str:
        return self.start_line.split(" ", 1)[0]

    @property
    def target(self) -> str:
        return self.start_line.split(" ")[1]

    @property
    def status(self) -> int:
        return int(self.start_line.split(" ")[1])

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


def read_head(reader: Reader) -> Head:
    raw = reader.read_until(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return Head(raw=raw, start_line=lines[0], headers=headers)


def body_framing(head: Head, is_response: bool, request_method: str = "") -> str:
    """'none', 'length', 'chunked' or 'close' (until the connection ends)."""
    if is_response:
        status = head.status
        if request_method == "HEAD" or status in (204, 304) or 100 <= status < 200 and status != 101:
            return "none"
        if status == 101:
            return "close"
    if "chunked" in head.header("transfer-encoding").lower():
        return "chunked"
    if head.header("content-length"):
        return "length"
    return "close" if is_response else "none"


def iter_body(reader: Reader, head: Head, framing: str):
    """Yield the body's raw bytes (framing included) as they arrive."""
    if framing == "none":
        return
    if framing == "length":
        remaining = int(head.header("content-length"))
        while remaining > 0:
            if reader.buffer:
                data = reader.buffer[:remaining]
                reader.buffer = reader.buffer[len(data):]
            else:
                data = reader.sock.recv(min(65536, remaining))
                if not data:
                    raise ConnectionError("connection closed in the middle of a body")
            remaining -= len(data)
            yield data
        return
    if framing == "chunked":
        while True:
            size_line = reader.read_until(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                trailer = b""
                while True:
                    line = reader.read_until(b"\r\n")
                    trailer += line
                    if line == b"\r\n":
                        break
                yield size_line + trailer
                return
            yield size_line + reader.read_exact(size + 2)
        return
    while True:  # until close
        data = reader.read_some()
        if not data:
            return
        yield data


def dechunk(raw: bytes) -> bytes:
    """The payload of a chunked body."""
    out, index = [], 0
    while True:
        end = raw.index(b"\r\n", index)
        size = int(raw[index:end].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(raw[end + 2:end + 2 + size])
        index = end + 2 + size + 2


_VERSION_PREFIX = re.compile(r"^/v\d+\.\d+(?=/)")
_ID = re.compile(r"^([0-9a-f]{12,64}|sha256:[0-9a-f]{64})$")
VOLATILE_QUERY = {"name"}  # container names carry a random suffix
OBJECT_COLLECTIONS = {"containers", "images", "volumes", "networks", "exec", "distribution"}


def request_key(method: str, target: str) -> str:
    """Method, path without the API version, and the query without volatile parameters."""
    parts = urlsplit(target)
    path = _VERSION_PREFIX.sub("", parts.path)
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in VOLATILE_QUERY)
    return f"{method} {path}" + (f"?{urlencode(query)}" if query else "")


def request_template(method: str, target: str) -> str:
    """The key with object ids and names replaced, for answers the recording has in order."""
    path = _VERSION_PREFIX.sub("", urlsplit(target).path)
    segments = path.split("/")
    for index in range(1, len(segments) - 1):
        if segments[index] in OBJECT_COLLECTIONS and index + 1 < len(segments):
            following = segments[index + 1]
            if following not in ("json", "create", "prune", "load", "search", "get") or _ID.match(following):
                segments[index + 1] = "{id}"
    return f"{method} {'/'.join(segments)}"
