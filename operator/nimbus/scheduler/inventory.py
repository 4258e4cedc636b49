"""The extender's picture of the cloud: nodes, the Servers' pods placed on them, server groups,
and the decisions made but not yet bound. Fed by watches (extender.py); pure otherwise, so
decisions are table-tested without an API server.

Each node's HostState is built once and kept until the node or a pod on it changes: a decision
over a thousand nodes reads a thousand cached HostStates, and what each kind of request found of
each of them (placement/memo.py): a decision costs what changed since the last one of its kind.

Between a decision and the binding the watch reports, the pod is *assumed* on the node the
extender chose, as kube-scheduler assumes its own decisions: the next pod, decided a moment
later, already sees it there. An assumption ends when the pod's binding (or deletion) arrives,
or after ASSUME_SECONDS.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
import operator
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from nimbus.placement import engine, hosts, memo
from nimbus.scheduler import request

ASSUME_SECONDS = 30.0
# How long prioritize may reuse the decision its pod's filter made (one scheduling cycle).
CYCLE_SECONDS = 5.0

# Reasons that other servers' coming and going can change: kube-scheduler may retry them
# (FailedNodes). The rest hold until the node or the flavor changes (FailedAndUnresolvable).
_RESOLVABLE = (
    "CoreFilter", "RamFilter", "DiskFilter", "ServerGroupAntiAffinityFilter",
    "ServerGroupAffinityFilter", "NumInstancesFilter", "IoOpsFilter", "SameHostFilter",
    "DifferentHostFilter", "PciPassthroughFilter", "UnknownNode",
)  # fmt: skip

# The fit checks, in the order engine.fit makes them, as Nova names them in its logs.
_FIT_STAGES = ("CoreFilter", "RamFilter", "DiskFilter", "TraitFilter", "AvailabilityZoneFilter")


@dataclasses.dataclass(frozen=True)
class _Pod:
    node: str
    placed: hosts.Placed
    group: tuple[str, str] | None


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A filter call's answer: the nodes that pass, and why each other one does not."""

    passed: list[str]
    failed: dict[str, str]  # kube-scheduler may retry these (FailedNodes)
    unresolvable: dict[str, str]  # FailedAndUnresolvableNodes
    decision: engine.Decision | None  # None for pods placement does not serve


def _slim_node(node: Mapping[str, Any]) -> dict[str, Any]:
    metadata = node.get("metadata") or {}
    status = node.get("status") or {}
    return {
        "metadata": {"name": metadata.get("name"), "labels": dict(metadata.get("labels") or {})},
        "spec": {"unschedulable": bool((node.get("spec") or {}).get("unschedulable"))},
        "status": {
            "allocatable": dict(status.get("allocatable") or {}),
            "addresses": list(status.get("addresses") or []),
            # Ready's status only: the rest of a condition changes without a new decision.
            "conditions": [
                {"type": "Ready", "status": c.get("status")}
                for c in status.get("conditions") or []
                if c.get("type") == "Ready"
            ],
        },
    }


def filter_results(hosts_count: int, decision: engine.Decision, config: engine.Config) -> list[str]:
    """Nova's log of a request that no host passed: each filter with the hosts it started and
    ended with, e.g. `RamFilter: (start: 3, end: 0)`."""
    left, out = hosts_count, []
    removed_by: dict[str, int] = {}
    for reason in decision.reasons.values():
        stage = reason.split(":", 1)[0]
        removed_by[stage] = removed_by.get(stage, 0) + 1
    for stage in (*_FIT_STAGES, *config.enabled_filters):
        removed = removed_by.get(stage, 0)
        if removed or stage in config.enabled_filters:
            out.append(f"{stage}: (start: {left}, end: {left - removed})")
            left -= removed
        if left == 0:
            break
    return out


