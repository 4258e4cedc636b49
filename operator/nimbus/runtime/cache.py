"""The operator's view of the cluster: what the kopf indexes of every kind a reconciliation reads
hold, and the reads over them (registered with kopf by nimbus.runtime.indexing; this module
imports no kopf, so pure planners may read a View).

A reconciliation resolves its references (a server's flavor, image, networks, ports, key pair,
volumes) from these in-memory indexes, fed by kopf's watches, instead of asking the API server
each time. kopf starts no handler before every index has been filled from its first listing, so
"not in the index" means "not in the cluster" (as of the last watch event), never "not loaded
yet". What a handler writes is done with the API server; only reads come from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Body = dict[str, Any]
Bodies = list[dict[str, Any]]  # (View.list shadows `list` in its class)
Names = list[str]

# index id -> (group, version, plural). The id is also the keyword kopf passes to handlers.
INDEXED: dict[str, tuple[str, str, str]] = {
    "projects_index": ("identity.nimbus.dev", "v1alpha1", "projects"),
    "flavors_index": ("compute.nimbus.dev", "v1alpha1", "flavors"),
    "keypairs_index": ("compute.nimbus.dev", "v1alpha1", "keypairs"),
    "servergroups_index": ("compute.nimbus.dev", "v1alpha1", "servergroups"),
    "servers_index": ("compute.nimbus.dev", "v1alpha1", "servers"),
    "images_index": ("image.nimbus.dev", "v1alpha1", "images"),
    "networks_index": ("network.nimbus.dev", "v1alpha1", "networks"),
    "subnets_index": ("network.nimbus.dev", "v1alpha1", "subnets"),
    "ports_index": ("network.nimbus.dev", "v1alpha1", "ports"),
    "securitygroups_index": ("network.nimbus.dev", "v1alpha1", "securitygroups"),
    "floatingips_index": ("network.nimbus.dev", "v1alpha1", "floatingips"),
    "routers_index": ("network.nimbus.dev", "v1alpha1", "routers"),
    "loadbalancers_index": ("loadbalancer.nimbus.dev", "v1alpha1", "loadbalancers"),
    "listeners_index": ("loadbalancer.nimbus.dev", "v1alpha1", "listeners"),
    "pools_index": ("loadbalancer.nimbus.dev", "v1alpha1", "pools"),
    "members_index": ("loadbalancer.nimbus.dev", "v1alpha1", "members"),
    "healthmonitors_index": ("loadbalancer.nimbus.dev", "v1alpha1", "healthmonitors"),
    "volumetypes_index": ("blockstorage.nimbus.dev", "v1alpha1", "volumetypes"),
    "volumes_index": ("blockstorage.nimbus.dev", "v1alpha1", "volumes"),
    "snapshots_index": ("blockstorage.nimbus.dev", "v1alpha1", "snapshots"),
    "stacks_index": ("orchestration.nimbus.dev", "v1alpha1", "stacks"),
    "virtualmachines_index": ("kubevirt.io", "v1", "virtualmachines"),
    "virtualmachineinstances_index": ("kubevirt.io", "v1", "virtualmachineinstances"),
    "nodes_index": ("", "v1", "nodes"),
}
INDEXED_PLURALS = {plural for (_group, _version, plural) in INDEXED.values()}
# The addresses each port holds, by (namespace, network): what IPAM must not hand out again.
ADDRESSES = "addresses_index"
# Of KubeVirt's objects, only what the servers' status reads: not their (large) specs.
_SLIM = {"virtualmachines", "virtualmachineinstances", "nodes"}


def index_of(api_version: str, kind: str) -> str | None:
    """The id of the index that holds objects of this kind, if one does."""
    group = api_version.rpartition("/")[0]
    for index_id, (g, _version, plural) in INDEXED.items():
        if g == group and plural == f"{kind.lower()}s":
            return index_id
    return None


def _key(body: Mapping[str, Any]) -> tuple[str | None, str]:
    return body["metadata"].get("namespace"), body["metadata"]["name"]


def entry(plural: str, body: Mapping[str, Any]) -> dict[tuple[str | None, str], Body]:
    """What the index of `plural` keeps of one object, under its (namespace, name)."""
    if plural in _SLIM:
        meta = body["metadata"]
        value: Body = {
            "metadata": {
                "name": meta["name"],
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
                "labels": dict(meta.get("labels") or {}),
            },
            "status": dict(body.get("status") or {}),
        }
        if plural == "nodes":  # a cordoned node is Nova's disabled host
            value["spec"] = {"unschedulable": bool(body.get("spec", {}).get("unschedulable"))}
        return {_key(body): value}
    # A copy two levels deep: kopf gives each event a freshly decoded body, so what lies
    # deeper is never changed under the index (and a deep copy of every event costs more
    # than the rest of a reconciliation).
    return {_key(body): {k: dict(v) if isinstance(v, dict) else v for k, v in body.items()}}


def held(body: Mapping[str, Any]) -> dict[tuple[str | None, str], tuple[str, set[str]]]:
    """A port's addresses, IP and MAC: asked for in its spec, or allocated in its status;
    under (namespace, network)."""
    addresses = {
        ip["ipAddress"]
        for source in (body.get("spec") or {}, body.get("status") or {})
        for ip in source.get("fixedIPs") or []
        if ip.get("ipAddress")
    }
    addresses |= {
        str(source["macAddress"]).lower()
        for source in (body.get("spec") or {}, body.get("status") or {})
        if source.get("macAddress")
    }
    network = (body.get("spec") or {}).get("network", "")
    return {(body["metadata"].get("namespace"), network): (body["metadata"]["name"], addresses)}


def indexes_of(objects: Iterable[Mapping[str, Any]]) -> dict[str, dict[Any, list[Any]]]:
    """The indexes, by id, as kopf's watches would fill them from these objects (an object of
    a kind no index holds is left out): what kopf passes a handler as keyword arguments."""
    indexes: dict[str, dict[Any, list[Any]]] = {i: {} for i in [*INDEXED, ADDRESSES]}
    for body in objects:
        index_id = index_of(str(body.get("apiVersion", "")), str(body.get("kind", "")))
        if index_id is None:
            continue
        plural = INDEXED[index_id][2]
        for key, value in entry(plural, body).items():
            indexes[index_id].setdefault(key, []).append(value)
        if plural == "ports":
            for key, port in held(body).items():
                indexes[ADDRESSES].setdefault(key, []).append(port)
    return indexes


class View:
    """Reads over the indexes a handler was given (kopf passes them as keyword arguments)."""

    def __init__(self, indexes: Mapping[str, Any]) -> None:
        self._indexes = {plural: indexes[i] for i, (_, _, plural) in INDEXED.items()}
        self._addresses = indexes[ADDRESSES]

    @classmethod
    def of_objects(cls, objects: Iterable[Mapping[str, Any]]) -> View:
        """A view of these objects, indexed as kopf's watches would index them: what a handler
        test gives a handler."""
        return cls(indexes_of(objects))

    @classmethod
    def of(cls, kwargs: Mapping[str, Any], memo: Any = None) -> View:
        """The view of a handler's keyword arguments; kept in `memo` for work done later,
        outside any handler (the indexes are live)."""
        view = cls(kwargs)
        if memo is not None and getattr(memo, "view", None) is None:
            memo.view = view
        return view

    # What these return is the index's own copy: read it, never change it.

    def get(self, plural: str, name: str, namespace: str | None = None) -> Body | None:
        for value in self._indexes[plural].get((namespace, name)) or ():
            return value  # type: ignore[no-any-return]
        return None

    def list(self, plural: str, namespace: str | None = None) -> Bodies:
        """Every object of the kind (in the namespace), sorted by name."""
        found = [
            value
            for (ns, _), store in self._indexes[plural].items()
            if namespace is None or ns == namespace
            for value in store
        ]
        return sorted(found, key=lambda b: b["metadata"]["name"])

    def addresses(self, namespace: str, network: str) -> dict[str, set[str]]:
        """The addresses each port on the network holds, by port name: its IPs and its MAC."""
        store = self._addresses.get((namespace, network)) or ()
        return dict(store)

    def names(self, plural: str, namespace: str | None = None) -> Names:
        return sorted(
            name for (ns, name) in self._indexes[plural] if namespace is None or ns == namespace
        )
