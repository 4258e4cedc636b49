"""The orchestration.nimbus.dev kinds: Stack."""

from __future__ import annotations

from typing import Any, ClassVar

import pydantic

from nimbus.api import meta

GROUP = "orchestration.nimbus.dev"

_ACTIONS = "INIT|CREATE|UPDATE|DELETE|ROLLBACK|SUSPEND|RESUME|ADOPT|SNAPSHOT|CHECK|RESTORE"
STACK_STATUS_PATTERN = f"^({_ACTIONS})_(IN_PROGRESS|COMPLETE|FAILED)$"


class StackSpec(meta.Model):
    """A Heat stack: a HOT template, its parameters, files and environment."""

    template: Any = pydantic.Field(
        description="The HOT template, as YAML text or as an object.",
        json_schema_extra=meta.PRESERVE_UNKNOWN,
    )
    parameters: dict[str, Any] = pydantic.Field(
        default_factory=dict,
        description="Values of the template's parameters.",
        json_schema_extra=meta.PRESERVE_UNKNOWN,
    )
    files: dict[str, str] = pydantic.Field(
        default_factory=dict, max_length=256, description="Files for get_file, by name."
    )
    environment: Any = pydantic.Field(
        default=None,
        description="A Heat environment (parameters, parameter_defaults, resource_registry), "
        "as YAML text or as an object.",
        json_schema_extra=meta.PRESERVE_UNKNOWN,
    )
    timeout_mins: int = pydantic.Field(default=60, ge=1, le=10080)
    disable_rollback: bool = True
    tags: list[str] = pydantic.Field(
        default_factory=list, max_length=64, json_schema_extra=meta.LIST_SET
    )


class Output(meta.Model):
    output_key: str
    output_value: Any = pydantic.Field(default=None, json_schema_extra=meta.PRESERVE_UNKNOWN)
    description: str | None = None
    output_error: str | None = None


class StackResource(meta.Model):
    """One resource of the stack, as `openstack stack resource list` shows it."""

    resource_name: str
    resource_type: str
    physical_resource_id: str | None = None
    resource_status: str | None = pydantic.Field(default=None, pattern=STACK_STATUS_PATTERN)
    resource_status_reason: str | None = None
    required_by: list[str] = pydantic.Field(
        default_factory=list, json_schema_extra=meta.LIST_ATOMIC
    )


class StackStatus(meta.Status):
    stack_status: str | None = pydantic.Field(default=None, pattern=STACK_STATUS_PATTERN)
    stack_status_reason: str | None = None
    outputs: list[Output] = pydantic.Field(
        default_factory=list, json_schema_extra=meta.list_map("outputKey")
    )
    resources: list[StackResource] = pydantic.Field(
        default_factory=list, json_schema_extra=meta.list_map("resourceName")
    )


class Stack(meta.Resource):
    """A Heat stack: the Nimbus resources its HOT template declares."""

    group: ClassVar[str] = GROUP
    plural: ClassVar[str] = "stacks"
    short_names: ClassVar[tuple[str, ...]] = ("osstack",)
    openstack: ClassVar[str] = "Heat stack"
    columns: ClassVar[tuple[meta.Column, ...]] = (
        meta.Column("Stack Status", ".status.stackStatus"),
        meta.Column("Reason", ".status.stackStatusReason", priority=1),
        meta.AGE,
    )

    spec: StackSpec
    status: StackStatus | None = None
