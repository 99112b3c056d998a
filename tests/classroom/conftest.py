"""The instructor service's tier: a real JupyterHub on loopback (free ports, DummyAuthenticator
with a password, configurable-http-proxy from /opt/layerlab-classroom/proxy) with
`layerlab.classroom.hubconfig.configure(c)` applied, as a class's hub config applies it.

Users: `h21s-teacher` (admin) and two learners, `h21s-ada` and `h21s-bob`, each with an API
token of their own (the hub's `api_tokens`), standing in for their servers' tokens. The
learners' servers, when a test starts one, are SimpleLocalProcessSpawner servers with the
extension (homes under the run's folder), pointed at $DOCKER_HOST when an engine is set.

Skips on a developer machine without the proxy; fails when CI=true.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from support import need  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CHP = Path(os.environ.get("LAYERLAB_CHP", "/opt/layerlab-classroom/proxy/node_modules/.bin/configurable-http-proxy"))
SERVICE = "/services/layerlab-classroom/"
ADMIN, ADA, BOB = "h21s-teacher", "h21s-ada", "h21s-bob"
PASSWORD = "layerlab-test-" + secrets.token_hex(4)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check, timeout: float = 60, every: float = 0.3, what: str = "state"):
    """Poll `check` until it returns something true; its value (AssertionError on timeout)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as error:  # noqa: BLE001 - not there yet
            last = error
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last error: {last!r})")


class Hub:
    def __init__(self, root: Path, port: int, tokens: dict[str, str], process: subprocess.Popen, log: Path):
        self.root, self.port, self.tokens, self.process, self.log = root, port, tokens, process, log
        self.url = f"http://127.0.0.1:{port}"

    def request(self, method: str, path: str, body=None, token: str | None = None, user: str | None = None):
        """(status, parsed JSON or text, headers); never follows a redirect."""
        headers = {"Content-Type": "application/json"}
        token = token or (self.tokens[user] if user else None)
        if token:
            headers["Authorization"] = f"token {token}"
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=30) as response:
                status, raw, got = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, raw, got = error.code, error.read(), error.headers
        try:
            return status, json.loads(raw), got
        except ValueError:
            return status, raw.decode(errors="replace"), got

    def service(self, method: str, path: str, body=None, user: str | None = None, token: str | None = None):
        return self.request(method, SERVICE + path, body, token=token, user=user)

    def learners(self) -> dict[str, dict]:
        status, value, _ = self.service("GET", "api/learners", user=ADMIN)
        assert status == 200, (status, value)
        return {row["learner"]: row for row in value}

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


CONFIG = """
import sys
sys.path.insert(0, {root!r})
c = get_config()  # noqa: F821
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_port}"
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.JupyterHub.db_url = "sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{state}/jupyterhub_cookie_secret"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.admin_users = {{{admin!r}}}
c.Authenticator.allowed_users = {{{ada!r}, {bob!r}}}
c.JupyterHub.api_tokens = {tokens!r}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{state}/home/{{username}}"
c.Spawner.cmd = [{singleuser!r}]
c.Spawner.args = ["--allow-root"]
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60
c.Spawner.default_url = "/lab"
c.Spawner.environment = {{
    "LAYERLAB_LEARNER": lambda spawner: spawner.user.name,
    "LAYERLAB_CLASSROOM_EVERY": "1",
    "DOCKER_HOST": {docker_host!r},
    "LAYERLAB_SOURCE": "live",
}}
from layerlab.classroom.hubconfig import configure
configure(c, state_dir="{state}/classroom")
"""


def engine_host() -> str:
    """The engine the learners' servers get as DOCKER_HOST: the run's own (none: a socket that
    is not there, and the page must say the engine is down)."""
    return os.environ.get("DOCKER_HOST") or "unix:///nonexistent/layerlab-engine-hidden.sock"


@pytest.fixture(scope="session")
def hub():
    need(CHP.exists(), f"no configurable-http-proxy at {CHP} (make test-classroom installs it)")
    state = Path(tempfile.mkdtemp(prefix="h21s-hub-"))
    port = free_port()
    tokens = {secrets.token_hex(16): name for name in (ADMIN, ADA, BOB)}
    engine = engine_host()
    config = state / "jupyterhub_config.py"
    config.write_text(CONFIG.format(
        root=str(ROOT / "widgets"), port=port, hub_port=free_port(), proxy_port=free_port(), chp=str(CHP),
        state=state, password=PASSWORD, admin=ADMIN, ada=ADA, bob=BOB, tokens=tokens,
        singleuser=str(Path(sys.executable).with_name("jupyterhub-singleuser")), docker_host=engine))
    log = state / "jupyterhub.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "LAYERLAB_CLASSROOM"))}
    with log.open("wb") as out:
        process = subprocess.Popen([str(Path(sys.executable).with_name("jupyterhub")), "-f", str(config)],
                                   cwd=state, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    result = Hub(state, port, {name: token for token, name in tokens.items()}, process, log)
    try:
        def up():
            assert process.poll() is None, "the hub exited:\n" + result.log_text()[-3000:]
            return result.service("GET", "api/learners", user=ADMIN)[0] == 200
        wait_for(up, timeout=90, what="the hub and the classroom service")
        yield result
    finally:
        stop(process)
        print(result.log_text()[-4000:])
        left = stop_leftovers(state)
        shutil.rmtree(state, ignore_errors=True)
        assert not left, f"the hub left processes behind: {left}"


def stop_leftovers(state: Path) -> list[str]:
    """Stop every process still working in this hub's folder (its proxy, its service, a learner's
    server: each runs with its cwd there); what was found."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cwd = os.readlink(entry / "cwd").removesuffix(" (deleted)")
                if cwd == str(state) or cwd.startswith(f"{state}/"):
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
            except OSError:
                continue
    for pid in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return sorted(found.values())


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the hub (it stops its proxy, its service and the servers it spawned), then its group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # whatever of this hub's own group is left
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


CHROMIUM = os.environ.get("LAYERLAB_CHROMIUM", "/usr/bin/chromium")
#: The browser tier's flags (tests/browser/conftest.py): Debian's Chromium, nothing beyond loopback.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


# Per module: playwright's sync API keeps an event loop running in this thread while it is
# open, and a later module's asyncio.run() (the extension's tests) would meet it.
@pytest.fixture(scope="module")
def browser():
    need(Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "the playwright package is not installed")
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def log_in(browser, hub: "Hub", user: str):
    """A fresh browser context logged in through the hub's own login form; its page, at the
    instructor page (where the hub sends the user back after the OAuth dance)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(hub.url + SERVICE)
    page.wait_for_selector("#username_input", timeout=30_000)
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(f"**{SERVICE}", timeout=30_000)
    return context, page
