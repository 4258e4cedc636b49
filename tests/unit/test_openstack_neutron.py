"""Neutron v2.0 as nimbus api maps it, both ways: Network, Subnet, Port and SecurityGroup bodies
as Neutron's documents (every field the OpenStack user expects of each kind present), and
Neutron's create and update requests as specs and merge patches, each refusal in Neutron's
words and codes. tempest ships no network response schemas (tempest.lib.api_schema.response has
compute and volume only), so documents are held to the field lists of what Neutron answers."""

from __future__ import annotations

import importlib
import re
import uuid
from typing import Any

import pytest

from nimbus.api import meta
from nimbus.network import api as network_api
from nimbus.network import render as network_render
from nimbus.openstack import (
    documents,
    neutron_documents,
    neutron_port_requests,
    neutron_requests,
    neutron_security_documents,
    neutron_subnet_requests,
)
from nimbus.openstack.faults import Fault

PROJECT = "6f1b2c3d4e5f40718293a4b5c6d7e8f9"
OTHER_PROJECT = "0000000000000000000000000000beef"
NS = "demo"
NET = "5e6f7a8b-0000-4000-8000-000000000007"
SUBNET = "5e6f7a8b-0000-4000-8000-000000000008"
SUBNET6 = "5e6f7a8b-0000-4000-8000-000000000009"
PORT = "5e6f7a8b-0000-4000-8000-00000000000a"
DEFAULT_SG = "5e6f7a8b-0000-4000-8000-00000000000b"
WEB_SG = "5e6f7a8b-0000-4000-8000-00000000000c"
SERVER = "5e6f7a8b-0000-4000-8000-00000000000d"
OTHER_NET = "5e6f7a8b-0000-4000-8000-00000000000e"
STAMP = "2026-03-01T10:00:00Z"

# What the OpenStack user expects of each kind (docs: OPENSTACK_API.md, Neutron), and what
# every Neutron resource with standard attributes carries.
STANDARD = {"id", "name", "project_id", "tenant_id", "description", "created_at", "updated_at",
            "revision_number", "tags"}  # fmt: skip
EXPECTED = {
    "network": STANDARD | {"admin_state_up", "shared", "router:external", "mtu",
                           "port_security_enabled", "availability_zone_hints", "dns_domain",
                           "status", "subnets"},
    "subnet": STANDARD | {"network_id", "ip_version", "cidr", "gateway_ip", "allocation_pools",
                          "dns_nameservers", "host_routes", "enable_dhcp", "ipv6_ra_mode",
                          "ipv6_address_mode", "subnetpool_id"},
    "port": STANDARD | {"network_id", "fixed_ips", "mac_address", "security_groups",
                        "port_security_enabled", "allowed_address_pairs", "binding:vnic_type",
                        "device_id", "device_owner", "status", "admin_state_up"},
    "security_group": STANDARD | {"stateful", "security_group_rules"},
    "security_group_rule": (STANDARD - {"name", "tags"}) | {
        "security_group_id", "direction", "ethertype", "protocol", "port_range_min",
        "port_range_max", "remote_ip_prefix", "remote_group_id"},
}  # fmt: skip


def _meta(name: str, uid: str, display: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": NS, "uid": uid, "generation": 2,
                                "creationTimestamp": STAMP, "resourceVersion": "7"}  # fmt: skip
    if display is not None:
        metadata["annotations"] = {documents.NAME_ANNOTATION: display}
    return metadata


NETWORK: dict[str, Any] = {"kind": "Network", "metadata": _meta("private", NET), "spec": {},
           "status": {"status": "ACTIVE"}}  # fmt: skip
NO_SECURITY: dict[str, Any] = {"kind": "Network", "metadata": _meta("open", OTHER_NET),
               "spec": {"portSecurityEnabled": False}}  # fmt: skip
SUBNET_V4: dict[str, Any] = {"kind": "Subnet", "metadata": _meta("private-v4", SUBNET),
             "spec": {"network": "private", "cidr": "10.0.0.0/24"}}  # fmt: skip
SUBNET_V6: dict[str, Any] = {"kind": "Subnet", "metadata": _meta("private-v6", SUBNET6),
             "spec": {"network": "private", "cidr": "fd00::/64", "ipVersion": 6}}  # fmt: skip
DEFAULT_GROUP: dict[str, Any] = {
    "kind": "SecurityGroup", "metadata": _meta("default", DEFAULT_SG),
    "spec": network_render.default_security_group().to_api(),
}  # fmt: skip
WEB_GROUP: dict[str, Any] = {
    "kind": "SecurityGroup", "metadata": _meta("web", WEB_SG, "Web Servers"),
    "spec": {"description": "http in", "rules": [
        {"direction": "ingress", "protocol": "tcp", "portRangeMin": 80, "portRangeMax": 80,
         "remoteIPPrefix": "0.0.0.0/0"}]},
}  # fmt: skip
SERVER_PORT: dict[str, Any] = {
    "kind": "Port", "metadata": _meta("web-port", PORT, "Web Port"),
    "spec": {"network": "private", "securityGroups": ["default", "web"],
             "fixedIPs": [{"subnet": "private-v4", "ipAddress": "10.0.0.10"}],
             "allowedAddressPairs": [{"ipAddress": "10.0.0.0/28"}]},
    "status": {"status": "ACTIVE", "macAddress": "02:aa:bb:cc:dd:ee", "deviceID": "web",
               "deviceOwner": "compute:nova",
               "fixedIPs": [{"subnet": "private-v4", "ipAddress": "10.0.0.10"}]},
}  # fmt: skip
GROUP_IDS = {"default": DEFAULT_SG, "web": WEB_SG}


def _port_document(body: dict[str, Any]) -> dict[str, Any]:
    return neutron_documents.port(
        body, project_id=PROJECT, network_ids={"private": NET},
        subnet_ids={"private-v4": SUBNET}, group_ids=GROUP_IDS, server_ids={"web": SERVER},
    )  # fmt: skip


def _refused(call: Any, code: int, kind: str, message: str) -> None:
    with pytest.raises(Fault) as raised:
        call()
    fault = raised.value
    assert (fault.code, fault.style, fault.kind, fault.message) == (code, "neutron", kind, message)


