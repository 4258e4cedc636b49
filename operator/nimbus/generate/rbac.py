"""What the operator and the extender may do in a cluster: the rules of their ClusterRoles, read
from what the code touches (the handlers, their indexes and watches, the children the templates
render, kopf's own bookkeeping). The Helm chart's RBAC is generated from here, and an
integration test runs the operator as the chart's ServiceAccount against the examples, so that
a rule missing here shows as a Forbidden there."""

from __future__ import annotations

from typing import Any

from nimbus.api import kinds
from nimbus.identity import roles

READ = ["get", "list", "watch"]
OWN = [*READ, "create", "update", "patch", "delete"]  # children the operator makes and removes


def _nimbus() -> list[dict[str, Any]]:
    groups: dict[str, list[str]] = {}
    for kind in kinds.ALL:
        groups.setdefault(kind.group, []).append(kind.plural)
    out = []
    for group, plurals in sorted(groups.items()):
        # Its own kinds: watched, their status written, kopf's annotations and finalizers
        # patched; a Stack creates and deletes its resources, a Project drains its namespace.
        out.append({"apiGroups": [group], "resources": sorted(plurals), "verbs": OWN})
        out.append(
            {
                "apiGroups": [group],
                "resources": sorted(f"{p}/status" for p in plurals),
                "verbs": ["get", "update", "patch"],
            }
        )
    return out


def operator_rules() -> list[dict[str, Any]]:
    """The operator's ClusterRole."""
    return [
        *_nimbus(),
        # A Project's namespace and quota (and the system namespace, outside the chart); the
        # cloud-init, key pair and stack Secrets; a User's password Secret, read by name (get,
        # never list or watch), and its hash kept in the system namespace; the volumes' claims;
        # Events for every transition.
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": OWN},
        {"apiGroups": [""], "resources": ["resourcequotas"], "verbs": OWN},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "create", "update",
                                                              "patch", "delete"]},
        {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": OWN},
        {"apiGroups": [""], "resources": ["nodes"], "verbs": READ},
        # Whether a user may make what a Stack makes for them, or make an image public.
        {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"],
         "verbs": ["create"]},
        {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"],
         "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
        # A Project's role bindings to the project roles; the Role and RoleBinding that let
        # another project clone a shared image (CDI's datavolumes/source).
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings", "roles"],
         "verbs": OWN},
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
         "verbs": ["bind"],
         "resourceNames": sorted(r["metadata"]["name"] for r in roles.cluster_roles())},
        # Whom the OpenStack API may impersonate: the names of the Users there are, written
        # into the rules of its ClusterRole, which the chart ships (escalate: the role grants
        # impersonation, which the operator does not hold; on that one name only).
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
         "verbs": ["get", "update", "patch", "escalate"],
         "resourceNames": [roles.IMPERSONATION]},
        # A Router's router pod: its Deployment and the ServiceAccount it reads its Router as
        # (the Role above, on the pod's own Router and the project's FloatingIPs).
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": OWN},
        {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": OWN},
        # Security groups and project isolation.
        {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": OWN},
        # What the servers, images, networks and volumes become.
        {"apiGroups": ["kubevirt.io"], "resources": ["virtualmachines"], "verbs": OWN},
        {"apiGroups": ["kubevirt.io"], "resources": ["virtualmachineinstances"],
         "verbs": [*READ, "delete"]},
        # A server's powerState Paused: KubeVirt's pause and unpause (virt-api's aggregated
        # API).
        {"apiGroups": ["subresources.kubevirt.io"],
         "resources": ["virtualmachineinstances/pause", "virtualmachineinstances/unpause"],
         "verbs": ["update"]},
        {"apiGroups": ["cdi.kubevirt.io"], "resources": ["datavolumes"], "verbs": OWN},
        {"apiGroups": ["cdi.kubevirt.io"], "resources": ["datavolumes/source"],
         "verbs": ["create"]},
        {"apiGroups": ["k8s.cni.cncf.io"], "resources": ["network-attachment-definitions"],
         "verbs": OWN},
        {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": OWN},
        {"apiGroups": ["snapshot.storage.k8s.io"],
         "resources": ["volumesnapshots", "volumesnapshotclasses"], "verbs": OWN},
        # kopf: peering between replicas, and the discovery of resources.
        {"apiGroups": ["kopf.dev"], "resources": ["clusterkopfpeerings", "kopfpeerings"],
         "verbs": [*READ, "create", "patch"]},
        {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
         "verbs": READ},
    ]  # fmt: skip


def extender_rules() -> list[dict[str, Any]]:
    """The placement extender's ClusterRole: it reads nodes, the servers' pods and groups."""
    return [
        {"apiGroups": [""], "resources": ["nodes", "pods"], "verbs": READ},
        {"apiGroups": ["compute.nimbus.dev"], "resources": ["servergroups"], "verbs": READ},
    ]
