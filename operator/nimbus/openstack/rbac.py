"""What the API may do as itself, pure: least privilege, as the operator's RBAC is.

It reads Users and Projects (to authenticate and to scope) and Flavors (a server's own, in its
document), keeps its Fernet keys, reads password hashes and keeps revocations in the system
namespace, and impersonates: only the users there are User objects of (the ClusterRole
`nimbus-api-impersonation`, whose names the operator keeps, bound here), never a name without
one. It reads no project's objects as itself: every such call impersonates the token's user, in
the group `system:authenticated` (service.GROUPS), so Kubernetes RBAC judges what that user may
do. The one other group it asserts is the token's project's (`nimbus:project:<name>`, only for a
member, and only the Projects there are, as the operator keeps the impersonation ClusterRole),
to read and answer another project's image shared with it. It lists Images cluster-wide only to
find public and shared ones, and Networks only to find external ones, each read again as the
caller; it watches Images only for a server's image id, as Nova shows it with the server."""

from __future__ import annotations

from typing import Any

NAME = "nimbus-api"
IMPERSONATION = "nimbus-api-impersonation"  # identity.roles.IMPERSONATION, kept by the operator


def objects(namespace: str, subject: dict[str, str]) -> list[dict[str, Any]]:
    """The ClusterRole, Role and their bindings for the API's `subject` (a ServiceAccount or
    user), with its Secrets and ConfigMaps in `namespace`."""
    labels = {"app.kubernetes.io/managed-by": "nimbus", "app.kubernetes.io/component": "api"}
    cluster_rules = [
        {"apiGroups": ["identity.nimbus.dev"], "resources": ["users", "projects"],
         "verbs": ["get", "list", "watch"]},
        # passwordChangedAt, when a password is set through the API
        {"apiGroups": ["identity.nimbus.dev"], "resources": ["users/status"], "verbs": ["patch"]},
        {"apiGroups": [""], "resources": ["groups"], "verbs": ["impersonate"],
         "resourceNames": ["system:authenticated"]},
        # kept from a watch, to describe a server's own flavor (every user may read flavors)
        {"apiGroups": ["compute.nimbus.dev"], "resources": ["flavors"],
         "verbs": ["get", "list", "watch"]},
        # the index of other projects' images a project may use (public, or shared with it):
        # only to find them; each is read again as the caller before it is shown or used. And
        # kept from a watch, only for the id of a server's image in the server's document
        {"apiGroups": ["image.nimbus.dev"], "resources": ["images"], "verbs": ["list", "watch"]},
        # the index of other projects' external networks (router:external, which Neutron shows
        # every project): only to find them; each is read again as the caller
        {"apiGroups": ["network.nimbus.dev"], "resources": ["networks"], "verbs": ["list"]},
    ]  # fmt: skip
    namespaced_rules = [
        {"apiGroups": [""], "resources": ["secrets", "configmaps"], "verbs": ["create"]},
        # password hashes and application credentials (listed by their user's label)
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "patch",
                                                              "delete"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "patch"],
         "resourceNames": ["nimbus-token-revocations", "nimbus-login-failures"]},
    ]  # fmt: skip
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": NAME, "labels": labels}, "rules": cluster_rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": NAME, "labels": labels},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": NAME}, "subjects": [subject]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": IMPERSONATION, "labels": labels},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": IMPERSONATION}, "subjects": [subject]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": NAME, "namespace": namespace, "labels": labels},
         "rules": namespaced_rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": NAME, "namespace": namespace, "labels": labels},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
         "subjects": [subject]},
    ]  # fmt: skip
