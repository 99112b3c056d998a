"""How does a class on one machine load it? 1, 2 and 4 learners running lessons 01 and 02 at once.

    sudo .venv/bin/python benchmarks/class_load.py [--sizes 1,2,4] [--lessons 01,02]

As root, with the class installed (`bash scripts/classroom.sh install`). It sets up a class of
its own (users llclass-b1..N, state /var/lib/layerlab-classroom-bench) with as many learners as
the largest size, through scripts/classroom.sh, and stops it at the end. Then, per size:
  - spawn: that many learners' servers start at once, through the hub's REST API (each server
    brings its rootless engine up first); spawn time is request to "ready", per learner;
  - lessons: each learner opens lesson 01 then 02 as JupyterLab does (a session per
    notebook) and runs every code cell over the kernel's websocket; time per learner;
  - memory: the RSS of each learner's kernels and engine (dockerd, containerd, rootlesskit,
    slirp4netns and their shims), sampled every second, the peak per learner; the Jupyter
    server's own RSS beside it;
  - then every server is stopped (and its engine with it).
The ratio is a learner's time at that size over one learner's time alone. The last line:
`class_load: 1 1.00x, 2 <r>x, 4 <r>x, spawn <s> s, memory <MB> MB/learner`, spawn and memory
being the means over the largest size's learners.

Figures only, no assertions. Nothing leaves 127.0.0.1; no pulls (LAYERLAB_REGISTRY=off).
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import websocket

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "llclass-b"
STATE = Path("/var/lib/layerlab-classroom-bench")
ENV = {**os.environ, "LAYERLAB_CLASS_USER_PREFIX": PREFIX, "LAYERLAB_CLASS_STATE": str(STATE)}
ENGINE_WORDS = ("dockerd", "containerd", "rootlesskit", "slirp4netns", "docker-proxy", "runc")


def classroom(*args: str) -> None:
    done = subprocess.run(["bash", str(ROOT / "scripts/classroom.sh"), *args], env=ENV, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"classroom.sh {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


class Hub:
    def __init__(self):
        values = dict(line.split("=", 1) for line in (STATE / "class.env").read_text().splitlines() if "=" in line)
        self.url = f"http://127.0.0.1:{values['LAYERLAB_CLASS_PORT']}/"
        self.token = (STATE / "api-token").read_text().strip()

    def api(self, method, path, **kw):
        return requests.request(method, f"{self.url}hub/api/{path}", headers={"Authorization": f"token {self.token}"},
                                timeout=120, **kw)

    def user_token(self, name):
        return self.api("POST", f"users/{name}/tokens", json={"note": "class_load", "expires_in": 7200}).json()["token"]


def spawn(hub: Hub, name: str, token: str) -> float:
    began = time.monotonic()
    answer = requests.post(f"{hub.url}hub/api/users/{name}/server", headers={"Authorization": f"token {token}"}, timeout=180)
    assert answer.status_code in (201, 202), answer.text
    while time.monotonic() - began < 180:
        user = requests.get(f"{hub.url}hub/api/users/{name}", headers={"Authorization": f"token {token}"}, timeout=30).json()
        if user["servers"].get("", {}).get("ready"):
            return time.monotonic() - began
        time.sleep(0.2)
    raise RuntimeError(f"{name}'s server did not start")


def stop(hub: Hub, name: str) -> None:
    hub.api("DELETE", f"users/{name}/server")
    while hub.api("GET", f"users/{name}").json()["servers"]:
        time.sleep(0.3)


def run_notebook(hub: Hub, name: str, token: str, notebook: str) -> tuple[float, int]:
    """Every code cell of NOTEBOOK in a fresh kernel of NAME's server: (seconds, cells that raised)."""
    server = f"{hub.url}user/{name}/"
    auth = {"Authorization": f"token {token}"}
    session = requests.post(server + "api/sessions", headers=auth, timeout=120, json={
        "path": f"notebooks/{notebook}", "name": notebook, "type": "notebook", "kernel": {"name": "python3"}}).json()
    ws = websocket.create_connection(server.replace("http://", "ws://") + f"api/kernels/{session['kernel']['id']}/channels",
                                     header=[f"Authorization: token {token}"], timeout=600)
    cells = [c for c in json.loads((ROOT / "notebooks" / notebook).read_text())["cells"] if c["cell_type"] == "code"]
    errors = 0
    began = time.monotonic()
    try:
        for cell in cells:
            msg_id = uuid.uuid4().hex
            ws.send(json.dumps({"header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "",
                                           "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
                                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                                "content": {"code": "".join(cell["source"]), "silent": False, "store_history": True,
                                            "user_expressions": {}, "allow_stdin": False, "stop_on_error": False}}))
            while True:
                message = json.loads(ws.recv())
                if message.get("parent_header", {}).get("msg_id") != msg_id or message.get("channel") != "iopub":
                    continue
                if message["msg_type"] == "error":
                    errors += 1
                if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                    break
        return time.monotonic() - began, errors
    finally:
        ws.close()
        requests.delete(server + f"api/sessions/{session['id']}", headers=auth, timeout=60)


