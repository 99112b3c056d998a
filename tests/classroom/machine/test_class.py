"""A class of two learners on one machine: isolation, a live lesson, loopback only, a clean stop.

Tests run in file order and share one class (conftest.py); the last one stops it.
"""

from __future__ import annotations

import json
import pwd
import re
import subprocess
from pathlib import Path

import pytest
import requests

from klass import INSTRUCTOR, LEARNERS, ROOT, classroom, hub, kernels, learners, wait_for  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(300)
A, B = LEARNERS


def socket_of(name: str) -> str:
    return f"/run/layerlab/rootless/{name}/docker.sock"


def test_each_kernel_reaches_only_its_own_engine_and_it_is_rootless(kernels):
    for name, kernel in kernels.items():
        out = kernel.check(
            "import os, json\n"
            "from layerlab.engine import connect\n"
            "engine = connect()\n"
            "print(json.dumps({'host': os.environ['DOCKER_HOST'], 'learner': os.environ['LAYERLAB_LEARNER'],\n"
            "  'uid': os.getuid(), 'cwd': os.getcwd(), 'facts_host': engine.facts.host,\n"
            "  'rootless': engine.facts.rootless, 'version': engine.facts.engine_version,\n"
            "  'registry': os.environ.get('LAYERLAB_REGISTRY')}))\n")
        facts = json.loads(out.strip().splitlines()[-1])
        assert facts["host"] == f"unix://{socket_of(name)}", facts
        assert facts["facts_host"] == facts["host"]
        assert facts["learner"] == name
        assert facts["uid"] == pwd.getpwnam(name).pw_uid
        assert facts["cwd"] == f"{pwd.getpwnam(name).pw_dir}/notebooks"
        assert facts["rootless"] is True, facts
        assert facts["version"].startswith("26."), facts
        assert facts["registry"] == "off"
        # The docker CLI the kernel finds says the same.
        out = kernel.check("import subprocess\nprint(subprocess.run(['docker', 'info', '--format', "
                           "'{{json .SecurityOptions}}'], capture_output=True, text=True, check=True).stdout)")
        assert "name=rootless" in out


def test_homes_are_private(learners):
    for name in [*LEARNERS, INSTRUCTOR]:
        assert Path(pwd.getpwnam(name).pw_dir).stat().st_mode & 0o777 == 0o700


PROBE = """
import errno, glob, json, socket
result = {}
for path in __PATHS__ + sorted(glob.glob('/run/layerlab/*.sock')):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        result[path] = 'connected'
    except OSError as error:
        result[path] = errno.errorcode.get(error.errno, str(error.errno))
    finally:
        s.close()
print(json.dumps(result))
"""


def test_b_is_denied_on_a_socket_and_on_the_root_engines(kernels):
    paths = [socket_of(A), "/var/run/docker.sock"]
    out = kernels[B].check(PROBE.replace("__PATHS__", repr(paths)))
    result = json.loads(out.strip().splitlines()[-1])
    assert set(paths) <= set(result)
    for path, outcome in result.items():
        if path == "/var/run/docker.sock" and outcome == "ENOENT":
            continue  # no root engine on the default socket on this machine
        assert outcome == "EACCES", f"{B} on {path}: {outcome}"
    assert any(path.startswith("/run/layerlab/") and path.endswith(".sock") and "rootless" not in path
               for path in result) or not list(Path("/run/layerlab").glob("*.sock")), result


