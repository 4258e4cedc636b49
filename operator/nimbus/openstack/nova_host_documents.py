"""Nova's hypervisors and host aggregates as documents: a Node is a compute host, its
aggregates are its labels (placement.hosts reads them as the scheduler does).

Pure: Node, Server and Flavor bodies in, the documents Nova would answer at a microversion out."""

from __future__ import annotations

import datetime
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from nimbus.openstack import documents, nova_admin_documents
from nimbus.placement import hosts

Version = tuple[int, int]


# -- hypervisors ------------------------------------------------------------------------------


def hypervisor_id(node: Mapping[str, Any], version: Version) -> int | str:
    """From 2.53 the node's uid; before it an integer derived from the uid, stable."""
    ident = documents.uid(node)
    return ident if version >= (2, 53) else int(ident.replace("-", "")[:7], 16)


def service_id(node: Mapping[str, Any], version: Version) -> int | str:
    """The id of the node's compute service: another uuid, derived from the node's."""
    ident = str(uuid.uuid5(uuid.NAMESPACE_URL, f"nova-compute:{documents.uid(node)}"))
    return ident if version >= (2, 53) else int(ident.replace("-", "")[:7], 16)


def service(node: Mapping[str, Any], *, version: Version) -> dict[str, Any]:
    """Nova's nova-compute service of a node (GET /os-services): in the node's zone, disabled
    when cordoned or labelled so, up while the node is Ready, last heard from at its Ready
    condition's heartbeat."""
    state = hosts.host_state(dict(node), [])
    cordoned = bool((node.get("spec") or {}).get("unschedulable"))
    ready: dict[str, Any] = next((c for c in (node.get("status") or {}).get("conditions") or []
                  if c.get("type") == "Ready"), {})  # fmt: skip
    heard = ready.get("lastHeartbeatTime") or ready.get("lastTransitionTime")
    document: dict[str, Any] = {
        "id": service_id(node, version), "binary": "nova-compute", "host": state.name,
        "zone": state.availability_zone or "nova",
        "status": "disabled" if state.disabled else "enabled",
        "state": "up" if _ready(node) else "down",
        "updated_at": str(heard).replace("Z", "") if heard else None,
        "disabled_reason": ("cordoned" if cordoned else "disabled by label")
        if state.disabled else None,
    }  # fmt: skip
    if version >= (2, 11):
        document["forced_down"] = False
    return document


def placed(server: Mapping[str, Any], flavor: Mapping[str, Any] | None) -> hosts.Placed:
    """What a server uses on its host, as Nova's resource tracker counts it from the flavor."""
    vcpus, ram, disk, ephemeral = nova_admin_documents.size(flavor)
    root = 0 if (server.get("spec") or {}).get("bootVolume") else disk
    return hosts.Placed(
        name=f"{server['metadata'].get('namespace')}/{server['metadata']['name']}",
        vcpus=vcpus, memory_mb=ram, disk_gb=root + ephemeral,
        busy=bool((server.get("status") or {}).get("taskState")),
    )  # fmt: skip


