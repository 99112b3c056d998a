"""Loaded by a kernel that replays a lesson under test (PYTHONPATH=tests/hermetic).

A replay must not ask the host anything: no program (dpkg, busybox, debootstrap, docker), no
engine socket, no network. Every program the course's code starts and every connection it
opens, other than to its own replay socket, is written to LAYERLAB_HERMETIC_LOG and refused.
"""

import os
import socket
import subprocess
import traceback

_LOG = os.environ.get("LAYERLAB_HERMETIC_LOG")


def _from_course() -> str | None:
    for frame in reversed(traceback.extract_stack()[:-2]):
        if "/layerlab/" in frame.filename and "/tests/" not in frame.filename:
            return f"{frame.filename.rsplit('/layerlab/', 1)[-1]}:{frame.lineno}"
    return None


def _refuse(what: str) -> None:
    where = _from_course()
    if where is None:
        return
    with open(_LOG, "a") as log:
        log.write(f"{what} (from {where})\n")
    raise PermissionError(f"hermetic replay: {what} is not allowed")


if _LOG:
    _popen_init = subprocess.Popen.__init__

    def _popen(self, args, *rest, **kwargs):
        _refuse(f"program {args if isinstance(args, str) else ' '.join(map(str, args))}")
        _popen_init(self, args, *rest, **kwargs)

    subprocess.Popen.__init__ = _popen

    _connect = socket.socket.connect

    def _connect_checked(self, address):
        if not (self.family == socket.AF_UNIX and "layerlab-replay-" in str(address)):
            _refuse(f"connection to {address!r}")
        return _connect(self, address)

    socket.socket.connect = _connect_checked
