"""`configure(c)`: the lines a `jupyterhub_config.py` adds for the instructor service.

Call it last, after your own spawner settings: it UPDATES `c.JupyterHub.services`,
`c.JupyterHub.load_roles`, `c.Spawner.environment`, `c.Spawner.args` and
`c.Spawner.server_token_scopes`, and never replaces what is there.

    from layerlab.classroom.hubconfig import configure
    configure(c)                                   # SQLite under ./layerlab-classroom/
    configure(c, db_url="postgresql://...")        # or a PostgreSQL database
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

SERVICE = "layerlab-classroom"
#: The scope a token needs to reach the service at all (JupyterHub's service access scope).
ACCESS = f"access:services!service={SERVICE}"
#: Where the learner's server finds the service (read by the extension).
URL_ENV = "LAYERLAB_CLASSROOM_URL"
DB_ENV = "LAYERLAB_CLASSROOM_DB"
STATE_ENV = "LAYERLAB_CLASSROOM_STATE"
EXTENSION = "layerlab.classroom.extension"
#: JupyterHub's own default for a server's token (its `server` role), which we extend.
SERVER_ROLE_SCOPES = ["users:activity!user", "access:servers!server"]


def configure(c, *, db_url: str | None = None, port: int | None = None, state_dir: str | None = None,
              url_for_servers: str | None = None) -> dict:
    """Add the instructor service to the hub config `c`; returns the service's entry."""
    port = port or int(os.environ.get("LAYERLAB_CLASSROOM_PORT") or 0) or _free_port()
    state = str(Path(state_dir or os.environ.get(STATE_ENV) or Path.cwd() / SERVICE).resolve())
    direct = f"http://127.0.0.1:{port}"
    environment = {STATE_ENV: state, "PYTHONUNBUFFERED": "1"}
    if db_url or os.environ.get(DB_ENV):
        environment[DB_ENV] = db_url or os.environ[DB_ENV]
    service = {
        "name": SERVICE,
        # Loopback only: the proxy forwards /services/layerlab-classroom/ to it.
        "url": direct,
        # Managed by the hub: started with it, stopped with it, given its own API token.
        "command": [sys.executable, "-m", "layerlab.classroom.service"],
        "environment": environment,
        # Admins open the page through the hub's login; no "authorize this service" screen.
        "oauth_no_confirm": True,
        "display": True,
    }
    c.JupyterHub.services.append(service)
    # The service's own token lists the hub's users with their servers and admin flags, to show
    # server up/down and to let only admins in (nothing more: it never starts or stops servers).
    c.JupyterHub.load_roles.append({
        "name": f"{SERVICE}-service",
        "description": "the instructor page reads who the learners are and whether their servers run",
        "scopes": ["list:users", "read:users", "read:servers"],
        "services": [SERVICE],
    })
    # Every user may reach the service (JupyterHub >= 6; earlier, the `user` role is
    # redefined with the same addition). The service itself lets only admins see the page and
    # each learner post only their own events.
    _let_users_reach_the_service(c)
    # ... and each learner's server token carries that access, on top of the server role's own.
    _add_server_token_scope(c)
    # The learner's server loads the extension that sends progress and heartbeats ...
    c.Spawner.args.append(f"--ServerApp.jpserver_extensions={EXTENSION}=True")
    # ... to this URL (the proxy's, or the service's own on loopback; set LAYERLAB_CLASSROOM_URL
    # before the hub starts to choose another, as on Kubernetes: http://proxy-public/services/...).
    target = url_for_servers or os.environ.get(URL_ENV) or f"{direct}/services/{SERVICE}/"
    c.Spawner.environment.update({URL_ENV: target})
    return service


def _let_users_reach_the_service(c) -> None:
    import jupyterhub

    if tuple(int(part) for part in jupyterhub.__version__.split(".")[:1]) >= (6,):
        c.JupyterHub.extra_user_scopes.add(ACCESS)
    else:  # pragma: no cover - JupyterHub 5
        c.JupyterHub.load_roles.append({"name": "user", "scopes": ["self", ACCESS]})


def _add_server_token_scope(c) -> None:
    current = c.Spawner.server_token_scopes if "server_token_scopes" in c.Spawner else None
    if callable(current):
        def scopes(spawner, _inner=current):
            import inspect

            chosen = _inner(spawner)
            if inspect.isawaitable(chosen):
                raise TypeError("an async server_token_scopes is not supported by layerlab's configure")
            return [*(chosen or SERVER_ROLE_SCOPES), ACCESS]

        c.Spawner.server_token_scopes = scopes
    else:
        c.Spawner.server_token_scopes = [*(current or SERVER_ROLE_SCOPES), ACCESS]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