# --- documents ------------------------------------------------------------------------------


def test_tempest_has_no_network_response_schemas_to_check_against() -> None:
    """If a tempest release ships them, these documents must be checked against them."""
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("tempest.lib.api_schema.response.network")


def test_every_document_has_the_fields_an_openstack_user_expects() -> None:
    made = {
        "network": neutron_documents.network(NETWORK, subnet_ids=[SUBNET], project_id=PROJECT),
        "subnet": neutron_documents.subnet(SUBNET_V4, network_id=NET, project_id=PROJECT),
        "port": _port_document(SERVER_PORT),
        "security_group": neutron_security_documents.security_group(
            WEB_GROUP, project_id=PROJECT, group_ids=GROUP_IDS),
    }  # fmt: skip
    made["security_group_rule"] = made["security_group"]["security_group_rules"][0]
    for kind, document in made.items():
        assert EXPECTED[kind] <= set(document), (kind, EXPECTED[kind] - set(document))


def test_a_port_in_use_as_neutron_shows_it() -> None:
    assert _port_document(SERVER_PORT) == {
        "id": PORT, "name": "Web Port", "network_id": NET, "tenant_id": PROJECT,
        "project_id": PROJECT, "mac_address": "02:aa:bb:cc:dd:ee", "admin_state_up": True,
        "status": "ACTIVE", "device_id": SERVER, "device_owner": "compute:nova",
        "fixed_ips": [{"subnet_id": SUBNET, "ip_address": "10.0.0.10"}],
        "allowed_address_pairs": [{"ip_address": "10.0.0.0/28",
                                   "mac_address": "02:aa:bb:cc:dd:ee"}],
        "extra_dhcp_opts": [], "security_groups": [DEFAULT_SG, WEB_SG],
        "port_security_enabled": True, "binding:vnic_type": "normal", "description": "",
        "tags": [], "created_at": STAMP, "updated_at": STAMP, "revision_number": 2,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("status", "expected", "asked"),
    [
        ({}, {"status": "DOWN", "device_id": "", "device_owner": "", "fixed_ips": [],
              "mac_address": None}, []),
        # before the operator allocates: the addresses asked for, as Neutron answers a create
        ({}, {"status": "DOWN", "fixed_ips": [{"subnet_id": SUBNET, "ip_address": "10.0.0.9"}]},
         [{"subnet": "private-v4", "ipAddress": "10.0.0.9"}, {"subnet": "private-v4"}]),
        ({"status": "DOWN", "macAddress": "02:00:00:00:00:01",
          "fixedIPs": [{"subnet": "private-v4", "ipAddress": "10.0.0.3"}]},
         {"status": "DOWN", "device_id": "", "device_owner": "", "mac_address": "02:00:00:00:00:01",
          "fixed_ips": [{"subnet_id": SUBNET, "ip_address": "10.0.0.3"}]},
         [{"subnet": "private-v4"}]),
    ],
)  # fmt: skip
def test_a_port_before_allocation_and_unused_has_no_device(
    status: dict[str, Any], expected: dict[str, Any], asked: list[dict[str, str]]
) -> None:
    body = {"metadata": _meta("spare", PORT), "spec": {"network": "private", "fixedIPs": asked},
            "status": status}  # fmt: skip
    document = _port_document(body)
    assert {k: document[k] for k in expected} == expected


def test_the_default_group_as_the_cluster_holds_it() -> None:
    """Neutron's default group: all egress, ingress from its own members (its own id)."""
    group = neutron_security_documents.security_group(DEFAULT_GROUP, project_id=PROJECT,
                                                      group_ids=GROUP_IDS)  # fmt: skip
    assert (group["name"], group["description"], group["stateful"]) == (
        "default", "Default security group", True)  # fmt: skip
    said = [(r["direction"], r["ethertype"], r["protocol"], r["remote_group_id"],
             r["remote_ip_prefix"]) for r in group["security_group_rules"]]  # fmt: skip
    assert said == [("egress", "IPv4", None, None, None), ("egress", "IPv6", None, None, None),
                    ("ingress", "IPv4", None, DEFAULT_SG, None),
                    ("ingress", "IPv6", None, DEFAULT_SG, None)]  # fmt: skip
    ids = [r["id"] for r in group["security_group_rules"]]
    assert len(set(ids)) == 4
    assert all(uuid.UUID(i).version == 5 for i in ids)
    assert {r["security_group_id"] for r in group["security_group_rules"]} == {DEFAULT_SG}


def test_rule_ids_are_stable_and_two_identical_rules_have_two() -> None:
    rule = {"direction": "ingress", "protocol": "tcp", "portRangeMin": 22, "portRangeMax": 22}
    twice = {**WEB_GROUP, "spec": {"rules": [rule, {**rule, "description": "again"}]}}
    first, second = neutron_security_documents.rule_ids(twice)
    assert first != second
    reordered = {**WEB_GROUP, "spec": {"rules": [WEB_GROUP["spec"]["rules"][0], rule]}}
    assert neutron_security_documents.rule_ids(reordered)[1] == first
    assert neutron_security_documents.rule_ids({**twice, "metadata": _meta("x", DEFAULT_SG)})[
        0] != first  # another group  # fmt: skip


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, True),
        ({"name": ["Web Port"]}, True),
        ({"name": ["web-port"]}, False),  # the OpenStack name, not the Kubernetes one
        ({"network_id": [NET]}, True),
        ({"network_id": ["elsewhere", NET]}, True),
        ({"device_id": [SERVER]}, True),
        ({"admin_state_up": ["True"]}, True),
        ({"admin_state_up": ["false"]}, False),
        ({"fixed_ips": ["ip_address=10.0.0.10"]}, True),
        ({"fixed_ips": ["ip_address=10.0.0.11"]}, False),
        ({"fixed_ips": [f"subnet_id={SUBNET}", "ip_address=10.0.0.10"]}, True),
        ({"security_groups": [WEB_SG]}, True),
        ({"not_an_attribute": ["x"]}, True),
        ({"fields": ["id"], "limit": ["1"]}, True),
    ],
)  # fmt: skip
def test_neutron_s_list_filters(query: dict[str, list[str]], expected: bool) -> None:
    assert neutron_documents.matches(_port_document(SERVER_PORT), query) is expected


