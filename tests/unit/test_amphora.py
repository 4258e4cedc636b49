"""Octavia's amphora engine: the HAProxy configuration it renders and the statuses it reads."""

from __future__ import annotations

import dataclasses
import pathlib
import re
import socket
import threading

import pytest

from nimbus.loadbalancer import amphora

MONITOR = amphora.HealthMonitor("HTTP", delay=5, timeout=3, max_retries=2, url_path="/healthz")
M1 = amphora.Member("m1", "192.0.2.11", 8080, weight=10)
M2 = amphora.Member("m2", "192.0.2.12", 8080)
POOL = amphora.Pool("web", "HTTP", "ROUND_ROBIN", None, (M2, M1), MONITOR)
LISTENER = amphora.Listener("http", "HTTP", 80, default_pool="web")
LB = amphora.LoadBalancer("lb1", "192.0.2.10", (LISTENER,), (POOL,))


def balancer(
    pool: amphora.Pool = POOL, listener: amphora.Listener = LISTENER
) -> amphora.LoadBalancer:
    return dataclasses.replace(LB, listeners=(listener,), pools=(pool,))


def pool(**changes: object) -> amphora.Pool:
    return dataclasses.replace(POOL, **changes)  # type: ignore[arg-type]


def monitor(**changes: object) -> amphora.HealthMonitor:
    return dataclasses.replace(MONITOR, **changes)  # type: ignore[arg-type]


def member(**changes: object) -> amphora.Member:
    return dataclasses.replace(M2, **changes)  # type: ignore[arg-type]


def listener(**changes: object) -> amphora.Listener:
    return dataclasses.replace(LISTENER, **changes)  # type: ignore[arg-type]


def config(lb: amphora.LoadBalancer) -> list[str]:
    return amphora.haproxy_config(lb, stats_socket="/run/lb1.sock").splitlines()


# -- rendering ------------------------------------------------------------------------------


def test_a_load_balancer_renders_as_octavias_amphora_does() -> None:
    assert amphora.haproxy_config(LB, stats_socket="/run/lb1.sock", pid_file="/run/lb1.pid") == (
        "# Configuration for loadbalancer lb1\n"
        "global\n"
        "    stats socket /run/lb1.sock mode 0600 level admin\n"
        "    pidfile /run/lb1.pid\n"
        "\n"
        "defaults\n"
        "    no log\n"
        "    retries 3\n"
        "    option redispatch\n"
        "    option http-keep-alive\n"
        "\n"
        "frontend http\n"
        "    maxconn 50000\n"
        "    bind 192.0.2.10:80\n"
        "    mode http\n"
        "    default_backend web:http\n"
        "    timeout client 50000\n"
        "\n"
        "backend web:http\n"
        "    mode http\n"
        "    balance roundrobin\n"
        "    timeout check 3s\n"
        "    option httpchk GET /healthz\n"
        "    http-check expect rstatus 200\n"
        "    fullconn 50000\n"
        "    option allbackups\n"
        "    timeout connect 5000\n"
        "    timeout server 50000\n"
        "    server m1 192.0.2.11:8080 weight 10 check inter 5s fall 3 rise 2\n"
        "    server m2 192.0.2.12:8080 weight 1 check inter 5s fall 3 rise 2\n"
    )


SERVER_M2 = "    server m2 192.0.2.12:8080 weight 1"


