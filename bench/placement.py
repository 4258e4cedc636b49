"""Placement speed: Nimbus's engine against Nova's own FilterScheduler filters and weighers, on
identical hosts, in one process, for every request shape; and the extender's HTTP round trip
under concurrent load.

    python bench/placement.py [--hosts 100,1000,10000] [--runs 7] [--requests 300]
                              [--in-flight 1,10] [--shapes default,az-aggregate,...]

- **time per decision**, for each request shape (SHAPES) over 100, 1,000 and 10,000 hosts with
  Nova's whole host model (usage, zones, aggregates, instances, stats, hypervisor versions,
  supported instances): the median of `--runs`. Ours is the whole decision, resource fit
  included.
- **Nova**, when the optional `bench` extra installed it (`pip install -e '.[bench]'`): its
  HostFilterHandler with the shape's filters and its HostWeightHandler with all its weighers,
  over Nova HostStates built beforehand from the same hosts and given the hosts placement
  would offer (Nova's resource fit and zone are placement's SQL, in another service: not
  timed). The ratio is Nova's time over ours. Both must choose the same host.
- **growth**: each side's time at the most hosts over its time at the fewest.
- **extender round trip**: `POST /filter` and `POST /prioritize` over HTTP (aiohttp, on
  127.0.0.1, the extender in a process of its own) at 1,000 nodes, as kube-scheduler sends them
  with nodeCacheCapable, with each `--in-flight` count of requests at once (distinct pods);
  p50 and p99 of each verb.

Targets (issue 20): at least 10x Nova at 1,000 and 10,000 hosts for every shape; the round
trip's p99 under 20 ms at 1,000 nodes with at least 10 requests in flight. Printed, never
asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import json
import multiprocessing
import random
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from multiprocessing.connection import Connection
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
DEFAULT_FILTERS = engine.Config().enabled_filters
MEMBERS = 1000  # the anti-affinity shape's group


def hosts_for(count: int, seed: int = 7) -> list[engine.HostState]:
    """`count` hosts of three sizes, in two zones, some in an SSD aggregate, with random usage,
    instances, CPU models and hypervisor versions (the same for a seed)."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        vcpus, memory_mb, disk_gb = rng.choice(((32, 131072, 1000), (64, 262144, 2000),
                                                 (16, 65536, 500)))  # fmt: skip
        instances = rng.randint(1, 30)
        ssd = i % 3 == 0
        out.append(engine.HostState(
            name=f"compute-{i:05d}", vcpus=vcpus, memory_mb=memory_mb, disk_gb=disk_gb,
            vcpus_used=rng.randint(0, vcpus * 3), memory_mb_used=rng.randint(0, memory_mb - 4096),
            disk_gb_used=rng.randint(0, disk_gb // 2), num_instances=instances,
            num_io_ops=rng.randint(0, 4), availability_zone=f"zone-{'ab'[i % 2]}",
            instances=frozenset(f"demo/vm-{i}-{j}" for j in range(instances)),
            aggregates={"ssd" if ssd else "hdd": {"ssd": "true" if ssd else "false"}},
            host_ip=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
            stats={"cpu_model": rng.choice(("icelake", "skylake", "sapphirerapids"))},
            hypervisor_version=rng.choice((8000000, 9000000, 10000000)),
            supported_instances=(((rng.choice(("x86_64", "x86_64", "aarch64"))), "kvm", "hvm"),
                                 ("x86_64", "qemu", "hvm")),
        ))  # fmt: skip
    return out


def _group(count: int) -> engine.ServerGroup:
    members = tuple(f"demo/vm-{k % count}-{k // count}" for k in range(MEMBERS))
    return engine.ServerGroup(policy="anti-affinity", members=members)


@dataclasses.dataclass(frozen=True)
class Shape:
    """A request shape: the request for `count` hosts, and the filters it runs."""

    request: Callable[[int], engine.RequestSpec]
    filters: tuple[str, ...] = DEFAULT_FILTERS


SHAPES: dict[str, Shape] = {
    "default": Shape(lambda count: REQUEST),
    "az-aggregate": Shape(
        lambda count: dataclasses.replace(
            REQUEST, availability_zone="zone-a",
            extra_specs={"aggregate_instance_extra_specs:ssd": "true"},
        ),
        (*DEFAULT_FILTERS, "AggregateInstanceExtraSpecsFilter"),
    ),
    "anti-affinity-1000": Shape(
        lambda count: dataclasses.replace(REQUEST, server_group=_group(count))
    ),
    "json-filter": Shape(
        lambda count: dataclasses.replace(REQUEST, hints={
            "query": '["and", [">=", "$free_ram_mb", 16384], ["<", "$num_io_ops", 3]]'}),
        (*DEFAULT_FILTERS, "JsonFilter"),
    ),
    "image-properties": Shape(
        lambda count: dataclasses.replace(REQUEST, image_properties={
            "hw_architecture": "x86_64", "img_hv_type": "kvm", "hw_vm_mode": "hvm"}),
    ),
}  # fmt: skip


def median_seconds(run: Callable[[], object], runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


# -- Nova, in the same process ---------------------------------------------------------------


class Nova:
    """Nova 34's filters and weighers, as its FilterScheduler runs them after placement, over
    HostStates with its whole host model made from ours."""

    def __init__(self) -> None:
        import nova.conf
        from nova import objects
        from nova.scheduler import filters, weights

        self.conf = nova.conf.CONF
        self.conf([], project="nova", default_config_files=[])
        objects.register_all()
        self.objects = objects
        self.filter_handler = filters.HostFilterHandler()
        self.classes = {c.__name__: c for c in self.filter_handler.get_matching_classes(
            ["nova.scheduler.filters.all_filters"])}  # fmt: skip
        self.weight_handler = weights.HostWeightHandler()
        self.weigher_classes = self.weight_handler.get_matching_classes(
            ["nova.scheduler.weights.all_weighers"]
        )
        self.configure(engine.Config())

    def configure(self, config: engine.Config) -> None:
        """Nova's options as `config` says, and its filters and weighers made under them."""
        for field in dataclasses.fields(engine.Config):
            value = getattr(config, field.name)
            group = None if field.name in ("service_down_time", "default_availability_zone") else (
                "filter_scheduler")  # fmt: skip
            if field.name == "image_properties_default_architecture":
                value = value or None
            if isinstance(value, tuple):
                value = list(value)
            self.conf.set_override(field.name, value, group)
        self.filters = [self.classes[name]() for name in config.enabled_filters]
        self.weighers = [cls() for cls in self.weigher_classes]

    def host_states(self, hosts: list[engine.HostState]) -> list[Any]:
        from nova.scheduler import host_manager
        from oslo_utils import timeutils

        now, out = timeutils.utcnow(), []
        aggregates: dict[tuple[str, str], Any] = {}
        for h in hosts:
            state = host_manager.HostState(h.name, h.nodename, "cell1")
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
            for name, metadata in h.aggregates.items():
                key = (name, json.dumps(metadata, sort_keys=True))
                if key not in aggregates:
                    aggregates[key] = self.objects.Aggregate(
                        id=len(aggregates) + 1, name=name, metadata=dict(metadata)
                    )
                state.aggregates.append(aggregates[key])
            state.service = {
                "disabled": h.disabled,
                "forced_down": h.forced_down,
                "host": h.name,
                "binary": "nova-compute",
                "created_at": now,
                "last_seen_up": now - datetime.timedelta(seconds=h.heartbeat_age_s),
            }
            state.failed_builds = h.failed_builds
            state.hypervisor_type, state.hypervisor_version = (
                h.hypervisor_type,
                h.hypervisor_version,
            )
            state.supported_instances = [list(s) for s in h.supported_instances]
            state.stats = dict(h.stats)
            state.host_ip = h.host_ip
            out.append(state)
        return out

    def request_spec(self, spec: engine.RequestSpec) -> Any:
        objects = self.objects
        flavor = objects.Flavor(
            vcpus=spec.vcpus, memory_mb=spec.memory_mb, root_gb=spec.disk_gb, ephemeral_gb=0,
            swap=0, extra_specs=dict(spec.extra_specs),
        )  # fmt: skip
        hints: dict[str, list[str]] = {}
        for name, value in spec.hints.items():
            if value:
                hints[name] = [value] if isinstance(value, str) else [str(v) for v in value]
        group = None
        if spec.server_group is not None:
            group = objects.InstanceGroup(
                policy=spec.server_group.policy, policies=[spec.server_group.policy],
                members=list(spec.server_group.members),
                hosts=list(spec.server_group.hosts), rules=dict(spec.server_group.rules),
            )  # fmt: skip
        return objects.RequestSpec(
            flavor=flavor,
            image=objects.ImageMeta.from_dict({"properties": dict(spec.image_properties)}),
            scheduler_hints=hints,
            instance_group=group,
            project_id=spec.project_id,
            instance_uuid="0b7a5c8e-0000-4000-8000-000000000001",
            availability_zone=spec.availability_zone,
            num_instances=1,
            is_bfv=False,
            requested_destination=None,
            force_hosts=None,
            force_nodes=None,
            ignore_hosts=None,
            pci_requests=objects.InstancePCIRequests(requests=[]),
            numa_topology=None,
        )

    def passing(self, states: list[Any], spec: Any) -> list[Any]:
        return list(self.filter_handler.get_filtered_objects(self.filters, states, spec) or [])

    def weighed(self, states: list[Any], spec: Any) -> list[Any]:
        weighed: list[Any] = self.weight_handler.get_weighed_objects(self.weighers, states, spec)
        return weighed

    def decide(self, states: list[Any], spec: Any) -> str | None:
        weighed = self.weighed(self.passing(states, spec), spec)
        return str(weighed[0].obj.host) if weighed else None


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
            "compute.nimbus.dev/disk-gb": str(host.disk_gb),
            "compute.nimbus.dev/hypervisor-version": str(host.hypervisor_version),
            "host-model-cpu.node.kubevirt.io/" + host.stats["cpu_model"]: "true",
            "kubernetes.io/arch": "amd64"}},
        "status": {"allocatable": {"devices.kubevirt.io/kvm": "1k"}},
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


