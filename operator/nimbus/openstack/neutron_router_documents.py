"""Router and FloatingIP custom resources as Neutron v2.0 routers and floating IPs, and the
project they are read in: its networks, subnets, ports, routers and floating IPs, by OpenStack
id and by Kubernetes name.

Pure: bodies in, the documents Neutron would answer out. A Router's and a FloatingIP's status
are the operator's, and lag their spec by a reconcile: until the operator has caught up with a
floating IP's association, its fixed address is the one the API chose and its router the one
that serves it by the routers' specs, as Neutron answers at once."""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Mapping
from typing import Any

from nimbus.network import api as network_api
from nimbus.network import render as network_render
from nimbus.openstack import documents, neutron_documents
from nimbus.openstack.faults import Fault

# The namespace of the ids of a router's interfaces on subnets (Neutron's router ports, which
# Nimbus does not make: the router pod takes the subnet's gateway address itself).
INTERFACE_IDS = uuid.UUID("3b0e6f2c-51d4-5a7e-9c21-8f4d2a6b0e17")


def router_not_found(ident: str) -> Fault:
    return Fault(404, f"Router {ident} could not be found", style="neutron",
                 kind="RouterNotFound")  # fmt: skip


def floating_ip_not_found(ident: str) -> Fault:
    return Fault(404, f"Floating IP {ident} could not be found", style="neutron",
                 kind="FloatingIPNotFound")  # fmt: skip


def interface_port_id(router_id: str, subnet_id: str) -> str:
    """The OpenStack id of a router's interface on a subnet: stable while the interface is."""
    return str(uuid.uuid5(INTERFACE_IDS, f"{router_id}/{subnet_id}"))