def test_fields_keeps_only_the_attributes_asked_for() -> None:
    document = _port_document(SERVER_PORT)
    assert neutron_documents.select(document, ["id", "name"]) == {"id": PORT, "name": "Web Port"}
    assert neutron_documents.select(document, []) == document


def test_quotas_are_the_project_s_and_details_its_usage() -> None:
    project = {"spec": {"quota": {"networks": 5, "securityGroupRules": -1}},
               "status": {"usage": {"networks": {"inUse": 2, "limit": 5},
                                    "ports": {"inUse": 7, "limit": 500}}}}  # fmt: skip
    assert neutron_documents.quota(project) == {
        "network": 5, "subnet": 100, "port": 500, "router": 10, "floatingip": 50,
        "security_group": 10, "security_group_rule": -1}  # fmt: skip
    details = neutron_documents.quota_details(project)
    assert details["network"] == {"limit": 5, "used": 2, "reserved": 0}
    assert details["port"] == {"limit": 500, "used": 7, "reserved": 0}
    assert details["subnet"] == {"limit": 100, "used": 0, "reserved": 0}
    assert neutron_documents.quota(None)["network"] == 100


def test_the_extensions_are_what_is_served_and_nothing_else() -> None:
    aliases = {e["alias"] for e in neutron_documents.extensions()}
    assert {"security-group", "quotas", "quota_details", "standard-attr-description",
            "port-security", "allowed-address-pairs", "net-mtu", "provider"} <= aliases  # fmt: skip
    assert {"router", "ext-gw-mode", "extraroute", "extraroute-atomic", "l3-ha"} <= aliases
    # Not served: tags, QoS, DNS integration, subnet pools, bindings, multiple gateways.
    assert not aliases & {"tag", "standard-attr-tag", "qos", "dns-integration", "trunk",
                          "subnet_allocation", "binding", "external-gateway-multihoming",
                          "router_availability_zone", "fip-port-details"}  # fmt: skip
    for extension in neutron_documents.extensions():
        assert set(extension) == {"alias", "name", "description", "updated", "links"}


# --- networks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "admin", "name", "spec"),
    [
        ({"name": "net1"}, False, "net1", {}),
        ({"name": "Blue Net", "admin_state_up": False, "mtu": 1400, "description": "blue",
          "port_security_enabled": "false", "dns_domain": "blue.example."}, False, "Blue Net",
         {"adminStateUp": False, "mtu": 1400, "description": "blue",
          "portSecurityEnabled": False, "dnsDomain": "blue.example."}),
        ({"name": "shared", "shared": True, "router:external": True,
          "provider:network_type": "vlan", "provider:physical_network": "physnet1",
          "provider:segmentation_id": 100, "availability_zone_hints": ["az1"]}, True, "shared",
         {"shared": True, "external": True, "availabilityZoneHints": ["az1"],
          "provider": {"networkType": "vlan", "physicalNetwork": "physnet1",
                       "segmentationID": 100}}),
        ({"shared": False, "project_id": PROJECT, "qos_policy_id": None, "tags": []}, False, "",
         {"shared": False}),
    ],
)  # fmt: skip
def test_a_network_create_as_a_network_spec(
    body: dict[str, Any], admin: bool, name: str, spec: dict[str, Any]
) -> None:
    made = neutron_requests.network_create({"network": body}, project_id=PROJECT, admin=admin)
    assert made == (name, spec)
    network_api.NetworkSpec.model_validate(spec)


@pytest.mark.parametrize(
    ("request_body", "code", "kind", "message"),
    [
        (None, 400, "HTTPBadRequest", "Resource body required"),
        ({"net": {}}, 400, "HTTPBadRequest", "Unable to find 'network' in request body"),
        ({"network": {"name": "x", "colour": "blue", "size": 1}}, 400, "HTTPBadRequest",
         "Unrecognized attribute(s) 'colour, size'"),
        ({"network": {"id": "x"}}, 400, "HTTPBadRequest", "Attribute 'id' not allowed in POST"),
        ({"network": {"shared": True}}, 403, "PolicyNotAuthorized",
         "(rule:create_network:shared) is disallowed by policy"),
        ({"network": {"provider:network_type": "vlan"}}, 403, "PolicyNotAuthorized",
         "(rule:create_network:provider:network_type) is disallowed by policy"),
        ({"network": {"mtu": 20000}}, 400, "HTTPBadRequest",
         "Invalid input for mtu. Reason: '20000' is not in the range 68 to 9216."),
        ({"network": {"mtu": "big"}}, 400, "HTTPBadRequest",
         "Invalid input for mtu. Reason: 'big' is not an integer."),
        ({"network": {"admin_state_up": "maybe"}}, 400, "HTTPBadRequest",
         "Invalid input for admin_state_up. Reason: 'maybe' cannot be converted to boolean: "
         "give true or false."),
        ({"network": {"name": 7}}, 400, "HTTPBadRequest",
         "Invalid input for name. Reason: '7' is not a valid string."),
        ({"network": {"project_id": OTHER_PROJECT}}, 400, "HTTPBadRequest",
         "Specifying 'project_id' other than the authenticated project in request is not "
         "allowed for the current user."),
        ({"network": {"qos_policy_id": "q1"}}, 400, "HTTPBadRequest",
         "Invalid input for qos_policy_id. Reason: 'q1': Nimbus does not serve qos_policy_id; "
         "leave it out."),
    ],
)  # fmt: skip
def test_a_network_create_refused_in_neutron_s_words(
    request_body: Any, code: int, kind: str, message: str
) -> None:
    _refused(lambda: neutron_requests.network_create(request_body, project_id=PROJECT,
                                                     admin=False), code, kind, message)  # fmt: skip


