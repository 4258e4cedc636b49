"""How fast the operator turns Servers into VirtualMachines, against what the API server can take.

    python bench/reconcile.py --servers 100

On a fresh local cloud (control plane, KWOK, simulators) with an image and a network already
active, it applies N Servers and prints the time until every VirtualMachine exists and until
every Server is ACTIVE. In the same run, it times N raw VirtualMachine creates from one Python
client against the same API server, and prints the ratio of the two rates (target: at least
0.5) and the operator's peak RSS. Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import pathlib
import re
import statistics
import time
from typing import Any

import cloud  # bench/cloud.py, beside this script

from nimbus.api import kinds
from nimbus.devcloud import cluster
from nimbus.k8s import client

COMPUTE = "compute.nimbus.dev/v1alpha1"
SETUP: list[dict[str, Any]] = [
    {"apiVersion": COMPUTE, "kind": "Flavor", "metadata": {"name": "bench.tiny"},
     "spec": {"vcpus": 1, "ramMB": 256, "diskGB": 1}},
    {"apiVersion": "image.nimbus.dev/v1alpha1", "kind": "Image",
     "metadata": {"name": "cirros", "namespace": "bench"},
     "spec": {"source": {"http": {"url": "https://example.com/cirros.img"}}, "minDiskGB": 1}},
    {"apiVersion": "network.nimbus.dev/v1alpha1", "kind": "Network",
     "metadata": {"name": "private", "namespace": "bench"}},
    {"apiVersion": "network.nimbus.dev/v1alpha1", "kind": "Subnet",
     "metadata": {"name": "private-v4", "namespace": "bench"},
     "spec": {"network": "private", "cidr": "10.20.0.0/16"}},
]  # fmt: skip


def server(index: int) -> dict[str, Any]:
    return {
        "apiVersion": COMPUTE,
        "kind": "Server",
        "metadata": {"name": f"s-{index:04d}", "namespace": "bench"},
        "spec": {"flavor": "bench.tiny", "image": {"name": "cirros"},
                 "networks": [{"network": "private"}]},
    }  # fmt: skip


async def until(
    api: client.Client,
    api_version: str,
    kind: str,
    done: Any,
    count: int,
    started: float,
    resource_version: str,
) -> float:
    """Seconds from `started` until `count` objects have been seen `done`, by a watch (polling
    lists of a thousand objects would load the API server it measures)."""
    seen: set[str] = set()
    while True:
        async for kind_of_change, obj in api.watch(
            api_version, kind, "bench", resource_version=resource_version
        ):
            resource_version = obj["metadata"].get("resourceVersion", resource_version)
            if kind_of_change in ("ADDED", "MODIFIED") and done(obj):
                seen.add(obj["metadata"]["name"])
                if len(seen) >= count:
                    return time.monotonic() - started


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU time (user + system) each process has used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for name, pid in pids.items():
        try:
            fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[name] = (int(fields[11]) + int(fields[12])) / ticks
    return used


async def writes(api: client.Client) -> dict[tuple[str, str], float]:
    """The API server's count of writes so far, by verb and resource (from its /metrics)."""
    async with api._http().get(api.credentials.server + "/metrics") as response:
        text = await response.text()
    counts: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
        if labels.get("verb") in ("WATCH", "LIST", "GET"):
            continue
        resource = labels.get("resource", "") + (
            "/" + labels["subresource"] if labels.get("subresource") else ""
        )
        key = (labels.get("verb", ""), resource)
        counts[key] = counts.get(key, 0) + float(line.rsplit(" ", 1)[1])
    return counts


