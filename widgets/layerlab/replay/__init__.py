"""Recordings of a real engine, and playing them back when no engine answers.

`RecordingProxy` sits in front of a live engine while `python -m layerlab record` runs the
lessons; `ReplayServer` answers in the engine's place from what was recorded. Both speak
the Docker Engine API on a unix socket, so the docker SDK, every widget and every watcher
work the same in both modes. Nothing here imports `docker`.
"""

from .store import Recording, recording_path
from .wire import RecordingProxy, ReplayServer

__all__ = ["Recording", "RecordingProxy", "ReplayServer", "recording_path"]
