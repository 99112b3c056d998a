"""Each way connecting fails prints one clear message with the fix, exits non-zero, no traceback.

These run `python -m layerlab doctor` in a fresh process against addresses where no engine,
a forbidden socket, or a fake engine that is too old answers. None needs a real engine.
"""

import json
import os
import shutil
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from support import run_cli


def assert_clean_failure(result, *phrases):
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr + result.stdout
    assert "what to do:" in result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3


def test_no_engine_at_the_socket(tmp_path):
    result = run_cli("doctor", env={"DOCKER_HOST": f"unix://{tmp_path}/docker.sock"})
    assert_clean_failure(result, "no Docker engine answers", "the socket does not exist", "engine.sh start")


def test_stale_socket_is_no_engine(tmp_path):
    path = tmp_path / "stale.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: what a stopped dockerd leaves
    result = run_cli("doctor", env={"DOCKER_HOST": f"unix://{path}"})
    assert_clean_failure(result, "connection refused")


def test_docker_host_unreachable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_cli("doctor", env={"DOCKER_HOST": f"tcp://127.0.0.1:{port}"})
    assert_clean_failure(result, f"DOCKER_HOST is tcp://127.0.0.1:{port}", "unset DOCKER_HOST")


def test_permission_denied_on_the_socket(tmp_path):
    path = tmp_path / "locked.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(1)
    os.chmod(path, 0)
    env = {"DOCKER_HOST": f"unix://{path}"}
    try:
        if os.geteuid() == 0:
            # root passes permission checks through CAP_DAC_OVERRIDE: drop it, as a normal user lacks it
            setpriv = shutil.which("setpriv")
            if not setpriv:
                pytest.fail("setpriv (util-linux) is needed to test permission denied as root")
            import subprocess, sys
            result = subprocess.run(
                [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--inh-caps", "-all",
                 sys.executable, "-m", "layerlab", "doctor"],
                capture_output=True, text=True, env=dict(os.environ, **env), timeout=120,
            )
        else:
            result = run_cli("doctor", env=env)
    finally:
        listener.close()
    assert_clean_failure(result, "Permission denied on the Docker socket", "docker group")


class OldEngine(BaseHTTPRequestHandler):
    """Answers like Docker 19.03 (API 1.40)."""

    def do_GET(self):
        if self.path.endswith("/version"):
            body = {"Version": "19.03.15", "ApiVersion": "1.40", "MinAPIVersion": "1.12", "Os": "linux", "Arch": "amd64"}
        elif self.path.endswith("/_ping"):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")
            return
        else:
            body = {}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def address_string(self):
        return "unix"

    def log_message(self, *args):
        pass


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        request, _ = super().get_request()
        return request, ("unix", 0)


def test_engine_too_old(tmp_path):
    path = tmp_path / "old.sock"
    server = UnixHTTPServer(str(path), OldEngine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = run_cli("doctor", env={"DOCKER_HOST": f"unix://{path}"})
    finally:
        server.shutdown()
        server.server_close()
    assert_clean_failure(result, "API 1.40", "needs API 1.41", "Upgrade the engine")


def test_prepare_if_engine_says_so_and_succeeds(tmp_path):
    result = run_cli("prepare", "--if-engine", env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert result.returncode == 0
    assert "no engine, so no base images prepared" in result.stdout
    assert "recordings" in result.stdout


def test_a_local_socket_skips_the_proxy_lookups_a_tcp_host_keeps_them():
    import docker

    from layerlab.engine.connection import without_proxy_lookups

    local = without_proxy_lookups(docker.DockerClient(base_url="unix:///nonexistent/engine.sock", version="1.41"))
    remote = without_proxy_lookups(docker.DockerClient(base_url="tcp://127.0.0.1:9", version="1.41"))
    try:
        assert local.api.trust_env is False
        assert remote.api.trust_env is True  # HTTP_PROXY / NO_PROXY still apply to a TCP engine
    finally:
        local.close()
        remote.close()