class Project:
    """The caller's project as a router or floating IP request reads it: its Network, Subnet,
    Port, Router and FloatingIP bodies (and servers, for the ports they use), and other
    projects' networks the caller may read: those they name and every external one (`foreign`,
    by (project, name)), with those external networks' subnets (`foreign_subnets`)."""

    def __init__(
        self, namespace: str, *, networks: list[dict[str, Any]], subnets: list[dict[str, Any]],
        ports: list[dict[str, Any]], routers: list[dict[str, Any]] | None = None,
        floating_ips: list[dict[str, Any]] | None = None,
        servers: list[dict[str, Any]] | None = None,
        foreign: Mapping[tuple[str, str], dict[str, Any]] | None = None,
        foreign_subnets: list[dict[str, Any]] | None = None,
    ) -> None:  # fmt: skip
        self.namespace = namespace
        self.networks, self.subnets, self.ports = networks, subnets, ports
        self.routers, self.floating_ips = routers or [], floating_ips or []
        self.servers, self.foreign = servers or [], dict(foreign or {})
        self.foreign_subnets = foreign_subnets or []

    # -- lookups ---------------------------------------------------------------------------

    @staticmethod
    def _by_uid(bodies: list[dict[str, Any]], ident: str) -> dict[str, Any] | None:
        return next((b for b in bodies if b["metadata"]["uid"] == ident), None)

    @staticmethod
    def _by_name(bodies: list[dict[str, Any]], name: str | None) -> dict[str, Any] | None:
        return next((b for b in bodies if b["metadata"]["name"] == name), None)

    def network(self, ident: str) -> dict[str, Any]:
        """The project's network of that id, or another project's external one."""
        found = self._by_uid(self.networks, ident) or self._by_uid(
            [n for n in self.foreign.values() if (n.get("spec") or {}).get("external")], ident
        )
        if found is None:
            raise Fault(404, f"Network {ident} could not be found.", style="neutron",
                        kind="NetworkNotFound")  # fmt: skip
        return found

    def subnet(self, ident: str) -> dict[str, Any]:
        found = self._by_uid(self.subnets, ident) or self._by_uid(self.foreign_subnets, ident)
        if found is None:
            raise Fault(404, f"Subnet {ident} could not be found.", style="neutron",
                        kind="SubnetNotFound")  # fmt: skip
        return found

    def port(self, ident: str) -> dict[str, Any]:
        found = self._by_uid(self.ports, ident)
        if found is None:
            raise Fault(404, f"Port {ident} could not be found.", style="neutron",
                        kind="PortNotFound")  # fmt: skip
        return found

    def subnet_named(self, name: str | None) -> dict[str, Any] | None:
        return self._by_name(self.subnets, name)

    def port_named(self, name: str | None) -> dict[str, Any] | None:
        return self._by_name(self.ports, name)

    def subnets_of(self, network: str, project: str | None = None) -> list[dict[str, Any]]:
        """The subnets of the network of that name, in `project` (default: this one)."""
        if (project or self.namespace) == self.namespace:
            return [s for s in self.subnets if (s.get("spec") or {}).get("network") == network]
        return [s for s in self.foreign_subnets if s["metadata"]["namespace"] == project
                and (s.get("spec") or {}).get("network") == network]  # fmt: skip

    def reference(self, network: Mapping[str, Any]) -> str | None:
        """The `project` of a reference to this network: None for the project's own."""
        namespace = str(network["metadata"].get("namespace") or self.namespace)
        return None if namespace == self.namespace else namespace

    # -- ids -------------------------------------------------------------------------------

    def network_id(self, project: str | None, name: str) -> str | None:
        """The OpenStack id of a network named by a reference (its project, default: this
        one); None for another project's the caller may not read."""
        if (project or self.namespace) == self.namespace:
            found = self._by_name(self.networks, name)
        else:
            found = self.foreign.get((str(project), name))
        return documents.uid(found) if found is not None else None

    def uid_of(self, bodies: list[dict[str, Any]], name: str | None) -> str | None:
        found = self._by_name(bodies, name)
        return documents.uid(found) if found is not None else None

    # -- addresses -------------------------------------------------------------------------

    @staticmethod
    def fixed_ips(port: Mapping[str, Any]) -> list[dict[str, str]]:
        """The port's addresses {subnet, ipAddress}: allocated, or those asked for until then."""
        allocated = (port.get("status") or {}).get("fixedIPs") or []
        asked = [f for f in (port.get("spec") or {}).get("fixedIPs") or [] if f.get("ipAddress")]
        return [dict(f) for f in allocated or asked]

    @staticmethod
    def cidr(subnet: Mapping[str, Any]) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(str(subnet["spec"]["cidr"]), strict=False)

    @staticmethod
    def gateway(subnet: Mapping[str, Any]) -> str | None:
        return network_render.gateway(network_api.SubnetSpec.model_validate(subnet["spec"]))

    def interface_subnets(self, router: Mapping[str, Any]) -> list[tuple[dict[str, Any], str]]:
        """The subnets a router has a leg on, with its address there: a subnet interface takes
        the subnet's gateway address, a port interface its port's addresses."""
        out = []
        for entry in (router.get("spec") or {}).get("interfaces") or []:
            if entry.get("subnet"):
                subnet = self.subnet_named(entry["subnet"])
                gateway = self.gateway(subnet) if subnet is not None else None
                if subnet is not None and gateway is not None:
                    out.append((subnet, gateway))
                continue
            port = self.port_named(entry.get("port"))
            for fixed in self.fixed_ips(port) if port is not None else []:
                subnet = self.subnet_named(fixed.get("subnet"))
                if subnet is not None:
                    out.append((subnet, str(fixed["ipAddress"])))
        return out

    def serving_router(self, floating: Mapping[str, Any]) -> dict[str, Any] | None:
        """The router that NATs the floating IP by the routers' specs, as Neutron finds it: its
        gateway on the floating network and a leg on the subnet of the fixed address."""
        spec = network_api.FloatingIPSpec.model_validate(floating.get("spec") or {})
        port = self.port_named(spec.port)
        if port is None:
            return None
        fixed = fixed_address(port, spec.fixed_ip_address)
        if fixed is None:
            return None
        return self.router_for(spec.floating_network, fixed[1])

    def router_for(self, ref: network_api.ExternalNetworkRef, subnet: str) -> dict[str, Any] | None:
        wanted = (ref.network, ref.project or self.namespace)
        for router in sorted(self.routers, key=lambda r: str(r["metadata"]["name"])):
            if router["metadata"].get("deletionTimestamp"):
                continue
            gateway = (router.get("spec") or {}).get("externalGateway") or {}
            if (gateway.get("network"), gateway.get("project") or self.namespace) != wanted:
                continue
            if any(s["metadata"]["name"] == subnet for s, _ in self.interface_subnets(router)):
                return router
        return None

    def serving(self, router: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The floating IPs the router NATs: by the routers' specs, or as the operator
        reported."""
        name = router["metadata"]["name"]
        out = []
        for floating in self.floating_ips:
            if not (floating.get("spec") or {}).get("port"):
                continue
            found = self.serving_router(floating)
            if (floating.get("status") or {}).get("router") == name or (
                found is not None and found["metadata"]["name"] == name
            ):
                out.append(floating)
        return out

    def device_of(self, port: Mapping[str, Any]) -> str | None:
        """The OpenStack id of what uses the port: a server, or a router it is an interface
        of."""
        name = port["metadata"]["name"]
        device = (port.get("status") or {}).get("deviceID") or next(
            (o["name"] for o in port["metadata"].get("ownerReferences") or []
             if o.get("kind") == "Server"), None) or next(
            (s["metadata"]["name"] for s in self.servers
             if any(e.get("port") == name for e in (s.get("spec") or {}).get("networks") or [])),
            None)  # fmt: skip
        if device:
            return self.uid_of(self.servers, device) or str(device)
        for router in self.routers:
            interfaces = (router.get("spec") or {}).get("interfaces") or []
            if any(i.get("port") == name for i in interfaces):
                return str(router["metadata"]["uid"])
        return None


def fixed_address(port: Mapping[str, Any], wanted: str | None) -> tuple[str, str] | None:
    """(address, subnet) of the port a floating IP goes to: the one asked for, else its only
    IPv4 address; None when the port has none of them (yet)."""
    for fixed in Project.fixed_ips(port):
        address = str(fixed.get("ipAddress"))
        if wanted is not None and address != wanted:
            continue
        if wanted is None and ipaddress.ip_address(address).version != 4:
            continue
        return address, str(fixed.get("subnet") or "")
    return None


# --- documents ------------------------------------------------------------------------------


def _gateway_info(
    spec: network_api.RouterSpec, status: network_api.RouterStatus, project: Project
) -> dict[str, Any] | None:
    ref = spec.external_gateway
    if ref is None:
        return None
    where = ref.project or project.namespace
    subnets = project.subnets if where == project.namespace else []
    leg = status.external_gateway
    if leg is not None and leg.ip_address and (leg.network, leg.project or where) == (
        ref.network, where
    ):  # fmt: skip
        fixed = [{"subnet_id": project.uid_of(subnets, leg.subnet), "ip_address": leg.ip_address}]
    else:  # not allocated yet: what was asked for
        fixed = [{"subnet_id": project.uid_of(subnets, f.subnet), "ip_address": f.ip_address}
                 for f in ref.external_fixed_ips]  # fmt: skip
    return {"network_id": project.network_id(ref.project, ref.network),
            "enable_snat": ref.enable_snat, "external_fixed_ips": fixed}  # fmt: skip


_ROUTER_STATUS = {"BUILD": "ACTIVE", "ACTIVE": "ACTIVE", "DOWN": "DOWN", "ERROR": "ERROR"}


def router(body: Mapping[str, Any], project: Project, *, project_id: str, admin: bool = False
           ) -> dict[str, Any]:  # fmt: skip
    """A Neutron v2.0 router; `ha` and `distributed` only for admins, as in Neutron's policy.
    Its status in Neutron's words (ACTIVE, DOWN, ERROR): a router whose data path the agent has
    not programmed yet is Nimbus's BUILD (kubectl shows it) and Neutron's ACTIVE, as Neutron
    answers a router made a moment ago (Horizon knows no other word)."""
    spec = network_api.RouterSpec.model_validate(body.get("spec") or {})
    status = network_api.RouterStatus.model_validate(body.get("status") or {})
    document: dict[str, Any] = {
        "id": documents.uid(body),
        "name": documents.display_name(body),
        "tenant_id": project_id,
        "project_id": project_id,
        "admin_state_up": spec.admin_state_up,
        "status": _ROUTER_STATUS.get(status.status or "BUILD", "ACTIVE")
        if spec.admin_state_up
        else "DOWN",
        "external_gateway_info": _gateway_info(spec, status, project),
        "routes": [r.model_dump() for r in spec.routes],
        "description": spec.description,
        "availability_zone_hints": [],
        "availability_zones": [],
        "flavor_id": None,
        "tags": [],
        "created_at": documents.created(body),
        "updated_at": documents.updated(body),
        "revision_number": neutron_documents.revision(body),
    }
    if admin:
        document.update({"ha": spec.ha, "distributed": False})
    return document


ROUTER_INTERFACE = "network:router_interface"


def _interface_mac(port_id: str) -> str:
    """A MAC for an interface port Nimbus does not make: OpenStack's fa:16:3e prefix, the rest
    from the port's id (the router pod's own interface has the kernel's)."""
    tail = uuid.UUID(port_id).bytes[-3:]
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in tail)


