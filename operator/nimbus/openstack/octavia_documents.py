"""LoadBalancer, Listener, Pool, Member and HealthMonitor custom resources as Octavia v2's
documents, and the project they are read in: its load balancers and their objects, and the
networks, subnets and ports their VIPs and members name, by OpenStack id and by Kubernetes name.

Pure: bodies in, the documents Octavia would answer out. The statuses are the operator's, and
lag the spec by a reconcile: an object whose spec the operator has not yet seen is
PENDING_CREATE (never reported) or PENDING_UPDATE, and so is a load balancer with such an
object, as Octavia answers at once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from nimbus.loadbalancer import api as lb_api
from nimbus.openstack import documents, neutron_documents
from nimbus.openstack.faults import Fault

Body = dict[str, Any]
# Octavia's list filters on a related object's id: the attribute of the document they look in.
_RELATED = {"loadbalancer_id": "loadbalancers", "listener_id": "listeners", "pool_id": "pools"}


def not_found(resource: str, ident: str) -> Fault:
    """Octavia's 404: `Load Balancer <id> not found.`"""
    return Fault(404, f"{resource} {ident} not found.", style="octavia")


def _live(bodies: Iterable[Body]) -> list[Body]:
    """Without those being deleted: Octavia's delete is done when it answers."""
    return sorted((b for b in bodies if not b["metadata"].get("deletionTimestamp")),
                  key=lambda b: str(b["metadata"]["name"]))  # fmt: skip


class Project:
    """The caller's project as an Octavia request reads it: its LoadBalancer, Listener, Pool,
    Member and HealthMonitor bodies, and its Network, Subnet and Port bodies."""

    def __init__(
        self, namespace: str, *, load_balancers: Iterable[Body], listeners: Iterable[Body] = (),
        pools: Iterable[Body] = (), members: Iterable[Body] = (), monitors: Iterable[Body] = (),
        networks: Iterable[Body] = (), subnets: Iterable[Body] = (), ports: Iterable[Body] = (),
    ) -> None:  # fmt: skip
        self.namespace = namespace
        self.load_balancers, self.listeners = _live(load_balancers), _live(listeners)
        self.pools, self.members, self.monitors = _live(pools), _live(members), _live(monitors)
        self.networks, self.subnets, self.ports = list(networks), list(subnets), list(ports)

    # -- lookups ---------------------------------------------------------------------------

    @staticmethod
    def by_uid(bodies: Iterable[Body], ident: str) -> Body | None:
        return next((b for b in bodies if b["metadata"]["uid"] == ident), None)

    @staticmethod
    def named(bodies: Iterable[Body], name: str | None) -> Body | None:
        return next((b for b in bodies if b["metadata"]["name"] == name), None)

    def uid_of(self, bodies: Iterable[Body], name: str | None) -> str | None:
        found = self.named(bodies, name)
        return documents.uid(found) if found is not None else None

    def _found(self, bodies: Iterable[Body], ident: str, resource: str) -> Body:
        found = self.by_uid(bodies, ident)
        if found is None:
            raise not_found(resource, ident)
        return found

    def load_balancer(self, ident: str) -> Body:
        return self._found(self.load_balancers, ident, "Load Balancer")

    def listener(self, ident: str) -> Body:
        return self._found(self.listeners, ident, "Listener")

    def pool(self, ident: str) -> Body:
        return self._found(self.pools, ident, "Pool")

    def member(self, pool: Mapping[str, Any], ident: str) -> Body:
        return self._found(self.members_of(pool["metadata"]["name"]), ident, "Member")

    def monitor(self, ident: str) -> Body:
        return self._found(self.monitors, ident, "Health Monitor")

    # -- relations -------------------------------------------------------------------------

    def listeners_of(self, lb: str) -> list[Body]:
        return [b for b in self.listeners if b["spec"].get("loadBalancer") == lb]

    def pools_of(self, lb: str) -> list[Body]:
        return [b for b in self.pools if b["spec"].get("loadBalancer") == lb]

    def members_of(self, pool: str) -> list[Body]:
        return [b for b in self.members if b["spec"].get("pool") == pool]

    def monitor_of(self, pool: str) -> Body | None:
        return next((b for b in self.monitors if b["spec"].get("pool") == pool), None)

    def listeners_using(self, pool: str) -> list[Body]:
        """The listeners whose default pool it is."""
        return [b for b in self.listeners if b["spec"].get("defaultPool") == pool]

    def load_balancer_named(self, name: str | None) -> Body | None:
        return self.named(self.load_balancers, name)

    def pool_named(self, name: str | None) -> Body | None:
        return self.named(self.pools, name)

    def objects_of(self, lb: str) -> list[Body]:
        """The load balancer's listeners and pools, and its pools' members and monitors."""
        pools = self.pools_of(lb)
        names = {p["metadata"]["name"] for p in pools}
        children = [b for b in [*self.members, *self.monitors] if b["spec"].get("pool") in names]
        return [*self.listeners_of(lb), *pools, *children]

    # -- the VIP's network -----------------------------------------------------------------

    def subnet_named(self, name: str | None) -> Body | None:
        return self.named(self.subnets, name)

    def subnets_of(self, network: str) -> list[Body]:
        return [s for s in self.subnets if (s.get("spec") or {}).get("network") == network]


