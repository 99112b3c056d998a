"""Recordings of a real engine, and playing them back when no engine answers.

`RecordingProxy` sits in front of a live engine while `python -m layerlab record` runs the
lessons; `ReplayServer` answers in the engine's place from what was recorded. Both speak
the Docker Engine API on a unix socket, so the docker SDK, every widget and every watcher
work the same in both modes. Nothing here imports `docker`.
"""

_HOMES = {"Recording": "store", "recording_path": "store", "RecordingProxy": "wire", "ReplayServer": "wire"}


def __getattr__(name: str):
    """`from layerlab.replay import Recording` imports `store` (or `wire`) then, not before: a
    live engine's commands (a warm `layers`) never load a recording or start a server."""
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Recording", "RecordingProxy", "ReplayServer", "recording_path"]