def interface_ports(project: Project, *, project_id: str) -> list[dict[str, Any]]:
    """Neutron's router interface ports, as Neutron lists them (device_owner
    network:router_interface, device_id the router), for a router's legs on subnets: Nimbus
    makes no Port for those (the router pod takes the subnet's gateway address itself), so
    Horizon's Interfaces tab, its Network Topology and `port list --router` read these."""
    out = []
    network_ids = neutron_documents.ids(project.networks)
    for body in project.routers:
        router_id = documents.uid(body)
        spec = network_api.RouterSpec.model_validate(body.get("spec") or {})
        status = network_api.RouterStatus.model_validate(body.get("status") or {})
        up = spec.admin_state_up and status.status == "ACTIVE"  # the agent programmed it
        for entry in spec.interfaces:
            subnet = project.subnet_named(entry.subnet) if entry.subnet else None
            gateway = project.gateway(subnet) if subnet is not None else None
            if subnet is None or gateway is None:
                continue
            port_id = interface_port_id(router_id, documents.uid(subnet))
            network_id = network_ids.get(subnet["spec"]["network"], "")
            out.append({
                "id": port_id, "name": "", "network_id": network_id,
                "tenant_id": project_id, "project_id": project_id,
                "mac_address": _interface_mac(port_id), "admin_state_up": True,
                "status": "ACTIVE" if up else "DOWN", "device_id": router_id,
                "device_owner": ROUTER_INTERFACE,
                "fixed_ips": [{"subnet_id": documents.uid(subnet), "ip_address": gateway}],
                "allowed_address_pairs": [], "extra_dhcp_opts": [], "security_groups": [],
                "port_security_enabled": False, "binding:vnic_type": "normal",
                "description": "", "tags": [], "created_at": documents.created(body),
                "updated_at": documents.updated(body),
                "revision_number": neutron_documents.revision(body),
            })  # fmt: skip
    return out


