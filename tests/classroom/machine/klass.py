"""Helpers for the one-machine class tests (scripts/classroom.sh), driven as learners' browsers would drive it:
the hub's REST API, then each learner's Jupyter server through the proxy (REST and kernel
websockets). Run as root by `make test-classroom`; not part of `make test` (tests/conftest.py
leaves tests/classroom out unless LAYERLAB_CLASSROOM_TESTS=1).

The class under test has its own user prefix and state dir (LAYERLAB_CLASS_USER_PREFIX,
LAYERLAB_CLASS_STATE), so it never meets a class someone started with `make classroom`.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import websocket

ROOT = Path(__file__).resolve().parents[3]
PREFIX = os.environ.get("LAYERLAB_CLASS_USER_PREFIX", "llclass-t")
STATE = Path(os.environ.get("LAYERLAB_CLASS_STATE", "/var/lib/layerlab-classroom-test"))
CLASS_ENV = {**os.environ, "LAYERLAB_CLASS_USER_PREFIX": PREFIX, "LAYERLAB_CLASS_STATE": str(STATE)}
LEARNERS = [f"{PREFIX}1", f"{PREFIX}2"]
INSTRUCTOR = f"{PREFIX}teacher"


def classroom(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / "scripts" / "classroom.sh"), *args], env=CLASS_ENV,
                          capture_output=True, text=True, timeout=timeout)


def wait_for(what: str, probe, timeout: float = 60, every: float = 0.25):
    """Poll PROBE until it returns something true; fail with WHAT after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"{what}: not within {timeout} s (last: {last!r})")


@dataclass
class Kernel:
    """One kernel of a learner's server, spoken to over its websocket as JupyterLab does."""

    url: str
    token: str
    kernel_id: str
    ws: websocket.WebSocket = field(init=False)

    def __post_init__(self):
        ws_url = self.url.replace("http://", "ws://") + f"api/kernels/{self.kernel_id}/channels"
        self.ws = websocket.create_connection(ws_url, header=[f"Authorization: token {self.token}"], timeout=120)

    def run(self, code: str, timeout: float = 240) -> dict:
        """Execute CODE; return its stdout, stderr, error (ename: evalue) and rich outputs."""
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "", "session": uuid.uuid4().hex,
                       "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        }))
        result = {"stdout": "", "stderr": "", "error": None, "data": []}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ws.settimeout(max(1.0, deadline - time.monotonic()))
            message = json.loads(self.ws.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id or message.get("channel") != "iopub":
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                result[content["name"]] += content["text"]
            elif kind == "error":
                result["error"] = f"{content['ename']}: {content['evalue']}"
            elif kind in ("execute_result", "display_data"):
                result["data"].append(content["data"])
            elif kind == "status" and content["execution_state"] == "idle":
                return result
        pytest.fail(f"the kernel did not finish within {timeout} s: {code[:80]!r}")

    def check(self, code: str, timeout: float = 240) -> str:
        result = self.run(code, timeout)
        assert result["error"] is None, f"{result['error']}\n{result['stderr']}"
        return result["stdout"]

    def close(self):
        self.ws.close()


@dataclass
class Learner:
    name: str
    token: str
    hub: "Hub"
    spawn_seconds: float = 0.0

    @property
    def server(self) -> str:
        return f"{self.hub.url}user/{self.name}/"

    def get(self, path: str, **kw):
        return requests.get(self.server + path, headers={"Authorization": f"token {self.token}"}, timeout=30, **kw)

    def open_notebook(self, path: str) -> Kernel:
        """A session for the notebook at PATH (the kernel's cwd is its folder), as JupyterLab opens one."""
        answer = requests.post(self.server + "api/sessions", headers={"Authorization": f"token {self.token}"},
                               json={"path": path, "name": Path(path).name, "type": "notebook",
                                     "kernel": {"name": "python3"}}, timeout=60)
        assert answer.status_code == 201, answer.text
        return Kernel(self.server, self.token, answer.json()["kernel"]["id"])


@dataclass
class Hub:
    url: str
    api_token: str
    env: dict

    def api(self, method: str, path: str, token: str | None = None, **kw):
        return requests.request(method, f"{self.url}hub/api/{path}",
                                headers={"Authorization": f"token {token or self.api_token}"}, timeout=60, **kw)

    def user_token(self, name: str) -> str:
        answer = self.api("POST", f"users/{name}/tokens", json={"note": "tests/classroom", "expires_in": 3600})
        assert answer.status_code in (200, 201), answer.text
        return answer.json()["token"]

    def spawn(self, name: str, token: str) -> float:
        began = time.monotonic()
        answer = self.api("POST", f"users/{name}/server", token=token)
        assert answer.status_code in (201, 202), answer.text

        def ready():
            server = self.api("GET", f"users/{name}", token=token).json()["servers"].get("", {})
            return server.get("ready")

        wait_for(f"{name}'s server is ready", ready, timeout=150)
        return time.monotonic() - began


def read_env(path: Path) -> dict:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


# ---- fixtures (test_class.py imports them: no conftest here, the service tier's tests import
# their own `conftest` by name) ----
@pytest.fixture(scope="session")
def hub():
    """A class of two learners, up for the whole session; stopped (and checked) at the end."""
    if os.geteuid() != 0:
        pytest.skip("the class is set up as root (users, rootless engines)")
    classroom("down")  # a class left by an interrupted run
    began = time.monotonic()
    up = classroom("up", "2")
    assert up.returncode == 0, up.stdout + up.stderr
    print(up.stdout)
    print(f"class up in {time.monotonic() - began:.1f} s")
    values = read_env(STATE / "class.env")
    started = Hub(f"http://127.0.0.1:{values['LAYERLAB_CLASS_PORT']}/", (STATE / "api-token").read_text().strip(), values)
    yield started
    classroom("down")


@pytest.fixture(scope="session")
def learners(hub) -> dict[str, Learner]:
    """Both learners, each with their own hub token and their server started (as a browser's
    "Start my server" does, with the learner's own token)."""
    out = {}
    for name in LEARNERS:
        learner = Learner(name, hub.user_token(name), hub)
        learner.spawn_seconds = hub.spawn(name, learner.token)
        print(f"{name}: server and engine up in {learner.spawn_seconds:.1f} s")
        out[name] = learner
    return out


@pytest.fixture(scope="session")
def kernels(learners) -> dict[str, Kernel]:
    opened = {name: learner.open_notebook("notebooks/01-image-layers.ipynb") for name, learner in learners.items()}
    yield opened
    for kernel in opened.values():
        kernel.close()