def rss_by_learner(names: list[str]) -> dict[str, dict[str, float]]:
    """MB of RSS per learner: their kernels plus their engine, and their Jupyter server."""
    uids = {pwd.getpwnam(name).pw_uid: name for name in names}
    out = {name: {"kernel+engine": 0.0, "server": 0.0} for name in names}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            status = (proc / "status").read_text()
            args = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        uid = int(fields["Uid"].split()[0])
        if uid not in uids or "VmRSS" not in fields:
            continue
        mb = int(fields["VmRSS"].split()[0]) / 1024
        name = uids[uid]
        if "jupyterhub-singleuser" in args:
            out[name]["server"] += mb
        elif "ipykernel" in args or any(word in args for word in ENGINE_WORDS):
            out[name]["kernel+engine"] += mb
        else:
            out[name]["kernel+engine"] += mb  # the containers the lessons run, also the engine's
    return out


def one_size(hub: Hub, tokens: dict[str, str], names: list[str], lessons: list[str]) -> dict:
    with ThreadPoolExecutor(len(names)) as pool:
        spawns = list(pool.map(lambda n: spawn(hub, n, tokens[n]), names))
    peak = {name: {"kernel+engine": 0.0, "server": 0.0} for name in names}
    running = threading.Event()
    running.set()

    def sample():
        while running.is_set():
            for name, values in rss_by_learner(names).items():
                for key, mb in values.items():
                    peak[name][key] = max(peak[name][key], mb)
            time.sleep(1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    def learner(name):
        began, errors = time.monotonic(), 0
        for lesson in lessons:
            errors += run_notebook(hub, name, tokens[name], lesson)[1]
        return time.monotonic() - began, errors

    with ThreadPoolExecutor(len(names)) as pool:
        results = list(pool.map(learner, names))
    running.clear()
    sampler.join()
    with ThreadPoolExecutor(len(names)) as pool:
        list(pool.map(lambda n: stop(hub, n), names))
    return {"spawn": spawns, "times": [t for t, _ in results], "errors": sum(e for _, e in results), "peak": peak}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,2,4")
    parser.add_argument("--lessons", default="01,02")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: it sets up a class (users, rootless engines, a hub)")
    sizes = [int(x) for x in args.sizes.split(",")]
    lessons = [next(p.name for p in sorted((ROOT / "notebooks").glob(f"{n}-*.ipynb"))) for n in args.lessons.split(",")]
    classroom("down")
    began = time.monotonic()
    classroom("up", str(max(sizes)))
    print(f"class of {max(sizes)} up in {time.monotonic() - began:.1f} s (users, bases, hub)", flush=True)
    try:
        hub = Hub()
        names = [f"{PREFIX}{i}" for i in range(1, max(sizes) + 1)]
        tokens = {name: hub.user_token(name) for name in names}
        rows = {}
        for size in sizes:
            row = one_size(hub, tokens, names[:size], lessons)
            rows[size] = row
            mem = [row["peak"][n]["kernel+engine"] for n in names[:size]]
            srv = [row["peak"][n]["server"] for n in names[:size]]
            print(f"{size} learner(s): lessons {' + '.join(lessons)} in "
                  f"{', '.join(f'{t:.1f}' for t in row['times'])} s (mean {statistics.mean(row['times']):.1f} s), "
                  f"spawn {', '.join(f'{s:.1f}' for s in row['spawn'])} s, peak kernel+engine "
                  f"{statistics.mean(mem):.0f} MB/learner (server {statistics.mean(srv):.0f} MB), "
                  f"cells that raised: {row['errors']}", flush=True)
    finally:
        classroom("down")
    alone = statistics.mean(rows[sizes[0]]["times"]) / (1 if sizes[0] == 1 else 1)
    ratios = ", ".join(f"{size} {statistics.mean(rows[size]['times']) / alone:.2f}x" for size in sizes)
    last = rows[max(sizes)]
    spawn_s = statistics.mean(last["spawn"])
    memory = statistics.mean(last["peak"][n]["kernel+engine"] for n in names)
    print(f"class_load: {ratios}, spawn {spawn_s:.1f} s, memory {memory:.0f} MB/learner")
    return 0


if __name__ == "__main__":
    sys.exit(main())
