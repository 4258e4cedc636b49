"""Load balancers end to end with real packets: LoadBalancer, Listener, Pool, Member and
HealthMonitor objects on the local control plane, the operator's VIP and statuses, and
`nimbus amphora-agent` running real HAProxy in a network namespace this test builds, balancing
HTTP across two member namespaces and reporting their health back into Octavia's statuses.

Every address lives in the namespaces the test makes (192.0.2.0/24, TEST-NET-1, on a bridge in
a namespace of its own)."""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import Cloud, wait_for
from tests.integration.test_amphora_datapath import CLIENT_REQUESTS, MEMBER_SERVER, poll

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("haproxy") or not shutil.which("ip"),
        reason="needs root, haproxy and iproute2 (make deps installs them)",
    ),
]

LB_API = "loadbalancer.nimbus.dev/v1alpha1"
NET = "network.nimbus.dev/v1alpha1"
MEMBERS = {"m1": "192.0.2.11", "m2": "192.0.2.12"}
VIP = "192.0.2.10"


class Wiring:
    """The namespaces: `net` (the tenant network's bridge), `amp` (the amphora, its `vip0` on
    the bridge), `m1`, `m2` (members), `cl` (a client); and the processes started in them."""

    def __init__(self, workdir: pathlib.Path) -> None:
        self.prefix = f"nlb{secrets.token_hex(3)}"
        self.workdir = workdir
        self.made: list[str] = []
        self.processes: list[subprocess.Popen[bytes]] = []

    def ns(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    def build(self) -> None:
        for role in ("net", "amp", "m1", "m2", "cl"):
            self.ip("netns", "add", self.ns(role))
            self.made.append(self.ns(role))
            self.ip("-n", self.ns(role), "link", "set", "lo", "up")
        net = self.ns("net")
        self.ip("-n", net, "link", "add", "br0", "type", "bridge")
        self.ip("-n", net, "link", "set", "br0", "up")
        # The amphora's leg is named as Multus names it; the agent gives it the VIP.
        legs = {"amp": ("vip0", None), "m1": ("eth0", MEMBERS["m1"]),
                "m2": ("eth0", MEMBERS["m2"]), "cl": ("eth0", "192.0.2.100")}  # fmt: skip
        for role, (device, address) in legs.items():
            self.ip("-n", net, "link", "add", f"p-{role}", "type", "veth", "peer", "name",
                    device, "netns", self.ns(role))  # fmt: skip
            self.ip("-n", net, "link", "set", f"p-{role}", "master", "br0", "up")
            self.ip("-n", self.ns(role), "link", "set", device, "up")
            if address:
                self.ip("-n", self.ns(role), "address", "add", f"{address}/24", "dev", device)
        server = self.workdir / "member.py"
        server.write_text(MEMBER_SERVER)
        for member, address in MEMBERS.items():
            self.health(member).touch()
            self.spawn(member, [sys.executable, "-I", str(server), member, address, "8080",
                                str(self.health(member))])  # fmt: skip

    def health(self, member: str) -> pathlib.Path:
        return self.workdir / f"{member}.healthy"

    def spawn(self, role: str, argv: list[str]) -> None:
        self.processes.append(
            subprocess.Popen(
                ["ip", "netns", "exec", self.ns(role), *argv],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    def requests(self, count: int) -> list[str]:
        result = subprocess.run(
            ["ip", "netns", "exec", self.ns("cl"), sys.executable, "-I", "-c", CLIENT_REQUESTS,
             VIP, "80", str(count)],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return result.stdout.splitlines()

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for name in reversed(self.made):
            subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture
def wiring() -> Iterator[Wiring]:
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="lb", dir="/tmp"))  # a socket path < 108 B
    made = Wiring(workdir)
    try:
        made.build()
        yield made
    finally:
        made.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _obj(api: str, kind: str, name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": namespace},
            "spec": spec}  # fmt: skip


def _statuses(cloud: Cloud, namespace: str) -> dict[str, str]:
    """kind/name -> operatingStatus, of every load-balancer object of the namespace."""
    out = {}
    for plural in ("loadbalancers", "listeners", "pools", "members", "healthmonitors"):
        listed = cloud.kubectl("get", f"{plural}.loadbalancer.nimbus.dev", "-n", namespace,
                               "-o", "json").stdout  # fmt: skip
        for item in json.loads(listed)["items"]:
            status = item.get("status") or {}
            out[f"{plural}/{item['metadata']['name']}"] = str(status.get("operatingStatus"))
    return out


def _until(cloud: Cloud, namespace: str, expected: dict[str, str]) -> None:
    def probe() -> bool | None:
        seen = _statuses(cloud, namespace)
        return True if all(seen.get(k) == v for k, v in expected.items()) else None

    try:
        poll(f"statuses {expected}", probe, timeout=60)
    except AssertionError as error:
        raise AssertionError(f"{error}; seen: {_statuses(cloud, namespace)}") from None


@pytest.mark.usefixtures("operator")
def test_a_load_balancer_balances_real_http_and_reports_member_health(
    cloud: Cloud, wiring: Wiring
) -> None:
    ns = cloud.namespace()
    monitor = {"pool": "web", "type": "HTTP", "delay": 1, "timeout": 1, "maxRetries": 2,
               "maxRetriesDown": 2, "urlPath": "/healthz", "expectedCodes": "200"}  # fmt: skip
    cloud.apply(
        _obj(NET, "Network", "lbnet", ns, {}),
        _obj(NET, "Subnet", "lbnet-v4", ns, {"network": "lbnet", "cidr": "192.0.2.0/24"}),
        _obj(LB_API, "LoadBalancer", "lb", ns, {"vipSubnet": "lbnet-v4", "vipAddress": VIP}),
        _obj(LB_API, "Pool", "web", ns, {"loadBalancer": "lb", "protocol": "HTTP"}),
        _obj(LB_API, "Listener", "http", ns,
             {"loadBalancer": "lb", "protocol": "HTTP", "protocolPort": 80, "defaultPool": "web"}),
        *(_obj(LB_API, "Member", name, ns, {"pool": "web", "address": address,
                                            "protocolPort": 8080})
          for name, address in MEMBERS.items()),
        _obj(LB_API, "HealthMonitor", "web-http", ns, monitor),
    )  # fmt: skip
    # PENDING_CREATE is also the state while the VIP is allocated: wait for the VIP itself.
    lb = wait_for(cloud, "loadbalancers.loadbalancer.nimbus.dev", "lb", ns,
                  "{.status.vipAddress}", VIP)  # fmt: skip
    assert lb["status"]["provisioningStatus"] == "PENDING_CREATE"
    assert lb["status"]["vipPort"] == "octavia-lb-lb"
    # A member on no subnet of the load balancer's network is refused at the API.
    outside = _obj(LB_API, "Member", "m3", ns,
                   {"pool": "web", "address": "198.51.100.7", "protocolPort": 8080})  # fmt: skip
    assert "member address 198.51.100.7 is not on subnet lbnet-v4" in cloud.refusal(outside)

    env = {**os.environ, "KUBECONFIG": str(cloud.devcloud.kubeconfig)}
    argv = [sys.executable, "-m", "nimbus", "amphora-agent", "--namespace", ns,
            "--load-balancer", "lb", "--netns", wiring.ns("amp"), "--run-dir",
            str(wiring.workdir / "run"), "--interval", "0.5"]  # fmt: skip
    agent = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(cloud, "loadbalancers.loadbalancer.nimbus.dev", "lb", ns,
                 "{.status.provisioningStatus}", "ACTIVE")  # fmt: skip
        everything = ["loadbalancers/lb", "listeners/http", "pools/web", "members/m1",
                      "members/m2", "healthmonitors/web-http"]  # fmt: skip
        _until(cloud, ns, dict.fromkeys(everything, "ONLINE"))
        assert set(wiring.requests(6)) == {"m1", "m2"}

        # m2's health check fails: taken out, ERROR, the pool and the LB DEGRADED.
        wiring.health("m2").unlink()
        _until(cloud, ns, {"members/m2": "ERROR", "pools/web": "DEGRADED",
                           "loadbalancers/lb": "DEGRADED", "members/m1": "ONLINE"})  # fmt: skip
        assert set(wiring.requests(6)) == {"m1"}
        # ... and it comes back.
        wiring.health("m2").touch()
        _until(cloud, ns, {"members/m2": "ONLINE", "pools/web": "ONLINE",
                           "loadbalancers/lb": "ONLINE"})  # fmt: skip
        poll("m2 to take traffic", lambda: set(wiring.requests(6)) == {"m1", "m2"} or None)

        # An admin-down member: a new configuration, then OFFLINE and no traffic.
        cloud.kubectl("patch", "members.loadbalancer.nimbus.dev", "m2", "-n", ns,
                      "--type=merge", "-p", '{"spec": {"adminStateUp": false}}')  # fmt: skip
        _until(cloud, ns, {"members/m2": "OFFLINE"})
        wait_for(cloud, "loadbalancers.loadbalancer.nimbus.dev", "lb", ns,
                 "{.status.provisioningStatus}", "ACTIVE")  # fmt: skip
        assert set(wiring.requests(6)) == {"m1"}
    finally:
        agent.terminate()  # the agent stops its HAProxy
        out, _ = agent.communicate(timeout=30)
        print(out.decode())  # shown when the test fails
        subprocess.run(["pkill", "-f", str(wiring.workdir)], check=False)  # whatever is left
