"""A HOT template's shape, pure: the versions and the functions each allows, the sections, the
keywords of resources and outputs, and loading a template checked as Heat checks it. HotError,
which every part of the engine raises, is here.

Versions and functions follow Heat's heat/engine/hot/template.py: each version allows exactly
its own functions, and a function of another version is an error naming the version.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import yaml

# -- versions ---------------------------------------------------------------------------------

VERSIONS = (
    "2013-05-23", "2014-10-16", "2015-04-30", "2015-10-15", "2016-04-08", "2016-10-14",
    "2017-02-24", "2017-09-01", "2018-03-02", "2018-08-31", "2021-04-16",
)  # fmt: skip
ALIASES = {
    "juno": "2014-10-16", "kilo": "2015-04-30", "liberty": "2015-10-15", "mitaka": "2016-04-08",
    "newton": "2016-10-14", "ocata": "2017-02-24", "pike": "2017-09-01", "queens": "2018-03-02",
    "rocky": "2018-08-31", "wallaby": "2021-04-16",
}  # fmt: skip

# The version each function came in (and, for the CFN-style ones, went); functions.py evaluates
# them, and refuses one the template's version lacks with function_error.
ADDED = {
    "get_attr": "2013-05-23", "get_file": "2013-05-23", "get_param": "2013-05-23",
    "get_resource": "2013-05-23", "list_join": "2013-05-23", "str_replace": "2013-05-23",
    "resource_facade": "2013-05-23",
    "digest": "2015-04-30", "repeat": "2015-04-30",
    "str_split": "2015-10-15",
    "map_merge": "2016-04-08",
    "yaql": "2016-10-14", "map_replace": "2016-10-14", "if": "2016-10-14",
    "filter": "2017-02-24", "str_replace_strict": "2017-02-24",
    "make_url": "2017-09-01", "list_concat": "2017-09-01", "str_replace_vstrict": "2017-09-01",
    "list_concat_unique": "2017-09-01", "contains": "2017-09-01",
}  # fmt: skip
CFN = {  # name -> the last version that has it
    "Fn::GetAZs": "2013-05-23", "Fn::Join": "2013-05-23", "Fn::Split": "2013-05-23",
    "Fn::Replace": "2013-05-23", "Fn::Base64": "2013-05-23", "Fn::MemberListToMap": "2013-05-23",
    "Fn::ResourceFacade": "2013-05-23", "Ref": "2013-05-23", "Fn::Select": "2015-04-30",
}  # fmt: skip
_CONDITION_ADDED = {
    "get_param": "2016-10-14", "equals": "2016-10-14", "not": "2016-10-14", "and": "2016-10-14",
    "or": "2016-10-14", "yaql": "2017-09-01", "contains": "2017-09-01",
}  # fmt: skip
SECTIONS = {"heat_template_version", "description", "parameter_groups", "parameters",
            "resources", "outputs"}  # fmt: skip
RESOURCE_KEYS = {"type", "properties", "metadata", "depends_on", "deletion_policy",
                 "update_policy"}  # fmt: skip
DELETION_POLICIES = {"Delete", "Retain", "Snapshot"}


class HotError(ValueError):
    """A template Heat would refuse; the message is Heat's where Heat has one."""


def version_of(template: Mapping[str, Any]) -> str:
    raw = template.get("heat_template_version")
    if raw is None:
        raise HotError("Template format version not found.")
    version = ALIASES.get(str(raw), str(raw))
    if version not in VERSIONS:
        known = ", ".join([*VERSIONS, *ALIASES])
        raise HotError(
            f'"heat_template_version: {raw}". "heat_template_version" should be one of: {known}'
        )
    return version


def functions(version: str) -> set[str]:
    """The functions `version` allows."""
    names = {name for name, since in ADDED.items() if since <= version}
    return names | {name for name, until in CFN.items() if version <= until}


def condition_functions(version: str) -> set[str]:
    names = {name for name, since in _CONDITION_ADDED.items() if since <= version}
    return names | ({"if"} if version >= "2021-04-16" else set())