@pytest.mark.parametrize(
    ("body", "patch"),
    [
        ({"name": "Renamed Net"},
         {"metadata": {"annotations": {documents.NAME_ANNOTATION: "Renamed Net"}}}),
        ({"name": "private"}, {"metadata": {"annotations": {documents.NAME_ANNOTATION: None}}}),
        ({"admin_state_up": False, "mtu": 9000},
         {"spec": {"adminStateUp": False, "mtu": 9000}}),
        ({}, {}),
    ],
)  # fmt: skip
def test_a_network_update_as_a_merge_patch(body: dict[str, Any], patch: dict[str, Any]) -> None:
    made = neutron_requests.network_update({"network": body}, NETWORK, project_id=PROJECT,
                                           admin=False)  # fmt: skip
    assert made == patch


def test_a_network_keeps_what_neutron_does_not_update() -> None:
    body = {"network": {"provider:network_type": "flat"}}
    _refused(lambda: neutron_requests.network_update(body, NETWORK, project_id=PROJECT,
                                                     admin=True),
             400, "HTTPBadRequest",
             "Cannot update read-only attribute provider:network_type")  # fmt: skip


@pytest.mark.parametrize(
    ("display", "fallback", "name", "annotated"),
    [
        ("net1", "network", "net1", False),
        ("private", "network", "private-", True),  # taken: another object has that name
        ("Blue Net", "network", "blue-net-", True),
        ("", "security-group", "security-group-", True),  # Neutron's names may be empty
    ],
)  # fmt: skip
def test_names_kubernetes_cannot_hold_are_kept_in_the_annotation(
    display: str, fallback: str, name: str, annotated: bool
) -> None:
    metadata = neutron_requests.kube_metadata(display, {"private"}, NS, fallback=fallback)
    assert metadata["name"].startswith(name)
    assert metadata["namespace"] == NS
    assert len(metadata["name"]) <= 63  # a Kubernetes name
    assert re.match(meta.NAME_PATTERN, metadata["name"])
    if annotated:
        assert metadata["annotations"] == {documents.NAME_ANNOTATION: display}
        assert documents.display_name({"metadata": metadata}) == display
    else:
        assert "annotations" not in metadata


# --- subnets --------------------------------------------------------------------------------

NETWORK_IDS = {NET: "private", OTHER_NET: "open"}


def _subnet(body: dict[str, Any], subnets: list[dict[str, Any]] | None = None
            ) -> tuple[str, dict[str, Any]]:  # fmt: skip
    return neutron_subnet_requests.subnet_create(
        {"subnet": {"network_id": NET, "ip_version": 4, **body}}, project_id=PROJECT,
        networks=NETWORK_IDS, subnets=[SUBNET_V4] if subnets is None else subnets,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("body", "spec"),
    [
        ({"cidr": "10.1.0.0/24"}, {"cidr": "10.1.0.0/24"}),
        ({"cidr": "10.1.0.7/24"}, {"cidr": "10.1.0.0/24"}),  # Neutron keeps the network
        ({"cidr": "10.1.0.0/24", "gateway_ip": None, "enable_dhcp": False},
         {"cidr": "10.1.0.0/24", "noGateway": True, "gatewayIP": None, "enableDHCP": False}),
        ({"cidr": "10.1.0.0/24", "gateway_ip": "10.1.0.254",
          "allocation_pools": [{"start": "10.1.0.10", "end": "10.1.0.99"}],
          "dns_nameservers": ["1.1.1.1", "8.8.8.8"],
          "host_routes": [{"destination": "192.168.0.0/16", "nexthop": "10.1.0.254"}]},
         {"cidr": "10.1.0.0/24", "gatewayIP": "10.1.0.254", "noGateway": False,
          "allocationPools": [{"start": "10.1.0.10", "end": "10.1.0.99"}],
          "dnsNameservers": ["1.1.1.1", "8.8.8.8"],
          "hostRoutes": [{"destination": "192.168.0.0/16", "nexthop": "10.1.0.254"}]}),
        ({"cidr": "fd01::/64", "ip_version": 6, "ipv6_ra_mode": "slaac",
          "ipv6_address_mode": "slaac"},
         {"cidr": "fd01::/64", "ipVersion": 6, "ipv6RaMode": "slaac",
          "ipv6AddressMode": "slaac"}),
    ],
)  # fmt: skip
def test_a_subnet_create_as_a_subnet_spec(body: dict[str, Any], spec: dict[str, Any]) -> None:
    name, made = _subnet({"name": "sub1", **body})
    assert name == "sub1"
    assert made == {"network": "private", "ipVersion": 4, **spec}
    network_api.SubnetSpec.model_validate(made)


