"""Heat's stack create and update requests as a Stack's spec, pure: the body python-heatclient
sends (stack_name, template as an object or YAML text, parameters, environment, files,
timeout_mins, disable_rollback, tags) in, the spec the Stack is made or replaced with out, or
Heat's refusal in its words.

An update is Heat's PUT (a whole new template, parameters, files and environment; the timeout
and rollback kept unless given) or its PATCH (`--existing`: what is given is merged into what
the stack has, `clear_parameters` taken out)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

# Heat's stack names (heat.engine.service: must start with a letter, 255 characters at most).
_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_.-]{0,254}$")
_TRUE = {"1", "t", "true", "on", "y", "yes"}
_FALSE = {"0", "f", "false", "off", "n", "no"}
MAX_TIMEOUT = 10080  # minutes: a week, the Stack's own bound


class Refused(Exception):  # noqa: N818 -- Heat's refusal, answered as its error document
    """A request Heat would refuse: its code, message and the name of Heat's exception."""

    def __init__(self, message: str, *, code: int = 400, kind: str = "HTTPBadRequest") -> None:
        super().__init__(message)
        self.message, self.code, self.kind = message, code, kind


def stack_name(body: Mapping[str, Any]) -> str:
    name = body.get("stack_name")
    if not name:
        raise Refused("No stack name specified")
    if not isinstance(name, str) or not _NAME.match(name):
        raise Refused(
            f'Invalid stack name {name} must contain only alphanumeric or "_-." characters, '
            "must start with alpha and must be 255 characters or less.",
            kind="StackValidationFailed",
        )
    return name


def _template(body: Mapping[str, Any]) -> Any:
    if body.get("template_url") and body.get("template") is None:
        raise Refused(
            "template_url is not supported: Nimbus fetches no URL; send the template itself "
            "(openstack stack create -t FILE does)",
            kind="NotSupported",
        )
    template = body.get("template")
    if template is None or template == "":
        raise Refused("No template specified")
    if not isinstance(template, dict | str):
        raise Refused("The template is not a JSON object or YAML mapping.")
    return template


def _mapping(body: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Refused(f"The {key} section must be a map, not {value!r}")
    return dict(value)


def _environment(body: Mapping[str, Any]) -> dict[str, Any]:
    value = body.get("environment")
    if isinstance(value, str):
        try:
            value = yaml.safe_load(value) if value.strip() else {}
        except yaml.YAMLError as error:
            raise Refused(f"Error parsing environment: {error}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Refused("The environment is not a JSON object or YAML mapping.")
    return {k: v for k, v in value.items() if v not in (None, {}, [])}


def _files(body: Mapping[str, Any]) -> dict[str, str]:
    files = _mapping(body, "files")
    for name, content in files.items():
        if not isinstance(content, str):
            raise Refused(f"The file {name} is not text: files hold what get_file and template "
                          "resources read")  # fmt: skip
    return files


def _timeout(value: Any) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"[+-]?\d+", text):
        raise Refused("Only integer is acceptable by 'timeout_mins'.")
    minutes = int(text)
    if not 1 <= minutes <= MAX_TIMEOUT:
        raise Refused(f"Value '{value}' is invalid for 'timeout_mins' which only accepts an "
                      f"integer from 1 to {MAX_TIMEOUT}.")  # fmt: skip
    return minutes


def _boolean(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise Refused(f'Unrecognized value "{value}" for "{name}", acceptable values are: '
                  "true, false.")  # fmt: skip


def _tags(value: Any) -> list[str]:
    """Heat's tags: a list, or text split at commas; each once."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise Refused(f"Invalid tags {value!r}: a list, or tags separated by commas")
    return list(dict.fromkeys(str(t).strip() for t in items if str(t).strip()))


def _unsupported(body: Mapping[str, Any]) -> None:
    if body.get("adopt_stack_data"):
        raise Refused("Stack Adopt is not supported.", kind="NotSupported")
    if body.get("files_container"):
        raise Refused("files_container is not supported: Nimbus reads no Swift container; send "
                      "the files with the request", kind="NotSupported")  # fmt: skip


def create(body: Any) -> tuple[str, dict[str, Any]]:
    """POST /stacks: the stack's name and the Stack's spec."""
    if not isinstance(body, dict):
        raise Refused("The request body must be a JSON object")
    name = stack_name(body)
    _unsupported(body)
    spec: dict[str, Any] = {"template": _template(body), "parameters": _mapping(body, "parameters")}
    files, environment = _files(body), _environment(body)
    if files:
        spec["files"] = files
    if environment:
        spec["environment"] = environment
    if body.get("timeout_mins") is not None:
        spec["timeoutMins"] = _timeout(body["timeout_mins"])
    spec["disableRollback"] = _boolean(body.get("disable_rollback", True), "disable_rollback")
    tags = _tags(body.get("tags") or [])
    if tags:
        spec["tags"] = tags
    return name, spec


def _merged_environment(
    current: Mapping[str, Any], given: Mapping[str, Any], cleared: list[str]
) -> dict[str, Any]:
    """PATCH's environment: the sections of maps merged, the others replaced; the cleared
    parameters taken out of both parameter sections."""
    out = dict(current)
    for section, value in given.items():
        if isinstance(value, dict) and isinstance(out.get(section), dict):
            out[section] = {**out[section], **value}
        else:
            out[section] = value
    for section in ("parameters", "parameter_defaults"):
        if isinstance(out.get(section), dict):
            out[section] = {k: v for k, v in out[section].items() if k not in cleared}
    return {k: v for k, v in out.items() if v not in (None, {}, [])}


def update(current: Mapping[str, Any], body: Any, *, existing: bool) -> dict[str, Any]:
    """PUT (`existing` False) or PATCH of /stacks/{name}/{id}: the Stack's new spec, from its
    `current` one."""
    if not isinstance(body, dict):
        raise Refused("The request body must be a JSON object")
    _unsupported(body)
    cleared = body.get("clear_parameters") or []
    if not isinstance(cleared, list):
        raise Refused(f"Invalid clear_parameters {cleared!r}: a list of parameter names")
    spec: dict[str, Any] = {}
    if existing and body.get("template") is None and not body.get("template_url"):
        spec["template"] = current.get("template")
    else:
        spec["template"] = _template(body)
    given = _mapping(body, "parameters")
    if existing:
        kept = {k: v for k, v in (current.get("parameters") or {}).items() if k not in cleared}
        spec["parameters"] = {**kept, **given}
    else:
        spec["parameters"] = given
    files = _files(body)
    spec["files"] = {**(current.get("files") or {}), **files} if existing else files
    environment = _environment(body)
    was = current.get("environment") or {}
    if isinstance(was, str):
        was = yaml.safe_load(was) or {}
    spec["environment"] = (
        _merged_environment(was, environment, [str(c) for c in cleared])
        if existing else environment
    )  # fmt: skip
    if body.get("timeout_mins") is not None:
        spec["timeoutMins"] = _timeout(body["timeout_mins"])
    elif current.get("timeoutMins") is not None:
        spec["timeoutMins"] = current["timeoutMins"]
    rollback = body.get("disable_rollback")
    spec["disableRollback"] = (
        _boolean(rollback, "disable_rollback") if rollback is not None
        else bool(current.get("disableRollback", True))
    )  # fmt: skip
    if body.get("tags") is not None:
        spec["tags"] = _tags(body["tags"])
    elif existing:
        spec["tags"] = list(current.get("tags") or [])
    spec = {k: v for k, v in spec.items() if v is not None and (v != {} or k == "parameters")}
    if not spec.get("tags"):
        spec.pop("tags", None)
    return spec
