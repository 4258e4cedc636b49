"""How fast the OpenStack API answers, against kubectl on the same objects.

    python bench/api.py --servers 1000

On a fresh local cloud, a project with a member and N Servers (made while the operator is
stopped, so that nothing reconciles them and the measurement is the API's alone), `nimbus api`
running as its own ServiceAccount, it prints:

- `GET /compute/v2.1/servers/detail` against `kubectl get servers -o json` for the same objects,
  and their ratio (target: at most 2);
- tokens issued per second (password logins: scrypt's tenth of a second each) and validated per
  second (`GET /v3/auth/tokens`);
- p50 and p99 of `GET /compute/v2.1/servers/{id}` with 20 concurrent clients (target: p99
  under 50 ms), each round after 100 untimed requests that open the connections, beside the
  one Kubernetes read a show makes (the Server, as the user, from the API server's cache no
  older than the version listed), made directly by the same 20 clients: the floor the API
  stands on; `--rounds` of each in turn (5), and their medians;
- the processor time per show of each process on the machine: the API server, etcd, `nimbus
  api` and the bench's own clients.

Figures, not pass/fail: bench/README.md keeps them.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time
import urllib.request
from typing import Any

import aiohttp
import cloud  # bench/cloud.py, beside this script

from nimbus.api import kinds
from nimbus.devcloud import cluster
from nimbus.k8s import client

PASSWORD = "bench-s3cret"
# Requests made before those timed, by the same clients: the connections they open (the
# clients' to the API, the API's TLS connections to the API server) are set up, as in use.
WARM_UP = 100
REQUESTS = 2000  # timed, per round


def _objects() -> list[dict[str, Any]]:
    project = {"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "Project",
               "metadata": {"name": "bench"},
               "spec": {"members": [{"user": "bencher", "role": "member"}],
                        "quota": {"instances": -1, "cores": -1, "ramMB": -1}}}  # fmt: skip
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "bencher-password", "namespace": "nimbus-system"},
              "stringData": {"password": PASSWORD}}  # fmt: skip
    user = {"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "User",
            "metadata": {"name": "bencher"},
            "spec": {"passwordSecret": {"name": "bencher-password",
                                        "namespace": "nimbus-system"}}}  # fmt: skip
    flavor = {
        "apiVersion": "compute.nimbus.dev/v1alpha1",
        "kind": "Flavor",
        "metadata": {"name": "bench.tiny"},
        "spec": {"vcpus": 1, "ramMB": 256, "diskGB": 1},
    }
    return [project, secret, user, flavor]


def _server(index: int) -> dict[str, Any]:
    return {"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Server",
            "metadata": {"name": f"s-{index:04d}", "namespace": "bench"},
            "spec": {"flavor": "bench.tiny", "image": {"name": "cirros"},
                     "networks": [{"network": "private"}]}}  # fmt: skip


def _wait(what: str, ready: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {what} did not happen in {timeout:.0f} s")
        time.sleep(0.5)


async def _make_servers(kubeconfig: str, count: int) -> None:
    async with client.Client(client.load_credentials(kubeconfig), kinds=kinds.table()) as api:
        pending = [_server(i) for i in range(count)]
        while pending:
            batch, pending = pending[:50], pending[50:]
            await asyncio.gather(*(api.create(s) for s in batch))


def _median_seconds(run: Any, times: int = 5) -> float:
    taken = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        taken.append(time.perf_counter() - started)
    return statistics.median(taken)


def _login(url: str) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "bencher", "domain": {"id": "default"}, "password": PASSWORD}}},
        "scope": {"project": {"name": "bench", "domain": {"id": "default"}}}}}  # fmt: skip
    request = urllib.request.Request(f"{url}/v3/auth/tokens", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(response.headers["X-Subject-Token"])


def _get(url: str, token: str, subject: str | None = None) -> bytes:
    headers = {"X-Auth-Token": token, **({"X-Subject-Token": subject} if subject else {})}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as r:
        return bytes(r.read())


async def _latencies(url: str, token: str, ids: list[str], clients: int, requests: int
                     ) -> list[float]:  # fmt: skip
    taken: list[float] = []
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for i in range(WARM_UP + requests):
        queue.put_nowait((i, ids[i % len(ids)]))
    async with aiohttp.ClientSession(headers={"X-Auth-Token": token}) as session:

        async def worker() -> None:
            while not queue.empty():
                i, server_id = queue.get_nowait()
                started = time.perf_counter()
                async with session.get(f"{url}/compute/v2.1/servers/{server_id}") as response:
                    await response.read()
                    assert response.status == 200, response.status
                if i >= WARM_UP:
                    taken.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(clients)))
    return taken


async def _floor_latencies(kubeconfig: str, names: list[str], clients: int, requests: int
                           ) -> list[float]:  # fmt: skip
    """What a show asks of Kubernetes, asked directly by the same clients: the Server as the
    user (RBAC judges each read: the least any show must do), from the API server's cache no
    older than the version listed, as `nimbus api` reads it. The rest a show needs (the
    token's User and Project, the Flavor, the Image's id) comes from `nimbus api`'s watches."""
    taken: list[float] = []
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for i in range(WARM_UP + requests):
        queue.put_nowait((i, names[i % len(names)]))
    async with client.Client(client.load_credentials(kubeconfig), kinds=kinds.table()) as api:
        user = api.impersonating("bencher", ("system:authenticated",))
        listed = await user.list("compute.nimbus.dev/v1alpha1", "Server", "bench")
        seen = {s["metadata"]["name"]: s["metadata"]["resourceVersion"] for s in listed}

        async def worker() -> None:
            while not queue.empty():
                i, name = queue.get_nowait()
                started = time.perf_counter()
                server = await user.get("compute.nimbus.dev/v1alpha1", "Server", name, "bench",
                                        resource_version=seen[name])  # fmt: skip
                assert server is not None, name
                if i >= WARM_UP:
                    taken.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(clients)))
    return taken