def test_b_sees_none_of_a_containers_or_images(kernels):
    marker = "klass-probe"
    kernels[A].check(
        "from layerlab.engine import connect\n"
        "from layerlab.engine.prepare import base_for\n"
        "engine = connect()\n"
        "ref = base_for(engine, 'ping').reference\n"
        f"image = engine.client.images.get(ref); image.tag('{A}-only', '{marker}')\n"
        f"engine.client.containers.create(ref, ['true'], name='{A}-{marker}', labels={{'layerlab.test': '{marker}'}},"
        " network_mode='none')\n")
    look = ("from layerlab.engine import connect\nimport json\nc = connect().client\n"
            "print(json.dumps({'containers': [x.name for x in c.containers.list(all=True)],"
            " 'tags': sorted(t for i in c.images.list() for t in i.tags)}))\n")
    seen_by_a = json.loads(kernels[A].check(look).strip().splitlines()[-1])
    seen_by_b = json.loads(kernels[B].check(look).strip().splitlines()[-1])
    assert f"{A}-{marker}" in seen_by_a["containers"] and f"{A}-only:{marker}" in seen_by_a["tags"]
    assert f"{A}-{marker}" not in seen_by_b["containers"], seen_by_b
    assert not [tag for tag in seen_by_b["tags"] if tag.startswith(f"{A}-")], seen_by_b
    kernels[A].check(f"c = connect().client\nc.containers.get('{A}-{marker}').remove(force=True)\n"
                     f"c.images.remove('{A}-only:{marker}')\n")


def test_container_root_is_the_learner_on_the_host(kernels):
    for name, kernel in kernels.items():
        uid = pwd.getpwnam(name).pw_uid
        out = kernel.check(
            "from layerlab.engine import connect\n"
            "from layerlab.engine.prepare import base_for\n"
            "import json\n"
            "engine = connect(); ref = base_for(engine, 'ping').reference\n"
            "c = engine.client.containers.run(ref, ['sh', '-c', 'cat /proc/self/uid_map; id -u; sleep 60'],"
            " detach=True, network_mode='none', name='klass-uid-probe')\n"
            "import time\n"
            "for _ in range(100):\n"
            "    c.reload()\n"
            "    if c.status == 'running' and c.logs(): break\n"
            "    time.sleep(0.1)\n"
            "print(json.dumps({'pid': c.attrs['State']['Pid'], 'logs': c.logs().decode()}))\n")
        facts = json.loads(out.strip().splitlines()[-1])
        first = facts["logs"].split("\n")[0].split()
        assert first[:3] == ["0", str(uid), "1"], facts["logs"]  # uid 0 inside is the learner outside
        assert facts["logs"].split("\n")[-2].strip() == "0"  # and the process believes it is root
        # Seen from the host: the container's process runs as the learner's uid.
        status = Path(f"/proc/{facts['pid']}/status").read_text()
        real_uid = re.search(r"^Uid:\s+(\d+)", status, re.M).group(1)
        assert real_uid == str(uid), status
        kernel.check("engine.client.containers.get('klass-uid-probe').remove(force=True)")


def first_code_cells(notebook: Path, count: int) -> list[str]:
    cells = [cell for cell in json.loads(notebook.read_text())["cells"] if cell["cell_type"] == "code"]
    return ["".join(cell["source"]) for cell in cells[:count]]


def test_a_lesson_cell_runs_live_in_each(kernels):
    cells = first_code_cells(ROOT / "notebooks" / "01-image-layers.ipynb", 3)
    assert "start_lesson" in cells[0]
    for name, kernel in kernels.items():
        outputs = [kernel.run(cell) for cell in cells]
        for cell, result in zip(cells, outputs):
            assert result["error"] is None, f"{name}: {cell[:60]!r}: {result['error']}\n{result['stderr']}"
        assert "FROM " in outputs[2]["stdout"], outputs[2]
        # Live, not replayed: the lesson's engine is this learner's own.
        live = kernel.check("print(lesson.engine.facts.host if hasattr(lesson, 'engine') else 'n/a')")
        assert live.strip() in (f"unix://{socket_of(name)}", "n/a"), live


