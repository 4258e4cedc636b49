"""Neutron's IPAM, and the ledger that keeps two allocations from meeting."""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
from hypothesis import strategies as st

from nimbus.network import api, ipam


def subnet(**fields: Any) -> api.SubnetSpec:
    return api.SubnetSpec.model_validate({"network": "private", **fields})


@pytest.mark.parametrize(
    ("spec", "taken", "wanted", "expected"),
    [
        # the gateway (the first address, by default) is never handed out
        ({"cidr": "10.0.0.0/24"}, set(), None, "10.0.0.2"),
        ({"cidr": "10.0.0.0/24"}, {"10.0.0.2", "10.0.0.3"}, None, "10.0.0.4"),
        ({"cidr": "10.0.0.0/24", "gatewayIP": "10.0.0.254"}, set(), None, "10.0.0.1"),
        ({"cidr": "10.0.0.0/24", "noGateway": True}, set(), None, "10.0.0.1"),
        # pools: the lowest free address of any pool, whatever order they are listed in
        ({"cidr": "10.0.0.0/24", "allocationPools": [
            {"start": "10.0.0.100", "end": "10.0.0.101"},
            {"start": "10.0.0.10", "end": "10.0.0.10"}]}, set(), None, "10.0.0.10"),
        ({"cidr": "10.0.0.0/24", "allocationPools": [
            {"start": "10.0.0.100", "end": "10.0.0.101"},
            {"start": "10.0.0.10", "end": "10.0.0.10"}]}, {"10.0.0.10"}, None, "10.0.0.100"),
        # full: no network or broadcast address, ever
        ({"cidr": "10.0.0.0/30"}, {"10.0.0.2"}, None, None),
        ({"cidr": "10.0.0.0/29", "allocationPools": [
            {"start": "10.0.0.2", "end": "10.0.0.3"}]}, {"10.0.0.2", "10.0.0.3"}, None, None),
        # a wanted address: given when free and inside
        ({"cidr": "10.0.0.0/24"}, set(), "10.0.0.50", "10.0.0.50"),
        ({"cidr": "10.0.0.0/24"}, {"10.0.0.50"}, "10.0.0.50", None),
        ({"cidr": "10.0.0.0/24"}, set(), "10.0.0.1", None),  # the gateway
        ({"cidr": "10.0.0.0/24"}, set(), "10.0.1.5", None),  # outside
        # IPv6: no subnet-router anycast address, and the gateway is ::1
        ({"cidr": "fd00::/64", "ipVersion": 6}, set(), None, "fd00::2"),
    ],
)  # fmt: skip
def test_free_address(
    spec: dict[str, Any], taken: set[str], wanted: str | None, expected: str | None
) -> None:
    assert ipam.free_address(subnet(**spec), taken, wanted) == expected


def test_allocate_takes_each_subnet_in_turn_and_says_why_not() -> None:
    subnets = {
        "a": subnet(cidr="10.0.0.0/30"),  # one address: 10.0.0.2
        "b": subnet(cidr="10.1.0.0/24"),
    }
    assert ipam.allocate(subnets, [], set(), "private") == [
        {"subnet": "a", "ipAddress": "10.0.0.2"}
    ]
    assert ipam.allocate(subnets, [api.FixedIP()], {"10.0.0.2"}, "private") == [
        {"subnet": "b", "ipAddress": "10.1.0.2"}
    ]
    two = [api.FixedIP(subnet="b"), api.FixedIP(subnet="b")]
    assert ipam.allocate(subnets, two, set(), "private") == [
        {"subnet": "b", "ipAddress": "10.1.0.2"},
        {"subnet": "b", "ipAddress": "10.1.0.3"},
    ]
    assert ipam.allocate({}, [], set(), "private") == (
        'network "private" has no subnet to allocate an address from'
    )
    assert ipam.allocate(subnets, [api.FixedIP(subnet="c")], set(), "private") == (
        'fixedIPs: subnet "c" not found on private'
    )
    assert ipam.allocate(
        subnets, [api.FixedIP(ip_address="10.1.0.7")], {"10.1.0.7"}, "private"
    ) == ("IP address 10.1.0.7 is not available on network private")


def test_ledger_holds_until_the_index_has_the_port() -> None:
    ledger = ipam.Ledger()
    ledger.reserve("p", "private", "s-1-port-0", {"10.0.0.2"})
    ledger.reserve("p", "private", "s-2-port-0", {"10.0.0.3"})
    # the index knows neither: both are held, but not against the port itself
    assert ledger.taken("p", "private", {}) == {"10.0.0.2", "10.0.0.3"}
    assert ledger.taken("p", "private", {}, excluding="s-1-port-0") == {"10.0.0.3"}
    assert ledger.pending_on("p", "private") == [{"10.0.0.2"}, {"10.0.0.3"}]
    # the index has the first now: it is the record, the ledger forgets its entry
    assert ledger.taken("p", "private", {"s-1-port-0": {"10.0.0.2"}}) == {"10.0.0.2", "10.0.0.3"}
    assert ledger.pending_on("p", "private") == [{"10.0.0.3"}]
    # a write that failed gives its addresses back
    ledger.release("p", "private", "s-2-port-0")
    assert ledger.taken("p", "private", {}) == set()
    # other networks and projects are apart
    assert ledger.taken("q", "private", {}) == set()


