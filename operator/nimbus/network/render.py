"""Network + Subnets -> NetworkAttachmentDefinition; SecurityGroup -> NetworkPolicy."""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
from typing import Any

from nimbus.api import meta
from nimbus.network import api
from nimbus.runtime import templating

SG_LABEL = "sg.network.nimbus.dev"


@dataclasses.dataclass(frozen=True)
class SubnetInputs:
    name: str
    spec: api.SubnetSpec


@dataclasses.dataclass(frozen=True)
class NetworkInputs:
    name: str
    namespace: str
    spec: api.NetworkSpec
    subnets: tuple[SubnetInputs, ...] = ()
    reserved: tuple[str, ...] = ()  # fixed IPs held by ports: whereabouts must not hand them out
    owner: dict[str, Any] | None = None


def gateway(subnet: api.SubnetSpec) -> str | None:
    """The subnet's gateway: as given, none with noGateway, else the first address (Neutron)."""
    if subnet.no_gateway:
        return None
    if subnet.gateway_ip:
        return subnet.gateway_ip
    network = ipaddress.ip_network(subnet.cidr, strict=False)
    return str(next(network.hosts()))


def mac_address(namespace: str, port: str) -> str:
    """A stable, locally administered unicast MAC for a port that names none."""
    digest = hashlib.sha256(f"port/{namespace}/{port}".encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


def bridge_name(namespace: str, network: str) -> str:
    """A Linux bridge name (at most 15 characters) unique to the network."""
    return "nb" + hashlib.sha256(f"{namespace}/{network}".encode()).hexdigest()[:12]


def ip_ranges(inputs: NetworkInputs) -> list[dict[str, Any]]:
    """whereabouts ipRanges: one per allocation pool (or the whole cidr), gateway and reserved
    addresses excluded."""
    ranges = []
    for subnet in inputs.subnets:
        network = ipaddress.ip_network(subnet.spec.cidr)
        held = [gateway(subnet.spec), *inputs.reserved]
        # Consecutive addresses (as IPAM hands them out) collapse into few CIDRs.
        exclude = [
            str(block)
            for block in ipaddress.collapse_addresses(
                [
                    ipaddress.ip_network(ip)
                    for ip in held
                    if ip is not None and ipaddress.ip_address(ip) in network
                ]  # type: ignore[type-var]  # one version: all are inside `network`
            )
        ]
        pools: list[api.AllocationPool | None] = [*subnet.spec.allocation_pools] or [None]
        for pool in pools:
            entry: dict[str, Any] = {"range": subnet.spec.cidr}
            if pool is not None:
                entry["range_start"] = pool.start
                entry["range_end"] = pool.end
            if exclude:
                entry["exclude"] = exclude
            ranges.append(entry)
    return ranges


def cni_config(inputs: NetworkInputs) -> dict[str, Any]:
    """The CNI configuration of the network's NetworkAttachmentDefinition."""
    spec, provider = inputs.spec, inputs.spec.provider
    name = f"{inputs.namespace}-{inputs.name}"
    ipam: dict[str, Any] = {}
    if inputs.subnets:
        ipam = {"type": "whereabouts", "ipRanges": ip_ranges(inputs)}
    config: dict[str, Any] = {"cniVersion": "0.3.1", "name": name}
    if provider.cni == "ovn-k8s-layer2":
        config.update(
            type="ovn-k8s-cni-overlay",
            topology="layer2",
            netAttachDefName=f"{inputs.namespace}/{inputs.name}",
        )
        if inputs.subnets:
            config["subnets"] = ",".join(s.spec.cidr for s in inputs.subnets)
    elif provider.cni == "macvlan":
        config.update(type="macvlan", master=provider.physical_network or "eth0", mode="bridge")
        config["ipam"] = ipam
    else:
        config.update(
            type="bridge",
            bridge=provider.physical_network or bridge_name(inputs.namespace, inputs.name),
        )
        if provider.network_type == "vlan" and provider.segmentation_id is not None:
            config["vlan"] = provider.segmentation_id
        config["ipam"] = ipam
    if spec.mtu:
        config["mtu"] = spec.mtu
    return config


def render_network_attachment(inputs: NetworkInputs) -> dict[str, Any]:
    return templating.render(
        "networkattachmentdefinition.yaml.j2",
        name=inputs.name,
        namespace=inputs.namespace,
        labels={
            "app.kubernetes.io/managed-by": "nimbus",
            "network.nimbus.dev/network": inputs.name,
        },
        owner=[inputs.owner] if inputs.owner else [],
        config=json.dumps(cni_config(inputs), sort_keys=True),
    )


def external_reader_name(network: str) -> str:
    return meta.short(f"nimbus-external-{network}")


def render_external_readers(
    name: str, namespace: str, subnets: list[str], owner: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """An external network is every project's way out, as Neutron shows it to every project:
    a Role reading this network and its subnets (and no other object) bound to every signed-in
    user and service account, so that a router's gateway or a floating IP in another project
    can name it, and the OpenStack API can list it for them as the caller."""
    metadata = {
        "name": external_reader_name(name),
        "namespace": namespace,
        "labels": {"app.kubernetes.io/managed-by": "nimbus",
                   "network.nimbus.dev/network": meta.short(name)},
        "ownerReferences": [owner] if owner else [],
    }  # fmt: skip
    rules: list[dict[str, Any]] = [
        {"apiGroups": [api.GROUP], "resources": ["networks"], "resourceNames": [name],
         "verbs": ["get"]}
    ]  # fmt: skip
    if subnets:
        rules.append({"apiGroups": [api.GROUP], "resources": ["subnets"],
                      "resourceNames": sorted(subnets), "verbs": ["get"]})  # fmt: skip
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": metadata,
            "rules": rules}  # fmt: skip
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                    "name": metadata["name"]},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g}
                     for g in ("system:authenticated", "system:serviceaccounts")],
    }  # fmt: skip
    return [role, binding]


