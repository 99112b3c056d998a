"""A small HTTP server for one folder on 127.0.0.1, for lesson 04's `ADD <url>`.

The daemon, not a build container, downloads `ADD <url>`, from its own network namespace. The
server therefore runs wherever the engine's 127.0.0.1 is (see `layerlab.engine.fileserve`):
in this process, or as its own process entered into a rootless engine's network namespace:

    python -m layerlab.host.fileserver FOLDER

binds 127.0.0.1 on a free port, prints the port on its first line, and serves FOLDER until its
standard input closes (so it ends with the notebook that started it, however that ends) or it
gets SIGTERM. Each request it answers is one JSON line on its standard output (what lesson 03
shows of how `ADD <url>` is cached); a line `sync` on its standard input is echoed once every
request before it has been written, so the reader knows it has them all.

Every file is served with an ETag (a digest of its bytes), and a request whose If-None-Match
names the current one is answered 304 Not Modified: what a real web server does, and what
BuildKit asks before it downloads again.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import signal
import sys
import threading
from pathlib import Path

LOOPBACK = "127.0.0.1"


def request_line(method: str, status: int, conditional: bool) -> dict:
    return {"method": method, "status": status, "conditional": conditional}


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder with ETags and 304s, reporting each answer to `on_request`."""

    on_request = staticmethod(lambda line: None)

    def _etag(self) -> str:
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            return ""
        return '"' + hashlib.sha256(path.read_bytes()).hexdigest()[:20] + '"'

    def _answer(self, head: bool) -> None:
        etag = self._etag()
        asked = self.headers.get("If-None-Match")
        if etag and asked and etag in [tag.strip() for tag in asked.split(",")]:
            self.on_request(request_line(self.command, 304, True))  # before the answer: a sync sees it
            self.send_response(304)
            self._etag_sent = True
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.on_request(request_line(self.command, 200 if etag else 404, bool(asked)))
        super().do_HEAD() if head else super().do_GET()

    def do_GET(self):
        self._answer(head=False)

    def do_HEAD(self):
        self._answer(head=True)

    def end_headers(self):
        if self.command in ("GET", "HEAD") and not getattr(self, "_etag_sent", False):
            etag = self._etag()
            if etag:
                self._etag_sent = True
                self.send_header("ETag", etag)
        super().end_headers()

    def log_message(self, *args):  # no request lines in the notebook
        pass


class FolderServer:
    """`folder` over HTTP on 127.0.0.1, a free port, in a thread; `stop()` ends it. Each
    request answered goes to `on_request` (a dict: method, status, conditional)."""

    def __init__(self, folder: str | Path, on_request=None):
        handler_class = type("Handler", (_Handler,), {"on_request": staticmethod(on_request or (lambda line: None))})
        handler = functools.partial(handler_class, directory=str(folder))
        self.server = http.server.ThreadingHTTPServer((LOOPBACK, 0), handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="layerlab-add-url", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: python -m layerlab.host.fileserver FOLDER", file=sys.stderr)
        return 2
    lock = threading.Lock()

    def say(text: str) -> None:
        with lock:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    server = FolderServer(argv[0], on_request=lambda line: say(json.dumps(line)))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())

    def until_stdin_closes() -> None:
        try:
            for line in sys.stdin:
                if line.strip() == "sync":
                    say("sync")
        finally:
            done.set()

    threading.Thread(target=until_stdin_closes, daemon=True).start()
    say(str(server.port))
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a process by layerlab.engine.fileserve
    raise SystemExit(main())
