"""deploy/kubernetes: the learner pod rendered offline by a real KubeSpawner, and the values.

No cluster: KubeSpawner reads a dummy kubeconfig (an API server on 127.0.0.1:1 that is never
called) and `get_pod_manifest()` only builds the pod object. learner_pod.py is run the way
z2jh runs hub.extraConfig: as code with `c` (and, from the values, `get_config`) in scope.
"""

from __future__ import annotations

import asyncio
import copy
import threading

import kubespawner  # the test extra has it: a missing one fails, it does not skip
import pytest
import yaml
from kubernetes_asyncio.client import ApiClient  # kubespawner's own client
from kubernetes_asyncio.config import kube_config
from traitlets.config import Config

from support import ROOT

DEPLOY = ROOT / "deploy" / "kubernetes"
LEARNER_POD = DEPLOY / "learner_pod.py"
SOCKET_DIR = "/run/layerlab-engine"

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: none, user: {token: not-a-token}}]
contexts: [{name: none, context: {cluster: none, user: none, namespace: layerlab}}]
current-context: none
"""


@pytest.fixture(autouse=True)
def dummy_kubeconfig(tmp_path, monkeypatch):
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    # kubernetes_asyncio reads $KUBECONFIG once, when imported: point its default at the file.
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)  # never in-cluster
    monkeypatch.delenv("LAYERLAB_K8S_VARIANT", raising=False)


def values(*names: str) -> dict:
    """The values files merged in order, dicts key by key, as `helm --values a --values b` does."""
    def merge(base, override):
        for key, value in override.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = copy.deepcopy(value)
        return base
    merged: dict = {}
    for name in names:
        merge(merged, yaml.safe_load((DEPLOY / name).read_text()))
    return merged


def z2jh_reader(chart_values: dict):
    """A stand-in for z2jh.get_config: a dotted key into the values, or the default."""
    def get_config(key, default=None):
        node = chart_values
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node
    return get_config


def load(chart_values: dict | None = None) -> Config:
    """Run learner_pod.py as hub.extraConfig, with or without z2jh's get_config."""
    c = Config()
    scope = {"c": c, "__name__": "layerlab_extra_config"}
    if chart_values is not None:
        scope["get_config"] = z2jh_reader(chart_values)
    exec(compile(LEARNER_POD.read_text(), str(LEARNER_POD), "exec"), scope)
    return c


class User:
    def __init__(self, name: str, id: int):
        self.name, self.id, self.url = name, id, f"/user/{name}/"


def render(c: Config, *names: str) -> list[dict]:
    """Each learner's pod, as the dict Kubernetes would be sent."""
    async def pods():
        result = []
        for number, name in enumerate(names, start=1):
            spawner = kubespawner.KubeSpawner(config=c, user=User(name, number), _mock=True)
            manifest = await spawner.get_pod_manifest()
            result.append(ApiClient().sanitize_for_serialization(manifest))
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()  # kubespawner's client-closing task
        return result
    return in_own_loop(pods)


def in_own_loop(coroutine_function):
    """Run it to the end on an event loop of its own, in a thread of its own: the browser
    tier's playwright keeps a loop running in the main thread, where asyncio.run() refuses."""
    outcome = {}

    def run():
        try:
            outcome["value"] = asyncio.run(coroutine_function())
        except BaseException as error:  # noqa: BLE001 - raised again in the test's thread
            outcome["error"] = error

    worker = threading.Thread(target=run, name="kubespawner-render")
    worker.start()
    worker.join(50)
    assert not worker.is_alive(), "rendering the learner pod did not end within 50 s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def containers(pod: dict) -> dict[str, dict]:
    return {container["name"]: container for container in pod["spec"]["containers"]}


def env(container: dict) -> dict[str, str]:
    return {item["name"]: item.get("value") for item in container.get("env", [])}


def pod_for(variant: str, user: str = "alice") -> dict:
    return render(load(values("values.yaml", f"values-{variant}.yaml")), user)[0]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("variant", ["sysbox", "dind"])
