# JupyterHub for a class on ONE machine: every learner's server gets its own rootless Docker
# engine (scripts/engine.sh's docker-26-rootless flavour), started with the server and stopped
# with it. Started by scripts/classroom.sh (`make classroom LEARNERS=N`), which sets the
# LAYERLAB_CLASS_* variables read below; run as root (LocalProcessSpawner switches to the
# learner's uid; the engine hooks need root to manage the user's engine).
#
# Everything listens on 127.0.0.1 only: the proxy's public port, the hub's API, the proxy's API,
# every learner server (LocalProcessSpawner's ip) and every service. Put a TLS reverse proxy
# in front of it for a real class, or use the Kubernetes set-up (deploy/kubernetes/).
#
# Authentication: DummyAuthenticator with one shared password, for a machine nobody else can
# reach (tests, a rehearsal). A real class needs a real authenticator:
#   - NativeAuthenticator (jupyterhub-nativeauthenticator): learners sign up, the instructor
#     approves them on the hub;
#   - OAuthenticator (GitHub, GitLab, Google, a university's OpenID Connect);
#   - PAMAuthenticator (JupyterHub's default): the machine's own accounts and passwords.
# Change c.JupyterHub.authenticator_class below; nothing else depends on it.
#
# On a real VM with systemd as PID 1, use SystemdSpawner (jupyterhub-systemdspawner) instead
# of LocalProcessSpawner: LAYERLAB_CLASS_SPAWNER=systemd. Each learner server then runs in a
# transient unit with its own memory and CPU limits (cgroups). The same pre_spawn_hook and
# post_stop_hook work unchanged, since they run in the hub (as root), not in the unit. Set:
#   c.SystemdSpawner.mem_limit / cpu_limit   per-learner limits of the server unit (kernel
#                                            included; the engine runs outside it, see below)
#   c.SystemdSpawner.user_workingdir = "/home/{USERNAME}"   the same notebook dir as here
#   c.SystemdSpawner.isolate_tmp = True, disable_user_sudo = True
#   c.SystemdSpawner.dynamic_users must stay False: the engine belongs to the learner's
#                                            real account (its subuids, its home)
# The engine itself is started by engine.sh outside the unit; to limit it as well, run it in
# its own unit (`systemd-run --uid USER --property=MemoryMax=... `) in the hook.
import asyncio
import os
import shutil
import sys
from pathlib import Path

env = os.environ.get
STATE = Path(env("LAYERLAB_CLASS_STATE", "/var/lib/layerlab-classroom"))
PREFIX = Path(env("LAYERLAB_CLASS_PREFIX_DIR", "/opt/layerlab-classroom"))
COURSE = Path(env("LAYERLAB_CLASS_COURSE", str(PREFIX / "course")))
VENV = Path(env("LAYERLAB_CLASS_VENV", str(PREFIX / "venv")))
CHP = env("LAYERLAB_CLASS_CHP", str(PREFIX / "proxy/node_modules/.bin/configurable-http-proxy"))
ENGINE_BIN = "/opt/layerlab-engines/docker-26/usr/bin"  # the docker 26 CLI the engine matches
LEARNERS = [name for name in env("LAYERLAB_CLASS_LEARNERS", "").split(",") if name]
INSTRUCTOR = env("LAYERLAB_CLASS_INSTRUCTOR", "")
IDLE_TIMEOUT = int(env("LAYERLAB_CLASS_IDLE_TIMEOUT", str(30 * 60)))  # seconds
LOOPBACK = "127.0.0.1"

c = get_config()  # noqa: F821  (JupyterHub's config loader provides it)

