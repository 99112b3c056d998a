"""Engine tier, rootless engines only: the engine cannot reach beyond its loopback, proven from
inside its own namespaces first; only then is it asked to pull, and the pull fails at once.

Nothing here sends a packet beyond loopback: the route check reads tables, the UDP probe is a
`connect()` (which sends nothing) that the kernel refuses for want of a route, and the pull is
asked only once both have passed.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from layerlab.core.errors import LayerlabError
from layerlab.engine.fileserve import rootless_child_pid

from support import IN_CI

pytestmark = [pytest.mark.engine, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def rootless_pid(engine):
    if not engine.facts.rootless:
        if IN_CI and os.environ.get("LAYERLAB_EXPECT_FLAVOUR", "").endswith("-rootless"):
            pytest.fail("CI expects a rootless engine, and this one is rootful")
        pytest.skip("the engine is rootful: these checks are for a rootless engine's own namespace")
    pid, _ = rootless_child_pid(engine.facts.host, engine.environ)
    return pid


def in_namespace(pid: int, *args: str, namespaces=("-n",)) -> str:
    command = ["nsenter", "-U", "--preserve-credentials", *namespaces, "-t", str(pid), *args]
    answer = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert answer.returncode == 0, f"{command}: {answer.stderr}"
    return answer.stdout


UDP_PROBE = """
import socket, sys
for address in sys.argv[1:]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((address, 53))  # a route lookup only: nothing is sent
            print(address, "routable")
        except OSError as error:
            print(address, "unreachable", error.errno)
"""


def test_the_engine_has_no_route_and_no_resolver_beyond_loopback_then_a_pull_fails_at_once(engine, rootless_pid):
    # 1. No route: the IPv4 table has only its header, the IPv6 one only loopback's entries.
    ipv4 = in_namespace(rootless_pid, "cat", "/proc/net/route").splitlines()
    assert ipv4[1:] == [], f"routes in the engine's namespace: {ipv4[1:]}"
    ipv6 = [line.split() for line in in_namespace(rootless_pid, "cat", "/proc/net/ipv6_route").splitlines()]
    assert all(fields[-1] == "lo" for fields in ipv6), f"IPv6 routes beyond loopback: {ipv6}"
    # ... and the kernel refuses even to pick a route to slirp4netns' gateway, its DNS, or the world.
    probes = in_namespace(rootless_pid, sys.executable, "-c", UDP_PROBE, "10.0.2.2", "10.0.2.3", "192.0.2.1")
    assert all(line.split()[1] == "unreachable" for line in probes.splitlines()), probes
    # 2. No resolver: the engine's /etc/resolv.conf (its mount namespace) names no server.
    resolv = in_namespace(rootless_pid, "cat", "/etc/resolv.conf", namespaces=("-m",))
    assert "nameserver" not in resolv, resolv
    # 3. slirp4netns, the namespace's only way out, forwards no DNS and binds to loopback.
    slirp = [Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0") for p in os.listdir("/proc") if p.isdigit()
             and Path(f"/proc/{p}/cmdline").exists() and b"slirp4netns" in Path(f"/proc/{p}/cmdline").read_bytes()
             and str(rootless_pid).encode() in Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")]
    assert slirp, "no slirp4netns for this engine's namespace"
    assert b"--disable-dns" in slirp[0] and b"--outbound-addr=127.0.0.1" in slirp[0]
    # Only now: ask the engine to pull a name that does not exist. With no resolver and no
    # route it fails before anything leaves; the client gives it 2 s at most.
    name = f"layerlab-no-such-image-{secrets.token_hex(4)}"
    import docker

    client = docker.APIClient(base_url=engine.facts.host, version=engine.facts.api_version, timeout=2)
    try:
        with pytest.raises(Exception) as failed:
            for event in client.pull(name, tag="none", stream=True, decode=True):
                if "error" in event:
                    raise LayerlabError(event["error"], "")
    finally:
        client.close()
    text = str(failed.value)
    assert "timed out" not in text.lower() and "read timeout" not in text.lower(), text
    assert engine.image_id(f"{name}:none") == ""