@pytest.mark.parametrize(
    ("body", "code", "kind", "message"),
    [
        ({"cidr": "10.0.0.128/25"}, 400, "InvalidInput",
         f"Invalid input for operation: Requested subnet with cidr: 10.0.0.128/25 for network: "
         f"{NET} overlaps with another subnet."),
        ({"cidr": "10.1.0.0"}, 400, "HTTPBadRequest",
         "Invalid input for cidr. Reason: '10.1.0.0' is not a valid IP subnet: give a CIDR such "
         "as 10.0.0.0/24."),
        ({"cidr": "fd01::/64"}, 400, "HTTPBadRequest",
         "Invalid input for cidr. Reason: 'fd01::/64' is an IPv6 cidr and ip_version is 4: give "
         "ip_version 6."),
        ({"cidr": "0.0.0.0/0"}, 400, "InvalidInput",
         "Invalid input for operation: 0 is not allowed as CIDR prefix length."),
        ({"cidr": "10.1.0.0/24", "ip_version": 5}, 400, "HTTPBadRequest",
         "Invalid input for ip_version. Reason: '5' is not in [4, 6]."),
        ({"cidr": "10.1.0.0/24", "network_id": OTHER_PROJECT}, 404, "NetworkNotFound",
         f"Network {OTHER_PROJECT} could not be found."),
        ({"ip_version": 4}, 400, "HTTPBadRequest",
         "Failed to parse request. Required attribute 'cidr' not specified"),
        ({"cidr": "10.1.0.0/24", "gateway_ip": "10.2.0.1"}, 400, "HTTPBadRequest",
         "Invalid input for gateway_ip. Reason: '10.2.0.1' is not inside the subnet's cidr "
         "10.1.0.0/24: give an address of it, or null for no gateway."),
        ({"cidr": "10.1.0.0/24", "allocation_pools": [{"start": "10.1.0.10", "end": "10.2.0.1"}]},
         400, "OutOfBoundsAllocationPool",
         "The allocation pool 10.1.0.10-10.2.0.1 spans beyond the subnet cidr 10.1.0.0/24."),
        ({"cidr": "10.1.0.0/24", "allocation_pools": [{"start": "10.1.0.20", "end": "10.1.0.10"}]},
         400, "InvalidAllocationPool", "The allocation pool 10.1.0.20-10.1.0.10 is not valid."),
        ({"cidr": "10.1.0.0/24", "allocation_pools": [
            {"start": "10.1.0.10", "end": "10.1.0.20"},
            {"start": "10.1.0.15", "end": "10.1.0.30"}]},
         409, "OverlappingAllocationPools",
         "Found overlapping allocation pools: 10.1.0.10-10.1.0.20 10.1.0.15-10.1.0.30 for subnet "
         "10.1.0.0/24."),
        ({"cidr": "10.1.0.0/24", "allocation_pools": [{"start": "10.1.0.1", "end": "10.1.0.9"}]},
         409, "GatewayConflictWithAllocationPools",
         "Gateway ip 10.1.0.1 conflicts with allocation pool 10.1.0.1-10.1.0.9."),
        ({"cidr": "10.1.0.0/24", "ipv6_ra_mode": "slaac"}, 400, "HTTPBadRequest",
         "Invalid input for ipv6_ra_mode. Reason: 'slaac' is for ip_version 6 only; this subnet "
         "is ip_version 4."),
        ({"cidr": "10.1.0.0/24", "dns_nameservers": ["dns.example"]}, 400, "HTTPBadRequest",
         "Invalid input for dns_nameservers. Reason: 'dns.example' is not a valid IP address."),
        ({"cidr": "10.1.0.0/24", "subnetpool_id": "pool"}, 400, "HTTPBadRequest",
         "Invalid input for subnetpool_id. Reason: 'pool': Nimbus does not serve subnetpool_id; "
         "leave it out."),
    ],
)  # fmt: skip
def test_a_subnet_create_refused_in_neutron_s_words(
    body: dict[str, Any], code: int, kind: str, message: str
) -> None:
    _refused(lambda: _subnet(body), code, kind, message)


def test_subnets_of_other_networks_and_versions_do_not_overlap() -> None:
    elsewhere = {**SUBNET_V4, "spec": {"network": "open", "cidr": "10.1.0.0/24"}}
    assert _subnet({"cidr": "10.1.0.0/24"}, [elsewhere, SUBNET_V6])[1]["cidr"] == "10.1.0.0/24"


@pytest.mark.parametrize(
    ("body", "patch"),
    [
        ({"name": "v4"}, {"metadata": {"annotations": {documents.NAME_ANNOTATION: "v4"}}}),
        ({"gateway_ip": None}, {"spec": {"noGateway": True, "gatewayIP": None}}),
        ({"gateway_ip": "10.0.0.254", "dns_nameservers": []},
         {"spec": {"gatewayIP": "10.0.0.254", "noGateway": False, "dnsNameservers": []}}),
        ({"allocation_pools": [{"start": "10.0.0.100", "end": "10.0.0.200"}]},
         {"spec": {"allocationPools": [{"start": "10.0.0.100", "end": "10.0.0.200"}]}}),
    ],
)  # fmt: skip
def test_a_subnet_update_as_a_merge_patch(body: dict[str, Any], patch: dict[str, Any]) -> None:
    made = neutron_subnet_requests.subnet_update({"subnet": body}, SUBNET_V4, project_id=PROJECT)
    assert made == patch


def test_a_subnet_keeps_its_cidr_and_its_pools_their_gateway() -> None:
    _refused(lambda: neutron_subnet_requests.subnet_update(
        {"subnet": {"cidr": "10.9.0.0/24"}}, SUBNET_V4, project_id=PROJECT),
        400, "HTTPBadRequest", "Cannot update read-only attribute cidr")  # fmt: skip
    pooled = {**SUBNET_V4, "spec": {**SUBNET_V4["spec"], "allocationPools": [
        {"start": "10.0.0.100", "end": "10.0.0.200"}]}}  # fmt: skip
    _refused(lambda: neutron_subnet_requests.subnet_update(
        {"subnet": {"gateway_ip": "10.0.0.150"}}, pooled, project_id=PROJECT),
        409, "GatewayConflictWithAllocationPools",
        "Gateway ip 10.0.0.150 conflicts with allocation pool 10.0.0.100-10.0.0.200.")  # fmt: skip


# --- ports ----------------------------------------------------------------------------------

PROJECT_OBJECTS = neutron_port_requests.Project(
    networks=[NETWORK, NO_SECURITY], subnets=[SUBNET_V4, SUBNET_V6], ports=[SERVER_PORT],
    groups=[DEFAULT_GROUP, WEB_GROUP],
)  # fmt: skip


def _port(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return neutron_port_requests.port_create({"port": {"network_id": NET, **body}},
                                             PROJECT_OBJECTS, project_id=PROJECT)  # fmt: skip


@pytest.mark.parametrize(
    ("body", "spec"),
    [
        ({}, {"portSecurityEnabled": True, "securityGroups": ["default"]}),
        ({"name": "p1", "admin_state_up": True, "security_groups": [WEB_SG],
          "fixed_ips": [{"subnet_id": SUBNET, "ip_address": "10.0.0.20"}],
          "mac_address": "FA:16:3E:00:00:01", "binding:vnic_type": "direct",
          "allowed_address_pairs": [{"ip_address": "10.0.0.64/26"}], "device_id": ""},
         {"adminStateUp": True, "portSecurityEnabled": True, "securityGroups": ["web"],
          "fixedIPs": [{"subnet": "private-v4", "ipAddress": "10.0.0.20"}],
          "macAddress": "fa:16:3e:00:00:01", "vnicType": "direct",
          "allowedAddressPairs": [{"ipAddress": "10.0.0.64/26"}]}),
        ({"fixed_ips": [{"ip_address": "fd00::20"}, {"subnet_id": SUBNET}]},
         {"portSecurityEnabled": True, "securityGroups": ["default"],
          "fixedIPs": [{"subnet": "private-v6", "ipAddress": "fd00::20"},
                       {"subnet": "private-v4"}]}),
        ({"port_security_enabled": False}, {"portSecurityEnabled": False}),
    ],
)  # fmt: skip
def test_a_port_create_as_a_port_spec(body: dict[str, Any], spec: dict[str, Any]) -> None:
    name, made = _port(body)
    assert name == body.get("name", "")
    assert made == {"network": "private", **spec}
    network_api.PortSpec.model_validate(made)


def test_a_port_takes_its_network_s_port_security() -> None:
    made = neutron_port_requests.port_create({"port": {"network_id": OTHER_NET}},
                                             PROJECT_OBJECTS, project_id=PROJECT)  # fmt: skip
    assert made == ("", {"network": "open", "portSecurityEnabled": False})


@pytest.mark.parametrize(
    ("body", "code", "kind", "message"),
    [
        ({"network_id": OTHER_PROJECT}, 404, "NetworkNotFound",
         f"Network {OTHER_PROJECT} could not be found."),
        ({"fixed_ips": [{"ip_address": "10.0.0.10"}]}, 409, "IpAddressInUse",
         f"Unable to complete operation for network {NET}. The IP address 10.0.0.10 is in use."),
        ({"fixed_ips": [{"ip_address": "10.0.0.1"}]}, 409, "IpAddressInUse",
         f"Unable to complete operation for network {NET}. The IP address 10.0.0.1 is in use."),
        ({"mac_address": "02:AA:BB:CC:DD:EE"}, 409, "MacAddressInUse",
         f"Unable to complete operation for network {NET}. The mac address 02:aa:bb:cc:dd:ee "
         "is in use."),
        ({"mac_address": "01:00:5e:00:00:01"}, 400, "HTTPBadRequest",
         "Invalid input for mac_address. Reason: '01:00:5e:00:00:01' is not a valid MAC "
         "address: give a unicast MAC such as fa:16:3e:12:34:56."),
        ({"fixed_ips": [{"subnet_id": SUBNET, "ip_address": "10.9.0.1"}]}, 400,
         "InvalidIpForSubnet", "IP address 10.9.0.1 is not a valid IP for the specified subnet."),
        ({"fixed_ips": [{"ip_address": "10.9.0.1"}]}, 400, "InvalidIpForNetwork",
         "IP address 10.9.0.1 is not a valid IP for any of the subnets on the specified "
         "network."),
        ({"fixed_ips": [{"subnet_id": "nope"}]}, 404, "SubnetNotFound",
         "Subnet nope could not be found."),
        ({"fixed_ips": []}, 400, "HTTPBadRequest",
         "Invalid input for fixed_ips. Reason: []: a port without addresses is not supported by "
         "Nimbus; leave fixed_ips out to have one allocated."),
        ({"security_groups": ["nope"]}, 404, "SecurityGroupNotFound",
         "Security group nope does not exist"),
        ({"port_security_enabled": False, "security_groups": [WEB_SG]}, 400,
         "PortSecurityAndIPRequiredForSecurityGroups",
         "Port security must be enabled and port must have an IP address in order to use "
         "security groups."),
        ({"device_id": SERVER}, 400, "HTTPBadRequest",
         f"Invalid input for device_id. Reason: '{SERVER}': a port's device is the server that "
         "uses it; give the port to a server instead (openstack server create "
         "--nic port-id=<port>)."),
        ({"binding:vnic_type": "baremetal"}, 400, "HTTPBadRequest",
         "Invalid input for binding:vnic_type. Reason: 'baremetal' is not in ['normal', "
         "'direct', 'macvtap']."),
        ({"allowed_address_pairs": [{"ip_address": "10.0.0.1"}] * 11}, 400,
         "AllowedAddressPairExhausted", "The number of allowed address pair exceeds the "
         "maximum 10."),
    ],
)  # fmt: skip
def test_a_port_create_refused_in_neutron_s_words(
    body: dict[str, Any], code: int, kind: str, message: str
) -> None:
    _refused(lambda: _port(body), code, kind, message)


def test_a_subnet_of_another_network_is_no_port_s() -> None:
    other = {"kind": "Subnet", "metadata": _meta("open-v4", "s-open"),
             "spec": {"network": "open", "cidr": "10.5.0.0/24"}}  # fmt: skip
    project = neutron_port_requests.Project(networks=[NETWORK, NO_SECURITY], subnets=[other],
                                            ports=[], groups=[])  # fmt: skip
    _refused(lambda: neutron_port_requests.port_create(
        {"port": {"network_id": NET, "fixed_ips": [{"subnet_id": "s-open"}]}}, project,
        project_id=PROJECT), 400, "InvalidInput",
        f"Invalid input for operation: Failed to create port on network {NET}, because "
        "fixed_ips included invalid subnet s-open.")  # fmt: skip


def _update(body: dict[str, Any]) -> dict[str, Any]:
    return neutron_port_requests.port_update({"port": body}, SERVER_PORT, PROJECT_OBJECTS,
                                             project_id=PROJECT,
                                             current=_port_document(SERVER_PORT))  # fmt: skip


@pytest.mark.parametrize(
    ("body", "patch"),
    [
        ({"name": "renamed", "security_groups": [DEFAULT_SG]},
         {"spec": {"securityGroups": ["default"]},
          "metadata": {"annotations": {documents.NAME_ANNOTATION: "renamed"}}}),
        ({"security_groups": [], "allowed_address_pairs": [], "port_security_enabled": False},
         {"spec": {"securityGroups": [], "allowedAddressPairs": [],
                   "portSecurityEnabled": False}}),
        # `port set` sends the fixed IPs and device it read back: unchanged, they are fine.
        ({"fixed_ips": [{"subnet_id": SUBNET, "ip_address": "10.0.0.10"}],
          "device_id": SERVER, "description": "front"}, {"spec": {"description": "front"}}),
    ],
)  # fmt: skip
def test_a_port_update_as_a_merge_patch(body: dict[str, Any], patch: dict[str, Any]) -> None:
    assert _update(body) == patch


@pytest.mark.parametrize(
    ("body", "code", "kind", "message"),
    [
        ({"port_security_enabled": False}, 409, "PortSecurityPortHasSecurityGroup",
         "Port has security group associated. Cannot disable port security or ip address until "
         "security group is removed"),
        ({"fixed_ips": [{"subnet_id": SUBNET, "ip_address": "10.0.0.11"}]}, 400,
         "HTTPBadRequest", f"Invalid input for fixed_ips. Reason: '[{{'subnet_id': '{SUBNET}', "
         "'ip_address': '10.0.0.11'}]': a port keeps its addresses and MAC for its life in "
         "Nimbus; create a new port."),
        ({"network_id": OTHER_NET}, 400, "HTTPBadRequest",
         "Cannot update read-only attribute network_id"),
    ],
)  # fmt: skip
def test_a_port_update_refused_in_neutron_s_words(
    body: dict[str, Any], code: int, kind: str, message: str
) -> None:
    _refused(lambda: _update(body), code, kind, message)


# --- security groups and rules --------------------------------------------------------------


def test_a_new_group_has_neutron_s_two_egress_rules() -> None:
    name, spec = neutron_security_documents.group_create(
        {"security_group": {"name": "Web Servers", "description": "web", "stateful": True}},
        project_id=PROJECT,
    )  # fmt: skip
    assert (name, spec) == ("Web Servers", {"description": "web", "stateful": True, "rules": [
        {"direction": "egress", "ethertype": "IPv4"},
        {"direction": "egress", "ethertype": "IPv6"}]})  # fmt: skip
    network_api.SecurityGroupSpec.model_validate(spec)


@pytest.mark.parametrize(
    ("call", "code", "kind", "message"),
    [
        (lambda: neutron_security_documents.group_create(
            {"security_group": {"name": "Default"}}, project_id=PROJECT),
         409, "SecurityGroupDefaultAlreadyExists", "Default security group already exists."),
        (lambda: neutron_security_documents.group_update(
            {"security_group": {"name": "mine"}}, DEFAULT_GROUP, project_id=PROJECT),
         409, "SecurityGroupCannotUpdateDefault", "Updating default security group not allowed."),
        (lambda: neutron_security_documents.group_update(
            {"security_group": {"name": "default"}}, WEB_GROUP, project_id=PROJECT),
         409, "SecurityGroupDefaultAlreadyExists", "Default security group already exists."),
        (lambda: neutron_security_documents.group_update(
            {"security_group": {"security_group_rules": []}}, WEB_GROUP, project_id=PROJECT),
         400, "HTTPBadRequest", "Cannot update read-only attribute security_group_rules"),
    ],
)  # fmt: skip
def test_the_default_group_keeps_its_name(call: Any, code: int, kind: str, message: str) -> None:
    _refused(call, code, kind, message)


def test_a_group_update_as_a_merge_patch() -> None:
    patch = neutron_security_documents.group_update(
        {"security_group": {"name": "web", "description": "new"}}, WEB_GROUP, project_id=PROJECT
    )
    assert patch == {"spec": {"description": "new"},
                     "metadata": {"annotations": {documents.NAME_ANNOTATION: None}}}  # fmt: skip


GROUPS = [DEFAULT_GROUP, WEB_GROUP]


def _rule(body: dict[str, Any], limit: int = 100) -> dict[str, Any]:
    group, rule = neutron_security_documents.rule_create(
        {"security_group_rule": {"security_group_id": WEB_SG, "direction": "ingress", **body}},
        GROUPS, project_id=PROJECT, limit=limit,
    )  # fmt: skip
    assert group is WEB_GROUP
    network_api.SecurityGroupRule.model_validate(rule)
    return rule


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ({"protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
          "remote_ip_prefix": "0.0.0.0/0"},
         {"protocol": "tcp", "portRangeMin": 22, "portRangeMax": 22,
          "remoteIPPrefix": "0.0.0.0/0"}),
        ({"protocol": "TCP", "port_range_min": 1, "port_range_max": 65535},
         {"protocol": "tcp"}),  # the whole range is no range, as Neutron keeps it
        ({"protocol": "icmp", "port_range_min": 8, "port_range_max": 0,
          "remote_ip_prefix": "192.0.2.7"},
         {"protocol": "icmp", "portRangeMin": 8, "portRangeMax": 0,
          "remoteIPPrefix": "192.0.2.7/32"}),
        ({"ethertype": "ipv6", "protocol": "ipv6-icmp", "remote_ip_prefix": "2001:db8::1/64"},
         {"ethertype": "IPv6", "protocol": "ipv6-icmp", "remoteIPPrefix": "2001:db8::/64"}),
        ({"protocol": None, "remote_group_id": DEFAULT_SG, "description": "from default"},
         {"protocol": "any", "remoteGroup": "default", "description": "from default"}),
        ({"protocol": "6", "port_range_min": 443, "port_range_max": 443},
         {"protocol": "tcp", "portRangeMin": 443, "portRangeMax": 443}),
        ({"protocol": 47}, {"protocol": "47"}),
    ],
)  # fmt: skip
def test_a_rule_create_as_a_rule_of_its_group(body: dict[str, Any], rule: dict[str, Any]) -> None:
    assert _rule(body) == {"direction": "ingress", "ethertype": "IPv4", **rule}


@pytest.mark.parametrize(
    ("body", "code", "kind", "message"),
    [
        ({"security_group_id": "nope"}, 404, "SecurityGroupNotFound",
         "Security group nope does not exist"),
        ({"direction": None}, 400, "HTTPBadRequest",
         "Failed to parse request. Required attribute 'direction' not specified"),
        ({"direction": "inwards"}, 400, "HTTPBadRequest",
         "Invalid input for direction. Reason: 'inwards' is not in ['ingress', 'egress']."),
        ({"ethertype": "IPv5"}, 400, "SecurityGroupRuleInvalidEtherType",
         "Security group rule for ethertype 'IPv5' not supported. Allowed values are ['IPv4', "
         "'IPv6']."),
        ({"protocol": "gre"}, 400, "SecurityGroupRuleInvalidProtocol",
         "Security group rule protocol gre not supported. Only protocol values [None, 'any', "
         "'tcp', 'udp', 'sctp', 'icmp', 'ipv6-icmp', 'icmpv6'] and integer representations "
         "[0 to 255] are supported."),
        ({"protocol": "300"}, 400, "SecurityGroupRuleInvalidProtocol",
         "Security group rule protocol 300 not supported. Only protocol values [None, 'any', "
         "'tcp', 'udp', 'sctp', 'icmp', 'ipv6-icmp', 'icmpv6'] and integer representations "
         "[0 to 255] are supported."),
        ({"port_range_min": 22, "port_range_max": 22}, 400,
         "SecurityGroupProtocolRequiredWithPorts",
         "Must also specify protocol if port range is given."),
        ({"protocol": "tcp", "port_range_min": 80, "port_range_max": 22}, 400,
         "SecurityGroupInvalidPortRange",
         "For TCP/UDP protocols, port_range_min must be <= port_range_max"),
        ({"protocol": "tcp", "port_range_min": 0, "port_range_max": 22}, 400,
         "SecurityGroupInvalidPortValue", "Invalid value for port 0"),
        ({"protocol": "tcp", "port_range_min": 70000}, 400, "SecurityGroupInvalidPortValue",
         "Invalid value for port 70000"),
        ({"protocol": "icmp", "port_range_min": 300}, 400, "SecurityGroupInvalidIcmpValue",
         "Invalid value for ICMP type (port_range_min) 300. It must be 0 to 255."),
        ({"protocol": "icmp", "port_range_max": 0}, 400, "SecurityGroupMissingIcmpType",
         "ICMP code (port-range-max) 0 is provided but ICMP type (port-range-min) is missing."),
        ({"protocol": "47", "port_range_min": 1, "port_range_max": 2}, 400,
         "SecurityGroupInvalidProtocolForPort",
         "Ports cannot be specified for protocol 47. Ports are only supported for TCP, UDP, "
         "SCTP, ICMP and IPV6-ICMP."),
        ({"protocol": "ipv6-icmp"}, 400, "SecurityGroupEthertypeConflictWithProtocol",
         "Invalid ethertype IPv4 for protocol ipv6-icmp."),
        ({"remote_ip_prefix": "2001:db8::/64"}, 400, "SecurityGroupRuleParameterConflict",
         "Conflicting value ethertype IPv4 for CIDR 2001:db8::/64"),
        ({"remote_ip_prefix": "somewhere"}, 400, "InvalidCIDR",
         "Invalid CIDR somewhere given as IP prefix."),
        ({"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": DEFAULT_SG}, 400,
         "SecurityGroupMultipleRemoteEntites",
         "Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be "
         "provided."),
        ({"remote_group_id": "nope"}, 404, "SecurityGroupNotFound",
         "Security group nope does not exist"),
        ({"remote_address_group_id": "ag"}, 400, "HTTPBadRequest",
         "Invalid input for remote_address_group_id. Reason: 'ag': Nimbus does not serve "
         "remote_address_group_id; leave it out."),
    ],
)  # fmt: skip
def test_a_rule_create_refused_in_neutron_s_words(
    body: dict[str, Any], code: int, kind: str, message: str
) -> None:
    _refused(lambda: _rule(body), code, kind, message)


def test_a_rule_already_there_is_neutron_s_409_naming_it() -> None:
    (existing,) = neutron_security_documents.rule_ids(WEB_GROUP)
    # the same rule, with another description and a prefix written otherwise
    body = {"protocol": "tcp", "port_range_min": 80, "port_range_max": 80,
            "remote_ip_prefix": "0.0.0.0/0", "description": "again"}  # fmt: skip
    _refused(lambda: _rule(body), 409, "SecurityGroupRuleExists",
             f"Security group rule already exists. Rule id is {existing}.")  # fmt: skip


def test_rules_beyond_the_project_s_quota_are_refused() -> None:
    held = len(DEFAULT_GROUP["spec"]["rules"]) + len(WEB_GROUP["spec"]["rules"])
    _refused(lambda: _rule({"protocol": "udp"}, limit=held), 409, "OverQuota",
             "Quota exceeded for resources: ['security_group_rule'].")  # fmt: skip
    assert _rule({"protocol": "udp"}, limit=-1)["protocol"] == "udp"


def test_a_rule_made_reads_back_as_it_was_asked_for() -> None:
    """Both ways: the request's rule in the group's spec shows as Neutron showed it."""
    asked = {"security_group_id": WEB_SG, "direction": "egress", "ethertype": "IPv4",
             "protocol": "udp", "port_range_min": 53, "port_range_max": 53,
             "remote_ip_prefix": "10.0.0.0/8", "remote_group_id": None,
             "description": "dns"}  # fmt: skip
    group, rule = neutron_security_documents.rule_create(
        {"security_group_rule": asked}, GROUPS, project_id=PROJECT, limit=100
    )
    written = {**group, "spec": {**group["spec"], "rules": [*group["spec"]["rules"], rule]}}
    shown = neutron_security_documents.rules(written, project_id=PROJECT, group_ids=GROUP_IDS)
    assert {k: shown[-1][k] for k in asked} == asked
    assert shown[-1]["normalized_cidr"] == "10.0.0.0/8"
    found, index = neutron_security_documents.find_rule([DEFAULT_GROUP, written], shown[-1]["id"])
    assert (found, index) == (written, 1)


def test_a_deleted_group_takes_the_rules_that_name_it() -> None:
    naming = {**WEB_GROUP, "spec": {"rules": [
        {"direction": "ingress", "remoteGroup": "db"}, {"direction": "egress"}]}}  # fmt: skip
    assert neutron_security_documents.without_remote(naming, "db") == [{"direction": "egress"}]
    assert neutron_security_documents.without_remote(naming, "other") is None
    with pytest.raises(Fault) as raised:
        neutron_security_documents.find_rule(GROUPS, "gone")
    assert (raised.value.code, raised.value.kind) == (404, "SecurityGroupRuleNotFound")