# -- security groups ------------------------------------------------------------------------


def security_group_label(group: str) -> str:
    """The pod label a SecurityGroup's NetworkPolicy selects (names over 63 are hashed)."""
    name = group if len(group) <= 63 else "h-" + hashlib.sha256(group.encode()).hexdigest()[:20]
    return f"{SG_LABEL}/{name}"


_ANY = {"IPv4": "0.0.0.0/0", "IPv6": "::/0"}
_PORT_PROTOCOLS = {"tcp": "TCP", "udp": "UDP", "sctp": "SCTP", "6": "TCP", "17": "UDP",
                   "132": "SCTP"}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class PolicyRules:
    """What a security group's rules become, and the rules NetworkPolicy cannot express."""

    ingress: list[dict[str, Any]]
    egress: list[dict[str, Any]]
    unsupported: list[str]


def policy_rules(spec: api.SecurityGroupSpec) -> PolicyRules:
    """Neutron rules -> NetworkPolicy rules. NetworkPolicy speaks only TCP, UDP and SCTP, so a
    rule for icmp or another protocol is left out (never widened to all protocols) and named."""
    ingress: list[dict[str, Any]] = []
    egress: list[dict[str, Any]] = []
    unsupported = []
    for index, rule in enumerate(spec.rules):
        entry: dict[str, Any] = {}
        if rule.remote_group is not None:
            peer: dict[str, Any] = {
                "podSelector": {"matchLabels": {security_group_label(rule.remote_group): "true"}}
            }
        else:
            peer = {"ipBlock": {"cidr": rule.remote_ip_prefix or _ANY[rule.ethertype]}}
        entry["from" if rule.direction == "ingress" else "to"] = [peer]
        if rule.protocol != "any":
            protocol = _PORT_PROTOCOLS.get(rule.protocol)
            if protocol is None:
                unsupported.append(
                    f"rules[{index}]: protocol {rule.protocol} cannot be expressed by a "
                    f"Kubernetes NetworkPolicy (only tcp, udp and sctp); it is not applied"
                )
                continue
            port: dict[str, Any] = {"protocol": protocol}
            if rule.port_range_min is not None:
                port["port"] = rule.port_range_min
                if rule.port_range_max is not None and rule.port_range_max != rule.port_range_min:
                    port["endPort"] = rule.port_range_max
            entry["ports"] = [port]
        (ingress if rule.direction == "ingress" else egress).append(entry)
    if not spec.stateful:
        unsupported.append("stateful: false cannot be expressed: NetworkPolicy is stateful")
    return PolicyRules(ingress, egress, unsupported)


def default_security_group() -> api.SecurityGroupSpec:
    """Neutron's `default` group: all egress, and ingress from members of the same group."""
    return api.SecurityGroupSpec.model_validate(
        {
            "description": "Default security group",
            "rules": [
                {"direction": "egress", "ethertype": "IPv4"},
                {"direction": "egress", "ethertype": "IPv6"},
                {"direction": "ingress", "ethertype": "IPv4", "remoteGroup": "default"},
                {"direction": "ingress", "ethertype": "IPv6", "remoteGroup": "default"},
            ],
        }
    )


def network_policy_name(group: str) -> str:
    return f"sg-{group}" if len(group) <= 250 else security_group_label(group).split("/")[1]


def render_network_policy(
    name: str, namespace: str, spec: api.SecurityGroupSpec, owner: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The NetworkPolicy of a security group, and the rules it could not express."""
    rules = policy_rules(spec)
    policy = templating.render(
        "networkpolicy.yaml.j2",
        name=network_policy_name(name),
        namespace=namespace,
        labels={
            "app.kubernetes.io/managed-by": "nimbus",
            "network.nimbus.dev/security-group": name,
        },
        owner=[owner] if owner else [],
        selector={"matchLabels": {security_group_label(name): "true"}},
        ingress=rules.ingress,
        egress=rules.egress,
    )
    return policy, rules.unsupported
