"""What every Nimbus kind shares: the model base, the metav1.Condition shape, the CRD descriptor."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Annotated, Any, ClassVar, Literal

import pydantic

VERSION = "v1alpha1"
CATEGORY = "nimbus"

# Words that Kubernetes spells in capitals inside a camelCase name (podIP, hostIPs, diskGB).
_ACRONYMS = {
    "ip": "IP", "ips": "IPs", "mb": "MB", "gb": "GB", "id": "ID", "cidr": "CIDR", "dhcp": "DHCP",
    "snat": "SNAT",
}  # fmt: skip


def camel(snake: str) -> str:
    """Return the API name of a Python field: `ram_mb` -> `ramMB`, `fixed_ips` -> `fixedIPs`."""
    first, *rest = snake.split("_")
    return first + "".join(_ACRONYMS.get(word, word.capitalize()) for word in rest)


class Model(pydantic.BaseModel):
    """Base of every spec and status model: camelCase on the wire, snake_case in Python."""

    model_config = pydantic.ConfigDict(
        alias_generator=camel,
        populate_by_name=True,
        extra="ignore",
        use_enum_values=True,
    )

    def to_api(self) -> dict[str, Any]:
        """The object as the API server stores it: camelCase, without unset optional fields."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def rule(cel: str, message: str, *, field_path: str | None = None) -> dict[str, str]:
    """One `x-kubernetes-validations` entry."""
    entry = {"rule": cel, "message": message}
    if field_path is not None:
        entry["fieldPath"] = field_path
    return entry


def validations(*rules: dict[str, str]) -> dict[str, Any]:
    """`json_schema_extra` carrying CEL rules, for a Field or a model's config."""
    return {"x-kubernetes-validations": list(rules)}


def immutable(what: str, why: str) -> dict[str, Any]:
    """`json_schema_extra` that makes a field immutable once set."""
    return validations(rule("self == oldSelf", f"{what} is immutable: {why}"))


def list_map(*keys: str) -> dict[str, Any]:
    """`json_schema_extra` for a list that server-side apply merges by key."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(keys)}


LIST_SET: dict[str, Any] = {"x-kubernetes-list-type": "set"}
LIST_ATOMIC: dict[str, Any] = {"x-kubernetes-list-type": "atomic"}
PRESERVE_UNKNOWN: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}


def short(text: str, limit: int = 63) -> str:
    """`text` within `limit` characters (a label's value, a child's name): cut, with a digest
    of the whole so that two long names never meet."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 11].rstrip('-.')}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
"""A DNS-1123 subdomain: what Kubernetes accepts as the name of most objects."""

# The value of a key/value map (metadata, extra specs, properties): bounded, as OpenStack does.
Value = Annotated[str, pydantic.StringConstraints(max_length=255)]

# A reference by name to another object of the same project (namespace).
Name = Annotated[
    str, pydantic.StringConstraints(min_length=1, max_length=253, pattern=NAME_PATTERN)
]


# The schema of status.conditions in every CRD. Code never builds one: a handler says what it
# wants with nimbus.runtime.conditions.Condition, the one Condition type the code uses, and
# conditions.apply writes it in this shape.
class StoredCondition(Model):
    """The metav1.Condition shape: one aspect of an object's state."""

    type: str = pydantic.Field(max_length=316, pattern=r"^([a-z0-9.-]+/)?[A-Za-z0-9_.-]+$")
    status: Literal["True", "False", "Unknown"]
    observed_generation: int | None = pydantic.Field(default=None, ge=0)
    last_transition_time: str = pydantic.Field(json_schema_extra={"format": "date-time"})
    reason: str = pydantic.Field(
        max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
    )
    message: str = pydantic.Field(max_length=32768)


class Fault(Model):
    """Why an object is in error, as Nova reports a server fault."""

    code: int = pydantic.Field(ge=100, le=599)
    message: str = pydantic.Field(max_length=4096)
    details: str | None = pydantic.Field(default=None, max_length=32768)
    created: str | None = pydantic.Field(default=None, json_schema_extra={"format": "date-time"})


class Status(Model):
    """What the operator reports on every kind."""

    conditions: list[StoredCondition] = pydantic.Field(
        default_factory=list, max_length=32, json_schema_extra=list_map("type")
    )
    observed_generation: int | None = pydantic.Field(default=None, ge=0)


@dataclasses.dataclass(frozen=True)
class Column:
    """One additionalPrinterColumn of `kubectl get`."""

    name: str
    json_path: str
    type: Literal["string", "integer", "number", "boolean", "date"] = "string"
    priority: int = 0
    description: str = ""


AGE = Column("Age", ".metadata.creationTimestamp", "date")


class Resource(Model):
    """A Nimbus kind: the model of one custom resource, with what its CRD needs to say."""

    group: ClassVar[str]
    plural: ClassVar[str]
    short_names: ClassVar[tuple[str, ...]]
    scope: ClassVar[Literal["Namespaced", "Cluster"]] = "Namespaced"
    columns: ClassVar[tuple[Column, ...]] = ()
    # CEL rules on the whole object, for what needs metadata.name (spec rules live on the spec).
    object_rules: ClassVar[tuple[dict[str, str], ...]] = ()
    # OpenStack's name for the kind, for documentation.
    openstack: ClassVar[str]

    api_version: str = ""
    kind: str = ""
    metadata: dict[str, Any] = pydantic.Field(default_factory=dict)

    @classmethod
    def kind_name(cls) -> str:
        return cls.__name__

    @classmethod
    def crd_name(cls) -> str:
        return f"{cls.plural}.{cls.group}"

    @classmethod
    def singular(cls) -> str:
        return cls.__name__.lower()

    @classmethod
    def api_version_name(cls) -> str:
        return f"{cls.group}/{VERSION}"
