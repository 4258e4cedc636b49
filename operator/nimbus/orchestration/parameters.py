"""HOT parameters, pure: types, defaults, constraints and parameter groups, with Heat's error
texts naming the parameter; and the pseudo parameters OS::stack_name, OS::stack_id and
OS::project_id. Custom constraints (nova.flavor, glance.image, ...) are checked through a
callback, against what exists in the cloud."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from nimbus.orchestration.hot.template import HotError, Template

TYPES = ("string", "number", "json", "comma_delimited_list", "boolean")
SCHEMA_KEYS = {"type", "label", "description", "default", "hidden", "constraints",
               "immutable", "tags"}  # fmt: skip
CUSTOM_CONSTRAINTS = (
    "nova.flavor", "glance.image", "neutron.network", "neutron.subnet", "neutron.port",
    "neutron.router", "nova.keypair", "cinder.volume",
)  # fmt: skip
_TRUE = {"1", "t", "true", "on", "y", "yes"}
_FALSE = {"0", "f", "false", "off", "n", "no"}
PSEUDO = ("OS::stack_name", "OS::stack_id", "OS::project_id")

# custom constraint, value -> None when it exists, else Heat's message
Lookup = Callable[[str, str], str | None]


def _invalid(name: str, message: str) -> HotError:
    return HotError(f"Parameter '{name}' is invalid: {message}")


def _convert(name: str, kind: str, value: Any) -> Any:
    if kind == "string":
        if isinstance(value, dict | list):
            raise _invalid(name, f"Value must be a string; got {json.dumps(value)}")
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)
    if kind == "number":
        if isinstance(value, bool):
            raise _invalid(name, f"Value '{value}' is not an integer")
        if isinstance(value, int | float):
            return value
        try:
            return int(str(value))
        except ValueError:
            try:
                return float(str(value))
            except ValueError:
                raise _invalid(name, f"Value '{value}' is not an integer") from None
    if kind == "comma_delimited_list":
        if isinstance(value, list):
            return [str(v) for v in value]
        text = "" if value is None else str(value)
        return [v.strip() for v in text.split(",")] if text else []
    if kind == "json":
        if isinstance(value, dict | list):
            return value
        try:
            parsed = json.loads(str(value)) if value not in (None, "") else {}
        except ValueError as error:
            raise _invalid(name, f"Value must be valid JSON: {error}") from None
        if not isinstance(parsed, dict | list):
            raise _invalid(name, f"Value must be a map or list; got {value}")
        return parsed
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        accepted = ", ".join(sorted(_TRUE | _FALSE))
        raise _invalid(name, f'Unrecognized value "{value}", acceptable values are: {accepted}')
    raise HotError(f"Invalid type ({kind})")


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str | list | dict) else len(str(value))


def check_constraint(
    name: str, constraint: Mapping[str, Any], value: Any, lookup: Lookup | None
) -> None:
    """One constraint: length, range, modulo, allowed_values, allowed_pattern or
    custom_constraint; its `description`, when given, is the message."""
    described = constraint.get("description")

    def fail(message: str) -> None:
        raise _invalid(name, described or message)

    if "length" in constraint:
        low, high = constraint["length"].get("min"), constraint["length"].get("max")
        size = _length(value)
        if (low is not None and size < low) or (high is not None and size > high):
            if low is not None and high is not None:
                fail(f"length must be in the range {low} to {high}.")
            fail(f"length must be at least {low}." if low is not None
                 else f"length must be no greater than {high}.")  # fmt: skip
    if "range" in constraint:
        low, high = constraint["range"].get("min"), constraint["range"].get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            fail(f"{value} is out of range (min: {low}, max: {high})")
    if "modulo" in constraint:
        step, offset = constraint["modulo"].get("step"), constraint["modulo"].get("offset", 0)
        if step and (value - offset) % step != 0:
            fail(f"{value} is not a multiple of {step} with an offset of {offset})")
    if "allowed_values" in constraint:
        allowed = constraint["allowed_values"]
        values = value if isinstance(value, list) else [value]
        for item in values:
            if item not in allowed:
                fail(f'"{item}" is not an allowed value {allowed}')
    if "allowed_pattern" in constraint:
        pattern = constraint["allowed_pattern"]
        if not re.fullmatch(pattern, str(value)):
            fail(f'"{value}" does not match pattern "{pattern}"')
    if "custom_constraint" in constraint:
        kind = constraint["custom_constraint"]
        if kind not in CUSTOM_CONSTRAINTS:
            raise HotError(f'"{kind}" is not a custom constraint Nimbus knows: '
                           f"{', '.join(CUSTOM_CONSTRAINTS)}")  # fmt: skip
        if lookup is not None and value not in (None, ""):
            problem = lookup(kind, str(value))
            if problem:
                fail(f"Error validating value '{value}': {problem}")


def check_groups(template: Template) -> None:
    """parameter_groups: each names parameters that exist, each at most once."""
    seen: set[str] = set()
    for group in template.raw.get("parameter_groups") or []:
        names = group.get("parameters")
        if not names:
            raise HotError("Parameters must be provided for each Parameter Group.")
        for name in names:
            if name not in template.parameters:
                raise HotError(f"The grouped parameter {name} does not reference a valid "
                               "parameter.")  # fmt: skip
            if name in seen:
                raise HotError(f"The {name} parameter must be assigned to one parameter group "
                               "only.")  # fmt: skip
            seen.add(name)


def resolve(
    template: Template,
    given: Mapping[str, Any],
    *,
    stack_name: str,
    stack_id: str,
    project_id: str,
    lookup: Lookup | None = None,
) -> dict[str, Any]:
    """Every parameter's value (given, else its default), typed and checked, plus the pseudo
    parameters."""
    check_groups(template)
    schemas = template.parameters
    for name in given:
        if name not in schemas:
            raise HotError(f"The Parameter ({name}) was not defined in template.")
    values: dict[str, Any] = {}
    for name, schema in schemas.items():
        if not isinstance(schema, dict):
            raise HotError(f"Invalid parameter schema for {name}")
        for key in schema:
            if key not in SCHEMA_KEYS:
                raise HotError(f"Invalid key '{key}' for parameter ({name})")
        kind = schema.get("type")
        if kind not in TYPES:
            raise HotError(f"Invalid type ({kind}) for parameter {name}; accepted are "
                           f"{', '.join(TYPES)}")  # fmt: skip
        if name in given:
            raw = given[name]
        elif "default" in schema:
            raw = schema["default"]
        else:
            raise HotError(f"The Parameter ({name}) was not provided.")
        value = _convert(name, kind, raw)
        for constraint in schema.get("constraints") or []:
            check_constraint(name, constraint, value, lookup)
        values[name] = value
    values.update({"OS::stack_name": stack_name, "OS::stack_id": stack_id,
                   "OS::project_id": project_id})  # fmt: skip
    return values


def shown(template: Template, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values as a status may show them: hidden parameters as ******."""
    hidden = {n for n, s in template.parameters.items() if (s or {}).get("hidden")}
    return {n: "******" if n in hidden else v for n, v in values.items()}
