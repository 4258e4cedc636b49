"""The placement memo (placement/memo.py): engine.schedule's decision to the bit, whether the
hosts' verdicts are remembered, a few hosts put in their place, or the decision made whole; and
what it must not remember (a changed HostState, a server group, another kind of request)."""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import random
from typing import Any

import pytest

from nimbus.placement import engine, memo
from tests.unit import test_placement_parity as parity


def same(ours: engine.Decision, theirs: engine.Decision) -> None:
    """The same decision to the bit: the lists, the reasons in their order, each weight's repr
    (NaN and -0.0 included, which == does not tell)."""
    assert ours.fit == theirs.fit
    assert ours.passed == theirs.passed
    assert [n for n, _ in ours.weighed] == [n for n, _ in theirs.weighed]
    assert [repr(w) for _, w in ours.weighed] == [repr(w) for _, w in theirs.weighed]
    assert list(ours.reasons.items()) == list(theirs.reasons.items())


def both(
    remembered: memo.Memo,
    hosts: list[engine.HostState],
    spec: engine.RequestSpec,
    config: engine.Config,
) -> engine.Decision:
    decision = remembered.schedule(hosts, spec, config)
    same(decision, engine.schedule(hosts, spec, config))
    return decision


def host(name: str, **fields: Any) -> engine.HostState:
    return engine.HostState(name, **{"vcpus": 16, "memory_mb": 65536, "disk_gb": 500, **fields})


REQUEST = engine.RequestSpec(vcpus=2, memory_mb=4096, disk_gb=20)
CONFIG = engine.Config()


# -- Nova's cases ------------------------------------------------------------------------------


def _case(path: pathlib.Path) -> tuple[list[engine.HostState], engine.RequestSpec, engine.Config]:
    case = json.loads(path.read_text())
    if path in parity.CASES_34:
        hosts = [parity.host_34(h) for h in case["hosts"]]
        return hosts, parity.request_34(case["request"]), parity.config_34(case["config"])
    config = engine.Config(enabled_filters=tuple(case["config"]["filters"]),
                           **case["config"].get("options", {}))  # fmt: skip
    return [parity.host(h) for h in case["hosts"]], parity.request(case["request"]), config


@pytest.mark.parametrize(
    "path", parity.CASES + parity.CASES_34, ids=[p.stem for p in parity.CASES + parity.CASES_34]
)
def test_novas_cases_decide_the_same_remembered_or_not(path: pathlib.Path) -> None:
    hosts, spec, config = _case(path)
    remembered = memo.Memo()
    both(remembered, hosts, spec, config)  # judged
    both(remembered, hosts, spec, config)  # remembered
    for i in range(len(hosts)):  # one host changes at a time, as a placement changes it
        hosts[i] = dataclasses.replace(hosts[i], vcpus_used=hosts[i].vcpus_used + 1,
                                       num_io_ops=hosts[i].num_io_ops + 1)  # fmt: skip
        both(remembered, hosts, spec, config)


# -- random clouds -----------------------------------------------------------------------------


def _random_host(rng: random.Random, i: int) -> engine.HostState:
    vcpus, memory_mb, disk_gb = rng.choice(((32, 131072, 1000), (64, 262144, 2000),
                                            (16, 65536, 500), (4, 8192, 40)))  # fmt: skip
    aggregates: dict[str, dict[str, str]] = {}
    if rng.random() < 0.1:
        aggregates["weighted"] = {"ram_weight_multiplier": rng.choice(["2.0", "-1", "x"])}
    if rng.random() < 0.1:
        aggregates["fast"] = {"ssd": "true"}
    return engine.HostState(
        name=f"n{i:04d}", vcpus=vcpus, memory_mb=memory_mb, disk_gb=disk_gb,
        vcpus_used=rng.choice([0, rng.randint(0, vcpus * 4), rng.random() * vcpus]),
        memory_mb_used=rng.choice([0, rng.randint(0, memory_mb)]),
        disk_gb_used=rng.choice([0, rng.randint(0, disk_gb)]),
        num_instances=rng.randint(0, 5), num_io_ops=rng.randint(0, 9),
        instances=frozenset({f"demo/vm-{i}"}), availability_zone=rng.choice([None, "az1", "az2"]),
        disabled=rng.random() < 0.05, failed_builds=rng.choice([0, 0, 0, 1, 2]),
        aggregates=aggregates, hypervisor_version=rng.choice([None, 1, 2]),
        traits=frozenset(rng.sample(["T1", "T2"], rng.randint(0, 2))),
    )  # fmt: skip


def _changed(rng: random.Random, state: engine.HostState) -> engine.HostState:
    return dataclasses.replace(
        state,
        vcpus_used=state.vcpus_used + rng.choice([0, 1, 4, -1]),
        memory_mb_used=state.memory_mb_used + rng.choice([0, 2048, -2048, 8192]),
        num_io_ops=max(0, state.num_io_ops + rng.choice([0, 1, -1])),
        disabled=state.disabled if rng.random() < 0.95 else not state.disabled,
    )


