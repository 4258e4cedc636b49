"""engine.schedule for a kind of request seen before, from what each host's verdict was then.

A host's verdict (placement's fit and every filter) and its weighers' raw values and multipliers
are functions of its HostState, the configuration, and what the request asks (flavor, extra
specs, image, hints, zone, project): never of which server asks. kube-scheduler asks about a
thousand nodes for every pod, and pods asking the same come in runs (a stack's servers, a
scaled-out group of VMs): each host is judged once per kind of request and per HostState.

A HostState is frozen, and the inventory makes a new one whenever its node or a pod on it changes
(scheduler/inventory.py): a verdict is used only for the very object it was made for, so nothing
needs invalidating. A request with a server group is decided afresh (engine.schedule): its
members and their hosts change with every placement, and its filters and weighers read them.

Between two decisions of a kind over the same nodes, usually one HostState changed: the last
decision's server was assumed on its host. The next decision is the last one with those hosts
judged, weighed and put in their place again: each weigher's bounds over the candidates move
with them (a count of the candidates at each bound says when one must be looked for again), and
the others' weights stand while the bounds do. Anything else (a host that starts or stops
passing, bounds that moved, aggregates that override multipliers, weights that are not finite)
is decided whole from the hosts' verdicts.

Either way the decision is engine.schedule's to the bit: the same hosts fit and pass, the reasons
in the same order, each weight the same sum of the same floating-point terms in Nova's order, and
equal weights in the hosts' order.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
import operator
from collections.abc import Hashable, Iterable
from typing import Any

from nimbus.placement import engine, filters, weighers

KINDS = 32  # kinds of request remembered; the one asked least recently is forgotten first

# A weighting plan: for each weigher that adds to the weights, (its index in WEIGHERS, the type of
# its lower bound, the lower bound, the span), in Nova's order. The type is there so that bounds
# equal in value but not in type (0 and 0.0) never pass for one another.
Plan = tuple[tuple[int, type, Any, float], ...]
# A weigher's bounds over the candidates: (low, high, how many are at low, how many at high).
Bounds = tuple[Any, Any, int, int]
_NO_OPTIONS: frozenset[str] = frozenset()


def signature(spec: engine.RequestSpec, config: engine.Config) -> Hashable | None:
    """What a decision reads of the request and the configuration, hashable; None for a request
    decided afresh each time (one with a server group). Values keep their type and order:
    4 and 4.0 vCPUs are told apart in reasons, and extra specs are checked in their order."""
    if spec.server_group is not None:
        return None
    try:
        fields = tuple(
            _frozen(getattr(spec, field.name))
            for field in dataclasses.fields(spec)
            if field.name != "server_group"
        )
        key = config, fields
        hash(key)
    except TypeError:  # a value that cannot be a key: decided afresh
        return None
    return key


def _frozen(value: Any) -> Hashable:
    if isinstance(value, dict):
        return type(value), tuple((_frozen(k), _frozen(v)) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return type(value), tuple(_frozen(v) for v in value)
    return type(value), value


@dataclasses.dataclass(slots=True, eq=False)
class _Host:
    """One HostState as a kind of request judged it: the check that left it out (its index) and
    why, or, when it passes (stage past every check), its weighers' clamped raw values and
    multipliers, and the aggregates' multiplier options it overrides."""

    state: engine.HostState
    name: str
    stage: int = 0
    why: str | None = None
    raw: tuple[Any, ...] = ()
    multipliers: tuple[float, ...] = ()
    options: frozenset[str] = frozenset()

    def weigh(self, plan: Plan) -> float:
        """engine.schedule's sum for this host: each weigher's normalised value times its
        multiplier, added in Nova's order from 0.0."""
        weight, raw, multipliers = 0.0, self.raw, self.multipliers
        for index, _, low, span in plan:
            weight = weight + multipliers[index] * ((raw[index] - low) / span)
        return weight


def _stage(host: _Host) -> int:
    return host.stage


