"""Placement speed: Nimbus's engine against Nova's own FilterScheduler filters and weighers, on
identical hosts, in one process; and the extender's HTTP round trip.

    python bench/placement.py [--hosts 100,1000,10000] [--runs 7] [--requests 300]

- **time per decision**: filter and weigh one representative request (4 vCPUs, 8 GiB, 40 GB,
  an image property) over 100, 1,000 and 10,000 hosts with varied usage, zones and instance
  counts; the median of `--runs`.
- **Nova**, when the optional `bench` extra installed it (`pip install -e '.[bench]'`): its
  HostFilterHandler with its default filters and its HostWeightHandler with all its weighers at
  their default multipliers, over Nova HostStates built beforehand from the same hosts. Nova's
  resource fit is placement's job (an SQL query in another service), so it is not timed; ours
  is, inside the decision. The ratio is Nova's time over ours. Both must choose the same host.
- **extender round trip**: `POST /filter` and `POST /prioritize` over HTTP (aiohttp, on
  127.0.0.1) at 1,000 nodes, as kube-scheduler sends them with nodeCacheCapable; p50 and p99.

Targets (issue 4): at least 10x Nova at 1,000 and 10,000 hosts; the round trip's p99 under
20 ms at 1,000 nodes. Printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import aiohttp
from aiohttp import web

from nimbus.placement import engine
from nimbus.scheduler import extender

REQUEST = engine.RequestSpec(
    vcpus=4,
    memory_mb=8192,
    disk_gb=40,
    image_properties={"hw_architecture": "x86_64"},
)


def hosts_for(count: int, seed: int = 7) -> list[engine.HostState]:
    """`count` hosts of three sizes, in two zones, with random usage (the same for a seed)."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        vcpus, memory_mb, disk_gb = rng.choice(((32, 131072, 1000), (64, 262144, 2000),
                                                 (16, 65536, 500)))  # fmt: skip
        instances = rng.randint(0, 30)
        out.append(engine.HostState(
            name=f"compute-{i:05d}", vcpus=vcpus, memory_mb=memory_mb, disk_gb=disk_gb,
            vcpus_used=rng.randint(0, vcpus * 3), memory_mb_used=rng.randint(0, memory_mb - 4096),
            disk_gb_used=rng.randint(0, disk_gb // 2), num_instances=instances,
            num_io_ops=rng.randint(0, 4), availability_zone=f"zone-{'ab'[i % 2]}",
            instances=frozenset(f"demo/vm-{i}-{j}" for j in range(instances)),
        ))  # fmt: skip
    return out


def median_seconds(run: Callable[[], object], runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


# -- Nova, in the same process ---------------------------------------------------------------


class Nova:
    """Nova 34's filters and weighers, as its FilterScheduler runs them after placement."""

    def __init__(self) -> None:
        import nova.conf
        from nova import objects
        from nova.scheduler import filters, weights

        nova.conf.CONF([], project="nova", default_config_files=[])
        objects.register_all()
        self.objects = objects
        handler = filters.HostFilterHandler()
        enabled = nova.conf.CONF.filter_scheduler.enabled_filters
        classes = {c.__name__: c for c in handler.get_matching_classes(
            ["nova.scheduler.filters.all_filters"])}  # fmt: skip
        self.filter_handler = handler
        self.filters = [classes[name]() for name in enabled]
        self.weight_handler = weights.HostWeightHandler()
        self.weighers = [cls() for cls in self.weight_handler.get_matching_classes(
            ["nova.scheduler.weights.all_weighers"])]  # fmt: skip

    def host_states(self, hosts: list[engine.HostState]) -> list[Any]:
        from nova.scheduler import host_manager
        from oslo_utils import timeutils

        now, out = timeutils.utcnow(), []
        for h in hosts:
            state = host_manager.HostState(h.name, h.name, None)
            state.vcpus_total, state.vcpus_used = h.vcpus, h.vcpus_used
            state.total_usable_ram_mb, state.free_ram_mb = h.memory_mb, h.free_ram_mb
            state.total_usable_disk_gb, state.free_disk_mb = h.disk_gb, h.free_disk_mb
            state.disk_mb_used = h.disk_gb_used * 1024
            state.cpu_allocation_ratio = h.cpu_allocation_ratio
            state.ram_allocation_ratio = h.ram_allocation_ratio
            state.disk_allocation_ratio = h.disk_allocation_ratio
            state.num_instances, state.num_io_ops = h.num_instances, h.num_io_ops
            state.instances = dict.fromkeys(h.instances)
            state.aggregates = []
            state.service = {
                "disabled": False,
                "forced_down": False,
                "host": h.name,
                "binary": "nova-compute",
                "created_at": now,
                "last_seen_up": now,
            }
            state.failed_builds = 0
            state.hypervisor_type, state.hypervisor_version = "QEMU", 8002000
            state.supported_instances = [("x86_64", "qemu", "hvm"), ("x86_64", "kvm", "hvm")]
            state.cell_uuid = "cell1"
            out.append(state)
        return out

    def request_spec(self, spec: engine.RequestSpec) -> Any:
        objects = self.objects
        flavor = objects.Flavor(
            vcpus=spec.vcpus, memory_mb=spec.memory_mb, root_gb=spec.disk_gb, ephemeral_gb=0,
            swap=0, extra_specs=dict(spec.extra_specs),
        )  # fmt: skip
        return objects.RequestSpec(
            flavor=flavor,
            image=objects.ImageMeta.from_dict({"properties": dict(spec.image_properties)}),
            scheduler_hints={},
            instance_group=None,
            project_id="p1",
            instance_uuid="0b7a5c8e-0000-4000-8000-000000000001",
            availability_zone=None,
            num_instances=1,
            is_bfv=False,
            requested_destination=None,
            force_hosts=None,
            force_nodes=None,
            ignore_hosts=None,
            pci_requests=objects.InstancePCIRequests(requests=[]),
            numa_topology=None,
        )

    def decide(self, states: list[Any], spec: Any) -> str | None:
        passed = self.filter_handler.get_filtered_objects(self.filters, states, spec)
        weighed = self.weight_handler.get_weighed_objects(self.weighers, list(passed or []), spec)
        return weighed[0].obj.host if weighed else None


def load_nova() -> Nova | None:
    try:
        return Nova()
    except ImportError:
        return None


# -- the extender over HTTP ------------------------------------------------------------------


def _node(host: engine.HostState) -> dict[str, Any]:
    return {
        "metadata": {"name": host.name, "labels": {
            "topology.kubernetes.io/zone": host.availability_zone or "",
            "compute.nimbus.dev/vcpus": str(host.vcpus),
            "compute.nimbus.dev/memory-mb": str(host.memory_mb),
            "compute.nimbus.dev/disk-gb": str(host.disk_gb)}},
        "status": {},
    }  # fmt: skip


def _pod(i: int) -> dict[str, Any]:
    labels = {
        "app.kubernetes.io/managed-by": "nimbus", "compute.nimbus.dev/server": f"vm-{i}",
        "identity.nimbus.dev/project": "demo", "compute.nimbus.dev/vcpus": "4",
        "compute.nimbus.dev/memory-mb": "8192", "compute.nimbus.dev/disk-gb": "40",
    }  # fmt: skip
    annotations = {
        "compute.nimbus.dev/flavor-spec": json.dumps({"vcpus": 4, "ramMB": 8192, "diskGB": 40}),
        "compute.nimbus.dev/image-properties": json.dumps({"hw_architecture": "x86_64"}),
    }
    return {
        "metadata": {"name": f"virt-launcher-vm-{i}-abcde", "namespace": "demo",
                     "uid": f"uid-{i}", "labels": labels, "annotations": annotations},
        "spec": {"schedulerName": "nimbus-scheduler"},
    }  # fmt: skip


async def round_trips(nodes: int, requests: int) -> dict[str, list[float]]:
    """Seconds per POST /filter and /prioritize, as kube-scheduler makes them."""
    hosts = hosts_for(nodes)
    ext = extender.Extender(None, extender.Settings(None))
    ext.inventory.replace_nodes(_node(h) for h in hosts)
    runner = web.AppRunner(ext.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    names = [h.name for h in hosts]
    times: dict[str, list[float]] = {"filter": [], "prioritize": []}
    async with aiohttp.ClientSession() as session:
        for i in range(requests):
            pod = _pod(i)
            for verb in ("filter", "prioritize"):
                body = json.dumps({"Pod": pod, "Nodes": None, "NodeNames": names})
                started = time.perf_counter()
                async with session.post(f"http://127.0.0.1:{port}/{verb}", data=body) as answer:
                    await answer.read()
                    assert answer.status == 200
                times[verb].append(time.perf_counter() - started)
            ext.inventory.pod_event("DELETED", pod)  # the next request finds the same nodes
    await runner.cleanup()
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", default="100,1000,10000")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args(argv)

    nova = load_nova()
    if nova is None:
        print("nova is not installed (pip install -e '.[bench]'): Nimbus's figures only")
    config = engine.Config()
    for count in (int(c) for c in args.hosts.split(",")):
        hosts = hosts_for(count)
        ours, decision = median_seconds(partial(engine.schedule, hosts, REQUEST, config), args.runs)
        assert isinstance(decision, engine.Decision)
        line = f"{count:>6} hosts: nimbus {ours * 1000:8.2f} ms per decision"
        if nova is not None:
            states, spec = nova.host_states(hosts), nova.request_spec(REQUEST)
            fitting = set(decision.fit)  # placement's candidates: Nova filters only these
            candidates = [s for s in states if s.host in fitting]
            theirs, chosen = median_seconds(partial(nova.decide, candidates, spec), args.runs)
            same = "same host" if chosen == decision.weighed[0][0] else f"NOVA CHOSE {chosen}"
            line += f" | nova {theirs * 1000:8.2f} ms | ratio nova/nimbus {theirs / ours:6.1f}x"
            line += f" | {same}"
        print(line, flush=True)

    times = asyncio.run(round_trips(1000, args.requests))
    for verb, values in times.items():
        print(f"extender /{verb} at 1000 nodes: p50 {percentile(values, 0.5) * 1000:.2f} ms, "
              f"p99 {percentile(values, 0.99) * 1000:.2f} ms ({len(values)} requests)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
