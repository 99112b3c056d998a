"""`configure(c)` adds to a hub config and replaces nothing; the extension's failures are
logged once and never raised. No hub needed."""

from __future__ import annotations

import asyncio
import logging

import pytest
from traitlets.config import Config

from layerlab.classroom.extension import Sender
from layerlab.classroom.hubconfig import ACCESS, EXTENSION, SERVICE, URL_ENV, configure

pytestmark = pytest.mark.timeout(60)


def test_configure_adds_to_what_the_config_has(tmp_path):
    c = Config()
    c.JupyterHub.services = [{"name": "other", "url": "http://127.0.0.1:1"}]
    c.JupyterHub.load_roles = [{"name": "ops", "scopes": ["read:users"], "users": ["x"]}]
    c.Spawner.environment = {"DOCKER_HOST": "unix:///run/x.sock"}
    c.Spawner.args = ["--allow-root"]
    configure(c, db_url="postgresql://u@/db?host=/tmp/x", port=12345, state_dir=str(tmp_path))
    assert [s["name"] for s in c.JupyterHub.services] == ["other", SERVICE]
    service = c.JupyterHub.services[1]
    assert service["url"] == "http://127.0.0.1:12345"
    assert service["environment"]["LAYERLAB_CLASSROOM_DB"] == "postgresql://u@/db?host=/tmp/x"
    assert [r["name"] for r in c.JupyterHub.load_roles] == ["ops", f"{SERVICE}-service"]
    assert c.JupyterHub.load_roles[1]["services"] == [SERVICE]
    assert c.Spawner.environment == {"DOCKER_HOST": "unix:///run/x.sock",
                                     URL_ENV: f"http://127.0.0.1:12345/services/{SERVICE}/"}
    assert c.Spawner.args == ["--allow-root", f"--ServerApp.jpserver_extensions={EXTENSION}=True"]
    assert c.Spawner.server_token_scopes == ["users:activity!user", "access:servers!server", ACCESS]


def test_configure_on_an_empty_config_merges_with_jupyterhubs_defaults(tmp_path):
    from jupyterhub.app import JupyterHub

    c = Config()
    configure(c, port=12346, state_dir=str(tmp_path))
    hub = JupyterHub(config=c)
    assert ACCESS in hub.extra_user_scopes
    assert [s["name"] for s in hub.services] == [SERVICE]


def test_a_callable_server_token_scopes_keeps_its_own_and_gains_access(tmp_path):
    c = Config()
    c.Spawner.server_token_scopes = lambda spawner: ["users:activity!user", "read:users!user"]
    configure(c, port=12347, state_dir=str(tmp_path))
    assert c.Spawner.server_token_scopes(None) == ["users:activity!user", "read:users!user", ACCESS]


def test_the_extension_logs_a_failing_service_once_and_goes_on(tmp_path, caplog):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    record = tmp_path / "progress.jsonl"
    environ = {"LAYERLAB_PROGRESS": str(record), "LAYERLAB_LEARNER": "h21s-ada",
               "DOCKER_HOST": "unix:///nonexistent/layerlab-engine-hidden.sock"}
    sender = Sender(f"http://127.0.0.1:{port}/services/{SERVICE}/", "token", "h21s-ada", environ, 1.0,
                    logging.getLogger("h21s-test"))
    record.write_text('{"not": "an event"}\n')

    async def rounds():
        for _ in range(3):
            await sender.tick()
    with caplog.at_level(logging.WARNING, logger="h21s-test"):
        asyncio.run(rounds())
    warnings = [r.getMessage() for r in caplog.records]
    assert len([w for w in warnings if "heartbeat failed" in w]) == 1, warnings
    # A line that is no event is passed over (nothing to post), and not read again.
    assert int(record.with_name(record.name + ".sent").read_text()) == record.stat().st_size
