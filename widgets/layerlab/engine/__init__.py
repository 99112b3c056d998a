"""The engine adapter: the only part of layerlab that imports `docker`.

`connect` chooses a source and returns an `Engine`, the one door to the SDK (see
`engine.py`). Beside it: base images (`prepare`: pulled, or built from the stand-in tars
`layerlab.host` makes; `registry_seed` seeds a course registry), removing what the course
made (`cleanup`), the per-layer file index (`layers`), the copy-up watcher (`watch`).
"""

from .sources import connect, connect_live
from .engine import Engine
from .containers import Container

__all__ = ["connect", "connect_live", "Engine", "Container"]
