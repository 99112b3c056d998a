"""The engine adapter: the only part of layerlab that imports `docker`.

It connects (`connect`), reads images and containers into core objects (`Engine`), provides
base images (`prepare`) and removes what the course made (`cleanup`).
"""

from .connection import connect_live
from .sources import connect
from .engine import BuildLine, Engine

__all__ = ["connect", "connect_live", "Engine", "BuildLine"]