def test_the_notebook_reaches_its_own_engine_through_a_shared_socket(variant):
    pod = pod_for(variant)
    parts = containers(pod)
    assert set(parts) == {"notebook", "engine"}
    notebook, engine = parts["notebook"], parts["engine"]
    assert env(notebook)["DOCKER_HOST"] == f"unix://{SOCKET_DIR}/docker.sock"
    assert f"--host=unix://{SOCKET_DIR}/docker.sock" in engine["args"]
    assert "--bridge=none" in engine["args"]
    volumes = {volume["name"]: volume for volume in pod["spec"]["volumes"]}
    assert "emptyDir" in volumes["layerlab-engine-socket"]
    for container in (notebook, engine):
        mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
        assert mounts["layerlab-engine-socket"] == SOCKET_DIR, container["name"]
    # The engine's data is its own, not the learner's.
    assert "layerlab-engine-data" not in {mount["name"] for mount in notebook["volumeMounts"]}
    assert env(notebook)["LAYERLAB_REGISTRY"] == "off"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("variant", ["sysbox", "dind"])
def test_the_learner_is_never_root_in_the_notebook(variant):
    notebook = containers(pod_for(variant))["notebook"]
    context = notebook["securityContext"]
    assert context["runAsUser"] == 1000 and context["runAsNonRoot"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert not context.get("privileged")
    assert context["capabilities"]["drop"] == ["ALL"]
    assert pod_for(variant)["spec"]["automountServiceAccountToken"] is False


@pytest.mark.timeout(60)
def test_sysbox_runs_the_engine_unprivileged_under_its_runtime():
    pod = pod_for("sysbox")
    engine = containers(pod)["engine"]
    assert engine["securityContext"]["privileged"] is False
    assert engine["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["spec"]["runtimeClassName"] == "sysbox-runc"
    assert pod["metadata"]["annotations"]["io.kubernetes.cri-o.userns-mode"].startswith("auto")
    assert not any(c["securityContext"].get("privileged") for c in pod["spec"]["containers"])
    assert "layerlab.io/node-pool" not in (pod["spec"].get("nodeSelector") or {})


@pytest.mark.timeout(60)
def test_dind_privileges_the_sidecar_only_and_only_on_the_tainted_pool():
    pod = pod_for("dind")
    parts = containers(pod)
    assert parts["engine"]["securityContext"]["privileged"] is True
    assert [name for name, c in parts.items() if c["securityContext"].get("privileged")] == ["engine"]
    assert pod["spec"]["nodeSelector"] == {"layerlab.io/node-pool": "learner-engines"}
    assert {"key": "layerlab.io/privileged-engines", "operator": "Equal", "value": "true",
            "effect": "NoSchedule"} in pod["spec"]["tolerations"]
    assert "runtimeClassName" not in pod["spec"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("variant", ["sysbox", "dind"])
def test_each_learner_has_cpu_memory_and_disk_limits(variant):
    pod = pod_for(variant)
    parts = containers(pod)
    notebook, engine = parts["notebook"]["resources"]["limits"], parts["engine"]["resources"]["limits"]
    assert float(notebook["cpu"]) == 1.0 and notebook["memory"] == 1024**3  # KubeSpawner reads "1G" as GiB
    assert notebook["ephemeral-storage"] == "1Gi"
    assert engine == {"cpu": "1.0", "memory": "2G", "ephemeral-storage": "1Gi"}
    data = {volume["name"]: volume for volume in pod["spec"]["volumes"]}["layerlab-engine-data"]
    assert data["emptyDir"]["sizeLimit"] == "10Gi"


@pytest.mark.timeout(60)
def test_the_values_change_the_limits_the_pod_gets():
    chart = values("values.yaml", "values-sysbox.yaml")
    chart["custom"]["layerlab"]["limits"]["engine"]["memory"] = "4G"
    engine = containers(render(load(chart), "alice")[0])["engine"]
    assert engine["resources"]["limits"]["memory"] == "4G"


@pytest.mark.timeout(60)
def test_two_learners_get_two_pods_each_with_its_own_name():
    alice, bob = render(load(values("values.yaml", "values-sysbox.yaml")), "alice", "Bob Smith")
    assert alice["metadata"]["name"] != bob["metadata"]["name"]
    assert env(containers(alice)["notebook"])["LAYERLAB_LEARNER"] == "alice"
    assert env(containers(bob)["notebook"])["LAYERLAB_LEARNER"] == "Bob Smith"


@pytest.mark.timeout(60)
def test_outside_the_hub_the_variant_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("LAYERLAB_K8S_VARIANT", "dind")
    pod = render(load(), "alice")[0]
    assert containers(pod)["engine"]["securityContext"]["privileged"] is True
    monkeypatch.setenv("LAYERLAB_K8S_VARIANT", "sysbox")
    assert render(load(), "alice")[0]["spec"]["runtimeClassName"] == "sysbox-runc"


@pytest.mark.timeout(30)
def test_no_variant_stops_the_hub_with_what_to_add():
    with pytest.raises(ValueError, match="values-sysbox.yaml or values-dind.yaml"):
        load(values("values.yaml"))
    with pytest.raises(ValueError, match="not one of"):
        load({"custom": {"layerlab": {"variant": "host-socket"}}})


@pytest.mark.timeout(30)
def test_the_chart_keeps_the_volumes_and_tolerations_it_set_itself():
    c = Config()
    c.KubeSpawner.volumes = [{"name": "home", "persistentVolumeClaim": {"claimName": "claim-alice"}}]
    c.KubeSpawner.tolerations = [{"key": "hub.jupyter.org/dedicated", "operator": "Equal", "value": "user"}]
    scope = {"c": c, "get_config": z2jh_reader(values("values.yaml", "values-dind.yaml"))}
    exec(compile(LEARNER_POD.read_text(), str(LEARNER_POD), "exec"), scope)
    assert [v["name"] for v in c.KubeSpawner.volumes] == ["home", "layerlab-engine-socket", "layerlab-engine-data"]
    assert [t["key"] for t in c.KubeSpawner.tolerations] == ["hub.jupyter.org/dedicated", "layerlab.io/privileged-engines"]


@pytest.mark.timeout(30)
def test_values_include_the_pod_file_cull_idle_learners_and_block_egress():
    common = values("values.yaml")
    placeholder = common["hub"]["extraConfig"]["layerlab"]
    with pytest.raises(RuntimeError, match="--set-file hub.extraConfig.layerlab=deploy/kubernetes/learner_pod.py"):
        exec(placeholder, {})
    cull = common["cull"]
    assert cull["enabled"] is True and 0 < cull["timeout"] <= 3600 and cull["every"] <= cull["timeout"]
    assert cull["maxAge"] > cull["timeout"]
    limits = common["custom"]["layerlab"]["limits"]
    assert set(limits["notebook"]) == set(limits["engine"]) == {"cpu", "memory", "ephemeralStorage"}
    assert limits["engineDataSize"]
    singleuser = common["singleuser"]
    assert singleuser["cloudMetadata"]["blockWithIptables"] is False  # z2jh's privileged init container
    assert singleuser["networkPolicy"]["enabled"] is True
    assert not any(singleuser["networkPolicy"]["egressAllowRules"].values())
    assert singleuser["image"]["name"] and singleuser["storage"]["homeMountPath"] == "/home/learner"


@pytest.mark.timeout(30)
def test_the_two_variants_differ_where_they_should_and_only_there():
    sysbox, dind = values("values-sysbox.yaml"), values("values-dind.yaml")
    assert set(sysbox) == set(dind) == {"custom"}  # neither overrides the shared settings
    assert sysbox["custom"]["layerlab"]["variant"] == "sysbox"
    assert dind["custom"]["layerlab"]["variant"] == "dind"
    assert "RISK" in (DEPLOY / "values-sysbox.yaml").read_text()
    assert "ROOT ON THE NODE" in (DEPLOY / "values-dind.yaml").read_text()


@pytest.mark.timeout(30)
def test_the_readme_gives_the_install_command_the_values_expect():
    readme = (DEPLOY / "README.md").read_text()
    assert "--set-file hub.extraConfig.layerlab=deploy/kubernetes/learner_pod.py" in readme
    for name in ("values.yaml", "values-sysbox.yaml", "values-dind.yaml", "build-image.sh"):
        assert name in readme


# -- the instructor page (classroom-service.yaml) -------------------------------------------

def manifests() -> dict[str, dict]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all((DEPLOY / "classroom-service.yaml").read_text())}


@pytest.mark.timeout(60)
def test_each_learner_server_reports_to_the_classroom_service_with_its_own_token():
    """The names learner_pod.py must use without importing layerlab (the hub image has none)
    are the ones the service and its extension use, and every learner pod gets them."""
    from layerlab.classroom import hubconfig

    c = load(values("values.yaml", "values-sysbox.yaml"))
    notebook = containers(render(c, "alice")[0])["notebook"]
    url = env(notebook)[hubconfig.URL_ENV]
    assert url == f"http://{hubconfig.SERVICE}:10101/services/{hubconfig.SERVICE}/"
    assert f"--ServerApp.jpserver_extensions={hubconfig.EXTENSION}=True" in notebook["args"]
    assert hubconfig.ACCESS in c.KubeSpawner.server_token_scopes
    assert set(hubconfig.SERVER_ROLE_SCOPES) <= set(c.KubeSpawner.server_token_scopes)
    assert hubconfig.ACCESS in c.JupyterHub.extra_user_scopes.to_dict()["update"]


@pytest.mark.timeout(30)
def test_the_hub_the_service_and_the_learner_pods_agree_on_where_the_service_is():
    from layerlab.classroom import hubconfig

    found = manifests()
    assert set(found) == {"PersistentVolumeClaim", "Deployment", "Service", "NetworkPolicy"}
    service = values("values.yaml")["hub"]["services"][hubconfig.SERVICE]
    port = found["Service"]["spec"]["ports"][0]["port"]
    assert service["url"] == f"http://{found['Service']['metadata']['name']}:{port}"
    pod = found["Deployment"]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    given = {item["name"]: item.get("value") for item in container["env"]}
    assert given["JUPYTERHUB_SERVICE_NAME"] == hubconfig.SERVICE
    assert given["JUPYTERHUB_CLIENT_ID"] == service["oauth_client_id"]
    assert given["JUPYTERHUB_OAUTH_CALLBACK_URL"] == service["oauth_redirect_uri"]
    assert given[hubconfig.LISTEN_ENV] == "pod"
    assert given["JUPYTERHUB_SERVICE_URL"].endswith(f":{container['ports'][0]['containerPort']}")
    roles = values("values.yaml")["hub"]["loadRoles"]
    assert any(hubconfig.SERVICE in role["services"] for role in roles.values())
    # The learners' pods may reach it, and nothing else beyond what z2jh allows.
    (rule,) = values("values.yaml")["singleuser"]["networkPolicy"]["egress"]
    assert rule["to"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": hubconfig.SERVICE}}}]
    assert rule["to"][0]["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert rule["ports"] == [{"port": port, "protocol": "TCP"}]


@pytest.mark.timeout(30)
def test_the_service_pod_is_unprivileged_and_reached_only_by_the_proxy_and_learners():
    found = manifests()
    spec = found["Deployment"]["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] != 0
    context = spec["containers"][0]["securityContext"]
    assert context["allowPrivilegeEscalation"] is False and context["capabilities"] == {"drop": ["ALL"]}
    assert "limits" in spec["containers"][0]["resources"]
    policy = found["NetworkPolicy"]["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    sources = [rule["podSelector"]["matchLabels"]["component"] for rule in policy["ingress"][0]["from"]]
    assert sorted(sources) == ["proxy", "singleuser-server"]
    targets = [rule["to"][0] for rule in policy["egress"]]
    assert targets[0] == {"podSelector": {"matchLabels": {"component": "hub"}}}
    assert targets[1]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "kube-system"}


@pytest.mark.timeout(30)
def test_the_service_listens_on_loopback_unless_told_it_runs_in_a_pod():
    from layerlab.classroom.service import listen_address

    assert listen_address({"JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:4321"}) == ("127.0.0.1", 4321)
    with pytest.raises(SystemExit, match="loopback only"):
        listen_address({"JUPYTERHUB_SERVICE_URL": "http://0.0.0.0:10101"})
    assert listen_address({"JUPYTERHUB_SERVICE_URL": "http://0.0.0.0:10101", "LAYERLAB_CLASSROOM_LISTEN": "pod"}) == ("", 10101)
