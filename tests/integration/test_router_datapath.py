"""Routers and floating IPs with real packets: Router and FloatingIP objects on the local control
plane, the operator's status, and `nimbus router-agent` programming network namespaces this
test builds (servers on two subnets, two projects' routers, an external network), with the
kernel's nftables and routing doing the forwarding and NAT.

Every address lives inside the namespaces the test makes: 10.0.0.0/16 behind the routers and
203.0.113.0/24 (TEST-NET-3) for the external network, on a bridge in its own namespace."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import Cloud, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"),
        reason="needs root, nftables and iproute2 (make deps installs them)",
    ),
]

NET = "network.nimbus.dev/v1alpha1"
PORT = 8000
EXTERNAL_HOST = "203.0.113.100"

# A server: answers each connection with its name and the address it saw the client come from.
SERVER = textwrap.dedent(
    """
    import socket, sys
    name, address, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((address, port))
    s.listen()
    print("ready", flush=True)
    while True:
        c, peer = s.accept()
        c.sendall(f"{name} {peer[0]}".encode())
        c.close()
    """
)
CLIENT = textwrap.dedent(
    """
    import socket, sys
    try:
        with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1.5) as c:
            print(c.recv(200).decode())
    except OSError as error:
        print(f"unreachable {error.__class__.__name__}")
    """
)


class Namespaces:
    """Network namespaces, veth pairs and servers made for one test, and undone after it."""

    def __init__(self) -> None:
        self.prefix = f"nr{uuid.uuid4().hex[:5]}"
        self.made: list[str] = []
        self.processes: list[subprocess.Popen[str]] = []

    def name(self, short: str) -> str:
        return f"{self.prefix}-{short}"

    def add(self, short: str) -> str:
        name = self.name(short)
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.made.append(name)
        self.ip(name, "link", "set", "lo", "up")
        return name

    def ip(self, netns: str, *args: str) -> None:
        subprocess.run(["ip", "-n", netns, *args], check=True)

    def wire(self, left: str, left_dev: str, right: str, right_dev: str) -> None:
        """A veth pair: `left_dev` in `left`, `right_dev` in `right`, both up."""
        tmp_l, tmp_r = f"v{uuid.uuid4().hex[:8]}", f"v{uuid.uuid4().hex[:8]}"
        subprocess.run(
            ["ip", "link", "add", tmp_l, "netns", left, "type", "veth", "peer", "name", tmp_r,
             "netns", right],
            check=True,
        )  # fmt: skip
        self.ip(left, "link", "set", tmp_l, "name", left_dev)
        self.ip(right, "link", "set", tmp_r, "name", right_dev)
        self.ip(left, "link", "set", left_dev, "up")
        self.ip(right, "link", "set", right_dev, "up")

    def server(self, netns: str, name: str, address: str) -> None:
        process = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, "-c", SERVER, name, address, str(PORT)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"

    def connect(self, netns: str, address: str) -> str:
        """From `netns`, what the server at `address` answers: '<its name> <our address as it
        saw it>', or 'unreachable ...'."""
        result = subprocess.run(
            ["ip", "netns", "exec", netns, sys.executable, "-c", CLIENT, address, str(PORT)],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return result.stdout.strip()

    def start(self, argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            argv, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in self.processes:
            process.terminate()  # an agent stops its keepalived
            try:
                out, _ = process.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                out, _ = process.communicate()
            argv = [str(a) for a in process.args]  # type: ignore[union-attr]
            if "router-agent" in argv:
                print(f"{' '.join(argv)}:\n{out}")  # shown when the test fails
        # Whatever an agent killed hard left behind (its keepalived, in a run dir of ours).
        subprocess.run(["pkill", "-f", f"/tmp/{self.prefix}-"], check=False)
        for name in reversed(self.made):
            subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture
def netns() -> Iterator[Namespaces]:
    made = Namespaces()
    try:
        yield made
    finally:
        made.close()


def _obj(kind: str, name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": NET,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def _project_network(
    cloud: Cloud, namespace: str, networks: dict[str, str], servers: dict[str, tuple[str, str]]
) -> None:
    """Networks (name -> cidr, one subnet each, `<name>-v4`) and ports (name -> network,
    address) in `namespace`."""
    objects = []
    for network, cidr in networks.items():
        objects.append(_obj("Network", network, namespace, {}))
        objects.append(
            _obj("Subnet", f"{network}-v4", namespace, {"network": network, "cidr": cidr})
        )
    for port, (network, address) in servers.items():
        fixed = [{"subnet": f"{network}-v4", "ipAddress": address}]
        objects.append(_obj("Port", port, namespace, {"network": network, "fixedIPs": fixed}))
    cloud.apply(*objects)


def _leg(router: dict[str, Any], subnet: str) -> dict[str, Any]:
    return next(leg for leg in router["status"]["interfaces"] if leg["subnet"] == subnet)


def _wait(check: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"not so after {timeout:.0f}s: {what}")


def _agent(
    cloud: Cloud, netns: Namespaces, namespace: str, router: str, inside: str
) -> subprocess.Popen[str]:
    env = {**os.environ, "KUBECONFIG": str(cloud.devcloud.kubeconfig)}
    argv = [sys.executable, "-m", "nimbus", "router-agent", "--namespace", namespace,
            "--router", router, "--netns", inside, "--interval", "0.5"]  # fmt: skip
    return netns.start(argv, env)


def _router_namespace(
    netns: Namespaces, short: str, router: dict[str, Any], external: str, servers: dict[str, str]
) -> str:
    """The router's namespace, its legs wired as Multus would: each subnet's leg to a server's
    namespace (subnet -> server namespace), the gateway leg to the external bridge."""
    inside = netns.add(short)
    for subnet, server in servers.items():
        netns.wire(inside, _leg(router, subnet)["device"], server, "eth0")
    gateway = router["status"]["externalGateway"]["device"]
    port = f"p{uuid.uuid4().hex[:6]}"
    netns.wire(inside, gateway, external, port)
    netns.ip(external, "link", "set", port, "master", "br0")
    return inside


@pytest.mark.usefixtures("operator")
def test_routers_route_and_nat_real_packets(cloud: Cloud, netns: Namespaces) -> None:
    admin, first, second = cloud.namespace(), cloud.namespace(), cloud.namespace()
    cloud.apply(
        _obj("Network", "public", admin, {"external": True}),
        _obj("Subnet", "public-v4", admin, {
            "network": "public", "cidr": "203.0.113.0/24", "gatewayIP": "203.0.113.1",
            "allocationPools": [{"start": "203.0.113.10", "end": "203.0.113.60"}],
        }),
    )  # fmt: skip
    # Two projects with the same addresses: 10.0.0.5 is a server in each.
    _project_network(
        cloud, first, {"blue": "10.0.0.0/24", "green": "10.0.1.0/24"},
        {"web": ("blue", "10.0.0.5"), "db": ("green", "10.0.1.5")},
    )  # fmt: skip
    _project_network(cloud, second, {"blue": "10.0.0.0/24"}, {"web": ("blue", "10.0.0.5")})
    gateway = {"network": "public", "project": admin}
    cloud.apply(
        _obj("Router", "r1", first, {
            "externalGateway": gateway,
            "interfaces": [{"subnet": "blue-v4"}, {"subnet": "green-v4"}],
        }),
        _obj("Router", "r2", second, {"externalGateway": gateway,
                                      "interfaces": [{"subnet": "blue-v4"}]}),
    )  # fmt: skip
    cloud.apply(_obj("FloatingIP", "web", first, {"floatingNetwork": gateway, "port": "web"}))
    r1 = wait_for(cloud, "routers.network.nimbus.dev", "r1", first, "{.status.status}", "BUILD")
    r2 = wait_for(cloud, "routers.network.nimbus.dev", "r2", second, "{.status.status}", "BUILD")
    wait_for(cloud, "floatingips.network.nimbus.dev", "web", first, "{.status.router}", "r1")
    r1 = cloud.get("routers.network.nimbus.dev", "r1", first)
    floating = cloud.get("floatingips.network.nimbus.dev", "web", first)["status"]
    r1_address = r1["status"]["externalGateway"]["ipAddress"]
    r2_address = r2["status"]["externalGateway"]["ipAddress"]
    assert {r1_address, r2_address, floating["floatingIPAddress"]} <= {
        f"203.0.113.{i}" for i in range(10, 61)
    }
    assert len({r1_address, r2_address, floating["floatingIPAddress"]}) == 3
    assert floating["fixedIPAddress"] == "10.0.0.5"
    assert floating["status"] == "DOWN"  # not programmed by any agent yet

    # The wiring Multus and the servers' guests would do: servers, routers, an external bridge.
    external = netns.add("ext")
    netns.ip(external, "link", "add", "br0", "type", "bridge")
    netns.ip(external, "link", "set", "br0", "up")
    netns.ip(external, "address", "add", f"{EXTERNAL_HOST}/24", "dev", "br0")
    servers = {}
    for short in ("web1", "db1", "web2"):
        servers[short] = netns.add(short)
    rt1 = _router_namespace(netns, "rt1", r1, external,
                            {"blue-v4": servers["web1"], "green-v4": servers["db1"]})  # fmt: skip
    rt2 = _router_namespace(netns, "rt2", r2, external, {"blue-v4": servers["web2"]})
    for short, address, router_ip in (("web1", "10.0.0.5", "10.0.0.1"),
                                      ("db1", "10.0.1.5", "10.0.1.1"),
                                      ("web2", "10.0.0.5", "10.0.0.1")):  # fmt: skip
        netns.ip(servers[short], "address", "add", f"{address}/24", "dev", "eth0")
        netns.ip(servers[short], "route", "add", "default", "via", router_ip)
        netns.server(servers[short], short, address)
    netns.server(external, "outside", EXTERNAL_HOST)

    # Without a programmed router nothing crosses: not between subnets, not to the outside.
    assert netns.connect(servers["web1"], "10.0.1.5").startswith("unreachable")
    assert netns.connect(servers["web1"], EXTERNAL_HOST).startswith("unreachable")

    _agent(cloud, netns, first, "r1", rt1)
    _agent(cloud, netns, second, "r2", rt2)
    wait_for(cloud, "routers.network.nimbus.dev", "r1", first, "{.status.status}", "ACTIVE")
    wait_for(cloud, "routers.network.nimbus.dev", "r2", second, "{.status.status}", "ACTIVE")
    wait_for(cloud, "floatingips.network.nimbus.dev", "web", first, "{.status.status}", "ACTIVE")
    fip = floating["floatingIPAddress"]

    # East-west: routed, not NATed: db sees web's own address.
    assert netns.connect(servers["web1"], "10.0.1.5") == "db1 10.0.0.5"
    # SNAT: db has no floating IP and leaves as the router's gateway address.
    assert netns.connect(servers["db1"], EXTERNAL_HOST) == f"outside {r1_address}"
    # The floating IP: reached from outside (the server sees the client as it is), and the
    # server's own connections leave as the floating IP.
    assert netns.connect(external, fip) == f"web1 {EXTERNAL_HOST}"
    assert netns.connect(servers["web1"], EXTERNAL_HOST) == f"outside {fip}"
    # The other project's router: the same 10.0.0.5 leaves as r2's address, the first
    # project's other subnet is not reachable from it, and the floating IP never reaches it.
    assert netns.connect(servers["web2"], EXTERNAL_HOST) == f"outside {r2_address}"
    assert netns.connect(servers["web2"], "10.0.1.5").startswith("unreachable")
    # From outside, the subnets are reached through a floating IP only, even routed to.
    netns.ip(external, "route", "add", "10.0.0.0/24", "via", r2_address)
    assert netns.connect(external, "10.0.0.5").startswith("unreachable")

    # Disassociated: the floating IP no longer reaches web, and web leaves as the router again.
    cloud.kubectl("patch", "floatingips.network.nimbus.dev", "web", "-n", first, "--type=json",
                  "-p", json.dumps([{"op": "remove", "path": "/spec/port"}]))  # fmt: skip
    wait_for(cloud, "floatingips.network.nimbus.dev", "web", first, "{.status.status}", "DOWN")
    wait_for(cloud, "routers.network.nimbus.dev", "r1", first, "{.status.status}", "ACTIVE")
    _wait(
        lambda: netns.connect(external, fip).startswith("unreachable"),
        "the disassociated floating IP stops reaching web",
    )
    assert netns.connect(servers["web1"], EXTERNAL_HOST) == f"outside {r1_address}"


def _holder(netns: Namespaces, routers: list[str], device: str, address: str) -> list[str]:
    """The router namespaces whose `device` holds `address` (keepalived's master's)."""
    held = []
    for inside in routers:
        out = subprocess.run(["ip", "-n", inside, "-4", "-o", "address", "show", "dev", device],
                             capture_output=True, text=True, check=False).stdout  # fmt: skip
        if f" {address}/" in out:
            held.append(inside)
    return held


@pytest.mark.skipif(not shutil.which("keepalived"), reason="needs keepalived (make deps)")
@pytest.mark.usefixtures("operator")
def test_an_ha_router_fails_over_to_its_other_pod(cloud: Cloud, netns: Namespaces) -> None:
    """`ha: true`: two router namespaces on the same networks, keepalived's VRRP between them;
    one holds the addresses, and when it goes the other takes them and the traffic."""
    admin, project = cloud.namespace(), cloud.namespace()
    cloud.apply(
        _obj("Network", "public", admin, {"external": True}),
        _obj("Subnet", "public-v4", admin, {
            "network": "public", "cidr": "203.0.113.0/24", "gatewayIP": "203.0.113.1",
            "allocationPools": [{"start": "203.0.113.10", "end": "203.0.113.60"}],
        }),
    )  # fmt: skip
    _project_network(cloud, project, {"blue": "10.0.0.0/24"}, {"web": ("blue", "10.0.0.5")})
    gateway = {"network": "public", "project": admin}
    cloud.apply(_obj("Router", "r", project, {"externalGateway": gateway, "ha": True,
                                               "interfaces": [{"subnet": "blue-v4"}]}))  # fmt: skip
    cloud.apply(_obj("FloatingIP", "web", project, {"floatingNetwork": gateway, "port": "web"}))
    wait_for(cloud, "floatingips.network.nimbus.dev", "web", project, "{.status.router}", "r")
    router = wait_for(cloud, "routers.network.nimbus.dev", "r", project, "{.status.status}",
                      "BUILD")  # fmt: skip
    fip = cloud.get("floatingips.network.nimbus.dev", "web", project)["status"]["floatingIPAddress"]
    inner = _leg(router, "blue-v4")["device"]
    outer = router["status"]["externalGateway"]["device"]

    # Two switches (the subnet's and the external network's) and two router namespaces on both.
    external, lan = netns.add("ext"), netns.add("lan")
    for switch in (external, lan):
        netns.ip(switch, "link", "add", "br0", "type", "bridge")
        netns.ip(switch, "link", "set", "br0", "up")
    netns.ip(external, "address", "add", f"{EXTERNAL_HOST}/24", "dev", "br0")
    routers = []
    for short in ("rta", "rtb"):
        inside = netns.add(short)
        routers.append(inside)
        for device, switch in ((inner, lan), (outer, external)):
            port = f"p{uuid.uuid4().hex[:6]}"
            netns.wire(inside, device, switch, port)
            netns.ip(switch, "link", "set", port, "master", "br0")
    web = netns.add("web")
    port = f"p{uuid.uuid4().hex[:6]}"
    netns.wire(web, "eth0", lan, port)
    netns.ip(lan, "link", "set", port, "master", "br0")
    netns.ip(web, "address", "add", "10.0.0.5/24", "dev", "eth0")
    netns.ip(web, "route", "add", "default", "via", "10.0.0.1")
    netns.server(web, "web", "10.0.0.5")
    netns.server(external, "outside", EXTERNAL_HOST)

    env = {**os.environ, "KUBECONFIG": str(cloud.devcloud.kubeconfig)}
    agents = {}
    for inside in routers:
        run_dir = tempfile.mkdtemp(prefix=f"{netns.prefix}-", dir="/tmp")
        agents[inside] = netns.start(
            [sys.executable, "-m", "nimbus", "router-agent", "--namespace", project, "--router",
             "r", "--netns", inside, "--interval", "0.5", "--speaker", inside, "--run-dir",
             run_dir], env,
        )  # fmt: skip
    wait_for(cloud, "routers.network.nimbus.dev", "r", project, "{.status.status}", "ACTIVE")
    wait_for(cloud, "floatingips.network.nimbus.dev", "web", project, "{.status.status}", "ACTIVE")
    _wait(lambda: len(_holder(netns, routers, inner, "10.0.0.1")) == 1, "one master")
    (master,) = _holder(netns, routers, inner, "10.0.0.1")
    assert _holder(netns, routers, outer, fip) == [master]
    _wait(lambda: netns.connect(external, fip) == f"web {EXTERNAL_HOST}", "the floating IP")
    assert netns.connect(web, EXTERNAL_HOST) == f"outside {fip}"

    # The master's agent goes (its pod deleted, its node lost): keepalived goes with it, and
    # the other pod takes the addresses; new connections flow through it.
    agents[master].terminate()
    agents[master].wait(timeout=30)
    (backup,) = [r for r in routers if r != master]
    _wait(lambda: _holder(netns, routers, inner, "10.0.0.1") == [backup], "the backup takes over")
    _wait(lambda: netns.connect(external, fip) == f"web {EXTERNAL_HOST}", "the floating IP again")
    assert netns.connect(web, EXTERNAL_HOST) == f"outside {fip}"