# --- statuses -------------------------------------------------------------------------------


def provisioning(body: Mapping[str, Any]) -> str:
    """The object's provisioning_status as the operator last reported it for its current spec;
    PENDING_CREATE before it ever reported, PENDING_UPDATE while it has not seen the spec."""
    status = body.get("status") or {}
    word = status.get("provisioningStatus")
    if word is None:
        return "PENDING_CREATE"
    if status.get("observedGeneration") != (body.get("metadata") or {}).get("generation"):
        return "PENDING_UPDATE"
    return str(word)


def _lb_provisioning(body: Mapping[str, Any], project: Project) -> str:
    """A load balancer is PENDING_UPDATE while one of its objects is pending: Octavia locks
    the load balancer for every change of its objects."""
    word = provisioning(body)
    pending = ("PENDING_CREATE", "PENDING_UPDATE")
    objects = project.objects_of(body["metadata"]["name"])
    if word == "ACTIVE" and any(provisioning(b) in pending for b in objects):
        return "PENDING_UPDATE"
    return word


def _operating(body: Mapping[str, Any], default: str = "OFFLINE") -> str:
    return str((body.get("status") or {}).get("operatingStatus") or default)


def _time(stamp: str) -> str:
    """Octavia's timestamps: a naive ISO 8601 datetime, to the second."""
    return stamp.removesuffix("Z")


def _common(body: Mapping[str, Any], project_id: str) -> dict[str, Any]:
    return {
        "id": documents.uid(body),
        "name": documents.display_name(body),
        "project_id": project_id,
        "tenant_id": project_id,
        "created_at": _time(documents.created(body)),
        "updated_at": _time(documents.updated(body)),
        "tags": [],
    }