# ---- the hub, the proxy: loopback only, ports chosen by classroom.sh -------------------------
c.JupyterHub.ip = LOOPBACK  # the proxy's public side (no bind_url: it would override ip/port)
c.JupyterHub.port = int(env("LAYERLAB_CLASS_PORT", "8000"))
c.JupyterHub.hub_ip = LOOPBACK
c.JupyterHub.hub_connect_ip = LOOPBACK
c.JupyterHub.hub_port = int(env("LAYERLAB_CLASS_HUB_PORT", "8081"))
c.ConfigurableHTTPProxy.command = [CHP]
c.ConfigurableHTTPProxy.api_url = f"http://{LOOPBACK}:{env('LAYERLAB_CLASS_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.ConfigurableHTTPProxy.debug = False
c.JupyterHub.pid_file = str(STATE / "hub.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every server (and its engine)
c.JupyterHub.cleanup_proxy = True
c.JupyterHub.shutdown_on_logout = False

# ---- who logs in ------------------------------------------------------------------------------
c.JupyterHub.authenticator_class = "dummy"
password_file = env("LAYERLAB_CLASS_PASSWORD_FILE", str(STATE / "password"))
c.DummyAuthenticator.password = Path(password_file).read_text().strip()
c.Authenticator.allowed_users = set(LEARNERS) | ({INSTRUCTOR} if INSTRUCTOR else set())
c.Authenticator.admin_users = {INSTRUCTOR} if INSTRUCTOR else set()
c.JupyterHub.admin_access = False  # the instructor manages servers, and cannot open a learner's

# ---- the learner's server -----------------------------------------------------------------------
if env("LAYERLAB_CLASS_SPAWNER", "local") == "systemd":
    c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
    c.SystemdSpawner.user_workingdir = "/home/{USERNAME}"
    c.SystemdSpawner.isolate_tmp = True
    c.SystemdSpawner.disable_user_sudo = True
    c.SystemdSpawner.mem_limit = env("LAYERLAB_CLASS_MEM_LIMIT", "2G")
    c.SystemdSpawner.cpu_limit = float(env("LAYERLAB_CLASS_CPU_LIMIT", "1.0"))
else:
    c.JupyterHub.spawner_class = "localprocess"
c.Spawner.ip = LOOPBACK
c.Spawner.port = 0  # a free port, chosen at spawn
c.Spawner.cmd = [str(VENV / "bin" / "jupyterhub-singleuser")]
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = "/lab/tree/notebooks/00-setup.ipynb"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 60
c.Spawner.env_keep = ["LANG", "LC_ALL"]  # nothing else of root's environment reaches a learner


async def engine(command: str, user: str, log) -> str:
    """`bash scripts/engine.sh COMMAND docker-26-rootless USER`, from the installed course tree;
    its output."""
    process = await asyncio.create_subprocess_exec(
        "bash", str(COURSE / "scripts" / "engine.sh"), command, "docker-26-rootless", user,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    if command != "env":
        for line in text.splitlines():
            log.info("%s: %s", user, line)
    if process.returncode != 0:
        raise RuntimeError(f"engine.sh {command} docker-26-rootless {user} failed (exit {process.returncode})")
    return text


async def engine_environment(user: str, log) -> dict:
    """What `engine.sh env` exports for the learner's engine (DOCKER_HOST, DOCKER_CONFIG, ...):
    the script that starts the engine is the one place that knows where it listens."""
    exports = {}
    for line in (await engine("env", user, log)).splitlines():
        if line.startswith("export ") and "=" in line:
            name, value = line[len("export "):].split("=", 1)
            exports[name] = value
    return exports


async def start_engine(spawner) -> None:
    user = spawner.user.name
    await engine("start", user, spawner.log)
    spawner.environment.update(await engine_environment(user, spawner.log))
    spawner.environment.update({
        "LAYERLAB_LEARNER": user,
        "LAYERLAB_REGISTRY": "off",  # no pulls: nothing leaves the machine
        "LAYERLAB_ENGINE_FLAVOUR": "docker-26-rootless",
        "PATH": f"{VENV}/bin:{ENGINE_BIN}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
    })


async def stop_engine(spawner) -> None:
    try:
        await engine("stop", spawner.user.name, spawner.log)
    except Exception:
        spawner.log.exception("could not stop the engine of %s", spawner.user.name)


c.Spawner.pre_spawn_hook = start_engine
c.Spawner.post_stop_hook = stop_engine

# ---- services: the idle culler, and an API token for the operator's scripts and the tests --------
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [
            str(VENV / "bin" / "python"), "-m", "jupyterhub_idle_culler",
            f"--timeout={IDLE_TIMEOUT}",
            f"--cull-every={max(10, min(300, IDLE_TIMEOUT // 2))}",
        ],
    },
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    },
]
api_token_file = Path(env("LAYERLAB_CLASS_API_TOKEN_FILE", str(STATE / "api-token")))
if api_token_file.exists():
    # The class's operator (classroom.sh status, tests/classroom): manage users, servers and tokens.
    c.JupyterHub.services.append({"name": "layerlab-class-admin", "api_token": api_token_file.read_text().strip()})
    c.JupyterHub.load_roles.append({
        "name": "layerlab-class-admin",
        "scopes": ["admin:users", "admin:servers", "tokens", "list:users", "read:users"],
        "services": ["layerlab-class-admin"],
    })

# ---- the instructor's page (layerlab.classroom, its own service): last, it adds to the above ----
if env("LAYERLAB_CLASSROOM_SERVICE", "on") != "off":
    from layerlab.classroom.hubconfig import configure

    configure(c)  # SQLite in the hub's state folder, or $LAYERLAB_CLASSROOM_DB (a postgresql:// URL)
