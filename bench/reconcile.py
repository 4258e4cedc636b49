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
import subprocess
import sys
import tempfile
import time
from typing import Any

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


async def wait(api: client.Client, what: str, done: Any, limit: float, started: float) -> float:
    """Seconds from `started` until `done(api)` is true."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if await done(api):
            return time.monotonic() - started
        await asyncio.sleep(0.25)
    raise TimeoutError(f"{what} not reached within {limit:.0f}s")


async def count(api: client.Client, api_version: str, kind: str, namespace: str,
                predicate: Any = None) -> int:  # fmt: skip
    items = await api.list(api_version, kind, namespace)
    return sum(1 for item in items if predicate is None or predicate(item))


def peak_rss_mb(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def bench(devcloud: cluster.DevCloud, servers: int, limit: float) -> None:
    credentials = client.load_credentials(str(devcloud.kubeconfig))
    async with client.Client(credentials) as api:
        await api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}})
        await api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "raw"}})
        for obj in SETUP:
            await api.apply(obj)

        async def image_active(api: client.Client) -> bool:
            image = await api.get("image.nimbus.dev/v1alpha1", "Image", "cirros", "bench")
            return ((image or {}).get("status") or {}).get("status") == "active"

        await wait(api, "image active", image_active, 120, time.monotonic())

        started = time.monotonic()
        await asyncio.gather(*(api.apply(server(i)) for i in range(servers)))
        applied = time.monotonic() - started

        async def all_vms(api: client.Client) -> bool:
            return await count(api, "kubevirt.io/v1", "VirtualMachine", "bench") >= servers

        async def all_active(api: client.Client) -> bool:
            def is_active(s: dict[str, Any]) -> bool:
                return (s.get("status") or {}).get("status") == "ACTIVE"

            active = await count(api, COMPUTE, "Server", "bench", is_active)
            return active >= servers

        vms_after = await wait(api, "every VirtualMachine", all_vms, limit, started)
        active_after = await wait(api, "every Server ACTIVE", all_active, limit, started)

        # The same API server, one Python client, N raw VirtualMachine creates.
        template = copy.deepcopy(
            await api.get("kubevirt.io/v1", "VirtualMachine", "s-0000", "bench")
        )
        assert template is not None
        raw_vms = []
        for i in range(servers):
            vm = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                  "metadata": {"name": f"raw-{i:04d}", "namespace": "raw"},
                  "spec": {**template["spec"], "runStrategy": "Halted",
                           "dataVolumeTemplates": []}}  # fmt: skip
            raw_vms.append(vm)
        raw_started = time.monotonic()
        await asyncio.gather(*(api.apply(vm) for vm in raw_vms))
        raw_after = time.monotonic() - raw_started

    operator_rate = servers / vms_after
    raw_rate = servers / raw_after
    print(f"servers: {servers}")
    print(f"  applied in                      {applied:8.2f} s")
    print(f"  every VirtualMachine exists     {vms_after:8.2f} s  ({operator_rate:7.1f} VMs/s)")
    print(f"  every Server ACTIVE             {active_after:8.2f} s  "
          f"({servers / active_after:7.1f} servers/s)")  # fmt: skip
    print(f"  raw VirtualMachine creates      {raw_after:8.2f} s  ({raw_rate:7.1f} VMs/s)")
    print(f"  ratio operator / raw            {operator_rate / raw_rate:8.3f}  (target >= 0.5)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nimbus-bench-") as run_dir:
        devcloud = cluster.DevCloud(pathlib.Path(run_dir))
        devcloud.up(log=False)
        log = pathlib.Path(run_dir) / "operator.log"
        env = dict(os.environ, KUBECONFIG=str(devcloud.kubeconfig))
        with log.open("wb") as out:
            operator = subprocess.Popen([sys.executable, "-m", "nimbus", "run"], stdout=out,
                                        stderr=subprocess.STDOUT, env=env)  # fmt: skip
        try:
            asyncio.run(bench(devcloud, args.servers, args.timeout))
            print(f"  operator peak RSS               {peak_rss_mb(operator.pid):8.1f} MiB")
        finally:
            operator.terminate()
            operator.wait(timeout=30)
            devcloud.destroy()


if __name__ == "__main__":
    main()