def peak_rss_mb(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def bench(
    devcloud: cluster.DevCloud, servers: int, limit: float, pids: dict[str, int]
) -> None:
    credentials = client.load_credentials(str(devcloud.kubeconfig))
    async with client.Client(credentials, kinds=kinds.table()) as api:
        await api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}})
        for obj in SETUP:
            await api.apply(obj)

        deadline = time.monotonic() + 120
        while True:
            image = await api.get("image.nimbus.dev/v1alpha1", "Image", "cirros", "bench")
            if ((image or {}).get("status") or {}).get("status") == "active":
                break
            if time.monotonic() > deadline:
                raise TimeoutError("image not active within 120s")
            await asyncio.sleep(0.25)

        # Watch from here: every VirtualMachine made, every Server ACTIVE.
        vms_version = await api.resource_version("kubevirt.io/v1", "VirtualMachine", "bench")
        servers_version = await api.resource_version(COMPUTE, "Server", "bench")
        cpu_before = cpu_seconds(pids)
        started = time.monotonic()
        vms = asyncio.create_task(
            until(api, "kubevirt.io/v1", "VirtualMachine", lambda _: True, servers, started,
                  vms_version)
        )  # fmt: skip
        active = asyncio.create_task(
            until(api, COMPUTE, "Server",
                  lambda s: (s.get("status") or {}).get("status") == "ACTIVE", servers, started,
                  servers_version)
        )  # fmt: skip
        cpu_at_vms: dict[str, float] = {}
        vms.add_done_callback(lambda _: cpu_at_vms.update(cpu_seconds(pids)))
        writes_before = await writes(api)
        await asyncio.gather(*(api.apply(server(i)) for i in range(servers)))
        applied = time.monotonic() - started
        vms_after = await asyncio.wait_for(vms, limit)
        writes_at_vms = await writes(api)
        active_after = await asyncio.wait_for(active, limit)
        cpu_after = cpu_seconds(pids)

        # The same API server, one Python client, N raw VirtualMachine creates.
        template = copy.deepcopy(
            await api.get("kubevirt.io/v1", "VirtualMachine", "s-0000", "bench")
        )
        assert template is not None

        async def raw(namespace: str, at_once: bool) -> float:
            """Seconds to create N VirtualMachines: all at once, or one after another."""
            await api.apply({"apiVersion": "v1", "kind": "Namespace",
                             "metadata": {"name": namespace}})  # fmt: skip
            vms = [
                {
                    "apiVersion": "kubevirt.io/v1",
                    "kind": "VirtualMachine",
                    "metadata": {"name": f"raw-{i:04d}", "namespace": namespace},
                    "spec": {
                        **template["spec"],
                        "runStrategy": "Halted",
                        "dataVolumeTemplates": [],
                    },
                }
                for i in range(servers)
            ]
            raw_started = time.monotonic()
            if at_once:
                await asyncio.gather(*(api.apply(vm) for vm in vms))
            else:
                for vm in vms:
                    await api.apply(vm)
            return time.monotonic() - raw_started

        # Each three times, the median: one run alone is noisy on a shared machine.
        raw_after = statistics.median([await raw(f"raw-{i}", True) for i in range(3)])
        seq_after = statistics.median([await raw(f"seq-{i}", False) for i in range(3)])

    print_writes(writes_before, writes_at_vms, servers)
    operator_rate = servers / vms_after
    raw_rate = servers / raw_after
    print(f"servers: {servers}")
    print(f"  applied in                      {applied:8.2f} s")
    print(f"  every VirtualMachine exists     {vms_after:8.2f} s  ({operator_rate:7.1f} VMs/s)")
    print(f"  every Server ACTIVE             {active_after:8.2f} s  "
          f"({servers / active_after:7.1f} servers/s)")  # fmt: skip
    seq_rate = servers / seq_after
    print(f"  raw creates, {servers} at once       {raw_after:8.2f} s  ({raw_rate:7.1f} VMs/s)")
    print(f"  raw creates, one after another  {seq_after:8.2f} s  ({seq_rate:7.1f} VMs/s)")
    print(f"  ratio operator / raw at once    {operator_rate / raw_rate:8.3f}")
    print(f"  ratio operator / raw in turn    {operator_rate / seq_rate:8.3f}  (target >= 0.5)")
    used = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
    print("  CPU seconds by process           until every VM     until every Server ACTIVE")
    for name, seconds in sorted(used.items(), key=lambda item: -item[1]):
        to_vms = cpu_at_vms.get(name, 0.0) - cpu_before.get(name, 0.0)
        print(f"    {name:<28}  {to_vms:8.2f} s         {seconds:8.2f} s")


def print_writes(
    before: dict[tuple[str, str], float], after: dict[tuple[str, str], float], servers: int
) -> None:
    """The API server's writes between two counts, per server, by verb and resource."""
    writes = {key: after[key] - before.get(key, 0.0) for key in after}
    print("  API writes per server, until every VM exists (the API server's own count)")
    for (verb, resource), count in sorted(writes.items(), key=lambda item: -item[1]):
        if count / servers >= 0.01:
            print(f"    {verb:<6} {resource:<34} {count / servers:6.2f}")
    print(f"    {'all':<41} {sum(writes.values()) / servers:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--logs", type=pathlib.Path, help="keep the cloud's logs here")
    args = parser.parse_args()
    with cloud.local_cloud(args.servers, args.logs) as (devcloud, operator):
        pids = {**devcloud._state()["pids"], "operator": operator.pid, "bench": os.getpid()}
        asyncio.run(bench(devcloud, args.servers, args.timeout, pids))
        print(f"  operator peak RSS               {peak_rss_mb(operator.pid):8.1f} MiB")


if __name__ == "__main__":
    main()