def class_pids(hub) -> set[int]:
    """The hub, its children (proxy, services) and every process of the class's users."""
    pids = {int((Path(hub.env["LAYERLAB_CLASS_STATE"]) / "hub.pid").read_text())}
    uids = {pwd.getpwnam(name).pw_uid for name in [*LEARNERS, INSTRUCTOR]}
    table = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            status = (proc / "status").read_text()
        except OSError:
            continue
        ppid = int(re.search(r"^PPid:\s+(\d+)", status, re.M).group(1))
        uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
        table[int(proc.name)] = ppid
        if uid in uids:
            pids.add(int(proc.name))
    for _ in range(5):
        pids |= {pid for pid, ppid in table.items() if ppid in pids}
    return pids


def test_every_socket_the_class_listens_on_is_loopback(hub, kernels):
    pids = class_pids(hub)
    listening = []
    for proto in ("-ltnpH", "-lunpH"):
        for line in subprocess.run(["ss", proto], capture_output=True, text=True, check=True).stdout.splitlines():
            owners = {int(pid) for pid in re.findall(r"pid=(\d+)", line)}
            if owners & pids:
                listening.append((proto, line.split()[3], line))
    ports = {address.rsplit(":", 1)[1] for _, address, _ in listening}
    for key in ("LAYERLAB_CLASS_PORT", "LAYERLAB_CLASS_HUB_PORT", "LAYERLAB_CLASS_PROXY_API_PORT"):
        assert hub.env[key] in ports, f"{key}={hub.env[key]} not among the class's listeners: {listening}"
    assert len(listening) >= 5, listening  # hub, proxy x2, two servers (and kernels' ZMQ ports)
    for proto, address, line in listening:
        assert address.startswith("127.0.0.1:") or address.startswith("[::1]:"), f"not loopback: {line}"


def test_the_instructor_page_lists_both_learners_with_the_lesson(hub, learners, kernels):
    if hub.env.get("LAYERLAB_CLASSROOM_SERVICE") == "off":
        pytest.skip("the class runs without the instructor service (LAYERLAB_CLASSROOM_SERVICE=off)")
    teacher = hub.user_token(INSTRUCTOR)
    url = f"{hub.url}services/layerlab-classroom/api/learners"
    def both():
        answer = requests.get(url, headers={"Authorization": f"token {teacher}"}, timeout=30)
        if answer.status_code != 200:
            return None
        rows = {row["learner"]: row for row in answer.json()}
        ok = all(name in rows and "01-layers" in rows[name].get("lessons", []) for name in LEARNERS)
        return rows if ok else None

    rows = wait_for("both learners appear on the instructor's page with lesson 01", both, timeout=90, every=1)
    for name in LEARNERS:
        assert rows[name]["server"] == "up"
        assert rows[name]["engine"]["up"] is True and rows[name]["engine"]["rootless"] is True, rows[name]
    denied = requests.get(url, headers={"Authorization": f"token {learners[A].token}"}, timeout=30)
    assert denied.status_code in (401, 403, 404), (denied.status_code, denied.text[:200])


@pytest.mark.browser
def test_the_instructor_sees_both_learners_live_in_the_browser(hub, learners, kernels, browser):
    """The page itself, in Chromium, logged in as the instructor through the hub's form: both
    learners' rows show their server up, a rootless engine and the lesson their kernel ran.
    A learner who logs in gets no page."""
    from playwright.sync_api import expect

    from klass import STATE

    page_url = f"{hub.url}services/layerlab-classroom/"
    password = (STATE / "password").read_text().strip()

    def logged_in(user):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.goto(page_url)
        page.wait_for_selector("#username_input", timeout=30_000)
        page.fill("#username_input", user)
        page.fill("#password_input", password)
        page.click("#login_submit")
        page.wait_for_load_state()
        return context, page

    context, page = logged_in(INSTRUCTOR)
    try:
        for name in LEARNERS:
            row = page.locator(f'tr[data-learner="{name}"]')
            expect(row).to_contain_text("01-layers", timeout=60_000)
            expect(row).to_contain_text("rootless", timeout=60_000)
        shots = ROOT / "artifacts" / "classroom"
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "instructor-page-class.png"), full_page=True)
    finally:
        context.close()
    context, page = logged_in(A)
    try:
        wait_for("the learner's 403", lambda: "403" in page.content(), timeout=30)
        assert B not in page.content()
    finally:
        context.close()