def _ids(bodies: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    return [{"id": documents.uid(b)} for b in bodies]


# --- documents ------------------------------------------------------------------------------


def load_balancer(body: Mapping[str, Any], project: Project, *, project_id: str) -> dict[str, Any]:
    """An Octavia v2 load balancer: its VIP as the operator allocated it (the address asked for
    until then), its listeners and pools by id."""
    spec = lb_api.LoadBalancerSpec.model_validate(body.get("spec") or {})
    status = lb_api.LoadBalancerStatus.model_validate(body.get("status") or {})
    name = body["metadata"]["name"]
    subnet = project.subnet_named(spec.vip_subnet)
    network = (subnet or {}).get("spec", {}).get("network") or status.network
    return {
        **_common(body, project_id),
        "description": spec.description,
        "provisioning_status": _lb_provisioning(body, project),
        "operating_status": _operating(body),
        "admin_state_up": spec.admin_state_up,
        "vip_address": status.vip_address or spec.vip_address,
        "vip_port_id": project.uid_of(project.ports, status.vip_port),
        "vip_subnet_id": project.uid_of(project.subnets, spec.vip_subnet),
        "vip_network_id": project.uid_of(project.networks, network),
        "vip_qos_policy_id": None,
        "vip_sg_ids": [],
        "vip_vnic_type": "normal",
        "additional_vips": [],
        "provider": spec.provider,
        "flavor_id": None,
        "availability_zone": None,
        "listeners": _ids(project.listeners_of(name)),
        "pools": _ids(project.pools_of(name)),
    }


def listener(body: Mapping[str, Any], project: Project, *, project_id: str) -> dict[str, Any]:
    """An Octavia v2 listener; an admin-down one is OFFLINE, as the operator reports it."""
    spec = lb_api.ListenerSpec.model_validate(body.get("spec") or {})
    return {
        **_common(body, project_id),
        "description": spec.description,
        "provisioning_status": provisioning(body),
        "operating_status": _operating(body),
        "admin_state_up": spec.admin_state_up,
        "protocol": spec.protocol,
        "protocol_port": spec.protocol_port,
        "connection_limit": spec.connection_limit,
        "default_pool_id": project.uid_of(project.pools, spec.default_pool),
        "loadbalancers": _ids(
            b for b in [project.load_balancer_named(spec.load_balancer)] if b is not None
        ),
        "timeout_client_data": spec.timeout_client_data,
        "timeout_member_connect": spec.timeout_member_connect,
        "timeout_member_data": spec.timeout_member_data,
        "timeout_tcp_inspect": 0,
        "allowed_cidrs": list(spec.allowed_cidrs) or None,
        "insert_headers": {},
        "l7policies": [],
        "default_tls_container_ref": None,
        "sni_container_refs": [],
        "client_ca_tls_container_ref": None,
        "client_authentication": "NONE",
        "client_crl_container_ref": None,
        "tls_ciphers": None,
        "tls_versions": None,
        "alpn_protocols": None,
        "hsts_max_age": None,
        "hsts_include_subdomains": False,
        "hsts_preload": False,
    }


def pool(body: Mapping[str, Any], project: Project, *, project_id: str) -> dict[str, Any]:
    """An Octavia v2 pool: its load balancer, the listeners whose default pool it is, its
    members and health monitor, by id."""
    spec = lb_api.PoolSpec.model_validate(body.get("spec") or {})
    name = body["metadata"]["name"]
    persistence = spec.session_persistence
    sticky = None if persistence is None else {
        "type": persistence.type, "cookie_name": persistence.cookie_name,
        "persistence_timeout": None, "persistence_granularity": None,
    }  # fmt: skip
    monitor = project.monitor_of(name)
    return {
        **_common(body, project_id),
        "description": spec.description,
        "provisioning_status": provisioning(body),
        "operating_status": _operating(body),
        "admin_state_up": spec.admin_state_up,
        "protocol": spec.protocol,
        "lb_algorithm": spec.lb_algorithm,
        "session_persistence": sticky,
        "loadbalancers": _ids(
            b for b in [project.load_balancer_named(spec.load_balancer)] if b is not None
        ),
        "listeners": _ids(project.listeners_using(name)),
        "members": _ids(project.members_of(name)),
        "healthmonitor_id": documents.uid(monitor) if monitor is not None else None,
        "tls_enabled": False,
        "tls_container_ref": None,
        "ca_tls_container_ref": None,
        "crl_container_ref": None,
        "tls_ciphers": None,
        "tls_versions": None,
        "alpn_protocols": None,
    }


def member(body: Mapping[str, Any], project: Project, *, project_id: str) -> dict[str, Any]:
    """An Octavia v2 member; its subnet_id is the subnet it was given (the VIP's is implied)."""
    spec = lb_api.MemberSpec.model_validate(body.get("spec") or {})
    return {
        **_common(body, project_id),
        "provisioning_status": provisioning(body),
        "operating_status": _operating(body),
        "admin_state_up": spec.admin_state_up,
        "address": spec.address,
        "protocol_port": spec.protocol_port,
        "weight": spec.weight,
        "backup": spec.backup,
        "subnet_id": project.uid_of(project.subnets, spec.subnet),
        "monitor_address": spec.monitor_address,
        "monitor_port": spec.monitor_port,
        "vnic_type": "normal",
    }


def health_monitor(body: Mapping[str, Any], project: Project, *, project_id: str
                   ) -> dict[str, Any]:  # fmt: skip
    """An Octavia v2 health monitor; its HTTP attributes only for HTTP and HTTPS checks, as
    Octavia shows them."""
    spec = lb_api.HealthMonitorSpec.model_validate(body.get("spec") or {})
    http = spec.type in ("HTTP", "HTTPS")
    return {
        **_common(body, project_id),
        "provisioning_status": provisioning(body),
        "operating_status": _operating(body),
        "admin_state_up": spec.admin_state_up,
        "type": spec.type,
        "delay": spec.delay,
        "timeout": spec.timeout,
        "max_retries": spec.max_retries,
        "max_retries_down": spec.max_retries_down,
        "http_method": spec.http_method if http else None,
        "url_path": spec.url_path if http else None,
        "expected_codes": spec.expected_codes if http else None,
        "http_version": None,
        "domain_name": None,
        "pools": _ids(b for b in [project.pool_named(spec.pool)] if b is not None),
    }


# --- the status tree ------------------------------------------------------------------------


def _status(body: Mapping[str, Any], **more: Any) -> dict[str, Any]:
    return {"id": documents.uid(body), "name": documents.display_name(body),
            "provisioning_status": provisioning(body), "operating_status": _operating(body),
            **more}  # fmt: skip


def _pool_status(body: Mapping[str, Any], project: Project) -> dict[str, Any]:
    name = body["metadata"]["name"]
    monitor = project.monitor_of(name)
    return _status(
        body,
        healthmonitor={"id": documents.uid(monitor), "name": documents.display_name(monitor),
                       "type": monitor["spec"].get("type"),
                       "provisioning_status": provisioning(monitor)} if monitor else {},
        members=[_status(m, address=m["spec"].get("address"),
                         protocol_port=m["spec"].get("protocolPort"))
                 for m in project.members_of(name)],
    )  # fmt: skip


def status_tree(body: Mapping[str, Any], project: Project) -> dict[str, Any]:
    """GET /loadbalancers/{id}/status: the load balancer, its listeners (each with the pool it
    uses) and its pools, with their members and monitor, each with both its statuses."""
    name = body["metadata"]["name"]
    pools = {p["metadata"]["name"]: _pool_status(p, project) for p in project.pools_of(name)}
    listeners = [_status(item, l7policies=[],
                         pools=[pools[p] for p in [item["spec"].get("defaultPool")] if p in pools])
                 for item in project.listeners_of(name)]  # fmt: skip
    top = {**_status(body), "provisioning_status": _lb_provisioning(body, project)}
    return {"loadbalancer": {**top, "listeners": listeners, "pools": list(pools.values())}}


# --- what GET on a collection takes ---------------------------------------------------------


def matches(document: Mapping[str, Any], query: Mapping[str, list[str]]) -> bool:
    """Octavia's list filters: each attribute given equals one of its values; `loadbalancer_id`,
    `listener_id` and `pool_id` name a related object; sorting and paging are not filters."""
    flat = {key: [item["id"] for item in value]
            if isinstance(value, list) and all(isinstance(i, Mapping) for i in value) else value
            for key, value in document.items()}  # fmt: skip
    wanted = {_RELATED.get(key, key): values for key, values in query.items() if key != "sort"}
    return neutron_documents.matches(flat, wanted)
