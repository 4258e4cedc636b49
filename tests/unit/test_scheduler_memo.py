"""The extender decides as fast as kube-scheduler asks, and as before: an inventory that keeps
each kind of request's verdicts (placement/memo.py) decides as one that decides afresh, through
nodes and pods that come and go, assumptions, restarts and server groups; prioritize's scores
are the formula's; the answers are what json.dumps would write; assumptions still end on time."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable
from typing import Any

import pytest

from nimbus.compute import scheduling
from nimbus.placement import engine, hosts, memo
from nimbus.scheduler import extender, inventory
from tests.unit.test_placement_memo import same
from tests.unit.test_scheduler import CONFIG, node


def server_pod(name: str, vcpus: int = 2, memory_mb: int = 4096, node_name: str | None = None,
               phase: str = "Pending", uid: str | None = None, group: str | None = None,
               zone: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A Server's pod as placement reads it: its flavor in labels, its zone in its selector."""
    labels = {
        "app.kubernetes.io/managed-by": "nimbus", scheduling.SERVER: name,
        scheduling.VCPUS: str(vcpus), scheduling.MEMORY_MB: str(memory_mb),
        scheduling.DISK_GB: "20",
    }  # fmt: skip
    if group is not None:
        labels[scheduling.SERVER_GROUP] = group
    spec: dict[str, Any] = {"schedulerName": "nimbus-scheduler"}
    if zone is not None:
        spec["nodeSelector"] = {hosts.ZONE: zone}
    if node_name is not None:
        spec["nodeName"] = node_name
    return {
        "metadata": {"name": f"virt-launcher-{name}", "namespace": "demo",
                     "uid": uid or f"uid-{name}", "labels": labels, "annotations": {}},
        "spec": spec,
        "status": {"phase": phase},
    }  # fmt: skip


class Afresh(memo.Memo):
    """engine.schedule each time: the inventory as it decided before the memo."""

    def schedule(
        self, hosts: Iterable[engine.HostState], spec: engine.RequestSpec, config: engine.Config
    ) -> engine.Decision:
        return engine.schedule(hosts, spec, config)


def twins(clock: list[float]) -> tuple[inventory.Inventory, inventory.Inventory]:
    kept = inventory.Inventory(clock=lambda: clock[0])
    afresh = inventory.Inventory(clock=lambda: clock[0])
    afresh._memo = Afresh()
    return kept, afresh


def same_verdict(ours: inventory.Verdict, theirs: inventory.Verdict) -> None:
    assert (ours.passed, ours.failed, ours.unresolvable) == (
        theirs.passed, theirs.failed, theirs.unresolvable,
    )  # fmt: skip
    assert (ours.decision is None) == (theirs.decision is None)
    if ours.decision is not None and theirs.decision is not None:
        same(ours.decision, theirs.decision)