def _ready(node: Mapping[str, Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _version_number(text: str) -> int:
    """A version as Nova encodes the hypervisor's: major * 1000000 + minor * 1000 + patch."""
    found = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if found is None:
        return 0
    return int(found[1]) * 1000000 + int(found[2]) * 1000 + int(found[3] or 0)


def hypervisor(
    node: Mapping[str, Any], servers: Sequence[Mapping[str, Any]],
    flavors: Mapping[str, Mapping[str, Any]], *, version: Version, detail: bool,
    with_servers: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Nova's hypervisor for a node and the servers on it (`flavors` by name): as listed, or
    with `detail` as /detail and /{id} show it, with the fields of `version`."""
    state = hosts.host_state(dict(node), [placed(s, flavors.get(_flavor(s))) for s in servers])
    cordoned = bool((node.get("spec") or {}).get("unschedulable"))
    document: dict[str, Any] = {
        "id": hypervisor_id(node, version), "hypervisor_hostname": state.name,
        "state": "up" if _ready(node) else "down",
        "status": "disabled" if state.disabled else "enabled",
    }  # fmt: skip
    info = (node.get("status") or {}).get("nodeInfo") or {}
    if detail:
        document.update({
            "hypervisor_type": "QEMU",
            "hypervisor_version": _version_number(str(info.get("kubeletVersion") or "")),
            "host_ip": state.host_ip,
            "service": {"host": state.name, "id": service_id(node, version),
                        "disabled_reason": ("cordoned" if cordoned else "disabled by label")
                        if state.disabled else None},
        })  # fmt: skip
    if detail and version < (2, 88):
        document.update(_resources(state))
        arch = str(info.get("architecture") or "amd64").replace("amd64", "x86_64")
        cpu_info = {"arch": arch, "model": "", "vendor": "", "features": sorted(state.traits),
                    "topology": {"sockets": 1, "cores": state.vcpus, "threads": 1}}  # fmt: skip
        document["cpu_info"] = cpu_info if version >= (2, 28) else json.dumps(cpu_info)
    if detail and version >= (2, 88):
        document["uptime"] = None  # a node's uptime is not in its status
    if servers and with_servers:
        document["servers"] = [{"name": documents.display_name(s), "uuid": documents.uid(s)}
                               for s in nova_admin_documents.by_creation(servers)]  # fmt: skip
    elif with_servers and version >= (2, 75):
        document["servers"] = []
    return document


def _flavor(server: Mapping[str, Any]) -> str:
    built = (server.get("status") or {}).get("built") or {}
    return str(built.get("flavor") or (server.get("spec") or {}).get("flavor") or "")


def _resources(state: Any) -> dict[str, int]:
    free_disk = state.disk_gb - state.disk_gb_used
    return {
        "vcpus": state.vcpus, "vcpus_used": int(state.vcpus_used),
        "memory_mb": state.memory_mb, "memory_mb_used": state.memory_mb_used,
        "free_ram_mb": state.memory_mb - state.memory_mb_used,
        "local_gb": state.disk_gb, "local_gb_used": state.disk_gb_used,
        "free_disk_gb": free_disk, "disk_available_least": free_disk,
        "current_workload": state.num_io_ops, "running_vms": state.num_instances,
    }  # fmt: skip


STATISTICS = ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used",
              "free_ram_mb", "free_disk_gb", "current_workload", "running_vms",
              "disk_available_least")  # fmt: skip


def statistics(details: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """GET /os-hypervisors/statistics (before 2.88): the sums over the enabled hypervisors'
    details (as listed before 2.88), as Nova sums its enabled compute nodes."""
    enabled = [d for d in details if d["status"] == "enabled"]
    totals = {key: sum(int(d[key]) for d in enabled) for key in STATISTICS}
    return {"hypervisor_statistics": {"count": len(enabled), **totals}}


# -- host aggregates --------------------------------------------------------------------------


def aggregates(nodes: Sequence[Mapping[str, Any]], version: Version) -> list[dict[str, Any]]:
    """Nova's host aggregates, as the scheduler reads them from the nodes' labels
    (placement.hosts): a node is in each aggregate it is labelled with, whose metadata (with
    availability_zone, as in Nova) are its labels too. Made when its first node was."""
    found: dict[str, dict[str, Any]] = {}
    for node in sorted(nodes, key=lambda n: str(n["metadata"]["name"])):
        for name, metadata in hosts.host_state(dict(node)).aggregates.items():
            entry = found.setdefault(name, {"hosts": [], "metadata": {}, "created": []})
            entry["hosts"].append(node["metadata"]["name"])
            entry["metadata"].update(metadata)
            entry["created"].append(node["metadata"].get("creationTimestamp") or "")
    listed = []
    for name in sorted(found):
        entry = found[name]
        ident = str(uuid.uuid5(uuid.NAMESPACE_URL, f"nova-aggregate:{name}"))
        created = min(c for c in entry["created"]) or "1970-01-01T00:00:00Z"
        document: dict[str, Any] = {
            "id": int(ident.replace("-", "")[:7], 16), "name": name,
            "availability_zone": entry["metadata"].get("availability_zone"),
            "hosts": entry["hosts"], "metadata": entry["metadata"],
            "created_at": nova_admin_documents.stamp(
                datetime.datetime.fromisoformat(created.replace("Z", "+00:00"))),
            "updated_at": None, "deleted_at": None, "deleted": False,
        }  # fmt: skip
        if version >= (2, 41):
            document["uuid"] = ident
        listed.append(document)
    return listed
