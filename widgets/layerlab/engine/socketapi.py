"""A read-only client of the engine API over a local unix socket, in the standard library.

A warm `python -m layerlab layers IMAGE --json` asks the engine four questions (`/version`,
`/info`, an image's inspect and its history) and reads the rest from the index cache.
Importing the docker SDK to ask them (with requests and urllib3) costs more than everything
else that command does, so on a plain local socket they go through a small client of its own.

It only ever answers plainly or not at all: `get` returns the JSON of a 2xx answer, or None
for anything else (no socket, an error status, a broken answer), and the caller then asks the
SDK exactly as it would have without this module, so every error a learner sees is the one
the SDK path gives. Hosts other than `unix:///path` (tcp, ssh, TLS, npipe) never use it.

    api = SocketAPI.for_host("unix:///var/run/docker.sock", timeout=10)
    api.get("/images/{}/json", "alpine:3.19")   # {...} or None
"""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import quote

USER_AGENT = "layerlab"
MAX_HEADER_LINES = 100


class BadAnswer(ValueError):
    """The engine's answer was not the HTTP/1.1 this client reads (the caller asks the SDK)."""


def socket_path(host: str) -> str | None:
    """The socket's path when `host` is a local unix socket (`unix:///path`), else None."""
    if not host.startswith("unix://"):
        return None
    path = host[len("unix://"):]
    return path if path.startswith("/") else None


class SocketAPI:
    """GET requests, JSON answers, one kept-alive connection; not thread-safe (one per caller).

    HTTP/1.1 by hand (a status line, headers, a body by Content-Length, chunks, or up to the
    close): `http.client` would bring the `email` package, a tenth of the command's start-up."""

    def __init__(self, path: str, timeout: float, api_version: str = ""):
        self.path = path
        self.timeout = timeout
        self.api_version = api_version
        self._sock: socket.socket | None = None
        self._file = None

    @classmethod
    def for_host(cls, host: str, timeout: float, api_version: str = "") -> "SocketAPI | None":
        path = socket_path(host)
        return None if path is None else cls(path, timeout, api_version)

    def __repr__(self) -> str:
        return f"<SocketAPI unix://{self.path} v{self.api_version or '(unversioned)'}>"

    def url(self, template: str, *args: str) -> str:
        """The request path as the SDK writes it: arguments quoted (keeping / and :), versioned."""
        formatted = template.format(*(quote(str(a), safe="/:") for a in args))
        return f"/v{self.api_version}{formatted}" if self.api_version else formatted

    def _connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except BaseException:
            sock.close()
            raise
        self._sock, self._file = sock, sock.makefile("rb")

    def request(self, template: str, *args: str) -> tuple[int, bytes]:
        """One GET: the status and body. Raises OSError, or BadAnswer (a ValueError)."""
        message = (f"GET {self.url(template, *args)} HTTP/1.1\r\nHost: localhost\r\n"
                   f"User-Agent: {USER_AGENT}\r\nAccept: application/json\r\n\r\n").encode("latin-1")
        for attempt in (1, 2):  # a kept-alive connection the engine closed meanwhile: once more
            fresh = self._sock is None
            if fresh:
                self._connect()
            try:
                self._sock.sendall(message)
                status, body, keep = self._answer()
            except (BrokenPipeError, ConnectionResetError):
                self.close()
                if fresh or attempt == 2:
                    raise
                continue
            except BaseException:
                self.close()
                raise
            if not keep:
                self.close()
            return status, body
        raise AssertionError("unreachable")  # pragma: no cover

    def _answer(self) -> tuple[int, bytes, bool]:
        """The status, body, and whether the connection stays open, read from the socket."""
        line = self._file.readline(65537)
        if not line:
            raise ConnectionResetError("the engine closed the connection")
        parts = line.decode("latin-1").split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise BadAnswer(f"not an HTTP/1.x status line: {line[:80]!r}")
        status, headers = int(parts[1]), {}
        for _ in range(MAX_HEADER_LINES):
            line = self._file.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        else:
            raise BadAnswer("too many header lines")
        keep = headers.get("connection", "").lower() != "close" and parts[0] == "HTTP/1.1"
        if status in (204, 304) or 100 <= status < 200:
            return status, b"", keep
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return status, self._chunks(), keep
        if "content-length" in headers:
            return status, self._exactly(int(headers["content-length"])), keep
        return status, self._file.read(), False  # up to the close

    def _exactly(self, size: int) -> bytes:
        data = self._file.read(size)
        if len(data) != size:
            raise BadAnswer(f"the answer ended after {len(data)} of {size} bytes")
        return data

    def _chunks(self) -> bytes:
        pieces = []
        while True:
            size = int(self._file.readline(1026).split(b";")[0].strip() or b"x", 16)
            if size == 0:
                while self._file.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(pieces)
            pieces.append(self._exactly(size))
            self._exactly(2)  # the CRLF after each chunk

    def get(self, template: str, *args: str) -> Any:
        """The JSON of a 2xx answer to GET `template` (formatted with `args`), or None for
        anything else: the caller then asks the SDK, which answers or fails as it always does."""
        try:
            status, body = self.request(template, *args)
            if not 200 <= status < 300:
                return None
            return json.loads(body)
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        if self._sock is not None:
            self._file.close()
            self._sock.close()
            self._sock = self._file = None


def probe(host: str, timeout: float) -> tuple[dict, SocketAPI] | None:
    """The engine's `/version` over a local socket, and a client versioned as the SDK's
    `version="auto"` would be (the server's ApiVersion); None when that is not a plain answer.

    A timeout is raised (socket.timeout), not answered with None: asking the SDK next would
    wait as long again."""
    api = SocketAPI.for_host(host, timeout)
    if api is None:
        return None
    try:
        status, body = api.request("/version")
        version = json.loads(body) if 200 <= status < 300 else None
    except socket.timeout:
        api.close()
        raise
    except (OSError, ValueError):
        version = None
    if not isinstance(version, dict) or not version.get("ApiVersion"):
        api.close()
        return None
    api.api_version = str(version["ApiVersion"])
    return version, api
