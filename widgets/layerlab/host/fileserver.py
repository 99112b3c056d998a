"""A small HTTP server for one folder on 127.0.0.1, for lesson 04's `ADD <url>`.

The daemon, not a build container, downloads `ADD <url>`, from its own network namespace. The
server therefore runs wherever the engine's 127.0.0.1 is (see `layerlab.engine.fileserve`):
in this process, or as its own process entered into a rootless engine's network namespace:

    python -m layerlab.host.fileserver FOLDER

binds 127.0.0.1 on a free port, prints the port on its first line, and serves FOLDER until its
standard input closes (so it ends with the notebook that started it, however that ends) or it
gets SIGTERM. It logs no requests.
"""

from __future__ import annotations

import functools
import http.server
import signal
import sys
import threading
from pathlib import Path

LOOPBACK = "127.0.0.1"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no request lines in the notebook
        pass


class FolderServer:
    """`folder` over HTTP on 127.0.0.1, a free port, in a thread; `stop()` ends it."""

    def __init__(self, folder: str | Path):
        handler = functools.partial(_Quiet, directory=str(folder))
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
    server = FolderServer(argv[0])
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())

    def until_stdin_closes() -> None:
        try:
            while sys.stdin.buffer.read(1 << 10):
                pass
        finally:
            done.set()

    threading.Thread(target=until_stdin_closes, daemon=True).start()
    print(server.port, flush=True)
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a process by layerlab.engine.fileserve
    raise SystemExit(main())
