"""A Project's children and usage, pure: its Namespace, the ResourceQuota mirroring what
Kubernetes can count, the RoleBindings of its members, the NetworkPolicy isolating its servers,
and `openstack quota show --usage` from what the project holds. A User's password: read from
its Secret, and the Secret keeping its hash."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from nimbus.api import kinds
from nimbus.identity import api
from nimbus.runtime.conditions import WaitingError

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
    "routers": "routers.network.nimbus.dev",
    "floating_ips": "floatingips.network.nimbus.dev",
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


# -- users ------------------------------------------------------------------------------------

USER_LABEL = "identity.nimbus.dev/user"
# On a password's hash Secret: the version of the user's Secret it was made from, so that an
# unchanged Secret costs a read, never a hash (scrypt: a tenth of a second and 128 MiB).
HASHED_FROM = "identity.nimbus.dev/hashed-from"
PENDING = "pending:"  # before HASHED_FROM's value: a new hash whose change is not reported yet
MAX_PASSWORD_LENGTH = 4096  # Keystone's max_password_length


def password_secret_name(user: str) -> str:
    """The Secret of the system namespace holding the user's password hash (never the
    password)."""
    return f"nimbus-password-{user}"


def password_of(ref: api.PasswordSecret, secret: Mapping[str, Any] | None) -> str:
    """The password in clear that `spec.passwordSecret` names; a WaitingError naming the field
    when the Secret, its key or a usable password is not there."""
    where = f"Secret {ref.namespace}/{ref.name}"
    if secret is None:
        raise WaitingError(
            "PasswordReady", "SecretNotFound",
            f"spec.passwordSecret.name: Secret {ref.name} not found in namespace {ref.namespace}",
        )  # fmt: skip
    data = secret.get("data") or {}
    if ref.key not in data:
        keys = ", ".join(sorted(data)) or "none"
        raise WaitingError("PasswordReady", "SecretKeyNotFound",
                           f"spec.passwordSecret.key: {where} has no key {ref.key}; "
                           f"its keys: {keys}")  # fmt: skip
    try:
        password = base64.b64decode(data[ref.key], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        password = None
    if password is None:
        why = "is not UTF-8 text"
    elif not password:
        why = "is empty"
    elif len(password) > MAX_PASSWORD_LENGTH:
        why = f"is longer than {MAX_PASSWORD_LENGTH} characters"
    else:
        return password
    raise WaitingError("PasswordReady", "PasswordInvalid",
                       f"spec.passwordSecret.key: key {ref.key} of {where} {why}; a password "
                       f"is 1 to {MAX_PASSWORD_LENGTH} characters of text")  # fmt: skip


def hashed_from(ref: api.PasswordSecret, secret: Mapping[str, Any]) -> str:
    """Which version of which key of the user's Secret a hash is made from."""
    metadata = secret["metadata"]
    return f"{metadata.get('uid')}/{metadata.get('resourceVersion')}/{ref.key}"


def kept_hash(kept: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """(the hash a password hash Secret keeps, what it was made from), each None when absent."""
    if kept is None:
        return None, None
    encoded = (kept.get("data") or {}).get("hash")
    annotations = kept["metadata"].get("annotations") or {}
    try:
        stored = base64.b64decode(encoded).decode() if encoded else None
    except (binascii.Error, UnicodeDecodeError):
        stored = None
    return stored, annotations.get(HASHED_FROM)


def render_password_hash(
    user: str, namespace: str, hashed: str, source: str, owner: dict[str, Any]
) -> dict[str, Any]:
    """The Secret keeping a user's password hash: owned by the User, so that it goes with it."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": password_secret_name(user),
            "namespace": namespace,
            "labels": {**MANAGED, USER_LABEL: user},
            "annotations": {HASHED_FROM: source},
            "ownerReferences": [owner],
        },
        "type": "Opaque",
        "data": {"hash": base64.b64encode(hashed.encode()).decode()},
    }