SPECS = [
    REQUEST,
    engine.RequestSpec(vcpus=2, memory_mb=4096, disk_gb=20, availability_zone="az1"),
    engine.RequestSpec(vcpus=1, memory_mb=1024, disk_gb=10,
                       extra_specs={"trait:T1": "required",
                                    "aggregate_instance_extra_specs:ssd": "true"}),
    engine.RequestSpec(vcpus=8, memory_mb=16384, disk_gb=100,
                       hints={"same_host": ["demo/vm-1", "demo/vm-2"]}),
    engine.RequestSpec(vcpus=4, memory_mb=8192, disk_gb=40, server_group=engine.ServerGroup(
        "soft-anti-affinity", members=("demo/vm-1", "demo/vm-3"))),
]  # fmt: skip
CONFIGS = [
    CONFIG,
    engine.Config(num_instances_weight_multiplier=1.0, ram_weight_multiplier=-1.0),
    engine.Config(
        enabled_filters=(*CONFIG.enabled_filters, "AggregateInstanceExtraSpecsFilter",
                         "IoOpsFilter", "SameHostFilter"),
        build_failure_weight_multiplier=0.0,
    ),
]  # fmt: skip


@pytest.mark.parametrize("seed", range(40))
def test_random_clouds_decide_the_same_remembered_or_not(seed: int) -> None:
    """Hosts change (a few, many, or one made anew), the nodes asked about change, and
    requests and configurations of several kinds come in turn."""
    rng = random.Random(seed)
    count = rng.choice([1, 2, 3, 10, 50, 200])
    hosts = [_random_host(rng, i) for i in range(count)]
    remembered = memo.Memo(kinds=rng.choice([1, 2, 32]))
    for _ in range(40):
        if rng.random() < 0.6:
            for _ in range(rng.choice([1, 1, 1, 2, 3, 20])):
                i = rng.randrange(count)
                hosts[i] = _changed(rng, hosts[i])
        elif rng.random() < 0.25:
            i = rng.randrange(count)
            hosts[i] = _random_host(rng, i)
        asked = hosts
        if rng.random() < 0.15:
            asked = sorted(rng.sample(hosts, rng.randint(0, count)), key=lambda h: h.name)
        both(remembered, asked, rng.choice(SPECS), rng.choice(CONFIGS))


@pytest.mark.parametrize("seed", range(20))
def test_a_stream_of_placements_decides_the_same(seed: int) -> None:
    """As the extender sees it: hosts alike (ties everywhere), each decision's host taking the
    server, so that a few hosts change between two decisions of one kind."""
    rng = random.Random(seed)
    count = rng.choice([2, 5, 30, 300])
    kinds = [_random_host(rng, 0) for _ in range(rng.randint(1, 4))]
    hosts = [dataclasses.replace(rng.choice(kinds), name=f"n{i:04d}") for i in range(count)]
    spec = engine.RequestSpec(vcpus=rng.choice([1, 2, 4]), memory_mb=rng.choice([512, 8192]),
                              disk_gb=10)  # fmt: skip
    config = rng.choice([CONFIG, engine.Config(io_ops_weight_multiplier=0.0)])
    remembered = memo.Memo()
    for _ in range(100):
        decision = both(remembered, hosts, spec, config)
        if not decision.weighed:
            i = rng.randrange(count)
            hosts[i] = dataclasses.replace(hosts[i], memory_mb_used=0, vcpus_used=0)
            continue
        chosen = decision.weighed[0][0] if rng.random() < 0.9 else rng.choice(hosts).name
        i = next(i for i, h in enumerate(hosts) if h.name == chosen)
        hosts[i] = dataclasses.replace(
            hosts[i], vcpus_used=hosts[i].vcpus_used + spec.vcpus,
            memory_mb_used=hosts[i].memory_mb_used + spec.memory_mb * rng.choice([1, 1, -1]),
            num_io_ops=hosts[i].num_io_ops + rng.choice([1, 0, -1]),
            num_instances=hosts[i].num_instances + 1,
        )  # fmt: skip


def test_values_that_are_not_numbers_decide_the_same() -> None:
    """An infinite allocation ratio, an aggregate's NaN multiplier and a NaN among the raw
    values (not a HostState the inventory makes, but one a caller could)."""
    hosts = [
        host("n1", cpu_allocation_ratio=math.inf),
        host("n2", aggregates={"a": {"ram_weight_multiplier": "nan"}}),
        host("n3", failed_builds=math.nan),
        host("n4", memory_mb_used=4096),
        host("n5"),
    ]
    remembered = memo.Memo()
    for i in [0, 1, 2, 3, 4, 3, 0]:
        both(remembered, hosts, REQUEST, CONFIG)
        hosts[i] = dataclasses.replace(hosts[i], vcpus_used=hosts[i].vcpus_used + 2)
        both(remembered, hosts, REQUEST, CONFIG)


