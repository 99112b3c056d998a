"""Where lesson 04 serves the file for `ADD <url>`, so that the engine's daemon can reach it.

The daemon downloads `ADD <url>` itself, from its own network namespace, and nothing the
course does may use an address beyond loopback. So the server goes onto the engine's loopback:

    LOOPBACK   a rootful engine on this machine shares the notebook's 127.0.0.1
    NAMESPACE  a rootless engine has a 127.0.0.1 of its own, in rootlesskit's network namespace:
               the server runs inside it (entered with nsenter), on that loopback
    DESKTOP    Docker Desktop's daemon runs in a VM and reaches this machine as
               host.docker.internal; the server stays on the notebook's 127.0.0.1
    REMOTE     an engine on another machine cannot reach any loopback of this one: the lesson
               says so and shows the answer its recording holds

The choice depends only on the engine's facts and the address the course reaches it at.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from urllib.parse import urlsplit

from .engineinfo import EngineFacts
from .i18n import N_, Phrase

DESKTOP_HOST = "host.docker.internal"
_LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


# The values stay English: `Served.how` prints them in its "server: ..." line, which the notebooks'
# sanitizer reads in every language.
class ServingPath(enum.Enum):
    LOOPBACK = "the notebook's loopback"
    NAMESPACE = "the rootless engine's own loopback"
    DESKTOP = "Docker Desktop's way to this machine"
    REMOTE = "none: the engine is on another machine"


@dataclass(frozen=True)
class ServingPlan:
    path: ServingPath
    url_host: str  # the host name the Dockerfile's URL uses ("" when nothing can be served)
    why: Phrase  # one sentence for the learner: English as `Served.how` prints it, `why.shown()` translated

    @property
    def can_serve(self) -> bool:
        return self.path is not ServingPath.REMOTE


def _plan(path: ServingPath, url_host: str, template: str, **fields) -> ServingPlan:
    return ServingPlan(path, url_host, Phrase(template, **fields))


_WHY_DESKTOP = N_("Docker Desktop's daemon runs in a VM with a 127.0.0.1 of its own; it reaches this machine as "
                  "{desktop}, so the server listens on the notebook's 127.0.0.1 and the URL names {desktop}.")
_WHY_REMOTE = N_("The engine at {host} is on another machine: it cannot reach a server on any loopback of "
                 "this one, and the course uses no other address. Below is the answer the lesson's recording holds.")
_WHY_NAMESPACE = N_("Your engine is rootless: its 127.0.0.1 is its own, in rootlesskit's network namespace, so the "
                    "server runs inside that namespace, on the engine's loopback.")
_WHY_LOOPBACK = N_("Your engine runs on this machine, rootful: its 127.0.0.1 is the notebook's, so the server runs "
                   "here, on the notebook's loopback.")


def engine_is_local(host: str) -> bool:
    """A unix socket or named pipe, or TCP/SSH to this machine's loopback."""
    parts = urlsplit(host)
    if parts.scheme in ("unix", "npipe", "fd", ""):
        return True
    return (parts.hostname or "").lower() in _LOCAL_NAMES


def plan_serving(facts: EngineFacts) -> ServingPlan:
    if facts.docker_desktop:
        return _plan(ServingPath.DESKTOP, DESKTOP_HOST, _WHY_DESKTOP, desktop=DESKTOP_HOST)
    if not engine_is_local(facts.host):
        return _plan(ServingPath.REMOTE, "", _WHY_REMOTE, host=facts.host)
    if facts.rootless:
        return _plan(ServingPath.NAMESPACE, "127.0.0.1", _WHY_NAMESPACE)
    return _plan(ServingPath.LOOPBACK, "127.0.0.1", _WHY_LOOPBACK)
