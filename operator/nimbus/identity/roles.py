"""The cluster-wide objects tenancy rests on, pure: the ClusterRoles a project's members are
bound to, the one that lets everyone read flavors and volume types, and the admission policy
that refuses to delete a protected project.

- `nimbus-project-reader`: get, list and watch every Nimbus kind of the project;
- `nimbus-project-member`: also create, update, patch and delete them, and write (not read)
  the project's Secrets, so that user data holding secrets stays out of readers' sight;
- `nimbus-project-admin`: also the project's Secrets (a generated private key is one), its
  Events, and the verb `administer` on routers and floating IPs: the fields Neutron's policy
  leaves to an admin (a router's ha, enable_snat and external_fixed_ips, a floating IP's
  address), which admission checks.

They aggregate into Kubernetes' view, edit and admin roles. No role grants Projects, Flavors or
VolumeTypes beyond reading: only a cluster admin edits them. `nimbus-image-publisher` holds the
verb `publicize` on images (Glance's publicize_image): bound cluster-wide, it lets a user make an
image public; cluster admins hold it already. `nimbus-identity-admin` is Keystone's admin for
identity: Users and Projects, read and written (users, projects and role assignments through the
OpenStack API too); bound cluster-wide to a user, it makes them the cloud's identity admin.
`nimbus-network-admin` holds `administer` on networks: bound cluster-wide, it lets a user make a
network external or shared (every project's) or give it a provider (the hosts' network).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nimbus.api import kinds
from nimbus.identity.api import PROJECT_GROUP
from nimbus.image import api as image_api

READ = ["get", "list", "watch"]
WRITE = ["create", "update", "patch", "delete", "deletecollection"]
AGGREGATE = {"reader": "view", "member": "edit", "admin": "admin"}
PUBLIC_READER = "nimbus-public-reader"
PROJECT_ADMIN = "nimbus-project-admin"
# Neutron's admin for networks: external, shared and provider networks are the cloud's.
NETWORK_ADMIN = "nimbus-network-admin"
# Glance's publicize_image: bound cluster-wide to whoever may make an image public.
IMAGE_PUBLISHER = "nimbus-image-publisher"
DELETION_PROTECTION = "nimbus-project-deletion-protection"
# Keystone's identity admin: who may manage users, projects and their members.
IDENTITY_ADMIN = "nimbus-identity-admin"
# Whom the OpenStack API may impersonate: the Users there are, by name, and no one else. The
# operator keeps its rules; the API's ServiceAccount is bound to it (nimbus.openstack.rbac).
IMPERSONATION = "nimbus-api-impersonation"
MEMBER_STATUS_POLICY = "nimbus-image-member-status"


def _nimbus_rules(verbs: list[str]) -> list[dict[str, Any]]:
    groups: dict[str, list[str]] = {}
    for kind in kinds.ALL:
        if kind.scope == "Namespaced":
            groups.setdefault(kind.group, []).append(kind.plural)
    return [
        {"apiGroups": [group], "resources": sorted(plurals), "verbs": verbs}
        for group, plurals in sorted(groups.items())
    ]


def cluster_roles() -> list[dict[str, Any]]:
    rules = {
        "reader": _nimbus_rules(READ),
        "member": [
            *_nimbus_rules(READ + WRITE),
            # user data that holds secrets (a server's userDataSecret): written, never read
            {
                "apiGroups": [""],
                "resources": ["secrets"],
                "verbs": ["create", "update", "patch", "delete"],
            },
        ],
        "admin": [
            *_nimbus_rules(READ + WRITE),
            {"apiGroups": [""], "resources": ["secrets"], "verbs": READ + WRITE},
            {"apiGroups": [""], "resources": ["events"], "verbs": READ},
            {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": READ},
            {
                "apiGroups": ["network.nimbus.dev"],
                "resources": ["floatingips", "routers"],
                "verbs": ["administer"],
            },
        ],
    }
    roles = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": f"nimbus-project-{role}",
                "labels": {
                    "app.kubernetes.io/managed-by": "nimbus",
                    f"rbac.authorization.k8s.io/aggregate-to-{AGGREGATE[role]}": "true",
                },
            },
            "rules": rules[role],
        }
        for role in ("reader", "member", "admin")
    ]
    roles.append({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": IMAGE_PUBLISHER,
                     "labels": {"app.kubernetes.io/managed-by": "nimbus"}},
        "rules": [{"apiGroups": ["image.nimbus.dev"], "resources": ["images"],
                   "verbs": ["publicize"]}],
    })  # fmt: skip
    roles.append({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": NETWORK_ADMIN,
                     "labels": {"app.kubernetes.io/managed-by": "nimbus"}},
        "rules": [{"apiGroups": ["network.nimbus.dev"], "resources": ["networks"],
                   "verbs": ["administer"]}],
    })  # fmt: skip
    roles.append({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": IDENTITY_ADMIN,
                     "labels": {"app.kubernetes.io/managed-by": "nimbus"}},
        "rules": [{"apiGroups": ["identity.nimbus.dev"], "resources": ["users", "projects"],
                   "verbs": READ + WRITE}],
    })  # fmt: skip
    public = [k for k in kinds.ALL if k.plural in ("flavors", "volumetypes")]
    roles.append({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": PUBLIC_READER, "labels": {"app.kubernetes.io/managed-by": "nimbus"}},
        "rules": [{"apiGroups": [k.group], "resources": [k.plural], "verbs": READ}
                  for k in public],
    })  # fmt: skip
    return roles


def public_reader_binding() -> dict[str, Any]:
    """Everyone signed in reads flavors and volume types, as every Nova user lists flavors."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": PUBLIC_READER, "labels": {"app.kubernetes.io/managed-by": "nimbus"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": PUBLIC_READER},
        "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io",
                      "name": "system:authenticated"}],
    }  # fmt: skip