def test_ledger_holds_while_the_index_has_the_port_without_its_addresses() -> None:
    """A port is in the index from its creation, before its status holds an address: the
    reservation stands until the index shows the addresses themselves (ten ports applied in one
    call once took two addresses between them)."""
    ledger = ipam.Ledger()
    ledger.reserve("p", "private", "a", {"10.0.0.2"})
    created = {"a": set[str](), "b": set[str]()}  # both created, neither reported yet
    assert ledger.taken("p", "private", created, excluding="b") == {"10.0.0.2"}
    assert ledger.pending_on("p", "private") == [{"10.0.0.2"}]
    # two addresses reserved, one reported so far (a status in two steps): still held
    ledger.reserve("p", "private", "a", {"10.0.0.2", "10.0.1.2"})
    assert ledger.taken("p", "private", {"a": {"10.0.0.2"}}, excluding="b") == {
        "10.0.0.2",
        "10.0.1.2",
    }
    assert ledger.pending_on("p", "private") == [{"10.0.0.2", "10.0.1.2"}]
    ledger.taken("p", "private", {"a": {"10.0.0.2", "10.0.1.2"}})
    assert ledger.pending_on("p", "private") == []


@hypothesis.given(st.lists(st.sampled_from(["create", "allocate", "report"]), max_size=60))
def test_no_two_ports_hold_one_address_whatever_the_order_of_events(steps: list[str]) -> None:
    """Ports created, allocated and reported in any interleaving: every allocation is unique."""
    subnets = {"a": api.SubnetSpec(network="private", cidr="10.0.0.0/28")}
    ledger, indexed = ipam.Ledger(), dict[str, set[str]]()
    allocated: dict[str, str] = {}
    created: list[str] = []
    for i, step in enumerate(steps):
        if step == "create":
            created.append(f"port-{i}")
            indexed[created[-1]] = set()
        waiting = [p for p in created if p not in allocated]
        if step == "allocate" and waiting:
            port = waiting[0]
            taken = ledger.taken("p", "private", indexed, excluding=port)
            got = ipam.allocate(subnets, [], taken, "private")
            if isinstance(got, str):
                continue  # the subnet is full: no address, no collision
            allocated[port] = got[0]["ipAddress"]
            ledger.reserve("p", "private", port, {allocated[port]})
        reported = [p for p in allocated if not indexed[p]]
        if step == "report" and reported:
            indexed[reported[0]] = {allocated[reported[0]]}
    assert len(set(allocated.values())) == len(allocated), allocated


def _port(name: str, created: str, ip: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "network.nimbus.dev/v1alpha1", "kind": "Port",
            "metadata": {"name": name, "namespace": "p", "creationTimestamp": created, **extra},
            "spec": {"network": "net", "fixedIPs": [{"ipAddress": ip}]}, "status": {}}  # fmt: skip


@pytest.mark.parametrize(
    ("other", "holds"),
    [
        (_port("older", "2026-12-06T10:00:00Z", "10.0.0.5"), True),  # asked first: it waits for it
        (_port("same", "2026-12-06T10:00:01Z", "10.0.0.5"), False),  # same second: the ledger says
        (_port("younger", "2026-12-06T10:00:02Z", "10.0.0.5"), False),
        (
            {
                **_port(
                    "given", "2026-12-06T10:00:02Z", "10.0.0.5"
                ),  # allocated: its status holds it
                "status": {"fixedIPs": [{"ipAddress": "10.0.0.5"}]},
            },
            True,
        ),
        (
            _port(
                "implicit",
                "2026-12-06T10:00:02Z",
                "10.0.0.5",  # a server's: allocated already
                ownerReferences=[{"kind": "Server", "name": "web"}],
            ),
            True,
        ),
    ],
)
def test_two_ports_asking_for_one_address_never_wait_on_each_other(
    other: dict[str, Any], holds: bool
) -> None:
    """The port made first (or allocated first) has the address; one made no sooner and not yet
    allocated does not hold it against this one."""
    from nimbus.network import addressing
    from nimbus.runtime import cache

    mine = _port("mine", "2026-12-06T10:00:01Z", "10.0.0.5")
    view = cache.View.of_objects([mine, other])
    claims = addressing.claims(view, mine, "p", api.PortSpec.model_validate(mine["spec"]))
    assert ("10.0.0.5" in claims[other["metadata"]["name"]]) is holds
