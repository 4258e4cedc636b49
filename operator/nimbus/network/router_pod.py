"""Router -> its router pod: a Deployment running `nimbus router-agent`, Multus-attached to each
of its legs, with a ServiceAccount that may read its Router and FloatingIPs and report the data
path it applied. Pure."""

from __future__ import annotations

import json
from typing import Any

from nimbus.api.meta import short

MANAGED = {"app.kubernetes.io/managed-by": "nimbus"}
ROUTER_LABEL = "network.nimbus.dev/router"
AGENT_IMAGE = "ghcr.io/nimbus-cloud/nimbus:latest"  # the chart sets NIMBUS_AGENT_IMAGE
NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"


def name_of(router: str) -> str:
    return short(f"router-{router}")


def attachments(status: dict[str, Any], nads: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
    """Multus's network selection: each leg's NetworkAttachmentDefinition, its device name and
    address (nads: (project, network) -> the network's attachment)."""
    legs = list(status.get("interfaces") or [])
    if status.get("externalGateway"):
        legs.append(status["externalGateway"])
    selected = []
    for leg in legs:
        nad = nads.get((leg.get("project") or "", leg["network"]))
        if nad is None or not leg.get("ipAddress") or not leg.get("cidr"):
            continue
        prefix = leg["cidr"].split("/")[1]
        entry = {"name": nad, "interface": leg["device"], "ips": [f"{leg['ipAddress']}/{prefix}"]}
        if leg.get("project"):
            entry["namespace"] = leg["project"]
        selected.append(entry)
    return selected


def render(
    router: dict[str, Any],
    status: dict[str, Any],
    nads: dict[tuple[str, str], str],
    *,
    image: str = AGENT_IMAGE,
    owner: dict[str, Any],
) -> list[dict[str, Any]]:
    """The router pod's objects: ServiceAccount, Role, RoleBinding and Deployment. `ha`: two
    replicas, on two nodes if there are, with keepalived's VRRP between them (its raw
    sockets: CAP_NET_RAW besides CAP_NET_ADMIN)."""
    ha = bool(router["spec"].get("ha"))
    name = router["metadata"]["name"]
    namespace = router["metadata"]["namespace"]
    pod = name_of(name)
    labels = {**MANAGED, ROUTER_LABEL: short(name)}
    metadata = {"name": pod, "namespace": namespace, "labels": labels, "ownerReferences": [owner]}
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata}
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": metadata,
        "rules": [
            {
                "apiGroups": ["network.nimbus.dev"],
                "resources": ["routers"],
                "resourceNames": [name],
                "verbs": ["get"],
            },
            {
                "apiGroups": ["network.nimbus.dev"],
                "resources": ["routers/status"],
                "resourceNames": [name],
                "verbs": ["patch"],
            },
            {"apiGroups": ["network.nimbus.dev"], "resources": ["floatingips"], "verbs": ["list"]},
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": pod},
        "subjects": [{"kind": "ServiceAccount", "name": pod, "namespace": namespace}],
    }
    agent = {
        "name": "router-agent",
        "image": image,
        "command": ["nimbus", "router-agent", "--namespace", namespace, "--router", name],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsUser": 0,  # CAP_NET_ADMIN is the root user's in the pod's own user namespace
            "capabilities": {
                "drop": ["ALL"],
                "add": ["NET_ADMIN", "NET_RAW"] if ha else ["NET_ADMIN"],
            },
        },
        "volumeMounts": [{"name": "run", "mountPath": "/run/nimbus-router"}],
        "resources": {
            "requests": {"cpu": "10m", "memory": "64Mi"},
            "limits": {"memory": "256Mi"},
        },
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": 2 if ha else 1,
            "selector": {"matchLabels": {ROUTER_LABEL: short(name)}},
            # One pod: never two answering for one address. HA: one pod at a time, so that
            # the other holds the addresses meanwhile (keepalived moves them).
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
            }
            if ha
            else {"type": "Recreate"},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        NETWORKS_ANNOTATION: json.dumps(attachments(status, nads), sort_keys=True)
                    },
                },
                "spec": {
                    "serviceAccountName": pod,
                    "automountServiceAccountToken": True,
                    "securityContext": {
                        "seccompProfile": {"type": "RuntimeDefault"},
                        "sysctls": [{"name": "net.ipv4.ip_forward", "value": "1"}],
                    },
                    "containers": [agent],
                    "volumes": [{"name": "run", "emptyDir": {"medium": "Memory"}}],
                    **({"affinity": _apart(name)} if ha else {}),
                },
            },
        },
    }
    return [account, role, binding, deployment]


def _apart(router: str) -> dict[str, Any]:
    """An HA router's two pods on two nodes, where there are two."""
    term = {
        "weight": 100,
        "podAffinityTerm": {
            "labelSelector": {"matchLabels": {ROUTER_LABEL: short(router)}},
            "topologyKey": "kubernetes.io/hostname",
        },
    }
    return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [term]}}