@pytest.mark.parametrize("seed", range(15))
def test_keeping_verdicts_decides_as_deciding_afresh(seed: int) -> None:
    rng = random.Random(seed)
    clock = [0.0]
    inventories = twins(clock)
    names = [f"n{i:02d}" for i in range(rng.choice([3, 12, 40]))]
    flavors = [(2, 4096), (4, 8192), (16, 65536)]
    group = {"metadata": {"namespace": "demo", "name": "g"},
             "spec": {"policy": rng.choice(["anti-affinity", "soft-affinity"])}}  # fmt: skip

    def each(call: str, *args: Any) -> list[Any]:
        return [getattr(inv, call)(*args) for inv in inventories]

    def a_node(name: str) -> dict[str, Any]:
        labels = {"compute.nimbus.dev/disabled": "true"} if rng.random() < 0.05 else {}
        return node(name, zone=rng.choice(["zone-a", "zone-b"]),
                    memory_mb=rng.choice([16384, 65536]), labels=labels)  # fmt: skip

    each("replace_nodes", [a_node(n) for n in names])
    each("group_event", "ADDED", group)
    for step in range(120):
        roll = rng.random()
        if roll < 0.05:
            each("node_event", "MODIFIED", a_node(rng.choice(names)))
        elif roll < 0.08:
            each("node_event", "DELETED", {"metadata": {"name": rng.choice(names)}})
        elif roll < 0.2:  # a server's pod bound, running, or gone
            vcpus, memory_mb = rng.choice(flavors)
            phase = rng.choice(["Running", "Pending"])
            placed = server_pod(f"old-{rng.randrange(20)}", vcpus, memory_mb,
                                node_name=rng.choice(names), phase=phase,
                                group="g" if rng.random() < 0.3 else None)  # fmt: skip
            each("pod_event", rng.choice(["ADDED", "MODIFIED", "DELETED"]), placed)
        elif roll < 0.25:
            clock[0] += rng.choice([1.0, inventory.CYCLE_SECONDS + 1, inventory.ASSUME_SECONDS + 1])
        else:  # a scheduling cycle: filter, then prioritize over the nodes that passed
            vcpus, memory_mb = rng.choice(flavors)
            name = f"new-{step}" if rng.random() < 0.8 else f"old-{rng.randrange(20)}"  # restart
            pod = server_pod(name, vcpus, memory_mb, uid=f"uid-{step}",
                             group="g" if rng.random() < 0.2 else None,
                             zone=rng.choice([None, None, "zone-a"]))  # fmt: skip
            asked = names if rng.random() < 0.8 else rng.sample(names, len(names) // 2)
            ours, theirs = each("filter", pod, asked + ["unknown"] * (rng.random() < 0.1), CONFIG)
            same_verdict(ours, theirs)
            if rng.random() < 0.9:
                kept, fresh = each("prioritize", pod, ours.passed, CONFIG)
                assert kept == fresh


def test_a_pod_or_a_node_that_changed_is_seen_by_the_next_request_of_its_kind() -> None:
    inv = inventory.Inventory()
    inv.replace_nodes([node("n1", memory_mb=8192), node("n2")])
    assert inv.filter(server_pod("a"), ["n1", "n2"], CONFIG).passed == ["n2", "n1"]
    inv.pod_event("ADDED", server_pod("big", 2, 6144, node_name="n1", phase="Running"))
    verdict = inv.filter(server_pod("b"), ["n1", "n2"], CONFIG)  # n2 alone: assumed there
    assert verdict.failed == {"n1": "RamFilter: 1536 MB free < 4096 MB requested"}
    inv.node_event("MODIFIED", node("n2", labels={"compute.nimbus.dev/disabled": "true"}))
    verdict = inv.filter(server_pod("c"), ["n1", "n2"], CONFIG)
    assert verdict.passed == []
    assert verdict.unresolvable == {"n2": "ComputeFilter: the host's compute service is disabled"}
    inv.pod_event("DELETED", server_pod("big", node_name="n1"))
    assert inv.filter(server_pod("d"), ["n1", "n2"], CONFIG).passed == ["n1"]


def test_prioritize_takes_its_filters_decision_though_filters_left_nodes_out() -> None:
    """In one scheduling cycle, prioritize asks about the nodes filter passed (not those that
    fit): it gets the decision filter made, though a pod bound since changed the nodes."""
    inv = inventory.Inventory()
    disabled = {"compute.nimbus.dev/disabled": "true"}
    inv.replace_nodes([node("n1", labels=disabled), node("n2", memory_mb=131072), node("n3")])
    pod = server_pod("a")
    verdict = inv.filter(pod, ["n1", "n2", "n3"], CONFIG)
    assert verdict.passed == ["n2", "n3"]
    inv.pod_event("ADDED", server_pod("big", 2, 120000, node_name="n2", phase="Running"))
    assert dict(inv.prioritize(pod, verdict.passed, CONFIG)) == {"n2": 10, "n3": 0}
    assert inv.filter(server_pod("b"), ["n1", "n2", "n3"], CONFIG).passed == ["n3", "n2"]


def test_each_member_of_a_group_sees_those_placed_before_it() -> None:
    inv = inventory.Inventory()
    inv.replace_nodes([node(f"n{i}") for i in range(1, 4)])
    inv.group_event("ADDED", {"metadata": {"namespace": "demo", "name": "g"},
                              "spec": {"policy": "anti-affinity"}})  # fmt: skip
    chosen: list[str] = []
    for name in ("a", "b", "c"):
        pod = server_pod(name, group="g")
        passed = inv.filter(pod, ["n1", "n2", "n3"], CONFIG).passed
        assert not set(passed) & set(chosen)
        best = max(inv.prioritize(pod, passed, CONFIG), key=lambda score: score[1])[0]
        inv.pod_event("MODIFIED", server_pod(name, group="g", node_name=best))
        chosen.append(best)
    assert sorted(chosen) == ["n1", "n2", "n3"]
    assert inv.filter(server_pod("d", group="g"), ["n1", "n2", "n3"], CONFIG).passed == []


def test_assumptions_end_on_time_when_others_were_bound_before() -> None:
    clock = [0.0]
    inv = inventory.Inventory(clock=lambda: clock[0])
    inv.replace_nodes([node("n1", memory_mb=8192), node("n2", memory_mb=8192)])
    first, second = server_pod("a", 2, 6144), server_pod("b", 2, 6144)
    assert dict(inv.prioritize(first, ["n1", "n2"], CONFIG))["n1"] == 10  # assumed on n1
    clock[0] = 10.0
    assert dict(inv.prioritize(second, ["n1", "n2"], CONFIG))["n2"] == 10  # assumed on n2
    inv.pod_event("MODIFIED", server_pod("a", 2, 6144, node_name="n1"))  # bound: no longer assumed
    third = server_pod("c", 2, 6144)
    clock[0] = inventory.ASSUME_SECONDS + 5  # past the first's end, not the second's
    assert inv.filter(third, ["n1", "n2"], CONFIG).passed == []
    clock[0] = 10.0 + inventory.ASSUME_SECONDS + 1  # the second's assumption ended
    assert inv.filter(third, ["n1", "n2"], CONFIG).passed == ["n2"]


def test_the_nodes_host_states_are_made_before_the_first_request() -> None:
    inv = inventory.Inventory()
    inv.replace_nodes([node("n1"), node("n2")])
    assert inv._hosts == {}
    inv.warm()
    assert set(inv._hosts) == {"n1", "n2"}


def _scores(names: list[str], weighed: list[tuple[str, float]]) -> dict[str, int]:
    """prioritize's scores as it worked them out, one node at a time."""
    scores = dict.fromkeys(names, 0)
    if weighed:
        weights = [w for _, w in weighed]
        low, high = min(weights), max(weights)
        for name, weight in weighed[1:]:
            scores[name] = int(9 * (weight - low) / (high - low)) if high > low else 0
        scores[weighed[0][0]] = 10
    return scores


@pytest.mark.parametrize("seed", range(30))
def test_scores_are_the_formulas(seed: int) -> None:
    """Best first and finite, as decisions are (scores found by bisection), or anything else
    (scores worked out one at a time): the same scores, the same errors."""
    rng = random.Random(seed)
    for _ in range(100):
        count = rng.choice([0, 1, 2, 3, 10, 200])
        names = [f"n{i}" for i in range(count)]
        values = rng.choice([
            [0.0, 1.0, 2.5, -1.0, 1e-9], [rng.uniform(-5, 5)], [1.0, 1.0 + 1e-15, 1.5],
            [1e300, -1e300, 0.0], [math.nan, math.inf, -math.inf, 1.0], [-0.0, 0.0, 1.0],
        ])  # fmt: skip
        weights = [rng.choice(values) * rng.choice([1.0, 1.0, rng.random()]) for _ in names]
        asked = rng.sample(names, rng.randint(0, count)) if rng.random() < 0.2 else names
        order = sorted(range(len(asked)), key=weights.__getitem__, reverse=True)
        if rng.random() < 0.05:
            rng.shuffle(order)
        weighed = [(asked[i], weights[i]) for i in order]
        try:
            expected: Any = list(_scores(names, weighed).items())
        except (ValueError, OverflowError) as error:
            expected = type(error)
        try:
            got: Any = list(inventory._scores(names, weighed).items())
        except (ValueError, OverflowError) as error:
            got = type(error)
        assert got == expected


@pytest.mark.parametrize(
    "names", [["n1", "n2"], [], ['we"ird\\node', "n\u00e9\n", "\U0001f600"], ["n1"] * 2]
)
def test_answers_are_what_json_dumps_writes(names: list[str]) -> None:
    writer = extender.Writer()
    for _ in range(2):  # the names written, then kept
        result = {"NodeNames": names, "Nodes": None, "FailedNodes": {"x": 'a "reason"'},
                  "FailedAndUnresolvableNodes": {}, "Error": ""}  # fmt: skip
        assert json.loads(writer.filter_result(result)) == result
        whole = {**result, "NodeNames": None, "Nodes": {"items": [{"metadata": {"name": "x"}}]}}
        assert json.loads(writer.filter_result(whole)) == whole
        for scores in ({n: i % 11 for i, n in enumerate(names)}, dict.fromkeys(names, 12)):
            expected = [{"Host": host, "Score": score} for host, score in scores.items()]
            assert json.loads(writer.priorities(scores)) == expected
