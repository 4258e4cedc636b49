"""The identity.nimbus.dev kinds: Project and User."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import pydantic

from nimbus.api import meta

GROUP = "identity.nimbus.dev"
# The Kubernetes group the OpenStack API asserts, beside the user, for a token scoped to a project
# (`nimbus:project:<project>`): what is granted to a project rather than to its users one by one,
# such as an image shared with it. Only the API asserts it, and only for a member of the project.
PROJECT_GROUP = "nimbus:project:"

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

# Nova, Cinder and Neutron's default quotas; -1 means unlimited, as in OpenStack.
Limit = Annotated[int, pydantic.Field(ge=-1, le=2**31 - 1)]


class Quota(meta.Model):
    """A project's limits, with the names and defaults of `openstack quota show`."""

    instances: Limit = 10
    cores: Limit = 20
    ram_mb: Limit = 51200
    key_pairs: Limit = 100
    server_groups: Limit = 10
    server_group_members: Limit = 10
    metadata_items: Limit = 128
    volumes: Limit = 10
    gigabytes: Limit = 1000
    snapshots: Limit = 10
    networks: Limit = 100
    subnets: Limit = 100
    ports: Limit = 500
    routers: Limit = 10
    floating_ips: Limit = 50
    security_groups: Limit = 10
    security_group_rules: Limit = 100


class Member(meta.Model):
    """A role assignment: a user or a group holds a role on the project."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=meta.validations(
            meta.rule(
                "has(self.user) != has(self.group)",
                "a member names exactly one of user or group",
            )
        )
    )

    user: str | None = pydantic.Field(default=None, min_length=1, max_length=253)
    group: str | None = pydantic.Field(default=None, min_length=1, max_length=253)
    role: Literal["admin", "member", "reader"]


class ProjectSpec(meta.Model):
    description: str = pydantic.Field(default="", max_length=255)
    enabled: bool = True
    domain: str = pydantic.Field(
        default="default",
        max_length=64,
        json_schema_extra=meta.immutable("domain", "a project cannot move between domains"),
    )
    parent: str | None = pydantic.Field(
        default=None,
        max_length=253,
        pattern=meta.NAME_PATTERN,
        json_schema_extra=meta.immutable("parent", "a project cannot move in the hierarchy"),
    )
    namespace: str | None = pydantic.Field(
        default=None,
        max_length=63,
        pattern=DNS_LABEL,
        json_schema_extra=meta.immutable(
            "namespace", "the project's resources live there; create a new project instead"
        ),
    )
    tags: list[str] = pydantic.Field(
        default_factory=list, max_length=64, json_schema_extra=meta.LIST_SET
    )
    quota: Quota = pydantic.Field(default_factory=Quota, json_schema_extra={"default": {}})
    members: list[Member] = pydantic.Field(
        default_factory=list, max_length=256, json_schema_extra=meta.LIST_ATOMIC
    )
    deletion_protection: bool = False
    purge: bool = pydantic.Field(
        default=False,
        description=(
            "Deleting the project deletes the volumes and snapshots it holds too, as `openstack "
            "project purge`. Without it, a project that holds any is not deleted: its data is "
            "never lost to a deletion that did not say so."
        ),
    )


class Usage(meta.Model):
    """One line of `openstack quota show --usage`."""

    in_use: int
    reserved: int = 0
    limit: int


class ProjectStatus(meta.Status):
    status: Literal["BUILD", "ACTIVE", "DELETING", "ERROR"] | None = None
    namespace: str | None = None
    usage: dict[str, Usage] = pydantic.Field(default_factory=dict)


class Project(meta.Resource):
    """A Keystone project: a tenant with its own namespace, members and quota."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "projects"
    short_names: ClassVar[tuple[str, ...]] = ("osproject",)
    scope: ClassVar[Literal["Namespaced", "Cluster"]] = "Cluster"
    openstack: ClassVar[str] = "Keystone project"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("Namespace", ".status.namespace"),
        meta.Column("Enabled", ".spec.enabled", "boolean"),
        meta.Column("Status", ".status.status"),
        meta.Column("Description", ".spec.description", priority=1),
        meta.AGE,
    )
    object_rules: ClassVar[tuple[dict[str, str], ...]] = (
        meta.rule(
            f"has(self.spec.namespace) || (size(self.metadata.name) <= 63 && "
            f"self.metadata.name.matches('{DNS_LABEL}'))",
            "metadata.name: a project's name becomes its namespace, so it must be a DNS label "
            "(at most 63 lowercase letters, digits and '-'); or set spec.namespace",
        ),
        meta.rule(
            "!(has(self.spec.namespace) ? self.spec.namespace : self.metadata.name)"
            ".startsWith('kube-') && (has(self.spec.namespace) ? self.spec.namespace : "
            "self.metadata.name) != 'default'",
            "spec.namespace: default and kube-* are Kubernetes' own namespaces and never a "
            "project's; choose another name or spec.namespace",
        ),
    )

    spec: ProjectSpec
    status: ProjectStatus | None = None


