"""A read-only client of the engine API over a local unix socket, in the standard library.

A warm `python -m layerlab layers IMAGE --json` asks the engine four questions (`/version`,
`/info`, an image's inspect and its history) and reads the rest from the index cache.
Importing the docker SDK to ask them (with requests and urllib3) costs more than everything
else that command does, so on a plain local socket they go through `http.client` instead.

It only ever answers plainly or not at all: `get` returns the JSON of a 2xx answer, or None
for anything else (no socket, an error status, a broken answer), and the caller then asks the
SDK exactly as it would have without this module, so every error a learner sees is the one
the SDK path gives. Hosts other than `unix:///path` (tcp, ssh, TLS, npipe) never use it.

    api = SocketAPI.for_host("unix:///var/run/docker.sock", timeout=10)
    api.get("/images/{}/json", "alpine:3.19")   # {...} or None
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import quote

USER_AGENT = "layerlab"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def socket_path(host: str) -> str | None:
    """The socket's path when `host` is a local unix socket (`unix:///path`), else None."""
    if not host.startswith("unix://"):
        return None
    path = host[len("unix://"):]
    return path if path.startswith("/") else None


class SocketAPI:
    """GET requests, JSON answers, one kept-alive connection; not thread-safe (one per caller)."""

    def __init__(self, path: str, timeout: float, api_version: str = ""):
        self.path = path
        self.timeout = timeout
        self.api_version = api_version
        self._connection: _UnixConnection | None = None

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

    def request(self, template: str, *args: str) -> tuple[int, bytes]:
        """One GET: the status and body. Raises OSError or http.client.HTTPException."""
        target = self.url(template, *args)
        for attempt in (1, 2):  # a kept-alive connection the engine closed meanwhile: once more
            if self._connection is None:
                self._connection = _UnixConnection(self.path, self.timeout)
            try:
                self._connection.request("GET", target, headers={"User-Agent": USER_AGENT})
                response = self._connection.getresponse()
                body = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 2:
                    raise
                continue
            except BaseException:
                self.close()
                raise
            if response.will_close:
                self.close()
            return response.status, body
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, template: str, *args: str) -> Any:
        """The JSON of a 2xx answer to GET `template` (formatted with `args`), or None for
        anything else: the caller then asks the SDK, which answers or fails as it always does."""
        try:
            status, body = self.request(template, *args)
            if not 200 <= status < 300:
                return None
            return json.loads(body)
        except (OSError, http.client.HTTPException, ValueError):
            return None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


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
    except (OSError, http.client.HTTPException, ValueError):
        version = None
    if not isinstance(version, dict) or not version.get("ApiVersion"):
        api.close()
        return None
    api.api_version = str(version["ApiVersion"])
    return version, api
