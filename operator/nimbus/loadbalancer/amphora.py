"""Octavia's amphora engine: a load balancer -> HAProxy configuration, and what HAProxy's
`show stat` reports -> Octavia's operating statuses.

The directives follow Octavia's amphora driver (octavia/common/jinja/haproxy/combined_listeners/
templates/macros.j2 and jinja_cfg.py); the statuses follow its health manager
(octavia/amphorae/drivers/health/heartbeat_udp.py, octavia/amphorae/backends/utils/
haproxy_query.py). Pure, except `show_stat`, which reads the stats socket.
"""

from __future__ import annotations

import csv
import dataclasses
import ipaddress
import re
import socket
from collections.abc import Iterable
from typing import Literal

HealthMonitorType = Literal["PING", "TCP", "HTTP", "HTTPS", "TLS-HELLO", "UDP-CONNECT"]
PoolProtocol = Literal["HTTP", "HTTPS", "TCP", "UDP", "PROXY"]
ListenerProtocol = Literal["HTTP", "HTTPS", "TCP", "UDP"]
LbAlgorithm = Literal["ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP", "SOURCE_IP_PORT"]
PersistenceType = Literal["SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE"]


@dataclasses.dataclass(frozen=True)
class HealthMonitor:
    type: HealthMonitorType
    delay: int  # seconds between checks
    timeout: int  # seconds a check may take
    max_retries: int  # successes that bring a member up (HAProxy's rise)
    max_retries_down: int = 3  # failures that take it down (HAProxy's fall)
    http_method: str = "GET"
    url_path: str = "/"
    expected_codes: str = "200"


@dataclasses.dataclass(frozen=True)
class Member:
    name: str
    address: str
    protocol_port: int
    weight: int = 1
    backup: bool = False
    admin_state_up: bool = True
    monitor_address: str | None = None
    monitor_port: int | None = None


@dataclasses.dataclass(frozen=True)
class SessionPersistence:
    type: PersistenceType
    cookie_name: str | None = None


@dataclasses.dataclass(frozen=True)
class Pool:
    name: str
    protocol: PoolProtocol
    lb_algorithm: LbAlgorithm = "ROUND_ROBIN"
    session_persistence: SessionPersistence | None = None
    members: tuple[Member, ...] = ()
    health_monitor: HealthMonitor | None = None


@dataclasses.dataclass(frozen=True)
class Listener:
    name: str
    protocol: ListenerProtocol
    protocol_port: int
    connection_limit: int = -1  # -1: Octavia's default_connection_limit
    default_pool: str | None = None
    timeout_client_data: int = 50000  # milliseconds, as in Octavia's API; 0: the default
    timeout_member_connect: int = 5000
    timeout_member_data: int = 50000
    allowed_cidrs: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class LoadBalancer:
    name: str
    vip_address: str
    listeners: tuple[Listener, ...] = ()
    pools: tuple[Pool, ...] = ()


# Octavia's constants and [haproxy_amphora] defaults.
DEFAULT_CONNECTION_LIMIT = 50000
STICK_SIZE = "10k"
MAX_TIMEOUT = 24 * 24 * 60 * 60 * 1000
_MODES = {"HTTP": "http", "HTTPS": "tcp", "TCP": "tcp"}  # PROXY pools take the listener's
_BALANCE = {"ROUND_ROBIN": "roundrobin", "LEAST_CONNECTIONS": "leastconn", "SOURCE_IP": "source"}
_POOL_PROTOCOLS = {  # VALID_LISTENER_POOL_PROTOCOL_MAP
    "HTTP": ("HTTP", "PROXY"),
    "HTTPS": ("HTTPS", "PROXY", "TCP"),
    "TCP": ("HTTP", "HTTPS", "PROXY", "TCP"),
}
_MONITOR_TYPES = ("HTTP", "HTTPS", "TCP", "TLS-HELLO")
_HTTP_METHODS = ("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE")
_EXPECTED_CODES = re.compile(r"^(\d{3}(\s*,\s*\d{3})*)$|^(\d{3}-\d{3})$")
_BAD_COOKIE_NAME = re.compile(r"[\x00-\x20\x22\x28-\x29\x2c\x2f\x3a-\x40\x5b-\x5d\x7b\x7d\x7f]")
_NOT_IN_HAPROXY_NAME = re.compile(r"[^A-Za-z0-9_.-]")  # ':' joins pool and listener names