def function_error(name: str, version: str) -> HotError:
    """The refusal of a function `version` lacks, naming the version it came in or went after."""
    if name in ADDED and ADDED[name] > version:
        return HotError(f'The function "{name}" is not supported in heat_template_version '
                        f"{version}: it came in {ADDED[name]}")  # fmt: skip
    return HotError(f'The function "{name}" is not supported in heat_template_version '
                    f"{version}: it was removed after {CFN.get(name, version)}")  # fmt: skip


# -- the template --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Template:
    version: str
    raw: dict[str, Any]

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.raw.get("parameters") or {})

    @property
    def resources(self) -> dict[str, Any]:
        return dict(self.raw.get("resources") or {})

    @property
    def outputs(self) -> dict[str, Any]:
        return dict(self.raw.get("outputs") or {})

    @property
    def conditions(self) -> dict[str, Any]:
        return dict(self.raw.get("conditions") or {})


def load(source: str | Mapping[str, Any]) -> Template:
    """A template from YAML (or JSON) text or an object, checked as Heat checks its shape."""
    if isinstance(source, str):
        try:
            raw = yaml.safe_load(source)
        except yaml.YAMLError as error:
            raise HotError(f"Error parsing template: {error}") from None
    else:
        raw = dict(source)
    if not isinstance(raw, dict):
        raise HotError("The template is not a JSON object or YAML mapping.")
    version = version_of(raw)
    allowed = SECTIONS | ({"conditions"} if version >= "2016-10-14" else set())
    for section in raw:
        if section not in allowed:
            raise HotError(f'"{section}" is not a valid template section')
    keys = RESOURCE_KEYS | ({"condition", "external_id"} if version >= "2016-10-14" else set())
    for name, resource in (raw.get("resources") or {}).items():
        if not isinstance(resource, dict) or "type" not in resource:
            raise HotError(f'Resource {name} is missing "type"')
        for key in resource:
            if key not in keys:
                raise HotError(f'"{key}" is not a valid keyword inside a resource definition')
        policy = resource.get("deletion_policy")
        policies = DELETION_POLICIES | (
            {p.lower() for p in DELETION_POLICIES} if version >= "2016-10-14" else set()
        )
        if isinstance(policy, str) and policy not in policies:
            raise HotError(f'Invalid deletion policy "{policy}"')
    output_keys = {"value", "description"} | ({"condition"} if version >= "2016-10-14" else set())
    for name, output in (raw.get("outputs") or {}).items():
        if not isinstance(output, dict):
            raise HotError(f'"outputs" must contain a map of output maps, not {output!r} ({name})')
        for key in output:
            if key not in output_keys:
                raise HotError(f'"{key}" is not a valid keyword inside a output definition')
    template = Template(version, raw)
    check_functions(template)
    return template


def check_functions(template: Template) -> None:
    """Every function used is one of the version's; conditions use condition functions."""
    allowed = functions(template.version)
    known = set(ADDED) | set(CFN)

    def walk(node: Any, names: set[str]) -> None:
        if isinstance(node, dict):
            if len(node) == 1:
                (key,) = node
                if key in known and key not in names:
                    raise function_error(key, template.version)
            for value in node.values():
                walk(value, names)
        elif isinstance(node, list):
            for value in node:
                walk(value, names)

    for section in ("resources", "outputs"):
        walk(template.raw.get(section), allowed)
    cond_allowed = condition_functions(template.version)
    for name, definition in template.conditions.items():
        _check_condition(definition, cond_allowed, allowed, template.version, name)


def _check_condition(
    node: Any, allowed: set[str], functions_: set[str], version: str, name: str
) -> None:
    if isinstance(node, dict) and len(node) == 1:
        (key,) = node
        if key not in allowed:
            if key in functions_ or key in ADDED:
                raise HotError(f'The function "{key}" is not allowed in conditions ({name}) in '
                               f"heat_template_version {version}")  # fmt: skip
        else:
            args = node[key]
            for arg in args if isinstance(args, list) else [args]:
                if key != "get_param":
                    _check_condition(arg, allowed, functions_, version, name)