def port_interfaces(routers: list[dict[str, Any]]) -> dict[str, str]:
    """Port name -> the OpenStack id of the router it is an interface of (`router add port`)."""
    return {
        entry["port"]: documents.uid(router)
        for router in routers
        for entry in (router.get("spec") or {}).get("interfaces") or []
        if entry.get("port")
    }


def floating_ip(body: Mapping[str, Any], project: Project, *, project_id: str) -> dict[str, Any]:
    """A Neutron v2.0 floating IP. Its status, fixed address and router are the operator's once
    it has caught up with the association asked for (status.port is spec.port); until then
    DOWN, the address the API chose, and the router that serves it by the routers' specs."""
    spec = network_api.FloatingIPSpec.model_validate(body.get("spec") or {})
    status = network_api.FloatingIPStatus.model_validate(body.get("status") or {})
    current = status.port == spec.port
    fixed, router_name = None, None
    if spec.port is not None:
        fixed = (status.fixed_ip_address if current else None) or spec.fixed_ip_address
        router_name = status.router if current and status.router else None
        if router_name is None:
            serving = project.serving_router(body)
            router_name = serving["metadata"]["name"] if serving is not None else None
        if fixed is None:
            port = project.port_named(spec.port)
            found = fixed_address(port, None) if port is not None else None
            fixed = found[0] if found is not None else None
    ref = spec.floating_network
    return {
        "id": documents.uid(body),
        "tenant_id": project_id,
        "project_id": project_id,
        "floating_network_id": project.network_id(ref.project, ref.network),
        "floating_ip_address": status.floating_ip_address or spec.floating_ip_address,
        "port_id": project.uid_of(project.ports, spec.port),
        "fixed_ip_address": fixed,
        "router_id": project.uid_of(project.routers, router_name),
        "status": (status.status or "DOWN") if current else "DOWN",
        "description": spec.description,
        "tags": [],
        "created_at": documents.created(body),
        "updated_at": documents.updated(body),
        "revision_number": neutron_documents.revision(body),
    }


def interface_info(
    router_body: Mapping[str, Any], *, project_id: str, subnet_ids: list[str], network_id: str,
    port_id: str,
) -> dict[str, Any]:  # fmt: skip
    """What add_router_interface and remove_router_interface answer."""
    return {
        "id": documents.uid(router_body),
        "tenant_id": project_id,
        "project_id": project_id,
        "port_id": port_id,
        "network_id": network_id,
        "subnet_id": subnet_ids[-1] if subnet_ids else None,
        "subnet_ids": list(subnet_ids),
    }


# --- what the admission webhook says, in the ids the caller knows ---------------------------

_ADMISSION = re.compile(r'^admission webhook "[^"]+" denied the request: ')
_FIELD = re.compile(r"^spec\.[A-Za-z.]+: ")
_NAMED = re.compile(r"\b(subnet|Subnet|Network|network|Router|router) ([a-z0-9](?:[a-z0-9.-]*"
                    r"[a-z0-9])?)")  # fmt: skip


def translate(message: str, project: Project) -> str:
    """A refusal of the admission webhook (which names objects by their Kubernetes names) as
    Neutron says it: without Kubernetes' preamble and the field, the objects by their ids."""
    text = _FIELD.sub("", _ADMISSION.sub("", message))
    kinds = {"subnet": project.subnets, "network": project.networks, "router": project.routers}

    def by_id(match: re.Match[str]) -> str:
        ident = project.uid_of(kinds[match.group(1).lower()], match.group(2))
        return f"{match.group(1)} {ident or match.group(2)}"

    return _NAMED.sub(by_id, text)