def _percentiles(taken: list[float]) -> tuple[float, float]:
    ordered = sorted(taken)
    return ordered[len(ordered) // 2] * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5, help="of shows, then direct GETs")
    args = parser.parse_args()
    with cloud.local_cloud(1) as (devcloud, operator):
        kubectl = devcloud.kubectl
        kubectl("create", "namespace", "nimbus-system", check=False)
        kubectl("apply", "--server-side", "-f", "-",
                stdin="\n---\n".join(json.dumps(o) for o in _objects()))  # fmt: skip

        def hashed() -> bool:
            got = kubectl("get", "secret", "nimbus-password-bencher", "-n", "nimbus-system",
                          "-o", "jsonpath={.data.hash}", check=False).stdout  # fmt: skip
            return bool(got and base64.b64decode(got))

        def active() -> bool:
            return kubectl("get", "osproject", "bench", "-o", "jsonpath={.status.status}",
                           check=False).stdout == "ACTIVE"  # fmt: skip

        _wait("the project's namespace and the user's password hash", lambda: active() and
              hashed())  # fmt: skip
        # The operator stops: the Servers stay as made, and the API alone is measured. Its
        # admission webhooks go with it (a bench cloud, torn down after).
        operator.terminate()
        operator.wait(timeout=30)
        for kind in ("validatingwebhookconfigurations", "mutatingwebhookconfigurations"):
            names = kubectl("get", kind, "-o", "name").stdout.split()
            for name in [n for n in names if "nimbus" in n]:
                kubectl("delete", name)
        started = time.perf_counter()
        asyncio.run(_make_servers(str(devcloud.kubeconfig), args.servers))
        print(f"servers: {args.servers} made in {time.perf_counter() - started:.1f} s")

        (port,) = cluster._free_ports(1)
        url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, KUBECONFIG=str(devcloud.identity_kubeconfig("nimbus-api")))
        with (devcloud.log_dir / "openstack-api-bench.log").open("wb") as out:
            api = subprocess.Popen([sys.executable, "-m", "nimbus", "api",
                                    f"--listen=127.0.0.1:{port}"], stdout=out,
                                   stderr=subprocess.STDOUT, env=env)  # fmt: skip
        try:
            _wait("nimbus api", lambda: _reachable(f"{url}/v3"), timeout=30)
            token = _login(url)
            detail = f"{url}/compute/v2.1/servers/detail"
            listed = json.loads(_get(detail, token))["servers"]
            assert len(listed) == args.servers, len(listed)
            kubectl_time = _median_seconds(lambda: kubectl(
                "get", "servers.compute.nimbus.dev", "-n", "bench", "-o", "json"))  # fmt: skip
            api_time = _median_seconds(lambda: _get(detail, token))
            print(
                f"  kubectl get servers -o json        {kubectl_time * 1000:8.1f} ms (median of 5)"
            )
            print(f"  GET /servers/detail                {api_time * 1000:8.1f} ms (median of 5)")
            print(f"  ratio API / kubectl                {api_time / kubectl_time:8.2f}"
                  "   (target: at most 2)")  # fmt: skip

            logins = 20
            started = time.perf_counter()
            issued = [_login(url) for _ in range(logins)]
            issue_rate = logins / (time.perf_counter() - started)
            checks = 300
            started = time.perf_counter()
            for i in range(checks):
                _get(f"{url}/v3/auth/tokens", token, issued[i % logins])
            check_rate = checks / (time.perf_counter() - started)
            print(f"  tokens issued (password)           {issue_rate:8.1f} /s")
            print(f"  tokens validated                   {check_rate:8.1f} /s")

            ids = [s["id"] for s in listed]
            names = [f"s-{i:04d}" for i in range(args.servers)]
            kubeconfig = str(devcloud.kubeconfig)
            shows, floors = [], []
            spent, spent_direct = dict[str, float](), dict[str, float]()
            for _ in range(args.rounds):  # the API's, then the floor's, in turn
                before = _cpu_seconds()
                shows.append(_percentiles(asyncio.run(
                    _latencies(url, token, ids, args.clients, REQUESTS))))  # fmt: skip
                between = _cpu_seconds()
                floors.append(_percentiles(asyncio.run(
                    _floor_latencies(kubeconfig, names, args.clients, REQUESTS))))  # fmt: skip
                after = _cpu_seconds()
                for what in after:
                    spent[what] = spent.get(what, 0.0) + between.get(what, 0.0) - \
                        before.get(what, 0.0)  # fmt: skip
                    spent_direct[what] = spent_direct.get(what, 0.0) + after[what] - \
                        between.get(what, 0.0)  # fmt: skip
            for (p50, p99), (one50, one99) in zip(shows, floors, strict=True):
                print(f"  GET /servers/{{id}}, {args.clients} clients     p50 {p50:6.1f} ms   "
                      f"p99 {p99:6.1f} ms   | one GET of the server, direct: p50 {one50:6.1f} "
                      f"ms   p99 {one99:6.1f} ms")  # fmt: skip
            p50, p99 = (statistics.median(s[i] for s in shows) for i in (0, 1))
            one50, one99 = (statistics.median(f[i] for f in floors) for i in (0, 1))
            print(f"  median of {args.rounds} rounds: show p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"
                  f"   (target: p99 under 50 ms)")  # fmt: skip
            print(f"  median of {args.rounds} rounds: one GET p50 {one50:6.1f} ms   "
                  f"p99 {one99:6.1f} ms   (the least a show can ask)")  # fmt: skip
            print(f"  ratio show / one GET, p99          {p99 / one99:8.2f}")
            shown = args.rounds * REQUESTS
            for label, used in (("show", spent), ("direct GET", spent_direct)):
                print(f"  processor time per {label}, ms: " + ", ".join(
                    f"{k} {v / shown * 1000:.2f}" for k, v in sorted(used.items())
                    if v > 0.05))  # fmt: skip
        finally:
            api.terminate()
            api.wait(timeout=20)


def _cpu_seconds() -> dict[str, float]:
    """User and system processor seconds of this machine's processes so far, by what they are:
    the API server, etcd, `nimbus api` (its workers too), and this bench (its clients)."""
    tick = os.sysconf("SC_CLK_TCK")
    spent: dict[str, float] = {}
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = text.rpartition(")")[2].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick
        if "kube-apiserver" in command:
            what = "kube-apiserver"
        elif "etcd" in command.split(" ")[0]:
            what = "etcd"
        elif "nimbus api" in command:
            what = "nimbus api"
        elif int(stat.parent.name) == os.getpid():
            what = "bench clients"
        else:
            what = "other"
        spent[what] = spent.get(what, 0.0) + seconds
    return spent


def _reachable(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
        return True
    except OSError:
        return False


if __name__ == "__main__":
    main()
