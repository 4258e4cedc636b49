"""Nova 34 itself as the oracle: random hosts (Nova's whole host model) and random requests,
decided by Nova's own HostFilterHandler and HostWeightHandler and by Nimbus's engine, compared
step by step. Needs the `bench` extra (`make bench-nova`, or any venv with `nova==34.0.0` and
this package); the unit tests never import Nova.

    python bench/placement_oracle.py [--cases 500] [--seed 1]

Each case: placement's candidates are ours (Nova's are an SQL query in another service; the
parity cases check ours against Nova's own); then, over those, each enabled filter alone (the
hosts it rejects), all of them together (the passing hosts), each weigher (raw values after its
minval, normalised values, multipliers), the final weights (1e-6) and order, the selected host.
A case agrees when every step does. Prints the count, and the first disagreements in full.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from typing import Any

import placement as bench  # bench/placement.py, beside this script: its Nova adapter

from nimbus.placement import engine, filters, weighers

ALL_FILTERS = (
    "ComputeFilter", "ComputeCapabilitiesFilter", "ImagePropertiesFilter",
    "ServerGroupAntiAffinityFilter", "ServerGroupAffinityFilter",
    "AggregateInstanceExtraSpecsFilter", "NumInstancesFilter", "IoOpsFilter", "JsonFilter",
    "SameHostFilter", "DifferentHostFilter", "AggregateMultiTenancyIsolation",
)  # fmt: skip
# The weighers Nova has that weigh every host the same here (the parity test says why).
CONSTANT_WEIGHERS = {"CrossCellWeigher", "MetricsWeigher", "ImagePropertiesWeigher"}
AGGREGATES: tuple[tuple[str, dict[str, str]], ...] = (
    ("ssd", {"ssd": "true"}),
    ("hdd", {"ssd": "false"}),
    ("fast", {"ssd": "true,nvme", "tier": "gold"}),
    ("highmem", {"ram_weight_multiplier": "2.0", "tier": "gold"}),
    ("stack", {"cpu_weight_multiplier": "-1.0"}),
    ("odd", {"io_ops_weight_multiplier": "not-a-number"}),
    ("tenant", {"filter_tenant_id": "p2"}),
)
CPU_MODELS = ("icelake", "skylake", "sapphirerapids")
EXTRA_SPECS: tuple[dict[str, str], ...] = (
    {}, {}, {},
    {"aggregate_instance_extra_specs:ssd": "true"},
    {"aggregate_instance_extra_specs:tier": "gold"},
    {"ssd": "true"},  # unscoped: the aggregates' key; no HostState attribute nor stats key
    {"capabilities:cpu_model": "icelake"},
    {"cpu_model": "<in> sky"},
    {"capabilities:hypervisor_version": ">= 9000000"},
    {"hypervisor_type": "s== QEMU"},
    {"free_ram_mb": ">= 16384"},
    {"capabilities:nodename": "<or> host-001 <or> host-003"},
    {"capabilities:stats:cpu_model": "skylake"},
    {"hw:cpu_policy": "shared"},
    {"capabilities:ssd": "true"},
    {"num_instances": "<= 10"},
)  # fmt: skip
IMAGES: tuple[dict[str, str], ...] = (
    {}, {}, {"hw_architecture": "x86_64"}, {"hw_architecture": "aarch64"},
    {"img_hv_type": "kvm"}, {"img_hv_type": "qemu", "hw_vm_mode": "hvm"},
    {"hw_architecture": "x86_64", "img_hv_requested_version": ">=9.0"},
    {"img_hv_type": "qemu", "img_hv_requested_version": ">= 8.0, < 10"},
    {"img_hv_requested_version": "==10"},
)  # fmt: skip
QUERIES: tuple[Any, ...] = (
    None, None, None,
    [">=", "$free_ram_mb", 16384],
    ["=", "$stats.cpu_model", "icelake"],
    ["and", ["<", "$num_io_ops", 5], [">=", "$hypervisor_version", 9000000]],
    ["in", "$nodename", "host-001", "host-003", "host-005"],
    ["or", ["not", ["=", "$host", "host-000"]], [">", "$vcpus_total", 32]],
    [">", "$free_disk_mb", 100000, 200000],
)  # fmt: skip


def random_hosts(rng: random.Random, count: int) -> list[engine.HostState]:
    hosts = []
    for i in range(count):
        vcpus, memory_mb, disk_gb = rng.choice(((16, 65536, 500), (48, 262144, 1000),
                                                 (64, 524288, 2000)))  # fmt: skip
        instances = rng.randint(0, 12)
        memory_used = rng.randint(0, int(memory_mb * 1.3))  # some hosts overcommitted
        aggregates = dict(rng.sample(AGGREGATES, rng.randint(0, 2)))
        hosts.append(engine.HostState(
            name=f"host-{i:03d}", vcpus=vcpus, memory_mb=memory_mb, disk_gb=disk_gb,
            vcpus_used=rng.randint(0, vcpus * 3), memory_mb_used=memory_used,
            disk_gb_used=rng.randint(0, disk_gb - 20),
            cpu_allocation_ratio=rng.choice((16.0, 4.0, 1.0)),
            ram_allocation_ratio=rng.choice((1.0, 1.5)),
            num_instances=rng.choice((instances, rng.randint(0, 40))),
            num_io_ops=rng.randint(0, 7),
            instances=frozenset(f"i-{i:03d}-{j}" for j in range(instances)),
            availability_zone=rng.choice(("az1", "az2")),
            disabled=rng.random() < 0.05, forced_down=rng.random() < 0.03,
            heartbeat_age_s=rng.choice((5,) * 8 + (30, 120, 300)),
            aggregates=aggregates, failed_builds=rng.choice((0, 0, 0, 1, 3)),
            host_ip=f"10.0.0.{i}",
            supported_instances=rng.choice((
                (("x86_64", "qemu", "hvm"),), (("x86_64", "kvm", "hvm"), ("x86_64", "qemu", "hvm")),
                (("x86_64", "kvm", "hvm"), ("x86_64", "qemu", "hvm")),
                (("aarch64", "qemu", "hvm"),))),
            hypervisor_version=rng.choice((None, 8000000, 9000000, 10000000)),
            stats=rng.choice(({}, {"cpu_model": rng.choice(CPU_MODELS)},
                              {"cpu_model": rng.choice(CPU_MODELS), "ssd": "true"})),
        ))  # fmt: skip
    return hosts


def random_request(rng: random.Random, hosts: list[engine.HostState]) -> engine.RequestSpec:
    everyone = sorted(i for h in hosts for i in h.instances)
    hints: dict[str, Any] = {}
    if everyone and rng.random() < 0.15:
        hints["same_host"] = rng.sample(everyone, min(len(everyone), rng.randint(1, 3)))
    if everyone and rng.random() < 0.15:
        hints["different_host"] = rng.sample(everyone, min(len(everyone), rng.randint(1, 3)))
    query = rng.choice(QUERIES)
    if query is not None:
        hints["query"] = json.dumps(query)
    group = None
    policy = rng.choice((None, None, "anti-affinity", "affinity", "soft-affinity",
                         "soft-anti-affinity"))  # fmt: skip
    if policy and everyone:
        members = rng.sample(everyone, min(len(everyone), rng.randint(1, 12)))
        on = sorted({h.name for h in hosts if h.instances & set(members)})
        rules = {"max_server_per_host": rng.choice((1, 2))} if policy == "anti-affinity" else {}
        group = engine.ServerGroup(policy, hosts=tuple(on), members=tuple(members), rules=rules)
    return engine.RequestSpec(
        vcpus=rng.choice((1, 2, 4, 8)), memory_mb=rng.choice((512, 2048, 8192, 32768)),
        disk_gb=rng.choice((10, 20, 80)), extra_specs=dict(rng.choice(EXTRA_SPECS)),
        image_properties=dict(rng.choice(IMAGES)), hints=hints,
        availability_zone=rng.choice((None, None, "az1")),
        project_id=rng.choice(("p1", "p2")), server_group=group,
    )  # fmt: skip


def random_config(rng: random.Random) -> engine.Config:
    return engine.Config(
        enabled_filters=tuple(f for f in ALL_FILTERS if rng.random() < 0.6),
        ram_weight_multiplier=rng.choice((1.0, -1.0, 2.0)),
        cpu_weight_multiplier=rng.choice((1.0, 0.0, -1.0)),
        disk_weight_multiplier=rng.choice((1.0, 0.5)),
        io_ops_weight_multiplier=rng.choice((-1.0, 0.0, 1.0)),
        num_instances_weight_multiplier=rng.choice((0.0, -1.0, 1.0)),
        soft_affinity_weight_multiplier=rng.choice((1.0, 2.0)),
        soft_anti_affinity_weight_multiplier=rng.choice((1.0, 3.0)),
        build_failure_weight_multiplier=rng.choice((1000000.0, 0.0, 10.0)),
        hypervisor_version_weight_multiplier=rng.choice((1.0, 0.0, -1.0)),
        max_io_ops_per_host=rng.choice((8, 6)),
        max_instances_per_host=rng.choice((50, 30)),
        service_down_time=rng.choice((60, 200)),
    )  # fmt: skip


def _apart(ours: list[float], theirs: list[float]) -> bool:
    return any(abs(a - b) > 1e-6 for a, b in zip(ours, theirs, strict=True))


def compare_weighers(
    nova: bench.Nova, candidates: list[engine.HostState], passing: list[Any],
    spec: engine.RequestSpec, nova_spec: Any, config: engine.Config,
) -> list[str]:  # fmt: skip
    """Each of Nova's weighers against the engine's column: raw values (after minval),
    normalised values (by nova.weights.normalize), multipliers."""
    from nova import weights as nova_weights
    from nova.scheduler import weights

    differences = []
    columns = {c.weigher: c for c in weighers.weigh(candidates, spec, config)}
    for weigher in nova.weighers:
        name = type(weigher).__name__
        objs = [weights.WeighedHost(s, 0.0) for s in passing]
        raw = weigher.weigh_objects(objs, nova_spec)
        normalized = [float(v) for v in nova_weights.normalize(raw, weigher.minval, weigher.maxval)]
        if name in CONSTANT_WEIGHERS:
            if any(normalized):
                differences.append(f"{name}: nova weighs hosts apart: {raw}")
            continue
        column = columns[name]
        if _apart(column.raw, raw):
            differences.append(f"{name} raw: nova {raw}, nimbus {column.raw}")
        if _apart(column.normalized, normalized):
            differences.append(f"{name} normalised: nova {normalized}, nimbus {column.normalized}")
        factors = [weigher.weight_multiplier(s) for s in passing]
        if any(normalized) and factors != column.multipliers:
            differences.append(f"{name} multipliers: nova {factors}, nimbus {column.multipliers}")
    return differences


def compare(
    nova: bench.Nova, hosts: list[engine.HostState], spec: engine.RequestSpec,
    config: engine.Config,
) -> list[str]:  # fmt: skip
    """The steps where Nova and the engine differ (none: they agree)."""
    differences = []
    decision = engine.schedule(hosts, spec, config)
    fitting = [h for h in hosts if h.name in set(decision.fit)]
    nova.configure(config)
    states = nova.host_states(fitting)
    nova_spec = nova.request_spec(spec)
    for nova_filter in nova.filters:
        name = type(nova_filter).__name__
        kept = {s.host for s in nova_filter.filter_all(states, nova_spec)}
        theirs = sorted(s.host for s in states if s.host not in kept)
        ours = sorted(h.name for h in fitting if filters.check(name, h, spec, config) is not None)
        if ours != theirs:
            differences.append(f"{name} rejects: nova {theirs}, nimbus {ours}")
    passing = nova.passing(states, nova_spec)
    passed = sorted(s.host for s in passing)
    if passed != decision.passed:
        differences.append(f"passing: nova {passed}, nimbus {decision.passed}")
        return differences
    candidates = [h for h in fitting if h.name in set(decision.passed)]
    if len(candidates) > 1:
        differences += compare_weighers(nova, candidates, passing, spec, nova_spec, config)
    weighed = [(w.obj.host, w.weight) for w in nova.weighed(passing, nova_spec)]
    if [n for n, _ in weighed] != [n for n, _ in decision.weighed]:
        differences.append(f"order: nova {weighed}, nimbus {decision.weighed}")
    elif _apart([w for _, w in weighed], [w for _, w in decision.weighed]):
        differences.append(f"weights: nova {weighed}, nimbus {decision.weighed}")
    return differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show", type=int, default=3, help="disagreements printed in full")
    args = parser.parse_args(argv)
    nova = bench.load_nova()
    if nova is None:
        print("nova is not installed (pip install -e '.[bench]'): no oracle")
        return 2
    logging.getLogger("nova").setLevel(logging.ERROR)  # its warnings about down hosts
    agreed, shown, weighed, rejected = 0, 0, 0, 0
    for case in range(args.cases):
        rng = random.Random(args.seed * 1000003 + case)
        hosts = random_hosts(rng, rng.randint(2, 30))
        spec, config = random_request(rng, hosts), random_config(rng)
        differences = compare(nova, hosts, spec, config)
        decision = engine.schedule(hosts, spec, config)
        weighed += len(decision.weighed) > 1
        rejected += len(decision.passed) < len(decision.fit)
        if not differences:
            agreed += 1
        elif shown < args.show:
            shown += 1
            print(f"case {case} (seed {args.seed}): {spec}\n  {config}")
            for difference in differences:
                print(f"  {difference}")
    print(f"{agreed} of {args.cases} random cases agreed with Nova 34 at every step "
          f"(filters alone, passing hosts, each weigher, weights and order); in {rejected} a "
          f"filter left a candidate out, in {weighed} two hosts or more were weighed")  # fmt: skip
    return 0 if agreed == args.cases else 1


if __name__ == "__main__":
    sys.exit(main())