def _serve(nodes: int, ready: Connection) -> None:
    """The extender over `nodes` nodes on a free port of 127.0.0.1, sent to `ready`; until
    terminated. In a process of its own, as it runs beside kube-scheduler."""

    async def serve() -> None:
        ext = extender.Extender(None, extender.Settings(None))
        extender.settle()  # as extender.serve does before its watches fill the inventory
        ext.inventory.replace_nodes(_node(h) for h in hosts_for(nodes))
        ext.inventory.warm()  # as the extender does once its listings are in
        runner = web.AppRunner(ext.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ready.send(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(serve())


async def round_trips(nodes: int, requests: int, in_flight: int) -> dict[str, list[float]]:
    """Seconds per POST /filter and /prioritize, as kube-scheduler makes them (prioritize
    asks about the nodes filter passed), with `in_flight` distinct pods decided at once. Each
    decision is assumed on its node, as a stream of servers being scheduled would be."""
    names = [h.name for h in hosts_for(nodes)]
    receiving, sending = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.Process(target=_serve, args=(nodes, sending), daemon=True)
    server.start()
    port = receiving.recv()
    times: dict[str, list[float]] = {"filter": [], "prioritize": []}
    queue = iter(range(requests))

    async def client(session: aiohttp.ClientSession) -> None:
        for i in queue:
            pod, asked = _pod(i), names
            for verb in ("filter", "prioritize"):
                body = json.dumps({"Pod": pod, "Nodes": None, "NodeNames": asked})
                started = time.perf_counter()
                async with session.post(f"http://127.0.0.1:{port}/{verb}", data=body) as answer:
                    result = await answer.read()
                    assert answer.status == 200
                times[verb].append(time.perf_counter() - started)
                if verb == "filter":
                    asked = json.loads(result)["NodeNames"]

    try:
        connector = aiohttp.TCPConnector(limit=in_flight)
        async with aiohttp.ClientSession(connector=connector) as session:
            await asyncio.gather(*(client(session) for _ in range(in_flight)))
    finally:
        server.terminate()
        server.join()
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", default="100,1000,10000")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--in-flight", default="1,10", help="requests at once, each figure")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    args = parser.parse_args(argv)

    nova = load_nova()
    if nova is None:
        print("nova is not installed (pip install -e '.[bench]'): Nimbus's figures only")
    counts = [int(c) for c in args.hosts.split(",")]
    every_host = {count: hosts_for(count) for count in counts}
    for shape_name in args.shapes.split(","):
        shape = SHAPES[shape_name]
        config = engine.Config(enabled_filters=shape.filters)
        if nova is not None:
            nova.configure(config)
        print(f"{shape_name}:", flush=True)
        ours_by_count, theirs_by_count = {}, {}
        for count in counts:
            hosts, spec = every_host[count], shape.request(count)
            run = partial(engine.schedule, hosts, spec, config)
            ours, decision = median_seconds(run, args.runs)
            assert isinstance(decision, engine.Decision)
            ours_by_count[count] = ours
            line = f"  {count:>6} hosts: nimbus {ours * 1000:8.2f} ms per decision"
            if nova is not None:
                fitting = set(decision.fit)  # placement's candidates: Nova filters only these
                states = nova.host_states([h for h in hosts if h.name in fitting])
                nova_spec = nova.request_spec(spec)
                theirs, chosen = median_seconds(partial(nova.decide, states, nova_spec), args.runs)
                theirs_by_count[count] = theirs
                ours_chose = decision.weighed[0][0] if decision.weighed else None
                same = "same host" if chosen == ours_chose else f"NOVA CHOSE {chosen}"
                line += f" | nova {theirs * 1000:8.2f} ms | ratio nova/nimbus {theirs / ours:6.1f}x"
                line += f" | {same}"
            print(line, flush=True)
        low, high = counts[0], counts[-1]
        grown = ours_by_count[high] / ours_by_count[low]
        growth = f"  growth {low} -> {high} hosts: nimbus x{grown:.1f}"
        if theirs_by_count:
            growth += f", nova x{theirs_by_count[high] / theirs_by_count[low]:.1f}"
        print(growth, f"(hosts x{high / low:.0f})", flush=True)

    for in_flight in (int(n) for n in args.in_flight.split(",")):
        times = asyncio.run(round_trips(1000, args.requests, in_flight))
        for verb, values in times.items():
            p50, p99 = percentile(values, 0.5) * 1000, percentile(values, 0.99) * 1000
            print(f"extender /{verb} at 1000 nodes, {in_flight} in flight: "
                  f"p50 {p50:.2f} ms, p99 {p99:.2f} ms ({len(values)} requests)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
