"""A Project's children and usage, pure: its Namespace, the ResourceQuota mirroring what
Kubernetes can count, the RoleBindings of its members, the NetworkPolicy isolating its servers,
and `openstack quota show --usage` from what the project holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nimbus.api import kinds
from nimbus.identity import api

PROJECT_LABEL = "identity.nimbus.dev/project"
MANAGED = {"app.kubernetes.io/managed-by": "nimbus"}
QUOTA_NAME = "nimbus-quota"
ISOLATION_NAME = "nimbus-project-isolation"
ROLES = ("admin", "member", "reader")

# Quota names (`openstack quota show`) -> the Nimbus kind Kubernetes counts for it.
COUNTED = {
    "instances": "servers.compute.nimbus.dev",
    "key_pairs": "keypairs.compute.nimbus.dev",
    "server_groups": "servergroups.compute.nimbus.dev",
    "volumes": "volumes.blockstorage.nimbus.dev",
    "snapshots": "snapshots.blockstorage.nimbus.dev",
    "networks": "networks.network.nimbus.dev",
    "subnets": "subnets.network.nimbus.dev",
    "ports": "ports.network.nimbus.dev",
    "security_groups": "securitygroups.network.nimbus.dev",
}


def namespace_of(name: str, spec: api.ProjectSpec) -> str:
    return spec.namespace or name


def labels(project: str) -> dict[str, str]:
    return {**MANAGED, PROJECT_LABEL: project}


def render_namespace(project: str, spec: api.ProjectSpec, owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": namespace_of(project, spec),
            "labels": labels(project),
            "ownerReferences": [owner],
        },
    }


def render_quota(project: str, namespace: str, quota: api.Quota) -> dict[str, Any]:
    """Object counts, the part of the quota Kubernetes enforces by itself. Cores, RAM and
    gigabytes are accounted by Nimbus (a claim's size is not a Cinder volume's: root disks are
    claims too)."""
    hard = {
        f"count/{resource}": str(getattr(quota, field))
        for field, resource in COUNTED.items()
        if getattr(quota, field) >= 0
    }
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": QUOTA_NAME, "namespace": namespace, "labels": labels(project)},
        "spec": {"hard": hard},
    }


def render_isolation(project: str, namespace: str) -> dict[str, Any]:
    """The project's servers take traffic from its own pods only, unless a security group says
    more (NetworkPolicies add up: a rule open to 0.0.0.0/0 is open to other projects too, as a
    Neutron rule is)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": ISOLATION_NAME, "namespace": namespace, "labels": labels(project)},
        "spec": {
            "podSelector": {"matchLabels": dict(MANAGED)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {}}]}],
        },
    }


def role_binding_name(role: str) -> str:
    return f"nimbus-project-{role}"


def render_role_bindings(
    project: str, namespace: str, spec: api.ProjectSpec
) -> dict[str, dict[str, Any]]:
    """role -> RoleBinding of its members to the ClusterRole `nimbus-project-<role>`. A
    disabled project binds nobody (Keystone gives its members no token)."""
    out = {}
    for role in ROLES:
        subjects = [
            {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": m.user}
            if m.user
            else {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": m.group}
            for m in spec.members
            if m.role == role
        ]
        if subjects and spec.enabled:
            out[role] = {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {
                    "name": role_binding_name(role),
                    "namespace": namespace,
                    "labels": labels(project),
                },
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": f"nimbus-project-{role}",
                },
                "subjects": subjects,
            }
    return out


# -- usage ------------------------------------------------------------------------------------

# quota field -> (what `openstack quota show` calls it, in status.usage: camelCase)
USAGE_NAMES = {name: field.alias or name for name, field in api.Quota.model_fields.items()}


def usage(
    quota: api.Quota,
    held: Mapping[str, Sequence[Mapping[str, Any]]],
    flavors: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, int]]:
    """`openstack quota show --usage`: in use and limit per resource. `held` is the project's
    objects by plural; `flavors` the flavors' specs by name. Objects being deleted still count
    until they are gone, as in Nova."""
    servers = held.get("servers", [])
    cores = ram = 0
    for server in servers:
        flavor = flavors.get(server["spec"].get("flavor", "")) or {}
        cores += int(flavor.get("vcpus", 0))
        ram += int(flavor.get("ramMB", 0))
    volumes = held.get("volumes", [])
    gigabytes = sum(volume_gb(v) for v in volumes)
    in_use = {
        "instances": len(servers),
        "cores": cores,
        "ram_mb": ram,
        "key_pairs": len(held.get("keypairs", [])),
        "server_groups": len(held.get("servergroups", [])),
        "volumes": len(volumes),
        "gigabytes": gigabytes,
        "snapshots": len(held.get("snapshots", [])),
        "networks": len(held.get("networks", [])),
        "subnets": len(held.get("subnets", [])),
        "ports": len(held.get("ports", [])),
        "security_groups": len(held.get("securitygroups", [])),
        "security_group_rules": sum(
            len(g.get("spec", {}).get("rules", [])) for g in held.get("securitygroups", [])
        ),
        # Per group and per server in Nova: the fullest one is what a limit would refuse.
        "server_group_members": max(
            [
                sum(1 for s in servers if s["spec"].get("serverGroup") == g["metadata"]["name"])
                for g in held.get("servergroups", [])
            ]
            or [0]
        ),
        "metadata_items": max([len(s["spec"].get("metadata") or {}) for s in servers] or [0]),
        "routers": 0,  # no routers or floating IPs yet
        "floating_ips": 0,
    }
    return {
        USAGE_NAMES[field]: {"inUse": count, "reserved": 0, "limit": getattr(quota, field)}
        for field, count in in_use.items()
    }


def volume_gb(volume: Mapping[str, Any]) -> int:
    """A volume's size: as asked, else as made (from a snapshot or a volume)."""
    size = volume.get("spec", {}).get("sizeGB") or volume.get("status", {}).get("sizeGB")
    return int(size or 0)


# Nimbus's namespaced kinds, by the order a project's deletion drains them.
DRAIN_ORDER: tuple[tuple[str, ...], ...] = (
    ("stacks",),
    ("servers",),
    ("snapshots",),  # before their volumes: Cinder deletes no volume that has snapshots
    ("volumes",),
    ("ports", "subnets", "networks", "securitygroups", "servergroups", "keypairs", "images"),
)
KINDS = {k.plural: k for k in kinds.ALL if k.scope == "Namespaced"}
DATA = ("volumes", "snapshots")  # what a project's deletion takes only when told to purge


def volumes_kept(project: str, held: Mapping[str, Sequence[str]]) -> str | None:
    """Why a project that holds volumes or snapshots (by kind) is not deleted without
    spec.purge."""
    if not any(held.values()):
        return None
    listed = "; ".join(f"{plural} {', '.join(names)}" for plural, names in held.items() if names)
    return (
        f"project {project} holds {listed}: deleting it would delete their data. Set "
        "spec.purge: true to delete them with the project (openstack project purge), or move "
        "or delete them first"
    )


def drain_progress(left: Mapping[str, int]) -> str:
    """Progress of a drain in words: `3 servers, 1 volume left`."""
    parts = [f"{n} {plural[:-1] if n == 1 else plural}" for plural, n in left.items() if n]
    return ", ".join(parts) + " left" if parts else "nothing left"