class Inventory:
    def __init__(
        self,
        defaults: hosts.Defaults | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.defaults = defaults or hosts.Defaults()
        self.clock = clock
        self.nodes: dict[str, dict[str, Any]] = {}
        self.groups: dict[tuple[str, str], request.GroupPolicy] = {}
        self._pods: dict[str, _Pod] = {}  # uid -> where it is and what it uses
        self._on_node: dict[str, dict[str, _Pod]] = {}  # node -> uid -> pod
        self._assumed: dict[str, tuple[_Pod, float]] = {}  # uid -> (pod, expiry)
        self._next_expiry = float("inf")  # no assumption ends before this
        self._hosts: dict[str, engine.HostState] = {}
        self._dropped: set[str] = set()  # nodes whose HostState changed since the last decision
        self._servers: dict[str, set[str]] = {}  # namespace/name -> nodes its pods are on
        # Each kind of request's verdicts on the HostStates above, while they live (memo.py).
        self._memo = memo.Memo()
        # kube-scheduler asks prioritize about the nodes filter just passed, in the same
        # scheduling cycle: the same decision, as kube-scheduler's own plugins decide a cycle
        # on one snapshot, even when other pods' cycles changed the inventory in between.
        # Filter reuses a decision only while nothing changed (`_version` counts changes).
        self._version = 0
        self._cycles: dict[Any, tuple[int, engine.Config, list[str], Verdict, float]] = {}

    # -- what the watches report -------------------------------------------------------------

    def set_defaults(self, defaults: hosts.Defaults) -> None:
        if defaults != self.defaults:
            self.defaults = defaults
            self._hosts.clear()
            self._version += 1

    def node_event(self, kind_of_change: str, node: Mapping[str, Any]) -> None:
        name = node["metadata"]["name"]
        if kind_of_change == "DELETED":
            self.nodes.pop(name, None)
        else:
            self.nodes[name] = _slim_node(node)
        self._drop(name)
        self._version += 1

    def replace_nodes(self, nodes: Iterable[Mapping[str, Any]]) -> None:
        self.nodes = {n["metadata"]["name"]: _slim_node(n) for n in nodes}
        self._hosts.clear()
        self._version += 1

    def group_event(self, kind_of_change: str, group: Mapping[str, Any]) -> None:
        key = (group["metadata"]["namespace"], group["metadata"]["name"])
        if kind_of_change == "DELETED":
            self.groups.pop(key, None)
        else:
            self.groups[key] = request.group_policy(group)
        self._version += 1

    def replace_groups(self, groups: Iterable[Mapping[str, Any]]) -> None:
        self.groups = {}
        for group in groups:
            self.group_event("ADDED", group)

    def _drop(self, name: str) -> None:
        """The node's HostState is no longer what it is: made again before the next decision."""
        self._hosts.pop(name, None)
        self._dropped.add(name)

    def _forget(self, uid: str) -> None:
        pod = self._pods.pop(uid, None)
        if pod is not None:
            self._on_node.get(pod.node, {}).pop(uid, None)
            self._drop(pod.node)
            name = pod.placed.name
            if not any(p.placed.name == name for p in self._on_node.get(pod.node, {}).values()):
                nodes = self._servers.get(name, set())
                nodes.discard(pod.node)
                if not nodes:
                    self._servers.pop(name, None)
            self._version += 1

    def _place(self, uid: str, pod: _Pod) -> None:
        self._forget(uid)
        self._pods[uid] = pod
        self._on_node.setdefault(pod.node, {})[uid] = pod
        self._drop(pod.node)
        self._servers.setdefault(pod.placed.name, set()).add(pod.node)
        self._version += 1

    def pod_event(self, kind_of_change: str, pod: Mapping[str, Any]) -> None:
        metadata = pod["metadata"]
        uid = metadata["uid"]
        node = (pod.get("spec") or {}).get("nodeName")
        used = request.placed(pod)
        if kind_of_change == "DELETED" or used is None:
            self._forget(uid)
            self._assumed.pop(uid, None)
        elif node:
            self._assumed.pop(uid, None)
            self._place(uid, _Pod(node, used, request.group_of(metadata)))

    def replace_pods(self, pods: Iterable[Mapping[str, Any]]) -> None:
        for uid in [u for u in self._pods if u not in self._assumed]:
            self._forget(uid)
        for pod in pods:
            self.pod_event("ADDED", pod)

    def assume(self, pod: Mapping[str, Any], node: str) -> None:
        """The extender chose `node` for the pod: count it there until its binding is seen."""
        metadata = pod["metadata"]
        used = request.placed({**pod, "status": {"phase": "Pending"}})
        uid = metadata.get("uid")
        if used is None or (uid in self._pods and uid not in self._assumed):
            return  # bound already: the watch knows better
        placed = _Pod(node, used, request.group_of(metadata))
        until = self.clock() + ASSUME_SECONDS
        self._assumed[metadata["uid"]] = (placed, until)
        self._next_expiry = min(self._next_expiry, until)
        self._place(metadata["uid"], placed)

    def _expire(self) -> None:
        """End the assumptions past their time. Every decision asks, so the assumptions are
        looked through only once one may have ended (a binding that ends one early leaves
        `_next_expiry` early: the next look finds none and sets it right)."""
        now = self.clock()
        if now <= self._next_expiry:
            return
        for uid in [u for u, (_, until) in self._assumed.items() if until < now]:
            del self._assumed[uid]
            self._forget(uid)
        self._next_expiry = min((u for _, u in self._assumed.values()), default=float("inf"))

    # -- decisions ---------------------------------------------------------------------------

    def host(self, name: str, without: str | None = None) -> engine.HostState | None:
        """The node as Nova's HostState; `without` leaves a server's own pods out (a restart's
        old pod is on its way out)."""
        node = self.nodes.get(name)
        if node is None:
            return None
        pods = self._on_node.get(name, {}).values()
        if without is not None and name in self._servers.get(without, ()):
            return hosts.host_state(
                node, [p.placed for p in pods if p.placed.name != without], self.defaults
            )
        state = self._hosts.get(name)
        if state is None:
            state = hosts.host_state(node, [p.placed for p in pods], self.defaults)
            self._hosts[name] = state
        return state

    def warm(self) -> None:
        """Make every node's HostState now rather than in the next decision: after a listing,
        a thousand nodes' take some 30 ms, which the first pods kube-scheduler sends would wait."""
        for name in self.nodes:
            self.host(name)

    def members(self, group: tuple[str, str], without: str | None = None) -> dict[str, str]:
        """The group's placed servers: `namespace/name` -> node."""
        return {
            p.placed.name: p.node
            for p in self._pods.values()
            if p.group == group and p.placed.name != without
        }

    def request_spec(self, pod: Mapping[str, Any]) -> engine.RequestSpec:
        metadata = pod["metadata"]
        server = request.server(metadata)
        group_key = request.group_of(metadata)
        group = self.groups.get(group_key) if group_key else None
        members = self.members(group_key, without=server) if group_key else None
        node_selector = (pod.get("spec") or {}).get("nodeSelector")
        return request.request_spec(metadata, node_selector, group, members)

    def decide(
        self,
        pod: Mapping[str, Any],
        names: Iterable[str],
        config: engine.Config,
        cycle: bool = False,
    ) -> Verdict:
        """Nova's decision for the pod over the named nodes (those kube-scheduler's own filters
        passed); with `cycle`, the one its filter made in this scheduling cycle when the nodes
        are those it passed. Pods placement does not serve pass through untouched."""
        names = list(names)
        if not request.served(pod):
            return Verdict(names, {}, {}, None)
        names.sort()  # Nova keeps equal weights in the hosts' order: here, by node name
        self._expire()
        uid = pod["metadata"].get("uid")
        last = self._cycles.get(uid)
        fresh = last is not None and (
            last[0] == self._version or (cycle and last[4] >= self.clock())
        )
        if last is not None and fresh and last[1] == config and last[2] == names:
            return last[3]
        server = request.server(pod["metadata"])
        spec = self.request_spec(pod)
        states, unknown = self._states(names, server)
        decision = self._memo.schedule(states, spec, config)
        failed, unresolvable = dict(unknown), dict[str, str]()
        for name, reason in decision.reasons.items():
            target = failed if reason.startswith(_RESOLVABLE) else unresolvable
            target[name] = reason
        passed = list(map(operator.itemgetter(0), decision.weighed))
        verdict = Verdict(passed, failed, unresolvable, decision)
        # What prioritize will ask: the nodes that passed, in name order (decision.passed).
        self._cycles.pop(uid, None)
        self._cycles[uid] = (
            self._version,
            config,
            decision.passed,
            verdict,
            self.clock() + CYCLE_SECONDS,
        )
        if len(self._cycles) > 256:  # the pods decided last
            del self._cycles[next(iter(self._cycles))]
        return verdict

    def _states(
        self, names: list[str], server: str | None
    ) -> tuple[list[engine.HostState], dict[str, str]]:
        """The named nodes' HostStates, without the server's own pods, and the nodes not seen
        yet with why. Usually each is the one kept: a look-up each, no call per node."""
        kept = self._hosts
        if server is None or server not in self._servers:
            for name in self._dropped:
                self.host(name)  # changed since the last decision: made and kept
            self._dropped.clear()
            try:
                return list(map(kept.__getitem__, names)), {}
            except KeyError:  # all made again (new defaults, a listing), or a node not seen
                for name in [name for name in names if name not in kept]:
                    self.host(name)
            try:
                return list(map(kept.__getitem__, names)), {}
            except KeyError:  # a node not seen
                pass
        states, unknown = [], {}
        for name in names:
            state = self.host(name, without=server)
            if state is None:
                unknown[name] = "UnknownNode: placement has not seen this node yet"
            else:
                states.append(state)
        return states, unknown

    def filter(
        self, pod: Mapping[str, Any], names: Iterable[str], config: engine.Config
    ) -> Verdict:
        verdict = self.decide(pod, names, config)
        if verdict.decision is not None and len(verdict.passed) == 1:
            self.assume(pod, verdict.passed[0])  # kube-scheduler takes a lone node unscored
        return verdict

    def prioritize(
        self, pod: Mapping[str, Any], names: Iterable[str], config: engine.Config
    ) -> list[tuple[str, int]]:
        """Extender scores, 0..10: Nova's first choice gets 10, alone; the others 0..9 by
        their weight. With kube-scheduler's own scoring off, Nova's choice is the one bound."""
        return list(self.scores(pod, names, config).items())

    def scores(
        self, pod: Mapping[str, Any], names: Iterable[str], config: engine.Config
    ) -> dict[str, int]:
        """prioritize's scores by node, in the order the nodes were asked."""
        names = list(names)
        verdict = self.decide(pod, names, config, cycle=True)
        if verdict.decision is None:
            return dict.fromkeys(names, 0)
        weighed = verdict.decision.weighed
        scores = _scores(names, weighed)
        if weighed:
            self.assume(pod, weighed[0][0])
        return scores


def _scores(names: list[str], weighed: list[tuple[str, float]]) -> dict[str, int]:
    """Each weighed node's int(9 * (weight - low) / (high - low)), the first's 10, the other
    names' 0. Along `weighed`, best first, that score only falls: it is worked out where a run
    of one score ends (bisection: a dozen scores for a thousand nodes), unless the weights are
    not in order and finite."""
    scores = dict.fromkeys(names, 0)
    if not weighed:
        return scores
    weights = list(map(operator.itemgetter(1), weighed))
    in_order = all(map(operator.ge, weights, itertools.islice(weights, 1, None)))
    # In order, the bounds are the ends: min's and max's (but 0.0 for -0.0, which scores alike).
    low, high = (weights[-1], weights[0]) if in_order else (min(weights), max(weights))
    if high > low:  # else every one scores 0 (the weighed are among the names)
        span = high - low

        def score(weight: float) -> int:
            return int(9 * (weight - low) / span)

        if in_order and math.isfinite(9 * span) and len(scores) == len(names):
            nodes = list(map(operator.itemgetter(0), weighed))
            start = 1
            while start < len(weights) and (value := score(weights[start])):
                end = bisect.bisect_right(weights, -value, start, key=lambda w: -score(w))
                scores.update(zip(nodes[start:end], itertools.repeat(value)))
                start = end
        else:
            scores.update({name: score(weight) for name, weight in weighed[1:]})
    scores[weighed[0][0]] = 10
    return scores


def preflight(
    nodes: Iterable[Mapping[str, Any]],
    spec: engine.RequestSpec,
    config: engine.Config,
    defaults: hosts.Defaults | None = None,
) -> list[str] | None:
    """None when some node could take the request were it empty; else Nova's filter results
    for a request no host can ever pass (a flavor bigger than every node, a zone with no node).
    The request comes from the Server itself (request.server_request), not from a pod."""
    empty = Inventory(defaults)
    empty.replace_nodes(nodes)
    names = sorted(empty.nodes)
    states = [state for name in names if (state := empty.host(name)) is not None]
    decision = engine.schedule(states, spec, config)
    if decision.weighed:
        return None
    return filter_results(len(names), decision, config)