def engine_processes(name: str) -> str:
    uid = pwd.getpwnam(name).pw_uid
    return subprocess.run(["pgrep", "-a", "-u", str(uid)], capture_output=True, text=True).stdout


def test_stopping_a_server_stops_its_engine(hub, learners, kernels):
    kernels[A].close()
    answer = hub.api("DELETE", f"users/{A}/server", token=learners[A].token)
    assert answer.status_code in (202, 204), answer.text
    wait_for(f"{A}'s server is stopped", lambda: not hub.api("GET", f"users/{A}", token=learners[A].token)
             .json()["servers"], timeout=60)
    wait_for(f"no process of {A} is left", lambda: engine_processes(A) == "", timeout=60)
    status = subprocess.run(["bash", str(ROOT / "scripts/engine.sh"), "status", "docker-26-rootless", A],
                            capture_output=True, text=True)
    assert status.returncode != 0, status.stdout
    assert Path(socket_of(B)).exists()  # B's engine is untouched


def test_zz_stopping_the_class_leaves_no_process(hub, learners):
    pids = class_pids(hub)
    import time
    began = time.monotonic()
    down = classroom("down")
    print(f"class down in {time.monotonic() - began:.1f} s")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "none of its processes is left" in down.stdout
    alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    assert not alive, subprocess.run(["ps", "-o", "pid,user,args", "-p", ",".join(map(str, alive))],
                                     capture_output=True, text=True).stdout
    for name in [*LEARNERS, INSTRUCTOR]:
        assert engine_processes(name) == "", name
    assert not Path(socket_of(B)).exists()
    acl = subprocess.run(["getfacl", "--omit-header", "--absolute-names", "/dev/net/tun"], capture_output=True, text=True).stdout
    assert not [line for line in acl.splitlines() if any(f"user:{name}:" in line for name in LEARNERS)], acl


@pytest.mark.timeout(240)
def test_zzz_an_idle_server_is_culled_and_its_engine_stops_with_it():
    """A class of its own with a 15 s idle timeout: the culler stops the server, and the
    post_stop_hook stops that learner's engine."""
    from klass import CLASS_ENV, Hub, read_env

    prefix, state = "llclass-u", "/var/lib/layerlab-classroom-cull-test"
    env = {**CLASS_ENV, "LAYERLAB_CLASS_USER_PREFIX": prefix, "LAYERLAB_CLASS_STATE": state,
           "LAYERLAB_CLASS_IDLE_TIMEOUT": "15", "LAYERLAB_CLASSROOM_SERVICE": "off"}

    def run(*args):
        return subprocess.run(["bash", str(ROOT / "scripts/classroom.sh"), *args], env=env, capture_output=True,
                              text=True, timeout=200)

    run("down")
    up = run("up", "1")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        values = read_env(Path(state) / "class.env")
        cull_hub = Hub(f"http://127.0.0.1:{values['LAYERLAB_CLASS_PORT']}/",
                       (Path(state) / "api-token").read_text().strip(), values)
        name = f"{prefix}1"
        cull_hub.spawn(name, cull_hub.api_token)
        assert Path(socket_of(name)).exists() and engine_processes(name)
        wait_for(f"the culler stops {name}'s server", lambda: not cull_hub.api("GET", f"users/{name}").json()["servers"],
                 timeout=120, every=1)
        wait_for(f"{name}'s engine stops with it", lambda: engine_processes(name) == "", timeout=60)
        assert "Culling server " + name in (Path(state) / "hub.log").read_text()
    finally:
        down = run("down")
    assert down.returncode == 0, down.stdout + down.stderr
