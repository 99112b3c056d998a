"""The learner pod of a layerlab class on Zero to JupyterHub: one Docker engine per learner.

Loaded by the hub as `hub.extraConfig.layerlab` (see README.md beside this file):

    helm upgrade --install layerlab jupyterhub/jupyterhub --namespace layerlab \
      --values deploy/kubernetes/values.yaml --values deploy/kubernetes/values-sysbox.yaml \
      --set-file hub.extraConfig.layerlab=deploy/kubernetes/learner_pod.py

z2jh runs this file inside its jupyterhub_config.py, after the chart's own settings, where
`c` (the hub's config) and `get_config` (z2jh's reader of the Helm values) exist. Outside the
hub (tests, a dry look) it runs with `c` alone: the settings then come from DEFAULTS below and
the variant from $LAYERLAB_K8S_VARIANT.

Each learner pod has two containers that share one emptyDir holding the engine's socket:
  notebook  the course image, the learner (uid 1000), no root, no capabilities;
            DOCKER_HOST names the shared socket, LAYERLAB_LEARNER the learner's hub name.
  engine    dockerd (docker:dind), with no bridge network, its data on an emptyDir of its own.
The variant says how the engine gets the root it needs:
  sysbox    the pod runs under the sysbox-runc runtime (a user namespace per pod); the engine
            is NOT privileged. Needs nodes prepared by sysbox's daemonset.
  dind      the engine is a PRIVILEGED container: whoever controls the engine is root on the
            node. Learner pods therefore go only to a dedicated, tainted node pool.
"""

import copy
import os

VARIANT_ENV = "LAYERLAB_K8S_VARIANT"
VARIANTS = ("sysbox", "dind")
LEARNER_UID = 1000
SOCKET_DIR = "/run/layerlab-engine"
SOCKET = f"{SOCKET_DIR}/docker.sock"
COURSE_NOTEBOOKS = "/opt/layerlab/notebooks"
# The instructor page (classroom-service.yaml): the same names as layerlab.classroom.hubconfig,
# which the hub pod cannot import (z2jh's hub image has no layerlab); a test keeps them equal.
CLASSROOM_SERVICE = "layerlab-classroom"
CLASSROOM_ACCESS = f"access:services!service={CLASSROOM_SERVICE}"
CLASSROOM_URL = f"http://{CLASSROOM_SERVICE}:10101/services/{CLASSROOM_SERVICE}/"
CLASSROOM_EXTENSION = "layerlab.classroom.extension"
#: JupyterHub's own scopes for a server's token (its `server` role), which the access joins.
SERVER_TOKEN_SCOPES = ["users:activity!user", "access:servers!server"]

#: What `custom.layerlab` in the values can change; the values files set every key again.
DEFAULTS = {
    "variant": None,
    "engineImage": "docker:27.5-dind",
    "basesFile": "/opt/layerlab/bases.tar",
    "limits": {
        # The notebook: the kernel, the lesson's widgets, the learner's files.
        "notebook": {"cpu": 1.0, "memory": "1G", "ephemeralStorage": "1Gi"},
        # The engine: builds and containers run here, so it gets the larger share.
        "engine": {"cpu": 1.0, "memory": "2G", "ephemeralStorage": "1Gi"},
        # Images, layers and containers of the learner's engine (/var/lib/docker).
        "engineDataSize": "10Gi",
    },
    "dind": {
        # The dedicated pool: label its nodes with nodeSelector and taint them with taint.
        "nodeSelector": {"layerlab.io/node-pool": "learner-engines"},
        "taint": {"key": "layerlab.io/privileged-engines", "value": "true", "effect": "NoSchedule"},
    },
    "sysbox": {
        "runtimeClassName": "sysbox-runc",
        # CRI-O gives the pod its own user namespace of this size (sysbox's documented form).
        "usernsMode": "auto:size=65536",
    },
}


def _merged(base, override):
    """`base` with `override`'s keys laid over it, dicts merged key by key (as Helm does)."""
    result = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def course_settings(read=None, environ=None):
    """DEFAULTS with the values' `custom.layerlab` over them; the variant checked."""
    environ = os.environ if environ is None else environ
    settings = _merged(DEFAULTS, read("custom.layerlab", {}) if read else {})
    settings["variant"] = settings.get("variant") or environ.get(VARIANT_ENV, "").strip() or None
    if settings["variant"] not in VARIANTS:
        raise ValueError(
            f"layerlab: the learner-pod variant is {settings['variant']!r}, not one of {VARIANTS}. "
            "Add deploy/kubernetes/values-sysbox.yaml or values-dind.yaml to `helm --values` "
            f"(custom.layerlab.variant), or set ${VARIANT_ENV} outside the hub."
        )
    return settings


def _resources(limits):
    """A container's requests and limits; requests are half the CPU and all the memory asked."""
    return {
        "limits": {"cpu": str(limits["cpu"]), "memory": limits["memory"],
                   "ephemeral-storage": limits["ephemeralStorage"]},
        "requests": {"cpu": str(limits["cpu"] / 2), "memory": limits["memory"],
                     "ephemeral-storage": limits["ephemeralStorage"]},
    }