@dataclasses.dataclass(slots=True)
class _Board:
    """A kind's last decision, kept to be changed where its hosts changed."""

    states: list[engine.HostState]
    hosts: list[_Host]  # each state as judged
    slot: list[int]  # each host's index among the candidates, -1 for one left out
    candidates: list[_Host]  # those that pass, in the hosts' order
    considered: list[int]  # the weighers whose multipliers are not all 0
    bounds: dict[int, Bounds]  # each one's over the candidates
    plan: Plan
    weights: list[float]  # each candidate's
    order: list[int]  # candidates, best first
    weighed: list[tuple[str, float]]
    fit: list[str]
    passed: list[str]
    reasons: dict[str, str]
    finite: bool  # every weight is a number: the order is (-weight, index) ascending

    def decision(self) -> engine.Decision:
        """The decision, in lists of its own (the board's are changed in the next one)."""
        return engine.Decision(
            fit=list(self.fit),
            passed=list(self.passed),
            weighed=list(self.weighed),
            reasons=dict(self.reasons),
        )

    def changes(self, states: list[engine.HostState]) -> list[int] | None:
        """Where `states` has another HostState than the last decision had; None when they
        are not the same nodes in the same order."""
        if len(states) != len(self.states):
            return None
        changed = list(
            itertools.compress(itertools.count(), map(operator.is_not, states, self.states))
        )
        hosts = self.hosts
        if any(states[i].name != hosts[i].name for i in changed):
            return None
        return changed


def _bounds(values: list[Any], minval: float | None) -> Bounds:
    """weighers.normalize's bounds over a column: minval (else the smallest) and the largest."""
    high = max(values)
    low = min(values) if minval is None else minval
    return low, high, values.count(low) if minval is None else 0, values.count(high)


def _moved(bounds: Bounds, minval: float | None, gone: list[Any], came: list[Any]) -> Bounds | None:
    """The bounds once the `gone` values left the column and the `came` ones joined it; None
    when a bound's last holder left, and the column must be looked through again."""
    low, high, at_low, at_high = bounds
    for value in gone:
        if value == high:
            at_high -= 1
        if minval is None and value == low:
            at_low -= 1
    for value in came:
        if value > high:
            high, at_high = value, 1
        elif value == high:
            at_high += 1
        if minval is not None:
            continue
        if value < low:
            low, at_low = value, 1
        elif value == low:
            at_low += 1
    if at_high <= 0 or (minval is None and at_low <= 0):
        return None
    return low, high, at_low, at_high


def _plan(considered: list[int], bounds: dict[int, Bounds]) -> Plan:
    """The weighers that add to the weights, with their bounds: weighers.normalize gives all 0
    when the bounds are equal; else the highest value normalises to 1 (or NaN, an infinite span)
    and the column adds its multiplier times its values."""
    plan = []
    for index in considered:
        low, high, _, _ = bounds[index]
        if low != high:
            plan.append((index, type(low), low, float(high - low)))
    return tuple(plan)


def _weights(candidates: list[_Host], plan: Plan) -> list[float]:
    """engine.schedule's weights, a column at a time in Nova's order (as weighers.weigh)."""
    weights = [0.0] * len(candidates)
    for index, _, low, span in plan:
        values = [c.raw[index] for c in candidates]
        multipliers = [c.multipliers[index] for c in candidates]
        weights = [
            w + m * ((v - low) / span) for w, m, v in zip(weights, multipliers, values, strict=True)
        ]
    return weights