# -- what is remembered, and what is not -------------------------------------------------------


def test_a_changed_host_is_judged_again() -> None:
    hosts = [host("n1"), host("n2")]
    remembered = memo.Memo()
    assert both(remembered, hosts, REQUEST, CONFIG).passed == ["n1", "n2"]
    hosts[0] = dataclasses.replace(hosts[0], memory_mb_used=65536)  # a new HostState: full
    decision = both(remembered, hosts, REQUEST, CONFIG)
    assert decision.passed == ["n2"]
    assert decision.reasons == {"n1": "RamFilter: 0 MB free < 4096 MB requested"}
    hosts[0] = dataclasses.replace(hosts[0], memory_mb_used=0, disabled=True)
    assert both(remembered, hosts, REQUEST, CONFIG).reasons == {
        "n1": "ComputeFilter: the host's compute service is disabled"
    }


def test_a_few_changed_hosts_are_put_in_their_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """Between two decisions of a kind, the host that took the last server changed: the next
    decision is the last one changed there, not one made whole."""
    hosts = [host(f"n{i}", memory_mb_used=1024 * (i % 7)) for i in range(100)]
    remembered = memo.Memo()
    both(remembered, hosts, REQUEST, CONFIG)
    made_whole = []
    whole = memo._Kind._whole

    def counted(kind: memo._Kind, states: list[engine.HostState]) -> memo._Board:
        made_whole.append(len(states))
        return whole(kind, states)

    monkeypatch.setattr(memo._Kind, "_whole", counted)
    for _ in range(10):
        chosen = int(remembered.schedule(hosts, REQUEST, CONFIG).weighed[0][0][1:])
        hosts[chosen] = dataclasses.replace(hosts[chosen], memory_mb_used=4096)
        both(remembered, hosts, REQUEST, CONFIG)
    assert made_whole == []


def test_a_request_with_a_server_group_is_decided_afresh() -> None:
    """Its members and their hosts change with every placement: nothing of it is kept."""
    group = engine.ServerGroup("anti-affinity", hosts=("n1",), members=("demo/a",))
    spec = dataclasses.replace(REQUEST, server_group=group)
    assert memo.signature(spec, CONFIG) is None
    remembered = memo.Memo()
    hosts = [host("n1", instances=frozenset({"demo/a"})), host("n2")]
    assert both(remembered, hosts, spec, CONFIG).passed == ["n2"]
    moved = dataclasses.replace(spec, server_group=dataclasses.replace(group, hosts=("n2",)))
    hosts = [host("n1"), host("n2", instances=frozenset({"demo/a"}))]
    assert both(remembered, hosts, moved, CONFIG).passed == ["n1"]
    assert remembered._kinds == {}


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (REQUEST, dataclasses.replace(REQUEST, vcpus=2.0)),  # type: ignore[arg-type]  # "2.0 vCPUs"
        (REQUEST, dataclasses.replace(REQUEST, availability_zone="az1")),
        (REQUEST, dataclasses.replace(REQUEST, project_id="p2")),
        (REQUEST, dataclasses.replace(REQUEST, image="cirros")),
        (REQUEST, dataclasses.replace(REQUEST, hints={"same_host": ["demo/a"]})),
        (dataclasses.replace(REQUEST, hints={"same_host": ["demo/a"]}),
         dataclasses.replace(REQUEST, hints={"same_host": ["demo/b"]})),
        (dataclasses.replace(REQUEST, hints={"cidr": 24}),
         dataclasses.replace(REQUEST, hints={"cidr": 24.0})),
        # ComputeCapabilitiesFilter says which extra spec failed first: their order counts.
        (dataclasses.replace(REQUEST, extra_specs={"a": "1", "b": "2"}),
         dataclasses.replace(REQUEST, extra_specs={"b": "2", "a": "1"})),
        (dataclasses.replace(REQUEST, image_properties={"hw_architecture": "x86_64"}),
         dataclasses.replace(REQUEST, image_properties={"hw_architecture": "aarch64"})),
    ],
)  # fmt: skip
def test_requests_of_other_kinds_are_told_apart(
    one: engine.RequestSpec, other: engine.RequestSpec
) -> None:
    assert memo.signature(one, CONFIG) != memo.signature(other, CONFIG)
    assert memo.signature(one, CONFIG) == memo.signature(dataclasses.replace(one), CONFIG)
    config = dataclasses.replace(CONFIG, ram_weight_multiplier=2.0)
    assert memo.signature(one, CONFIG) != memo.signature(one, config)


def test_the_kind_asked_least_recently_is_forgotten_first() -> None:
    remembered = memo.Memo(kinds=2)
    hosts = [host("n1")]
    specs = [dataclasses.replace(REQUEST, vcpus=v) for v in (1, 2, 3)]
    for spec in (specs[0], specs[1], specs[0], specs[2]):
        both(remembered, hosts, spec, CONFIG)
    assert set(remembered._kinds) == {memo.signature(s, CONFIG) for s in (specs[0], specs[2])}