def engine_container(settings):
    """The sidecar: dockerd listening only on the shared socket, group = the learner's gid."""
    privileged = settings["variant"] == "dind"
    return {
        "name": "engine",
        "image": settings["engineImage"],
        "command": ["dockerd"],
        "args": [
            f"--host=unix://{SOCKET}", f"--group={LEARNER_UID}",
            # No bridge: the learner's containers get loopback only (as on the course's own engines).
            "--bridge=none", "--iptables=false", "--ip-forward=false",
            "--data-root=/var/lib/docker",
        ],
        "env": [{"name": "DOCKER_TLS_CERTDIR", "value": ""}],
        "securityContext": {
            "privileged": privileged,
            "allowPrivilegeEscalation": privileged,
            "runAsUser": 0,
        },
        "resources": _resources(settings["limits"]["engine"]),
        "volumeMounts": [
            {"name": "layerlab-engine-socket", "mountPath": SOCKET_DIR},
            {"name": "layerlab-engine-data", "mountPath": "/var/lib/docker"},
        ],
        "readinessProbe": {"exec": {"command": ["docker", f"--host=unix://{SOCKET}", "version"]},
                           "periodSeconds": 5},
    }


def pod_volumes(settings):
    return [
        {"name": "layerlab-engine-socket", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
        {"name": "layerlab-engine-data", "emptyDir": {"sizeLimit": settings["limits"]["engineDataSize"]}},
    ]


def learner_environment(settings):
    """The notebook's environment; KubeSpawner fills {unescaped_username} per learner."""
    return {
        "DOCKER_HOST": f"unix://{SOCKET}",
        "LAYERLAB_LEARNER": "{unescaped_username}",
        # No pulls: the learner's engine builds its bases from the file in the course image.
        "LAYERLAB_REGISTRY": "off",
        "LAYERLAB_BASES": settings["basesFile"],
        # Where the learner's server sends progress and heartbeats (the extension below).
        "LAYERLAB_CLASSROOM_URL": CLASSROOM_URL,
    }


def _add(section, name, items, key=None):
    """Add `items` to a list (or name-keyed dict) trait the chart may already have set."""
    current = section[name] if name in section else None
    if isinstance(current, dict):
        merged = dict(current)
        for index, item in enumerate(items):
            merged[item.get(key, f"layerlab-{index}") if key else f"layerlab-{index}"] = item
        section[name] = merged
    elif isinstance(current, list):
        section[name] = current + list(items)
    else:
        section[name] = list(items)


def configure(c, settings):
    """Set the learner pod on `c.KubeSpawner` (the chart's volumes, env and tolerations are kept)."""
    spawner = c.KubeSpawner
    notebook = settings["limits"]["notebook"]
    spawner.cpu_limit = notebook["cpu"]
    spawner.cpu_guarantee = notebook["cpu"] / 2
    spawner.mem_limit = notebook["memory"]
    spawner.mem_guarantee = notebook["memory"]
    spawner.extra_resource_limits = {"ephemeral-storage": notebook["ephemeralStorage"]}
    spawner.extra_resource_guarantees = {"ephemeral-storage": notebook["ephemeralStorage"]}

    spawner.uid = LEARNER_UID
    spawner.gid = LEARNER_UID
    spawner.fs_gid = LEARNER_UID
    spawner.privileged = False
    spawner.allow_privilege_escalation = False
    spawner.container_security_context = {"runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
    # The learner's code never needs the Kubernetes API.
    spawner.automount_service_account_token = False
    # The home volume starts empty: the first start copies the lessons in; later starts keep them.
    spawner.lifecycle_hooks = {"postStart": {"exec": {"command": [
        "sh", "-c", f"test -e \"$HOME/notebooks\" || cp -r {COURSE_NOTEBOOKS} \"$HOME/notebooks\""]}}}

    environment = dict(spawner["environment"]) if "environment" in spawner else {}
    environment.update(learner_environment(settings))
    spawner.environment = environment
    _add(spawner, "volumes", pod_volumes(settings), key="name")
    _add(spawner, "volume_mounts", [{"name": "layerlab-engine-socket", "mountPath": SOCKET_DIR}], key="name")
    _add(spawner, "extra_containers", [engine_container(settings)], key="name")

    # The learner's server loads the extension that reports to the instructor page, and its
    # token may reach that service (which lets each learner post only their own progress).
    # (KubeSpawner passes args only to a command it knows: z2jh sets singleuser.cmd, and so
    # does this file when nothing did.)
    if "cmd" not in spawner:
        spawner.cmd = ["jupyterhub-singleuser"]
    _add(spawner, "args", [f"--ServerApp.jpserver_extensions={CLASSROOM_EXTENSION}=True"])
    spawner.server_token_scopes = [*SERVER_TOKEN_SCOPES, CLASSROOM_ACCESS]
    c.JupyterHub.extra_user_scopes.add(CLASSROOM_ACCESS)  # JupyterHub 6: every user may reach it

    if settings["variant"] == "sysbox":
        sysbox = settings["sysbox"]
        spawner.extra_pod_config = {"runtimeClassName": sysbox["runtimeClassName"]}
        spawner.extra_annotations = {"io.kubernetes.cri-o.userns-mode": sysbox["usernsMode"]}
    else:
        dind = settings["dind"]
        spawner.node_selector = dict(dind["nodeSelector"])
        _add(spawner, "tolerations", [dict(dind["taint"], operator="Equal")])


def _reader():
    """z2jh's get_config where it exists (inside the hub), else None."""
    found = globals().get("get_config")
    if callable(found) and getattr(found, "__module__", "") != "traitlets.config.loader":
        return found
    try:
        from z2jh import get_config as found  # the chart's module, on the hub's path
    except ImportError:
        return None
    return found


if "c" in globals():  # run by the hub (or a test) as a config file
    configure(c, course_settings(_reader()))  # noqa: F821  (c is the hub's config)