class _Kind:
    """One kind of request: its checks prepared once, every host it judged (by name), and its
    last decision."""

    def __init__(self, spec: engine.RequestSpec, config: engine.Config) -> None:
        self.spec = spec
        self.checks: list[filters.Check] = [engine.fitter(spec, config.default_availability_zone)]
        for name in config.enabled_filters:
            prepared = filters.FILTERS[name](spec, config)
            if prepared is not None:
                self.checks.append(prepared)
        options = [float(getattr(config, w.option)) for w in weighers.WEIGHERS]
        self.defaults = [w.sign * o for w, o in zip(weighers.WEIGHERS, options, strict=True)]
        # A weigher adds nothing when its option is 0 and no candidate's aggregates override it.
        self.wanted = [bool(value) for value in options]
        self.hosts: dict[str, _Host] = {}
        self.board: _Board | None = None
        # Whether every raw value judged is equal to itself: with a NaN, bounds found by
        # comparisons are not max()'s and min()'s over the column, which are looked up instead.
        self.ordered = True

    # -- each host's verdict -----------------------------------------------------------------

    def _judge(self, states: list[engine.HostState]) -> list[_Host]:
        """Hosts not judged yet: each check in turn over those the previous ones passed, as
        engine.schedule applies them; the weighers' columns over those that pass."""
        judged: list[_Host | None] = [None] * len(states)
        left, at = states, list(range(len(states)))
        for stage, check in enumerate(self.checks):
            verdicts = list(map(check, left))
            for i, why in zip(at, verdicts, strict=True):
                if why is not None:
                    judged[i] = _Host(states[i], states[i].name, stage, why)
            passes = [why is None for why in verdicts]
            left = list(itertools.compress(left, passes))
            at = list(itertools.compress(at, passes))
        if left:
            columns = [
                weighers.clamp(list(w.raw(left, self.spec)), w.minval) for w in weighers.WEIGHERS
            ]
            if self.ordered and not all(all(map(operator.eq, c, c)) for c in columns):
                self.ordered = False
            stage, plain = len(self.checks), tuple(self.defaults)
            for i, state, raw in zip(at, left, zip(*columns, strict=True), strict=True):
                multipliers, options = plain, _NO_OPTIONS
                if state.aggregates and (overrides := state.weight_multipliers()):
                    options = frozenset(overrides)
                    multipliers = tuple(
                        w.sign * overrides[w.option] if w.option in overrides else default
                        for w, default in zip(weighers.WEIGHERS, self.defaults, strict=True)
                    )
                judged[i] = _Host(state, state.name, stage, None, raw, multipliers, options)
        return judged  # type: ignore[return-value]  # every one judged now

    def _verdicts(self, states: list[engine.HostState]) -> list[_Host]:
        """Each state as judged: the one kept when it is the same object, else judged now."""
        known = self.hosts
        seen: list[_Host | None] = [known.get(state.name) for state in states]
        missing = [
            i for i, (state, host) in enumerate(zip(states, seen, strict=True))
            if host is None or host.state is not state
        ]  # fmt: skip
        for i, host in zip(missing, self._judge([states[i] for i in missing]), strict=True):
            seen[i] = known[host.name] = host
        return seen  # type: ignore[return-value]  # every one judged now

    # -- a decision --------------------------------------------------------------------------

    def schedule(self, states: list[engine.HostState]) -> engine.Decision:
        board = self.board
        changed = board.changes(states) if board is not None else None
        # A few changed hosts are put in their place; many, and the whole is as quick.
        few = changed is not None and len(changed) <= max(8, len(states) // 16)
        if board is None or changed is None or not few or not self._update(board, states, changed):
            self.board = board = self._whole(states)
        return board.decision()

    def _whole(self, states: list[engine.HostState]) -> _Board:
        """engine.schedule over the hosts' verdicts."""
        hosts = self._verdicts(states)
        if len(self.hosts) > 2 * len(hosts) + 64:  # nodes gone: keep only those asked about
            self.hosts = {host.name: host for host in hosts}
        candidates = [host for host in hosts if host.why is None]
        slot = [-1] * len(hosts)
        for index, position in enumerate(i for i, host in enumerate(hosts) if host.why is None):
            slot[position] = index
        options = frozenset().union(*[c.options for c in candidates if c.options])
        considered = [
            index
            for index, w in enumerate(weighers.WEIGHERS)
            if self.wanted[index] or w.option in options
        ]
        bounds: dict[int, Bounds] = {}
        if len(candidates) > 1:  # Nova weighs nothing then
            for index in considered:
                column = [c.raw[index] for c in candidates]
                bounds[index] = _bounds(column, weighers.WEIGHERS[index].minval)
        plan = _plan(considered, bounds) if bounds else ()
        weights, order, weighed = _ranked(candidates, plan)
        # engine.schedule's reasons: the fit's first, then each filter's, each in the hosts' order.
        left_out = sorted((host for host in hosts if host.why is not None), key=_stage)
        return _Board(
            states=states,
            hosts=hosts,
            slot=slot,
            candidates=candidates,
            considered=considered,
            bounds=bounds,
            plan=plan,
            weights=weights,
            order=order,
            weighed=weighed,
            fit=[host.name for host in hosts if host.stage],
            passed=sorted(c.name for c in candidates),
            reasons={host.name: host.why for host in left_out if host.why is not None},
            finite=math.isfinite(sum(weights)),
        )

    def _update(self, board: _Board, states: list[engine.HostState], changed: list[int]) -> bool:
        """The last decision with the changed hosts judged again and put in their place; False
        (the board untouched) when the decision must be made whole."""
        hosts = list(board.hosts)
        fresh = self._verdicts([states[i] for i in changed])
        moved: list[tuple[int, _Host, _Host]] = []  # (candidate index, before, now)
        reasons_changed = False
        for position, now in zip(changed, fresh, strict=True):
            before = hosts[position]
            if (before.why is None) != (now.why is None) or before.options or now.options:
                return False  # the candidates or the multipliers change
            hosts[position] = now
            if now.why is None:
                moved.append((board.slot[position], before, now))
            else:
                reasons_changed = True
        if moved and len(board.candidates) < 2:
            return False
        if moved:
            candidates = list(board.candidates)
            for index, _, now in moved:
                candidates[index] = now
            bounds = self._moved_bounds(board, candidates, moved)
            plan = _plan(board.considered, bounds)
            placed = None
            if plan == board.plan and board.finite:  # the others' weights stand
                placed = _placed(board, moved)
            weights, order, weighed = placed or _ranked(candidates, plan)
            board.candidates, board.bounds, board.plan = candidates, bounds, plan
            board.weights, board.order, board.weighed = weights, order, weighed
            board.finite = math.isfinite(sum(weights))
        board.states, board.hosts = states, hosts
        if reasons_changed:
            left_out = sorted((host for host in hosts if host.why is not None), key=_stage)
            board.reasons = {host.name: host.why for host in left_out if host.why is not None}
            board.fit = [host.name for host in hosts if host.stage]
        return True

    def _moved_bounds(
        self, board: _Board, candidates: list[_Host], moved: list[tuple[int, _Host, _Host]]
    ) -> dict[int, Bounds]:
        bounds = dict(board.bounds)
        for index in board.considered:
            minval = weighers.WEIGHERS[index].minval
            gone = [before.raw[index] for _, before, _ in moved]
            came = [now.raw[index] for _, _, now in moved]
            found = _moved(bounds[index], minval, gone, came) if self.ordered else None
            if found is None:
                found = _bounds([c.raw[index] for c in candidates], minval)
            bounds[index] = found
        return bounds


Ranking = tuple[list[float], list[int], list[tuple[str, float]]]  # weights, order, weighed


def _ranked(candidates: list[_Host], plan: Plan) -> Ranking:
    """engine.schedule's weights and order: best first, equal weights in the hosts' order."""
    weights = _weights(candidates, plan) if len(candidates) > 1 else [0.0] * len(candidates)
    order = sorted(range(len(candidates)), key=weights.__getitem__, reverse=True)
    return weights, order, [(candidates[i].name, weights[i]) for i in order]


def _placed(board: _Board, moved: list[tuple[int, _Host, _Host]]) -> Ranking | None:
    """The moved candidates weighed under the board's plan and put back in its order, where
    sorted(reverse=True) would put them: by weight, best first, equal weights by index. None
    when a weight is not a number."""
    weights, order, weighed = list(board.weights), list(board.order), list(board.weighed)
    for index, _, now in moved:
        weight = now.weigh(board.plan)
        if not math.isfinite(weight):
            return None
        weights[index] = weight
        at = order.index(index)
        del order[at], weighed[at]
    for index, _, now in moved:
        weight = weights[index]
        at = bisect.bisect_left(order, (-weight, index), key=lambda i: (-weights[i], i))
        order.insert(at, index)
        weighed.insert(at, (now.name, weight))
    return weights, order, weighed


class Memo:
    """engine.schedule, remembering each kind of request's verdicts on the hosts and its last
    decision (KINDS kinds, the least recently asked forgotten first)."""

    def __init__(self, kinds: int = KINDS) -> None:
        self.size = kinds
        self._kinds: dict[Hashable, _Kind] = {}

    def schedule(
        self, hosts: Iterable[engine.HostState], spec: engine.RequestSpec, config: engine.Config
    ) -> engine.Decision:
        key = signature(spec, config)
        if key is None:
            return engine.schedule(hosts, spec, config)
        kind = self._kinds.pop(key, None)
        if kind is None:
            kind = _Kind(spec, config)
            if len(self._kinds) >= self.size:
                del self._kinds[next(iter(self._kinds))]
        self._kinds[key] = kind
        return kind.schedule(list(hosts))

    def clear(self) -> None:
        self._kinds.clear()
