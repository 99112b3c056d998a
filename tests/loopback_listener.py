"""A port on 127.0.0.1 that accepts connections and never answers (or, with `refuse`, a port
nothing listens on), as a process of its own: so that a test can run it on the engine's
loopback, which for a rootless engine is inside the engine's network namespace.

    python tests/loopback_listener.py accept|refuse

prints the port on its first line, then, when its standard input closes, how many connections
it accepted, and ends.
"""

from __future__ import annotations

import socket
import sys
import threading


def main() -> int:
    accept = sys.argv[1] == "accept"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted = []
    if accept:
        listener.listen(16)
        listener.settimeout(0.2)
        done = threading.Event()

        def keep_accepting() -> None:
            while not done.is_set():
                try:
                    accepted.append(listener.accept()[0])
                except OSError:
                    continue

        thread = threading.Thread(target=keep_accepting, daemon=True)
        thread.start()
    else:
        listener.close()  # nothing listens: connections are refused
    print(port, flush=True)
    sys.stdin.read()
    if accept:
        done.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        listener.close()
    print(len(accepted), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