@pytest.mark.parametrize(
    ("lb", "present", "absent"),
    [
        (balancer(pool(lb_algorithm="LEAST_CONNECTIONS")), ["    balance leastconn"], []),
        (balancer(pool(lb_algorithm="SOURCE_IP")), ["    balance source"], []),
        (balancer(pool(session_persistence=amphora.SessionPersistence("SOURCE_IP"))),
         ["    stick-table type ipv6 size 10k", "    stick on src"], []),
        (balancer(pool(session_persistence=amphora.SessionPersistence("HTTP_COOKIE"))),
         ["    cookie SRV insert indirect nocache",
          f"{SERVER_M2} check inter 5s fall 3 rise 2 cookie m2"], []),
        (balancer(pool(session_persistence=amphora.SessionPersistence("APP_COOKIE", "SID"))),
         ["    stick-table type string len 64 size 10k", "    stick store-response res.cook(SID)",
          "    stick match req.cook(SID)"], []),
        # expected codes become the regex Octavia writes: a range expanded, a list joined
        (balancer(pool(health_monitor=monitor(expected_codes="200-204"))),
         ["    http-check expect rstatus 200|201|202|203|204"], []),
        (balancer(pool(health_monitor=monitor(expected_codes="202, 200"))),
         ["    http-check expect rstatus 200|202"], []),
        (balancer(pool(health_monitor=monitor(http_method="HEAD", url_path="/ping"))),
         ["    option httpchk HEAD /ping"], []),
        (balancer(pool(health_monitor=monitor(delay=1, timeout=1, max_retries=5,
                                              max_retries_down=7))),
         ["    timeout check 1s", f"{SERVER_M2} check inter 1s fall 7 rise 5"], []),
        (balancer(pool(health_monitor=monitor(type="HTTPS"))),
         [f"{SERVER_M2} check check-ssl verify none inter 5s fall 3 rise 2"], []),
        (balancer(pool(health_monitor=monitor(type="TCP"))),
         ["    timeout check 3s", f"{SERVER_M2} check inter 5s fall 3 rise 2"],
         ["    option httpchk GET /healthz", "    http-check expect rstatus 200"]),
        (balancer(pool(health_monitor=monitor(type="TLS-HELLO"))),
         [f"{SERVER_M2} check inter 5s fall 3 rise 2"], ["    option httpchk GET /healthz"]),
        # no monitor, no check
        (balancer(pool(health_monitor=None)), [SERVER_M2], ["    timeout check 3s"]),
        (balancer(pool(members=(member(weight=0, backup=True, admin_state_up=False),))),
         ["    server m2 192.0.2.12:8080 weight 0 check inter 5s fall 3 rise 2 backup disabled"],
         []),
        (balancer(pool(members=(member(monitor_address="192.0.2.99", monitor_port=9000),))),
         [f"{SERVER_M2} check inter 5s fall 3 rise 2 addr 192.0.2.99 port 9000"], []),
        # the monitor address is only for the check: without one it is not rendered
        (balancer(pool(health_monitor=None, members=(member(monitor_port=9000),))),
         [SERVER_M2], []),
        (balancer(pool(protocol="PROXY")),
         ["    mode http", f"{SERVER_M2} check inter 5s fall 3 rise 2 send-proxy"], []),
        (balancer(pool(protocol="TCP"), listener(protocol="TCP", protocol_port=5432)),
         ["    bind 192.0.2.10:5432", "    mode tcp"], ["    mode http"]),
        # HTTPS is passed through: TCP in HAProxy
        (balancer(pool(protocol="HTTPS", health_monitor=None), listener(protocol="HTTPS")),
         ["    mode tcp"], ["    mode http"]),
        (balancer(listener=listener(connection_limit=100)), ["    maxconn 100", "    fullconn 100"],
         ["    maxconn 50000"]),
        (balancer(listener=listener(timeout_client_data=1000, timeout_member_connect=2000,
                                    timeout_member_data=3000)),
         ["    timeout client 1000", "    timeout connect 2000", "    timeout server 3000"], []),
        # 0 is Octavia's "the default"
        (balancer(listener=listener(timeout_client_data=0, timeout_member_connect=0,
                                    timeout_member_data=0)),
         ["    timeout client 50000", "    timeout connect 5000", "    timeout server 50000"], []),
        # the CIDRs in order, each as its network
        (balancer(listener=listener(allowed_cidrs=("198.51.100.7/24", "2001:db8::/64",
                                                   "192.0.2.0/25"))),
         ["    tcp-request connection reject unless "
          "{ src 192.0.2.0/25 198.51.100.0/24 2001:db8::/64 }"], []),
        (balancer(listener=listener(default_pool=None)), ["frontend http"],
         ["    default_backend web:http", "backend web:http"]),
        # names HAProxy would refuse are made safe
        (balancer(pool(name="web pool", members=(member(name="m/2"),)),
                  listener(name="http:80", default_pool="web pool")),
         ["frontend http_80", "    default_backend web_pool:http_80", "backend web_pool:http_80",
          "    server m_2 192.0.2.12:8080 weight 1 check inter 5s fall 3 rise 2"], []),
    ],
)  # fmt: skip
def test_rendering_follows_octavia(
    lb: amphora.LoadBalancer, present: list[str], absent: list[str]
) -> None:
    lines = config(lb)

    assert [line for line in present if line not in lines] == []
    assert [line for line in absent if line in lines] == []


