"""The amphora engine on a real data path: HAProxy with the rendered configuration, in network
namespaces of its own, balancing real HTTP requests across two member servers.

Everything lives in namespaces this module creates (192.0.2.0/24, a bridge inside the VIP
namespace); the host's own interfaces are never touched.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import itertools
import os
import pathlib
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from nimbus.loadbalancer import amphora

T = TypeVar("T")
SEARCH_PATH = f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"
HAPROXY = shutil.which("haproxy", path=SEARCH_PATH)
IP = shutil.which("ip", path=SEARCH_PATH)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="creating network namespaces needs root"),
    pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed"),
    pytest.mark.skipif(IP is None, reason="ip (iproute2) is not installed"),
]

VIP = "192.0.2.10"
MEMBERS = {"m1": "192.0.2.11", "m2": "192.0.2.12"}
CLIENT = "192.0.2.100"
STARTS = itertools.count()  # names the configuration, socket and log of each HAProxy
MEMBER_PORT = 8080

# A member: answers its own name, and /healthz with 200 while its health file exists.
MEMBER_SERVER = """
import http.server, os, sys
name, address, port, health_file = sys.argv[1:5]
class Member(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        healthy = os.path.exists(health_file)
        code = 503 if self.path == "/healthz" and not healthy else 200
        body = (name if self.path != "/healthz" else "ok" if healthy else "failing").encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer((address, int(port)), Member).serve_forever()
"""
# The client: `count` requests, each on a new connection; one line per answer.
CLIENT_REQUESTS = """
import http.client, sys
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for _ in range(count):
    try:
        connection = http.client.HTTPConnection(host, port, timeout=5)
        connection.request("GET", "/")
        print(connection.getresponse().read().decode())
        connection.close()
    except OSError as error:
        print(f"error: {type(error).__name__}")
"""


def _ip(*args: str) -> None:
    assert IP is not None
    result = subprocess.run([IP, *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"ip {' '.join(args)}: {result.stderr}"


def poll(what: str, probe: Callable[[], T | None], timeout: float = 30) -> T:
    """Call `probe` until it returns something; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclasses.dataclass
class DataPath:
    """Namespaces `<prefix>-vip` (bridge, VIP), `-m1`, `-m2` (members), `-cl` (client)."""

    prefix: str
    workdir: pathlib.Path
    processes: list[subprocess.Popen[bytes]]

    def namespace(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def spawn(self, role: str, *command: str, log: str) -> subprocess.Popen[bytes]:
        assert IP is not None
        with (self.workdir / log).open("wb") as out:
            process = subprocess.Popen(
                [IP, "netns", "exec", self.namespace(role), *command],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def health_file(self, member: str) -> pathlib.Path:
        return self.workdir / f"{member}.healthy"

    def requests(self, count: int, address: str = VIP, port: int = 80) -> list[str]:
        """The answers to `count` requests from the client namespace (one line each)."""
        assert IP is not None
        command = [IP, "netns", "exec", self.namespace("cl"), sys.executable, "-I", "-c",
                   CLIENT_REQUESTS, address, str(port), str(count)]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()


def answers(path: DataPath, member: str, address: str) -> bool | None:
    return path.requests(1, address, MEMBER_PORT) == [member] or None


@pytest.fixture(scope="module")
def datapath(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataPath]:
    # The stats socket path must stay under 108 bytes: a short directory.
    path = DataPath(f"nlb-{secrets.token_hex(3)}", tmp_path_factory.mktemp("amphora"), [])
    created: list[str] = []
    try:
        for role in ("vip", "m1", "m2", "cl"):
            _ip("netns", "add", path.namespace(role))
            created.append(path.namespace(role))
            _ip("-n", path.namespace(role), "link", "set", "lo", "up")
        vip = path.namespace("vip")
        _ip("-n", vip, "link", "add", "br0", "type", "bridge")
        _ip("-n", vip, "addr", "add", f"{VIP}/24", "dev", "br0")
        _ip("-n", vip, "link", "set", "br0", "up")
        for role, address in (*MEMBERS.items(), ("cl", CLIENT)):
            # Created inside the VIP namespace with its peer straight in the other one.
            _ip("-n", vip, "link", "add", f"v-{role}", "type", "veth",
                "peer", "name", "eth0", "netns", path.namespace(role))  # fmt: skip
            _ip("-n", vip, "link", "set", f"v-{role}", "master", "br0", "up")
            _ip("-n", path.namespace(role), "addr", "add", f"{address}/24", "dev", "eth0")
            _ip("-n", path.namespace(role), "link", "set", "eth0", "up")
        server = path.workdir / "member.py"
        server.write_text(MEMBER_SERVER)
        for member, address in MEMBERS.items():
            path.health_file(member).touch()
            arguments = [member, address, str(MEMBER_PORT), str(path.health_file(member))]
            path.spawn(member, sys.executable, "-I", str(server), *arguments, log=f"{member}.log")
        for member, address in MEMBERS.items():
            poll(f"member {member} to answer", functools.partial(answers, path, member, address))
        yield path
    finally:
        for process in path.processes:
            _stop(process)
        for namespace in created:
            subprocess.run([IP or "ip", "netns", "del", namespace], capture_output=True)


@dataclasses.dataclass
class Amphora:
    lb: amphora.LoadBalancer
    config: str
    stats_socket: str
    process: subprocess.Popen[bytes]
    log: pathlib.Path

    def statuses(self) -> amphora.OperatingStatuses:
        assert self.process.poll() is None, f"haproxy exited: {self.log.read_text()}"
        return amphora.operating_statuses(amphora.show_stat(self.stats_socket), self.lb)

    def wait_for_members(self, expected: dict[str, str]) -> amphora.OperatingStatuses:
        def probe() -> amphora.OperatingStatuses | None:
            statuses = self.statuses()
            return statuses if statuses.members == expected else None

        return poll(f"members {expected}", probe)


@pytest.fixture
def start_amphora(datapath: DataPath) -> Iterator[Callable[[amphora.LoadBalancer], Amphora]]:
    """Start HAProxy in the VIP namespace with the configuration rendered for a load balancer;
    every member starts healthy."""
    started: list[Amphora] = []
    for member in MEMBERS:
        datapath.health_file(member).touch()

    def start(lb: amphora.LoadBalancer) -> Amphora:
        assert HAPROXY is not None
        name = f"{lb.name}-{next(STARTS)}"
        socket_path = str(datapath.workdir / f"{name}.sock")
        config = amphora.haproxy_config(lb, stats_socket=socket_path)
        config_file = datapath.workdir / f"{name}.cfg"
        config_file.write_text(config)
        process = datapath.spawn("vip", HAPROXY, "-f", str(config_file), "-db", log=f"{name}.log")
        started.append(Amphora(lb, config, socket_path, process, datapath.workdir / f"{name}.log"))

        def answering() -> bool | None:
            assert process.poll() is None, f"haproxy exited: {started[-1].log.read_text()}"
            try:
                amphora.show_stat(socket_path)
            except OSError:
                return None
            return True

        poll("haproxy's stats socket", answering, timeout=15)
        return started[-1]

    yield start
    for running in started:
        _stop(running.process)


def load_balancer(
    *members: amphora.Member, allowed_cidrs: tuple[str, ...] = ()
) -> amphora.LoadBalancer:
    monitor = amphora.HealthMonitor(
        "HTTP", delay=1, timeout=1, max_retries=2, max_retries_down=2, url_path="/healthz"
    )
    pool = amphora.Pool("web", "HTTP", "ROUND_ROBIN", None, members, monitor)
    listener = amphora.Listener("http", "HTTP", 80, default_pool="web", allowed_cidrs=allowed_cidrs)
    return amphora.LoadBalancer("lb1", VIP, (listener,), (pool,))


def member(name: str, admin_state_up: bool = True) -> amphora.Member:
    return amphora.Member(name, MEMBERS[name], MEMBER_PORT, admin_state_up=admin_state_up)


def test_round_robin_health_check_failure_and_recovery(
    datapath: DataPath, start_amphora: Callable[[amphora.LoadBalancer], Amphora]
) -> None:
    lb = start_amphora(load_balancer(member("m1"), member("m2")))
    lb.wait_for_members({"m1": "ONLINE", "m2": "ONLINE"})

    # (a) round robin: equal weights, one request each in turn
    assert collections.Counter(datapath.requests(6)) == {"m1": 3, "m2": 3}

    # (b) m2's health check fails: it is taken out, and reported ERROR in a DEGRADED pool
    datapath.health_file("m2").unlink()
    statuses = lb.wait_for_members({"m1": "ONLINE", "m2": "ERROR"})
    assert (statuses.pools, statuses.listeners) == ({"web": "DEGRADED"}, {"http": "ONLINE"})
    assert statuses.loadbalancer == "DEGRADED"
    assert datapath.requests(6) == ["m1"] * 6

    # (c) it recovers: ONLINE again, and it takes its share of the traffic again
    datapath.health_file("m2").touch()
    statuses = lb.wait_for_members({"m1": "ONLINE", "m2": "ONLINE"})
    assert (statuses.pools, statuses.loadbalancer) == ({"web": "ONLINE"}, "ONLINE")
    assert collections.Counter(datapath.requests(6)) == {"m1": 3, "m2": 3}

    # every member fails: the pool and the load balancer are in ERROR
    datapath.health_file("m1").unlink()
    datapath.health_file("m2").unlink()
    statuses = lb.wait_for_members({"m1": "ERROR", "m2": "ERROR"})
    assert (statuses.pools, statuses.loadbalancer) == ({"web": "ERROR"}, "ERROR")


def test_admin_down_member_is_disabled_and_offline(
    datapath: DataPath, start_amphora: Callable[[amphora.LoadBalancer], Amphora]
) -> None:
    lb = start_amphora(load_balancer(member("m1"), member("m2", admin_state_up=False)))
    assert "    server m2 192.0.2.12:8080 weight 1 check inter 1s fall 2 rise 2 disabled\n" in (
        lb.config
    )

    statuses = lb.wait_for_members({"m1": "ONLINE", "m2": "OFFLINE"})
    assert (statuses.pools, statuses.loadbalancer) == ({"web": "ONLINE"}, "ONLINE")
    assert datapath.requests(6) == ["m1"] * 6


@pytest.mark.parametrize(
    ("allowed_cidrs", "answer"),
    [((f"{CLIENT}/32", "198.51.100.0/24"), "m1"), (("198.51.100.0/24",), "error:")],
)
def test_allowed_cidrs_admit_only_their_sources(
    datapath: DataPath,
    start_amphora: Callable[[amphora.LoadBalancer], Amphora],
    allowed_cidrs: tuple[str, ...],
    answer: str,
) -> None:
    lb = start_amphora(load_balancer(member("m1"), allowed_cidrs=allowed_cidrs))
    lb.wait_for_members({"m1": "ONLINE"})

    assert [line.split(" ")[0] for line in datapath.requests(2)] == [answer] * 2


@pytest.mark.parametrize(
    "pool",
    [
        amphora.Pool(
            "p",
            "HTTP",
            "LEAST_CONNECTIONS",
            amphora.SessionPersistence("HTTP_COOKIE"),
            (amphora.Member("a", "192.0.2.5", 80, weight=0, backup=True),),
            amphora.HealthMonitor("HTTP", 5, 3, 2, expected_codes="200-204"),
        ),
        amphora.Pool(
            "p",
            "HTTP",
            "SOURCE_IP",
            amphora.SessionPersistence("APP_COOKIE", "JSESSIONID"),
            (
                amphora.Member(
                    "a",
                    "192.0.2.5",
                    80,
                    monitor_address="192.0.2.6",
                    monitor_port=8080,
                    admin_state_up=False,
                ),
            ),
            amphora.HealthMonitor("HTTPS", 5, 3, 2, http_method="HEAD"),
        ),
        amphora.Pool(
            "p",
            "PROXY",
            "SOURCE_IP",
            amphora.SessionPersistence("SOURCE_IP"),
            (amphora.Member("a", "2001:db8::5", 80),),
            amphora.HealthMonitor("TCP", 5, 3, 2),
        ),
    ],
    ids=["http-cookie", "app-cookie-https-check", "proxy-source-ip"],
)
def test_rendered_configuration_is_valid_without_warnings(
    tmp_path: pathlib.Path, pool: amphora.Pool
) -> None:
    assert HAPROXY is not None
    listener = amphora.Listener("l", "HTTP", 80, 100, "p", allowed_cidrs=("198.51.100.0/24",))
    lb = amphora.LoadBalancer("lb", VIP, (listener,), (pool,))
    config = tmp_path / "haproxy.cfg"
    config.write_text(amphora.haproxy_config(lb, stats_socket=str(tmp_path / "s.sock")))

    result = subprocess.run([HAPROXY, "-c", "-f", str(config)], capture_output=True, text=True)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr
