"""Neutron v2.0 port create and update requests as the spec and merge patch of a Port.

Pure: the request body and the project's networks, subnets, ports and security groups in; the
OpenStack name and the Port spec (create) or the merge patch (update) out; or Neutron's refusal
in Neutron's words. The operator allocates the addresses and MAC; what is refused here is what
Neutron refuses before it allocates: an address or MAC another port of the network holds, an
address outside the subnet named."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from nimbus.network import api as network_api
from nimbus.network import render as network_render
from nimbus.openstack import neutron_requests as requests
from nimbus.openstack.faults import Fault

_WRITABLE = ("name", "admin_state_up", "description", "security_groups", "port_security_enabled",
             "allowed_address_pairs", "binding:vnic_type", "fixed_ips", "mac_address",
             "device_id", "device_owner")  # fmt: skip
_READ_ONLY = ("id", "status", "created_at", "updated_at", "revision_number")
_UNSUPPORTED = ("qos_policy_id", "tags", "dns_name", "dns_domain", "binding:host_id",
                "binding:profile", "extra_dhcp_opts", "propagate_uplink_status",
                "numa_affinity_policy", "trusted", "hints", "device_profile",
                "hardware_offload_type", "data_plane_status")  # fmt: skip
_VNIC_TYPES = ["normal", "direct", "macvtap"]
ADDRESS_PAIRS_MAX = 10


class Project:
    """What a port request refers to in the caller's project: its Network, Subnet, Port and
    SecurityGroup bodies."""

    def __init__(
        self, *, networks: list[dict[str, Any]], subnets: list[dict[str, Any]],
        ports: list[dict[str, Any]], groups: list[dict[str, Any]],
    ) -> None:  # fmt: skip
        self.networks, self.subnets, self.ports, self.groups = networks, subnets, ports, groups

    def network(self, ident: str) -> dict[str, Any]:
        found = next((n for n in self.networks if n["metadata"]["uid"] == ident), None)
        if found is None:
            raise requests.not_found("Network", ident)
        return found

    def subnets_of(self, network: str) -> list[dict[str, Any]]:
        return [s for s in self.subnets if (s.get("spec") or {}).get("network") == network]

    def held(self, network: str, excluding: str | None = None) -> set[str]:
        """Addresses and MACs the network's other ports hold or ask for."""
        out: set[str] = set()
        for port in self.ports:
            spec, status = port.get("spec") or {}, port.get("status") or {}
            if spec.get("network") != network or port["metadata"]["name"] == excluding:
                continue
            for entry in [*(spec.get("fixedIPs") or []), *(status.get("fixedIPs") or [])]:
                if entry.get("ipAddress"):
                    out.add(str(ipaddress.ip_address(entry["ipAddress"])))
            for mac in (spec.get("macAddress"), status.get("macAddress")):
                if mac:
                    out.add(str(mac).lower())
        return out


def _forbidden_device(body: Mapping[str, Any], current: Mapping[str, Any] | None) -> None:
    """A port's device is the server that uses it, never a value a request sets."""
    for key in ("device_id", "device_owner"):
        value = body.get(key)
        if value in (None, "") or (current is not None and value == current.get(key)):
            continue
        raise requests.invalid(key, f"'{value}': a port's device is the server that uses it; "
                               "give the port to a server instead (openstack server create "
                               "--nic port-id=<port>)")  # fmt: skip


def _fixed_ips(
    value: list[Any], network: dict[str, Any], project: Project, held: set[str]
) -> list[dict[str, str]]:
    network_id, name = network["metadata"]["uid"], network["metadata"]["name"]
    if not value:
        raise requests.invalid("fixed_ips", "[]: a port without addresses is not supported by "
                               "Nimbus; leave fixed_ips out to have one allocated")  # fmt: skip
    subnets = project.subnets_of(name)
    out = []
    for entry in value:
        if not isinstance(entry, Mapping) or not ({"subnet_id", "ip_address"} & set(entry)):
            raise requests.invalid("fixed_ips", f"'{entry}' is not a fixed IP: give subnet_id, "
                                   "ip_address or both")  # fmt: skip
        subnet = None
        if entry.get("subnet_id") is not None:
            wanted = str(entry["subnet_id"])
            subnet = next((s for s in project.subnets if s["metadata"]["uid"] == wanted), None)
            if subnet is None:
                raise requests.not_found("Subnet", wanted)
            if subnet not in subnets:
                raise requests.bad_request(
                    f"Invalid input for operation: Failed to create port on network "
                    f"{network_id}, because fixed_ips included invalid subnet {wanted}.",
                    "InvalidInput")  # fmt: skip
        fixed: dict[str, str] = {}
        if entry.get("ip_address") is not None:
            address = requests.ip_address(entry["ip_address"], "fixed_ips")
            inside = [s for s in ([subnet] if subnet else subnets)
                      if ipaddress.ip_address(address) in ipaddress.ip_network(
                          str(s["spec"]["cidr"]), strict=False)]  # fmt: skip
            if not inside:
                if subnet is not None:
                    raise requests.bad_request(
                        f"IP address {address} is not a valid IP for the specified subnet.",
                        "InvalidIpForSubnet",
                    )
                raise requests.bad_request(f"IP address {address} is not a valid IP for any of "
                                           "the subnets on the specified network.",
                                           "InvalidIpForNetwork")  # fmt: skip
            subnet = inside[0]
            gateway = network_render.gateway(network_api.SubnetSpec.model_validate(subnet["spec"]))
            if address in held or address == gateway:
                raise Fault(409, f"Unable to complete operation for network {network_id}. The IP "
                            f"address {address} is in use.", style="neutron",
                            kind="IpAddressInUse")  # fmt: skip
            fixed["ipAddress"] = address
        assert subnet is not None
        fixed["subnet"] = subnet["metadata"]["name"]
        out.append(fixed)
    return out


def _groups(value: list[Any], project: Project) -> list[str]:
    names = []
    for ident in value:
        found = next((g for g in project.groups if g["metadata"]["uid"] == str(ident)), None)
        if found is None:
            raise Fault(404, f"Security group {ident} does not exist", style="neutron",
                        kind="SecurityGroupNotFound")  # fmt: skip
        names.append(str(found["metadata"]["name"]))
    return list(dict.fromkeys(names))


def _address_pairs(value: list[Any]) -> list[dict[str, str]]:
    if len(value) > ADDRESS_PAIRS_MAX:
        raise requests.bad_request(
            f"The number of allowed address pair exceeds the maximum {ADDRESS_PAIRS_MAX}.",
            "AllowedAddressPairExhausted",
        )
    out = []
    for pair in value:
        if not isinstance(pair, Mapping) or "ip_address" not in pair:
            raise requests.invalid("allowed_address_pairs", f"'{pair}' is not an address pair: "
                                   "give {ip_address, mac_address}")  # fmt: skip
        text = str(pair["ip_address"])
        address = (str(requests.cidr(text, "allowed_address_pairs")) if "/" in text
                   else requests.ip_address(text, "allowed_address_pairs"))  # fmt: skip
        entry = {"ipAddress": address}
        if pair.get("mac_address"):
            entry["macAddress"] = requests.mac_address(pair["mac_address"], "allowed_address_pairs")
        out.append(entry)
    return out


def _common(body: Mapping[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for key, field in (("admin_state_up", "adminStateUp"),
                       ("port_security_enabled", "portSecurityEnabled")):  # fmt: skip
        value = requests.boolean(body, key)
        if value is not None:
            spec[field] = value
    description = requests.string(body, "description")
    if description is not None:
        spec["description"] = description
    vnic = requests.string(body, "binding:vnic_type")
    if vnic is not None:
        if vnic not in _VNIC_TYPES:
            raise requests.invalid("binding:vnic_type", f"'{vnic}' is not in {_VNIC_TYPES}")
        spec["vnicType"] = vnic
    pairs = requests.listed(body, "allowed_address_pairs")
    if pairs is not None:
        spec["allowedAddressPairs"] = _address_pairs(pairs)
    return spec


def _security_checks(spec: Mapping[str, Any], port_id: str | None) -> None:
    if spec.get("portSecurityEnabled", True):
        return
    if spec.get("securityGroups"):
        if port_id is not None:
            raise Fault(409, "Port has security group associated. Cannot disable port security or "
                        "ip address until security group is removed", style="neutron",
                        kind="PortSecurityPortHasSecurityGroup")  # fmt: skip
        raise requests.bad_request("Port security must be enabled and port must have an IP "
                                   "address in order to use security groups.",
                                   "PortSecurityAndIPRequiredForSecurityGroups")  # fmt: skip
    if spec.get("allowedAddressPairs"):
        raise Fault(409, "Port Security must be enabled in order to have allowed address pairs "
                    "on a port.", style="neutron",
                    kind="AddressPairAndPortSecurityRequired")  # fmt: skip


def port_create(request: Any, project: Project, *, project_id: str) -> tuple[str, dict[str, Any]]:
    """POST /ports -> (the port's OpenStack name, its Port spec). Without security_groups, a
    port with port security has the project's `default` group, as in Neutron."""
    body = requests.resource(request, "port")
    requests.check_attributes(body, writable=_WRITABLE, read_only=_READ_ONLY,
                              create_only=("network_id",), unsupported=_UNSUPPORTED,
                              updating=False, project_id=project_id)  # fmt: skip
    _forbidden_device(body, None)
    if body.get("network_id") is None:
        raise requests.bad_request("Failed to parse request. Required attribute 'network_id' not "
                                   "specified")  # fmt: skip
    network = project.network(str(body["network_id"]))
    name = network["metadata"]["name"]
    held = project.held(name)
    spec: dict[str, Any] = {"network": name, **_common(body)}
    security = spec.get("portSecurityEnabled",
                        (network.get("spec") or {}).get("portSecurityEnabled", True))  # fmt: skip
    spec["portSecurityEnabled"] = security
    fixed = requests.listed(body, "fixed_ips")
    if fixed is not None:
        spec["fixedIPs"] = _fixed_ips(fixed, network, project, held)
    if body.get("mac_address") is not None:
        mac = requests.mac_address(body["mac_address"], "mac_address")
        if mac in held:
            raise Fault(409, f"Unable to complete operation for network "
                        f"{network['metadata']['uid']}. The mac address {mac} is in use.",
                        style="neutron", kind="MacAddressInUse")  # fmt: skip
        spec["macAddress"] = mac
    groups = requests.listed(body, "security_groups")
    if groups is not None:
        spec["securityGroups"] = _groups(groups, project)
    elif security:
        spec["securityGroups"] = ["default"]
    _security_checks(spec, None)
    requests.validated(network_api.PortSpec, spec, "port")
    return requests.string(body, "name") or "", spec


def port_update(
    request: Any, port: Mapping[str, Any], project: Project, *, project_id: str,
    current: Mapping[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """PUT /ports/{id} -> the merge patch of the Port. `current`: the port's document, against
    which fixed_ips, mac_address and the device may be sent unchanged (as `port set` does)."""
    body = requests.resource(request, "port")
    requests.check_attributes(body, writable=_WRITABLE, read_only=_READ_ONLY,
                              create_only=("network_id",), unsupported=_UNSUPPORTED,
                              updating=True, project_id=project_id)  # fmt: skip
    _forbidden_device(body, current)
    for key in ("fixed_ips", "mac_address"):
        if key in body and body[key] != current.get(key):
            raise requests.invalid(key, f"'{body[key]}': a port keeps its addresses and MAC for "
                                   "its life in Nimbus; create a new port")  # fmt: skip
    spec = _common(body)
    groups = requests.listed(body, "security_groups")
    if groups is not None:
        spec["securityGroups"] = _groups(groups, project)
    elif "security_groups" in body:
        spec["securityGroups"] = []  # null: none
    merged = {**(port.get("spec") or {}), **spec}
    _security_checks(merged, str(port["metadata"]["uid"]))
    requests.validated(network_api.PortSpec, merged, "port")
    patch: dict[str, Any] = {"spec": spec} if spec else {}
    name = requests.string(body, "name")
    if name is not None:
        patch["metadata"] = requests.name_patch(port, name)
    return patch