def _denying(policy: dict[str, Any]) -> dict[str, Any]:
    """The binding that makes a ValidatingAdmissionPolicy deny what it does not validate."""
    name = policy["metadata"]["name"]
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"]},
    }


def deletion_protection() -> list[dict[str, Any]]:
    """A ValidatingAdmissionPolicy (and its binding): deleting a Project with
    spec.deletionProtection: true is refused by the API server itself, operator or not."""
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": DELETION_PROTECTION},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": ["identity.nimbus.dev"], "apiVersions": ["*"],
                "operations": ["DELETE"], "resources": ["projects"],
            }]},
            "validations": [{
                "expression": "!has(oldObject.spec.deletionProtection) || "
                              "!oldObject.spec.deletionProtection",
                "messageExpression": "'project ' + oldObject.metadata.name + ' has "
                                     "spec.deletionProtection: true; set it to false, then "
                                     "delete the project'",
                "reason": "Forbidden",
            }],
        },
    }  # fmt: skip
    return [policy, _denying(policy)]


def project_group(project: str) -> str:
    return PROJECT_GROUP + project


def member_status_policy() -> list[dict[str, Any]]:
    """A ValidatingAdmissionPolicy (and its binding): whoever may not update Images throughout
    the namespace (a project an image is shared with, whose group may patch that one Image) may
    change only its own project's member-status annotation, to pending, accepted or rejected —
    never the spec, labels, finalizers, owners or another project's answer."""
    prefix, n = image_api.MEMBER_STATUS, len(image_api.MEMBER_STATUS)
    answers = ", ".join(f"'{s}'" for s in image_api.MEMBER_STATUSES)
    mine = (
        f"(k.startsWith('{prefix}') && k.substring({n}) in variables.members && "
        f"('{PROJECT_GROUP}' + k.substring({n})) in request.userInfo.groups)"
    )
    same = " && ".join(
        f"(has(object.metadata.{f}) ? object.metadata.{f} : {empty}) == "
        f"(has(oldObject.metadata.{f}) ? oldObject.metadata.{f} : {empty})"
        for f, empty in (("labels", "{}"), ("finalizers", "[]"), ("ownerReferences", "[]"))
    )
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": MEMBER_STATUS_POLICY},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [image_api.GROUP], "apiVersions": ["*"],
                "operations": ["UPDATE"], "resources": ["images"],
            }]},
            "variables": [
                {"name": "owner",
                 "expression": f"authorizer.group('{image_api.GROUP}').resource('images')"
                               ".namespace(object.metadata.namespace).check('update').allowed()"},
                {"name": "new", "expression": "has(object.metadata.annotations) ? "
                                              "object.metadata.annotations : {}"},
                {"name": "old", "expression": "has(oldObject.metadata.annotations) ? "
                                              "oldObject.metadata.annotations : {}"},
                {"name": "members", "expression": "has(oldObject.spec.members) ? "
                                                  "oldObject.spec.members : []"},
            ],
            "validations": [{
                "expression": f"variables.owner || (object.spec == oldObject.spec && {same} && "
                              "variables.new.all(k, (k in variables.old && variables.old[k] == "
                              f"variables.new[k]) || ({mine} && variables.new[k] in [{answers}]))"
                              f" && variables.old.all(k, k in variables.new || {mine}))",
                "messageExpression": "'image ' + object.metadata.name + ' is shared with your "
                                     "project: you may set only your project\\'s member "
                                     f"status (annotation {prefix}<project>: pending, accepted "
                                     "or rejected), nothing else of it'",
                "reason": "Forbidden",
            }],
        },
    }  # fmt: skip
    return [policy, _denying(policy)]


def cluster_objects() -> list[dict[str, Any]]:
    """Everything above, in the order to apply it."""
    return [*cluster_roles(), public_reader_binding(), *deletion_protection(),
            *member_status_policy()]  # fmt: skip


def impersonation_role(users: Sequence[str], projects: Sequence[str] = ()) -> dict[str, Any]:
    """The ClusterRole letting the OpenStack API impersonate exactly these users, and assert the
    group of exactly these projects (project_group). With none, no rule: a rule with no
    resourceNames would let it impersonate anyone."""
    rules = [
        {"apiGroups": [""], "resources": [resource], "verbs": ["impersonate"],
         "resourceNames": sorted(set(names))}
        for resource, names in (("users", users), ("groups", [project_group(p) for p in projects]))
        if names
    ]  # fmt: skip
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": IMPERSONATION, "labels": {"app.kubernetes.io/managed-by": "nimbus",
                                                       "app.kubernetes.io/component": "api"}},
        "rules": rules,
    }  # fmt: skip
