"""What a Heat resource becomes, pure: a Nimbus object (Apply), an item added to another
object's list (Append), fields set on another object (Assign), or a value of Heat's own
(Value); and the manifest of an object a resource is, named after the stack and checked by its
kind's model. resources.py and neutron_resources.py map Heat's types onto these.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

import pydantic

from nimbus.api import kinds, meta
from nimbus.orchestration.hot.template import HotError

STACK_LABEL = "orchestration.nimbus.dev/stack"
RESOURCE_LABEL = "orchestration.nimbus.dev/resource"


@dataclasses.dataclass(frozen=True)
class Stack:
    name: str
    namespace: str
    uid: str


@dataclasses.dataclass(frozen=True)
class Apply:
    """A Nimbus object the resource is."""

    manifest: dict[str, Any]


def named(kind: str, name: str) -> None:
    """The object a resource changes is one of the stack's project, named as Kubernetes names
    it: never a path (`../../other/floatingips/theirs`) that would lead elsewhere."""
    if not re.fullmatch(meta.NAME_PATTERN, name) or len(name) > 253:
        raise HotError(
            f"Property error: the {kind} {name!r} is not the name of an object of the stack's "
            "project (lowercase letters, digits, '-' and '.')"
        )


@dataclasses.dataclass(frozen=True)
class Append:
    """An item the resource adds to another object's list (removed with the resource)."""

    kind: str
    name: str
    field: str  # the list in the object's spec
    item: dict[str, Any]

    def __post_init__(self) -> None:
        named(self.kind, self.name)


@dataclasses.dataclass(frozen=True)
class Assign:
    """Fields the resource sets in another object's spec (a router's gateway, a floating IP's
    port), which the stack may not own: unset with the resource, but only while they still
    hold what it set."""

    kind: str
    name: str
    fields: dict[str, Any]  # spec field (as the CRD spells it) -> value; None: the field unset
    reference: str  # the resource's reference id (get_resource), Heat's where Heat has one

    def __post_init__(self) -> None:
        named(self.kind, self.name)


@dataclasses.dataclass(frozen=True)
class Value:
    """A resource of Heat's own, which is only a value (OS::Heat::Value, RandomString, ...)."""

    value: Any
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)


Made = Apply | Append | Assign | Value
Render = Callable[[str, Mapping[str, Any], Stack], Made]


def physical_name(stack: str, resource: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", f"{stack}-{resource}".lower()).strip("-")
    return name[:63].rstrip("-") or "resource"


def required(where: str, p: Mapping[str, Any], *names: str) -> Any:
    """The first of a property's names (Heat's, then its deprecated ones) that is given."""
    value = next((p[n] for n in names if p.get(n) is not None), None)
    if value is None:
        raise HotError(f"Property error: {where}: Property {names[0]} not assigned")
    return value


def manifest(
    kind_name: str,
    name: str,
    stack: Stack,
    resource: str,
    spec: dict[str, Any],
    *,
    namespaced: bool = True,
) -> dict[str, Any]:
    kind = kinds.by_kind(kind_name)
    clean = {k: v for k, v in spec.items() if v is not None}
    try:  # the kind's own model: what its CRD would refuse is refused here, by field
        kind.model_fields["spec"].annotation.model_validate(clean)  # type: ignore[union-attr]
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise HotError(f"Property error: {resource}.properties: {field}: {first['msg']}") from None
    metadata: dict[str, Any] = {
        "name": name,
        "labels": {STACK_LABEL: stack.name, RESOURCE_LABEL: resource},
    }
    if namespaced:
        metadata["namespace"] = stack.namespace
    return {
        "apiVersion": kind.api_version_name(),
        "kind": kind_name,
        "metadata": metadata,
        "spec": clean,
    }


@functools.cache
def spec_field(kind_name: str, field: str) -> pydantic.TypeAdapter[Any]:
    """The type of one field of a kind's spec (named as the CRD spells it), from its model."""
    spec = kinds.by_kind(kind_name).model_fields["spec"].annotation
    for name, info in spec.model_fields.items():  # type: ignore[union-attr]
        if (info.alias or name) == field:
            return pydantic.TypeAdapter(info.rebuild_annotation())
    raise KeyError(f"{kind_name} has no spec field {field}")


def assign(
    kind_name: str,
    name: str,
    fields: Mapping[str, tuple[str, Any]],
    resource: str,
    reference: str,
) -> Assign:
    """An Assign of `fields` (spec field -> (the Heat property it comes from, its value)),
    each value checked by the kind's model: what its CRD would refuse is a property error."""
    for field, (prop, value) in fields.items():
        try:
            spec_field(kind_name, field).validate_python(value)
        except pydantic.ValidationError as error:
            message = error.errors()[0]["msg"]
            raise HotError(f"Property error: {resource}.properties: {prop}: {message}") from None
    values = {field: value for field, (_prop, value) in fields.items()}
    return Assign(kind_name, name, values, reference)
