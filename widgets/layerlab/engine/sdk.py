"""The docker SDK, imported when it is first used.

Importing `docker` (with requests and urllib3) costs about 0.12 s, more than a warm
`python -m layerlab layers IMAGE --json` spends on anything else; that command never needs it
(see `socketapi`). So the door modules name the SDK through `docker` below, an object that
imports the real package (and the submodules the course uses) on the first attribute asked:

    from .sdk import docker
    except docker.errors.APIError: ...   # evaluated only when an exception reaches the clause

Only the engine door uses it (`tests/test_architecture.py`, DOOR).
"""

from __future__ import annotations

import sys


class _LazySDK:
    """`docker`, imported on first attribute access (with errors, utils and utils.build)."""

    def __getattr__(self, name: str):
        import docker
        import docker.errors  # noqa: F401  (the names the door uses, all loaded at once)
        import docker.utils  # noqa: F401
        import docker.utils.build  # noqa: F401

        return getattr(docker, name)

    def __repr__(self) -> str:
        return f"<the docker SDK, {'imported' if 'docker' in sys.modules else 'not imported yet'}>"


docker = _LazySDK()


def requests_exception():
    """`requests.RequestException` (importing requests, which the SDK imports anyway)."""
    import requests

    return requests.RequestException