def haproxy_name(name: str) -> str:
    """The HAProxy proxy or server name of a listener, pool or member."""
    return _NOT_IN_HAPROXY_NAME.sub("_", name)


def backend_name(pool: str, listener: str) -> str:
    """Octavia's backend name: one backend per pool and listener that uses it."""
    return f"{haproxy_name(pool)}:{haproxy_name(listener)}"


def expected_status_regex(expected_codes: str) -> str:
    """Octavia's `http-check expect rstatus`: "200-202" -> "200|201|202", "200, 204" ->
    "200|204"."""
    codes: set[int] = set()
    for part in re.split(r"\s*,\s*", expected_codes.strip()):
        low, _, high = part.partition("-")
        codes.update(range(int(low), int(high or low) + 1))
    return "|".join(str(code) for code in sorted(codes))


# -- validation -----------------------------------------------------------------------------


def _range(field: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{field}: {value} is out of range; accepted: {low}..{high}")


def _one_of(field: str, value: object, accepted: Iterable[str], why: str = "") -> None:
    accepted = tuple(accepted)
    if value not in accepted:
        raise ValueError(
            f"{field}: {value!r} {why or 'is not accepted'}; accepted: {', '.join(accepted)}"
        )


def _address(field: str, value: str) -> None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{field}: {value!r} is not an IP address") from None


def _unique_names(field: str, names: Iterable[str]) -> None:
    seen: dict[str, str] = {}
    for name in names:
        if not name:
            raise ValueError(f"{field}: a name is empty; accepted: a non-empty name")
        key = haproxy_name(name)
        if key in seen:
            other = seen[key]
            clash = "is repeated" if other == name else f"is {other!r} too as HAProxy name {key!r}"
            raise ValueError(f"{field}: {name!r} {clash}; accepted: unique names")
        seen[key] = name


def _validate_monitor(field: str, monitor: HealthMonitor) -> None:
    why = {
        "PING": "needs Octavia's ping-wrapper.sh external check",
        "UDP-CONNECT": "checks UDP members, which HAProxy does not serve",
    }
    _one_of(f"{field}.type", monitor.type, _MONITOR_TYPES, why.get(monitor.type, ""))
    _range(f"{field}.delay", monitor.delay, 1, MAX_TIMEOUT // 1000)
    _range(f"{field}.timeout", monitor.timeout, 0, monitor.delay)
    _range(f"{field}.max_retries", monitor.max_retries, 1, 10)
    _range(f"{field}.max_retries_down", monitor.max_retries_down, 1, 10)
    if monitor.type in ("HTTP", "HTTPS"):
        _one_of(f"{field}.http_method", monitor.http_method, _HTTP_METHODS)
        if not re.fullmatch(r"/\S*", monitor.url_path):
            raise ValueError(
                f"{field}.url_path: {monitor.url_path!r} is not a URL path; "
                "accepted: a path starting with / and without spaces"
            )
        codes = monitor.expected_codes
        if not _EXPECTED_CODES.match(codes) or not expected_status_regex(codes):
            raise ValueError(
                f"{field}.expected_codes: {codes!r} is not accepted; accepted: "
                'a code ("200"), a list ("200, 202") or a range ("200-204")'
            )


def _validate_pool(field: str, pool: Pool, modes: set[str]) -> None:
    _one_of(
        f"{field}.protocol",
        pool.protocol,
        ("HTTP", "HTTPS", "PROXY", "TCP"),
        "is served by LVS in Octavia, not by HAProxy" if pool.protocol == "UDP" else "",
    )
    _one_of(
        f"{field}.lb_algorithm",
        pool.lb_algorithm,
        _BALANCE,
        "is not supported by Octavia's amphora driver",
    )
    persistence = pool.session_persistence
    if persistence is not None:
        cookie = persistence.cookie_name
        if persistence.type == "APP_COOKIE":
            if not cookie or _BAD_COOKIE_NAME.search(cookie):
                raise ValueError(
                    f"{field}.session_persistence.cookie_name: {cookie!r} is not "
                    "a cookie name; accepted: an RFC 6265 token"
                )
        elif cookie is not None:
            raise ValueError(
                f"{field}.session_persistence.cookie_name: {cookie!r} is given "
                f"with type {persistence.type}; accepted: only with APP_COOKIE"
            )
        if persistence.type != "SOURCE_IP" and modes != {"http"}:
            raise ValueError(
                f"{field}.session_persistence.type: {persistence.type} needs "
                f"HTTP, and the pool is served as {', '.join(sorted(modes))}; "
                "accepted: SOURCE_IP"
            )
    if pool.health_monitor is not None:
        _validate_monitor(f"{field}.health_monitor", pool.health_monitor)
    for member in pool.members:
        where = f"{field}.members[{member.name}]"
        _address(f"{where}.address", member.address)
        _range(f"{where}.protocol_port", member.protocol_port, 1, 65535)
        _range(f"{where}.weight", member.weight, 0, 256)
        if member.monitor_address is not None:
            _address(f"{where}.monitor_address", member.monitor_address)
        if member.monitor_port is not None:
            _range(f"{where}.monitor_port", member.monitor_port, 1, 65535)


def validate(lb: LoadBalancer) -> None:
    """Raise ValueError, naming the field, the value and what is accepted, for a load balancer
    HAProxy cannot serve as Octavia would."""
    _address("vip_address", lb.vip_address)
    _unique_names("listeners", (listener.name for listener in lb.listeners))
    _unique_names("pools", (pool.name for pool in lb.pools))
    # Members are keyed by name in the statuses, so a name means one member in the whole LB.
    _unique_names("members", (m.name for pool in lb.pools for m in pool.members))
    pools = {pool.name: pool for pool in lb.pools}
    ports: dict[int, str] = {}
    modes: dict[str, set[str]] = {}
    for listener in lb.listeners:
        field = f"listeners[{listener.name}]"
        _one_of(
            f"{field}.protocol",
            listener.protocol,
            _MODES,
            "is served by LVS in Octavia, not by HAProxy" if listener.protocol == "UDP" else "",
        )
        _range(f"{field}.protocol_port", listener.protocol_port, 1, 65535)
        other = ports.setdefault(listener.protocol_port, listener.name)
        if other != listener.name:
            raise ValueError(
                f"{field}.protocol_port: {listener.protocol_port} is already "
                f"used by listener {other}; accepted: a free port"
            )
        _range(f"{field}.connection_limit", listener.connection_limit, -1, 1000000)
        for timeout in ("timeout_client_data", "timeout_member_connect", "timeout_member_data"):
            _range(f"{field}.{timeout}", getattr(listener, timeout), 0, MAX_TIMEOUT)
        for cidr in listener.allowed_cidrs:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(
                    f"{field}.allowed_cidrs: {cidr!r} is not a CIDR; accepted: e.g. 192.0.2.0/24"
                ) from None
        if listener.default_pool is None:
            continue
        pool = pools.get(listener.default_pool)
        if pool is None:
            raise ValueError(
                f"{field}.default_pool: pool {listener.default_pool!r} not found; "
                f"available: {', '.join(sorted(pools)) or 'none'}"
            )
        _one_of(
            f"{field}.default_pool",
            pool.protocol,
            _POOL_PROTOCOLS[listener.protocol],
            f"is a {pool.protocol} pool, which a {listener.protocol} listener cannot use",
        )
        modes.setdefault(pool.name, set()).add(_backend_mode(listener, pool))
    for pool in lb.pools:
        _validate_pool(f"pools[{pool.name}]", pool, modes.get(pool.name, {"http"}))


# -- rendering ------------------------------------------------------------------------------


def _backend_mode(listener: Listener, pool: Pool) -> str:
    return _MODES[listener.protocol] if pool.protocol == "PROXY" else _MODES[pool.protocol]


def _connection_limit(listener: Listener) -> int:
    return listener.connection_limit if listener.connection_limit > 0 else DEFAULT_CONNECTION_LIMIT


def _frontend(lb: LoadBalancer, listener: Listener) -> list[str]:
    lines = [
        f"frontend {haproxy_name(listener.name)}",
        f"    maxconn {_connection_limit(listener)}",
        f"    bind {lb.vip_address}:{listener.protocol_port}",
        f"    mode {_MODES[listener.protocol]}",
    ]
    if listener.allowed_cidrs:
        # Octavia enforces allowed_cidrs with the VIP port's security group; here HAProxy does.
        cidrs = sorted(
            {ipaddress.ip_network(c, strict=False) for c in listener.allowed_cidrs},
            key=lambda n: (n.version, n),
        )
        lines.append(
            f"    tcp-request connection reject unless {{ src {' '.join(map(str, cidrs))} }}"
        )
    if listener.default_pool is not None:
        lines.append(f"    default_backend {backend_name(listener.default_pool, listener.name)}")
    lines.append(
        f"    timeout client {listener.timeout_client_data or Listener.timeout_client_data}"
    )
    return lines


def _server(pool: Pool, member: Member) -> str:
    line = (
        f"    server {haproxy_name(member.name)} {member.address}:{member.protocol_port} "
        f"weight {member.weight}"
    )
    monitor = pool.health_monitor
    if monitor is not None:
        line += " check"
        if monitor.type == "HTTPS":
            line += " check-ssl verify none"
        line += (
            f" inter {monitor.delay}s fall {monitor.max_retries_down} rise {monitor.max_retries}"
        )
        if member.monitor_address:
            line += f" addr {member.monitor_address}"
        if member.monitor_port:
            line += f" port {member.monitor_port}"
    persistence = pool.session_persistence
    if persistence is not None and persistence.type == "HTTP_COOKIE":
        line += f" cookie {haproxy_name(member.name)}"
    if pool.protocol == "PROXY":
        line += " send-proxy"
    if member.backup:
        line += " backup"
    if not member.admin_state_up:
        line += " disabled"
    return line


def _backend(listener: Listener, pool: Pool) -> list[str]:
    lines = [
        f"backend {backend_name(pool.name, listener.name)}",
        f"    mode {_backend_mode(listener, pool)}",
        f"    balance {_BALANCE[pool.lb_algorithm]}",
    ]
    persistence = pool.session_persistence
    if persistence is not None and persistence.type == "SOURCE_IP":
        lines += [f"    stick-table type ipv6 size {STICK_SIZE}", "    stick on src"]
    elif persistence is not None and persistence.type == "APP_COOKIE":
        lines += [
            f"    stick-table type string len 64 size {STICK_SIZE}",
            f"    stick store-response res.cook({persistence.cookie_name})",
            f"    stick match req.cook({persistence.cookie_name})",
        ]
    elif persistence is not None:
        lines.append("    cookie SRV insert indirect nocache")
    monitor = pool.health_monitor
    if monitor is not None:
        lines.append(f"    timeout check {monitor.timeout}s")
        if monitor.type in ("HTTP", "HTTPS"):
            lines += [
                f"    option httpchk {monitor.http_method} {monitor.url_path}",
                f"    http-check expect rstatus {expected_status_regex(monitor.expected_codes)}",
            ]
    lines += [
        f"    fullconn {_connection_limit(listener)}",
        "    option allbackups",
        f"    timeout connect {listener.timeout_member_connect or Listener.timeout_member_connect}",
        f"    timeout server {listener.timeout_member_data or Listener.timeout_member_data}",
    ]
    return lines + [_server(pool, m) for m in sorted(pool.members, key=lambda m: m.name)]


def haproxy_config(lb: LoadBalancer, *, stats_socket: str, pid_file: str | None = None) -> str:
    """The HAProxy configuration of `lb`, as Octavia's amphora driver writes it; raises
    ValueError (see `validate`) for input it cannot serve."""
    validate(lb)
    # Unlike Octavia: no `daemon`, `user` or global `maxconn`, and no `option splice-*`.
    # HAProxy runs in the foreground of a container that sets its user and file-descriptor
    # limit, and derives its maxconn from that limit; Octavia raises the limit to 2.6 million
    # for its maxconn, and splicing reserves a pipe pair per four connections of the listeners'
    # limits, so either would outgrow an ordinary container's limit and HAProxy would not start.
    lines = [
        f"# Configuration for loadbalancer {lb.name}",
        "global",
        f"    stats socket {stats_socket} mode 0600 level admin",
        *([f"    pidfile {pid_file}"] if pid_file else []),
        "",
        "defaults",
        "    no log",
        "    retries 3",
        "    option redispatch",
        "    option http-keep-alive",
    ]
    pools = {pool.name: pool for pool in lb.pools}
    for listener in sorted(lb.listeners, key=lambda item: item.name):
        lines += ["", *_frontend(lb, listener)]
        if listener.default_pool is not None:
            lines += ["", *_backend(listener, pools[listener.default_pool])]
    return "\n".join(lines) + "\n"


# -- statuses -------------------------------------------------------------------------------

ONLINE, OFFLINE, DEGRADED, ERROR = "ONLINE", "OFFLINE", "DEGRADED", "ERROR"
DRAINING, NO_MONITOR = "DRAINING", "NO_MONITOR"
# Where one member or pool is seen through several backends, the worst report wins.
_SEVERITY = (ONLINE, NO_MONITOR, DRAINING, OFFLINE, DEGRADED, ERROR)


def _worst(statuses: Iterable[str], default: str) -> str:
    return max(statuses, key=_SEVERITY.index, default=default)


def member_status(haproxy_status: str, weight: str) -> str:
    """A server's `show stat` status and weight -> the member's operating status."""
    if haproxy_status.startswith("UP"):  # "UP", or "UP 1/3" on its way down
        # HAProxy may report a weight-0 server UP where it means DRAIN (haproxy_query.py).
        return DRAINING if weight == "0" else ONLINE
    if haproxy_status.startswith("DOWN"):  # "DOWN", or "DOWN 1/2" on its way up
        return ERROR
    if haproxy_status.startswith(("DRAIN", "NOLB")):
        return DRAINING
    if haproxy_status.startswith("MAINT"):  # "MAINT", "MAINT (via x/y)", "MAINT (resolution)"
        return OFFLINE
    if haproxy_status == "no check":
        return NO_MONITOR
    raise ValueError(
        f"status: {haproxy_status!r} is not a HAProxy server status; accepted: "
        "UP, DOWN, DRAIN, NOLB, MAINT (each possibly with detail), no check"
    )


def pool_status(backend_status: str | None, members: Iterable[str]) -> str:
    """A pool's operating status from its BACKEND line (None: no listener uses it) and its
    members' operating statuses."""
    if backend_status is None:
        return OFFLINE
    if backend_status != "UP":  # DOWN: no member can take traffic
        return ERROR
    return DEGRADED if ERROR in members else ONLINE


def listener_status(frontend_status: str | None) -> str:
    """A listener's operating status from its FRONTEND line (None: HAProxy does not report it)."""
    return {None: ERROR, "OPEN": ONLINE, "FULL": DEGRADED}.get(frontend_status, OFFLINE)


def loadbalancer_status(listeners: Iterable[str], pools: Iterable[str]) -> str:
    """The worst of its listeners and pools; an unused (OFFLINE) pool does not count."""
    return _worst((s for s in (*listeners, *pools) if s in (ERROR, DEGRADED)), ONLINE)


@dataclasses.dataclass(frozen=True)
class OperatingStatuses:
    loadbalancer: str
    listeners: dict[str, str]
    pools: dict[str, str]
    members: dict[str, str]


def _rows(stat_csv: str) -> dict[tuple[str, str], dict[str, str]]:
    text = stat_csv.lstrip()
    text = text[2:] if text.startswith("# ") else text
    return {(row["pxname"], row["svname"]): row for row in csv.DictReader(text.splitlines())}


def operating_statuses(stat_csv: str, lb: LoadBalancer) -> OperatingStatuses:
    """Every operating status of `lb` from `show stat`, keyed by the names in `lb`."""
    rows = _rows(stat_csv)
    listeners = {
        listener.name: listener_status(
            rows.get((haproxy_name(listener.name), "FRONTEND"), {}).get("status")
        )
        for listener in lb.listeners
    }
    pools: dict[str, str] = {}
    members: dict[str, str] = {}
    for pool in lb.pools:
        backends = [
            backend_name(pool.name, listener.name)
            for listener in lb.listeners
            if listener.default_pool == pool.name
        ]
        for member in pool.members:
            found = [
                rows[(b, haproxy_name(member.name))]
                for b in backends
                if (b, haproxy_name(member.name)) in rows
            ]
            members[member.name] = _worst(
                (member_status(row["status"], row["weight"]) for row in found), OFFLINE
            )
        statuses = [members[member.name] for member in pool.members]
        pools[pool.name] = _worst(
            (pool_status(rows.get((b, "BACKEND"), {}).get("status"), statuses) for b in backends),
            OFFLINE,
        )
    return OperatingStatuses(
        loadbalancer_status(listeners.values(), pools.values()), listeners, pools, members
    )


def member_statuses(stat_csv: str, lb: LoadBalancer) -> dict[str, str]:
    """Each member's operating status (ONLINE, ERROR, OFFLINE, DRAINING, NO_MONITOR) by name."""
    return operating_statuses(stat_csv, lb).members


def show_stat(socket_path: str, timeout: float = 5.0) -> str:
    """`show stat` on HAProxy's stats socket: the CSV it prints."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stats:
        stats.settimeout(timeout)
        stats.connect(socket_path)
        stats.sendall(b"show stat\n")
        chunks = []
        while chunk := stats.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()