def test_the_configuration_does_not_depend_on_the_order_of_its_input() -> None:
    api = amphora.Pool("api", "TCP", members=(amphora.Member("a1", "192.0.2.21", 5000),))
    tcp = amphora.Listener("tcp", "TCP", 5000, default_pool="api", allowed_cidrs=("10.0.0.0/8",
                           "192.0.2.0/24"))  # fmt: skip
    one = amphora.LoadBalancer("lb1", "192.0.2.10", (LISTENER, tcp), (POOL, api))
    other = amphora.LoadBalancer(
        "lb1",
        "192.0.2.10",
        (dataclasses.replace(tcp, allowed_cidrs=tcp.allowed_cidrs[::-1]), LISTENER),
        (api, dataclasses.replace(POOL, members=POOL.members[::-1])),
    )

    assert config(one) == config(other)
    assert [line for line in config(one) if line.startswith(("frontend", "backend"))] == [
        "frontend http", "backend web:http", "frontend tcp", "backend api:tcp"
    ]  # fmt: skip


def test_a_pool_shared_by_two_listeners_has_a_backend_for_each() -> None:
    https = amphora.Listener("alt", "HTTP", 8080, default_pool="web")

    lines = config(amphora.LoadBalancer("lb1", "192.0.2.10", (LISTENER, https), (POOL,)))

    assert [line for line in lines if "web:" in line] == [
        "    default_backend web:alt", "backend web:alt", "    default_backend web:http",
        "backend web:http",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("lb", "message"),
    [
        (balancer(listener=listener(default_pool="nope")),
         "listeners[http].default_pool: pool 'nope' not found; available: web"),
        (balancer(pool(health_monitor=monitor(delay=2, timeout=3))),
         "pools[web].health_monitor.timeout: 3 is out of range; accepted: 0..2"),
        (balancer(pool(health_monitor=monitor(delay=0, timeout=0))),
         "pools[web].health_monitor.delay: 0 is out of range; accepted: 1..2073600"),
        (balancer(pool(health_monitor=monitor(max_retries=0))),
         "pools[web].health_monitor.max_retries: 0 is out of range; accepted: 1..10"),
        (balancer(pool(health_monitor=monitor(max_retries_down=11))),
         "pools[web].health_monitor.max_retries_down: 11 is out of range; accepted: 1..10"),
        (balancer(pool(members=(member(weight=257),))),
         "pools[web].members[m2].weight: 257 is out of range; accepted: 0..256"),
        (balancer(pool(members=(member(weight=-1),))),
         "pools[web].members[m2].weight: -1 is out of range; accepted: 0..256"),
        (balancer(listener=listener(protocol_port=0)),
         "listeners[http].protocol_port: 0 is out of range; accepted: 1..65535"),
        (balancer(listener=listener(protocol_port=65536)),
         "listeners[http].protocol_port: 65536 is out of range; accepted: 1..65535"),
        (balancer(pool(members=(member(protocol_port=70000),))),
         "pools[web].members[m2].protocol_port: 70000 is out of range; accepted: 1..65535"),
        (balancer(pool(members=(member(monitor_port=0),))),
         "pools[web].members[m2].monitor_port: 0 is out of range; accepted: 1..65535"),
        (balancer(pool(members=(member(address="192.0.2.300"),))),
         "pools[web].members[m2].address: '192.0.2.300' is not an IP address"),
        (dataclasses.replace(LB, vip_address="lb.example"),
         "vip_address: 'lb.example' is not an IP address"),
        (balancer(listener=listener(allowed_cidrs=("192.0.2.0/33",))),
         "listeners[http].allowed_cidrs: '192.0.2.0/33' is not a CIDR; accepted: e.g. "
         "192.0.2.0/24"),
        (balancer(listener=listener(connection_limit=-2)),
         "listeners[http].connection_limit: -2 is out of range; accepted: -1..1000000"),
        (balancer(pool(protocol="UDP", health_monitor=None), listener(protocol="UDP")),
         "listeners[http].protocol: 'UDP' is served by LVS in Octavia, not by HAProxy; "
         "accepted: HTTP, HTTPS, TCP"),
        (balancer(pool(protocol="UDP", health_monitor=None), listener(default_pool=None)),
         "pools[web].protocol: 'UDP' is served by LVS in Octavia, not by HAProxy; "
         "accepted: HTTP, HTTPS, PROXY, TCP"),
        (balancer(pool(protocol="TCP")),
         "listeners[http].default_pool: 'TCP' is a TCP pool, which a HTTP listener cannot use; "
         "accepted: HTTP, PROXY"),
        (balancer(pool(lb_algorithm="SOURCE_IP_PORT")),
         "pools[web].lb_algorithm: 'SOURCE_IP_PORT' is not supported by Octavia's amphora "
         "driver; accepted: ROUND_ROBIN, LEAST_CONNECTIONS, SOURCE_IP"),
        (balancer(pool(health_monitor=monitor(type="PING"))),
         "pools[web].health_monitor.type: 'PING' needs Octavia's ping-wrapper.sh external "
         "check; accepted: HTTP, HTTPS, TCP, TLS-HELLO"),
        (balancer(pool(health_monitor=monitor(http_method="FETCH"))),
         "pools[web].health_monitor.http_method: 'FETCH' is not accepted; accepted: CONNECT, "
         "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, TRACE"),
        (balancer(pool(health_monitor=monitor(url_path="healthz"))),
         "pools[web].health_monitor.url_path: 'healthz' is not a URL path"),
        (balancer(pool(health_monitor=monitor(expected_codes="2xx"))),
         "pools[web].health_monitor.expected_codes: '2xx' is not accepted"),
        (balancer(pool(health_monitor=monitor(expected_codes="204-200"))),
         "pools[web].health_monitor.expected_codes: '204-200' is not accepted"),
        (balancer(pool(session_persistence=amphora.SessionPersistence("APP_COOKIE"))),
         "pools[web].session_persistence.cookie_name: None is not a cookie name"),
        (balancer(pool(session_persistence=amphora.SessionPersistence("APP_COOKIE", "a b"))),
         "pools[web].session_persistence.cookie_name: 'a b' is not a cookie name"),
        (balancer(pool(session_persistence=amphora.SessionPersistence("HTTP_COOKIE", "SID"))),
         "pools[web].session_persistence.cookie_name: 'SID' is given with type HTTP_COOKIE; "
         "accepted: only with APP_COOKIE"),
        # HAProxy would ignore the cookie on a TCP backend: refused rather than silently lost
        (balancer(pool(protocol="TCP", session_persistence=amphora.SessionPersistence(
            "HTTP_COOKIE")), listener(protocol="TCP")),
         "pools[web].session_persistence.type: HTTP_COOKIE needs HTTP, and the pool is served "
         "as tcp; accepted: SOURCE_IP"),
        (dataclasses.replace(LB, listeners=(LISTENER, listener(name="alt"))),
         "listeners[alt].protocol_port: 80 is already used by listener http"),
        (dataclasses.replace(LB, listeners=(LISTENER, listener(protocol_port=81))),
         "listeners: 'http' is repeated; accepted: unique names"),
        (balancer(pool(members=(member(name="m 1"), member(name="m/1")))),
         "members: 'm/1' is 'm 1' too as HAProxy name 'm_1'; accepted: unique names"),
        (dataclasses.replace(LB, pools=(POOL, pool(name="api"))),
         "members: 'm2' is repeated; accepted: unique names"),
        (balancer(pool(members=(member(name=""),))),
         "members: a name is empty; accepted: a non-empty name"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_naming_field_value_and_what_is_accepted(
    lb: amphora.LoadBalancer, message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        amphora.haproxy_config(lb, stats_socket="/run/lb1.sock")


@pytest.mark.parametrize(
    ("codes", "regex"),
    [("200", "200"), ("200-204", "200|201|202|203|204"), ("200,202", "200|202"),
     ("204, 200 ,202", "200|202|204"), ("301, 301", "301")],
)  # fmt: skip
def test_expected_codes_become_the_rstatus_regex(codes: str, regex: str) -> None:
    assert amphora.expected_status_regex(codes) == regex


# -- statuses -------------------------------------------------------------------------------

# The load balancer of SHOW_STAT (captured from the haproxy it renders, members on loopback).
CAPTURED = amphora.LoadBalancer(
    "lb1",
    "127.0.0.1",
    (amphora.Listener("http", "HTTP", 80, default_pool="web"),
     amphora.Listener("tcp", "TCP", 81, default_pool="api")),
    (amphora.Pool("web", "HTTP", members=(
        amphora.Member("m1", "127.0.0.11", 8080), amphora.Member("m2", "127.0.0.12", 8080),
        amphora.Member("m3", "127.0.0.13", 8080, admin_state_up=False),
        amphora.Member("m4", "127.0.0.11", 8080, weight=0)),
        health_monitor=amphora.HealthMonitor("HTTP", 1, 1, 2, 2)),
     amphora.Pool("api", "TCP", members=(
        amphora.Member("a1", "127.0.0.11", 8080),
        amphora.Member("a2", "127.0.0.12", 8080, admin_state_up=False)))),
)  # fmt: skip
SHOW_STAT = (  # HAProxy 2.6.12: m1 and a1 answer, m2 does not, m3 and a2 are disabled
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,"
    "wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttl"
    "e,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_"
    "1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_to"
    "t,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,"
    "ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_ris"
    "e,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_"
    "rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache"
    "_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_"
    "conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,a"
    "gg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_"
    "rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors"
    ",h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,"
    "h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connection"
    "s,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spli"
    "ced_bytes_in,h1_spliced_bytes_out,\n"
    "http,FRONTEND,,,0,0,50000,0,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,0,,,,0,0,0,0,0,0,,"
    "0,0,0,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,http,,0,0,0,0,0,0,0,,,0,0,,,,,,,0,,,,,,,,,-,0,0,0,0,"
    "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,\n"
    "web:http,m1,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,1,1,0,1,1,3,2,,1,3,1,,0,,2,0,,0,L7OK,200,1,0,0"
    ",0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,Layer7 check passed,,2,2,3,,,,127.0.0.11:8080,,htt"
    "p,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,\n"
    "web:http,m2,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1,1,0,1,1,4,4,,1,3,2,,0,,2,0,,0,L4CON,,0,0,0"
    ",0,0,0,0,,,,0,0,0,,,,,-1,Connection refused,,0,0,0,0,,,,Layer4 connection problem,,2,2,0"
    ",,,,127.0.0.12:8080,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,"
    ",,,,,,,,\n"
    "web:http,m3,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1,1,0,0,0,5,5,,1,3,3,,0,,2,0,,0,,,,0,0,0,0,"
    "0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,,,,,,,,,127.0.0.13:8080,,http,,,,,,,,0,0,0,,,0,,0,0,0,0"
    ",0,0,0,0,0,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,\n"
    "web:http,m4,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,0,1,0,0,0,5,0,,1,3,4,,0,,2,0,,0,L7OK,200,1,0,0"
    ",0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,Layer7 check passed,,2,2,3,,,,127.0.0.11:8080,,htt"
    "p,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,1,0,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,\n"
    "web:http,BACKEND,0,0,0,0,50000,0,0,0,0,0,,0,0,0,0,UP,1,1,0,,1,3,1,,1,3,0,,0,,1,0,,0,,,,0"
    ",0,0,0,0,0,,,,0,0,0,0,0,0,0,-1,,,0,0,0,0,,,,,,,,,,,,,,http,roundrobin,,,,,,,0,0,0,0,0,,,"
    "0,0,0,0,0,,,,,1,0,0,0,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,15,15,3798,162,0,0,\n"
    "tcp,FRONTEND,,,0,0,50000,0,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,4,0,,,,0,0,0,0,,,,,,,,,,,0,0,0,,"
    ",0,0,0,0,,,,,,,,,,,,,,,,,,,,,tcp,,0,0,0,,0,0,0,,,,,,,,,,,0,,,,,,,,,-,0,0,0,0,0,0,0,0,0,0"
    ",0,0,0,0,0,0,0,0,0,0,0,0,0,0,\n"
    "api:tcp,a1,0,0,0,0,,0,0,0,,0,,0,0,0,0,no check,1,1,0,,,5,,,1,5,1,,0,,2,0,,0,,,,,,,,,,,,,"
    ",0,0,,,,,-1,,,0,0,0,0,,,,,,,,,,,,127.0.0.11:8080,,tcp,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,"
    "0,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,\n"
    "api:tcp,a2,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1,1,0,,,5,,,1,5,2,,0,,2,0,,0,,,,,,,,,,,,,,0,"
    "0,,,,,-1,,,0,0,0,0,,,,,,,,,,,,127.0.0.12:8080,,tcp,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,0,1"
    ",,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,\n"
    "api:tcp,BACKEND,0,0,0,0,50000,0,0,0,0,0,,0,0,0,0,UP,1,1,0,,0,5,0,,1,5,0,,0,,1,0,,0,,,,,,"
    ",,,,,,,,0,0,0,0,0,0,-1,,,0,0,0,0,,,,,,,,,,,,,,tcp,roundrobin,,,,,,,0,0,0,,,,,0,0,0,0,0,,"
    ",,,1,0,0,0,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,\n"
)
HEADER, FRONTEND, SERVER, BACKEND = (SHOW_STAT.splitlines()[i] for i in (0, 1, 2, 6))
COLUMNS = HEADER[2:].split(",")


def row(line: str, pxname: str, svname: str, status: str, weight: str = "1") -> str:
    """A line of SHOW_STAT with other names, status and weight."""
    fields = line.split(",")
    for column, value in (("pxname", pxname), ("svname", svname), ("status", status),
                          ("weight", weight)):  # fmt: skip
        fields[COLUMNS.index(column)] = value
    return ",".join(fields)


def test_statuses_from_a_real_show_stat() -> None:
    assert amphora.operating_statuses(SHOW_STAT, CAPTURED) == amphora.OperatingStatuses(
        loadbalancer="DEGRADED",
        listeners={"http": "ONLINE", "tcp": "ONLINE"},
        pools={"web": "DEGRADED", "api": "ONLINE"},
        # m4: HAProxy says UP at weight 0, which Octavia reads as draining
        members={"m1": "ONLINE", "m2": "ERROR", "m3": "OFFLINE", "m4": "DRAINING",
                 "a1": "NO_MONITOR", "a2": "OFFLINE"},
    )  # fmt: skip
    assert amphora.member_statuses(SHOW_STAT, CAPTURED)["m2"] == "ERROR"


@pytest.mark.parametrize(
    ("status", "weight", "expected"),
    [
        ("UP", "1", "ONLINE"),
        ("UP 1/2", "1", "ONLINE"),  # still up: one failure of the two that take it down
        ("DOWN", "1", "ERROR"),
        ("DOWN 1/2", "1", "ERROR"),  # still down: one success of the two that bring it up
        ("UP", "0", "DRAINING"),
        ("DRAIN", "0", "DRAINING"),
        ("DRAIN (agent)", "0", "DRAINING"),
        ("NOLB", "1", "DRAINING"),
        ("MAINT", "1", "OFFLINE"),
        ("MAINT (via web:http/m1)", "1", "OFFLINE"),
        ("MAINT (resolution)", "1", "OFFLINE"),
        ("no check", "1", "NO_MONITOR"),
        ("no check", "0", "NO_MONITOR"),
    ],
)
def test_member_status(status: str, weight: str, expected: str) -> None:
    assert amphora.member_status(status, weight) == expected


def test_an_unknown_server_status_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"^status: 'SLEEPING' is not a HAProxy server status"):
        amphora.member_status("SLEEPING", "1")


@pytest.mark.parametrize(
    ("backend", "members", "expected"),
    [
        ("UP", ["ONLINE", "ONLINE"], "ONLINE"),
        ("UP", ["ONLINE", "ERROR"], "DEGRADED"),
        ("UP", ["ERROR", "ONLINE", "OFFLINE", "DRAINING"], "DEGRADED"),
        ("UP", ["ONLINE", "OFFLINE"], "ONLINE"),
        ("UP", ["NO_MONITOR", "DRAINING"], "ONLINE"),
        ("UP", [], "ONLINE"),  # HAProxy reports a backend without servers UP
        ("DOWN", ["ERROR", "ERROR"], "ERROR"),
        ("DOWN", ["ERROR", "OFFLINE"], "ERROR"),
        (None, [], "OFFLINE"),  # no listener uses the pool
    ],
)
def test_pool_status(backend: str | None, members: list[str], expected: str) -> None:
    assert amphora.pool_status(backend, members) == expected


@pytest.mark.parametrize(
    ("frontend", "expected"),
    [("OPEN", "ONLINE"), ("FULL", "DEGRADED"), ("STOP", "OFFLINE"), (None, "ERROR")],
)
def test_listener_status(frontend: str | None, expected: str) -> None:
    assert amphora.listener_status(frontend) == expected


@pytest.mark.parametrize(
    ("listeners", "pools", "expected"),
    [
        (["ONLINE"], ["ONLINE", "OFFLINE"], "ONLINE"),  # an unused pool does not count
        (["ONLINE", "DEGRADED"], ["ONLINE"], "DEGRADED"),
        (["ONLINE"], ["DEGRADED", "ONLINE"], "DEGRADED"),
        (["DEGRADED"], ["ERROR"], "ERROR"),
        (["ERROR"], ["ONLINE"], "ERROR"),
        ([], [], "ONLINE"),
    ],
)
def test_loadbalancer_status_is_the_worst(
    listeners: list[str], pools: list[str], expected: str
) -> None:
    assert amphora.loadbalancer_status(listeners, pools) == expected


M3 = amphora.Member("m3", "192.0.2.13", 8080, backup=True)
ALT = amphora.Listener("alt", "HTTP", 8080, default_pool="web")
UNUSED = amphora.Pool("spare", "HTTP", members=(amphora.Member("s1", "192.0.2.31", 80),))


@pytest.mark.parametrize(
    ("lb", "lines", "pools", "members"),
    [
        # every member fails its check: HAProxy's backend is DOWN, the pool in ERROR
        (LB, [row(SERVER, "web:http", "m1", "DOWN"), row(SERVER, "web:http", "m2", "DOWN"),
              row(BACKEND, "web:http", "BACKEND", "DOWN", "0")],
         {"web": "ERROR"}, {"m1": "ERROR", "m2": "ERROR"}),
        # the primaries are down and the backup serves: degraded, not in error
        (balancer(pool(members=(M1, M2, M3))),
         [row(SERVER, "web:http", "m1", "DOWN"), row(SERVER, "web:http", "m2", "DOWN 1/2"),
          row(SERVER, "web:http", "m3", "UP"), row(BACKEND, "web:http", "BACKEND", "UP")],
         {"web": "DEGRADED"}, {"m1": "ERROR", "m2": "ERROR", "m3": "ONLINE"}),
        # a member HAProxy does not report is offline; so is every member of an unused pool
        (dataclasses.replace(LB, pools=(POOL, UNUSED)),
         [row(SERVER, "web:http", "m1", "UP 1/3"), row(BACKEND, "web:http", "BACKEND", "UP")],
         {"web": "ONLINE", "spare": "OFFLINE"}, {"m1": "ONLINE", "m2": "OFFLINE",
                                                  "s1": "OFFLINE"}),
        # a pool behind two listeners: the worst of its two backends
        (dataclasses.replace(LB, listeners=(LISTENER, ALT)),
         [row(SERVER, "web:http", "m1", "UP"), row(SERVER, "web:http", "m2", "UP"),
          row(BACKEND, "web:http", "BACKEND", "UP"), row(SERVER, "web:alt", "m1", "UP"),
          row(SERVER, "web:alt", "m2", "DOWN"), row(BACKEND, "web:alt", "BACKEND", "UP")],
         {"web": "DEGRADED"}, {"m1": "ONLINE", "m2": "ERROR"}),
    ],
)  # fmt: skip
def test_statuses_from_show_stat_lines(
    lb: amphora.LoadBalancer, lines: list[str], pools: dict[str, str], members: dict[str, str]
) -> None:
    statuses = amphora.operating_statuses("\n".join([HEADER, *lines]), lb)

    assert (statuses.pools, statuses.members) == (pools, members)


def test_a_listener_haproxy_does_not_report_is_in_error() -> None:
    lines = [HEADER, row(FRONTEND, "http", "FRONTEND", "FULL", "")]

    statuses = amphora.operating_statuses("\n".join(lines), dataclasses.replace(
        LB, listeners=(LISTENER, ALT)))  # fmt: skip

    assert (statuses.listeners, statuses.loadbalancer) == (
        {"http": "DEGRADED", "alt": "ERROR"}, "ERROR")  # fmt: skip


def test_show_stat_asks_the_stats_socket_and_reads_to_the_end(tmp_path: pathlib.Path) -> None:
    received: list[bytes] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(tmp_path / "stats.sock"))
        server.listen(1)

        def answer() -> None:
            connection, _ = server.accept()
            with connection:
                received.append(connection.recv(1024))
                for start in range(0, len(SHOW_STAT), 100):  # in pieces, as a socket may
                    connection.sendall(SHOW_STAT[start : start + 100].encode())

        thread = threading.Thread(target=answer)
        thread.start()
        got = amphora.show_stat(str(tmp_path / "stats.sock"))
        thread.join(timeout=5)

    assert (received, got) == ([b"show stat\n"], SHOW_STAT)