# Kubernetes reserves `system:` for its own users and groups (system:masters,
# system:serviceaccount:...). A User's name is a DNS subdomain and can never hold a colon; the
# rule says so in words, and refuses the names that would read like one.
RESERVED_USER_NAMES = r"^system([-.:].*)?$"


class PasswordSecret(meta.Model):
    """Where a user's password is kept in clear: a key of a Secret the user (or their admin)
    owns. Nimbus keeps only a salted hash of it."""

    name: meta.Name
    namespace: str = pydantic.Field(max_length=63, pattern=DNS_LABEL)
    key: str = pydantic.Field(default="password", max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")


class UserSpec(meta.Model):
    domain: str = pydantic.Field(
        default="default",
        max_length=64,
        json_schema_extra=meta.immutable("domain", "a user cannot move between domains"),
    )
    enabled: bool = pydantic.Field(
        default=True,
        description="A disabled user gets no token, and the tokens they hold stop working.",
    )
    email: str | None = pydantic.Field(default=None, max_length=255)
    description: str = pydantic.Field(default="", max_length=255)
    default_project: meta.Name | None = pydantic.Field(
        default=None,
        description="The Project a login without a scope is scoped to (Keystone's "
        "default_project_id), when the user holds a role on it.",
    )
    password_secret: PasswordSecret | None = pydantic.Field(
        default=None,
        description="The Secret holding the user's password in clear. The operator keeps only "
        "a salted hash of it, and hashes it again when it changes. Without it, the password is "
        "set through the Identity API.",
    )


class UserStatus(meta.Status):
    password_changed_at: str | None = pydantic.Field(
        default=None,
        json_schema_extra={"format": "date-time"},
        description="When the password last changed: tokens issued before it no longer work.",
    )


class User(meta.Resource):
    """A Keystone user: the Kubernetes user of the same name, and the password that proves it."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "users"
    short_names: ClassVar[tuple[str, ...]] = ("osuser",)
    scope: ClassVar[Literal["Namespaced", "Cluster"]] = "Cluster"
    openstack: ClassVar[str] = "Keystone user"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("Enabled", ".spec.enabled", "boolean"),
        meta.Column("Domain", ".spec.domain"),
        meta.Column("Default Project", ".spec.defaultProject"),
        meta.Column("Email", ".spec.email", priority=1),
        meta.Column("Description", ".spec.description", priority=1),
        meta.AGE,
    )
    object_rules: ClassVar[tuple[dict[str, str], ...]] = (
        meta.rule(
            f"!self.metadata.name.matches('{RESERVED_USER_NAMES}')",
            "metadata.name: a user is never named system, system-* or system.*: Kubernetes "
            "reserves system: for its own users and groups (system:masters, "
            "system:serviceaccount:...), which a User's name, a DNS subdomain, can never be, "
            "nor look like; choose another name",
        ),
    )

    spec: UserSpec = pydantic.Field(default_factory=UserSpec)
    status: UserStatus | None = None
