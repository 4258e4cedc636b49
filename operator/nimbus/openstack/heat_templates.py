"""Heat templates, pure: template validation's answer (POST /validate), the resource types a
Stack makes (GET /resource_types), and the names Heat gives the engine's refusals. The checks
are the engine's own (nimbus.orchestration.hot, parameters, resources), as far as they go
without the cloud."""

from __future__ import annotations

import functools
import json
import pathlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from nimbus.openstack import documents, heat_documents
from nimbus.orchestration import parameters as hot_parameters
from nimbus.orchestration import resources as hot_resources
from nimbus.orchestration.hot import graph as hot_graph
from nimbus.orchestration.hot import template as hot_template

_UPSTREAM = pathlib.Path(__file__).resolve().parent / "upstream"
# Heat's exception names for the engine's refusals, by how their messages begin.
_ERROR_TYPES = (
    ("Template format version not found", "InvalidTemplateVersion"),
    ('"heat_template_version:', "InvalidTemplateVersion"),
    ("The specified reference", "InvalidTemplateReference"),
    ("Circular Dependency Found", "CircularDependencyException"),
    ("The Parameter (", "UserParameterMissing"),
    ("Template size (", "RequestLimitExceeded"),
    ("You are not authorized", "Forbidden"),
)
_API_TYPES = {"string": "String", "number": "Number", "comma_delimited_list": "CommaDelimitedList",
              "json": "Json", "boolean": "Boolean"}  # fmt: skip
_PLACEHOLDERS: dict[str, Any] = {"string": "", "number": 0, "json": {},
                                 "comma_delimited_list": "", "boolean": False}  # fmt: skip


def error_type(message: str) -> str:
    """The name Heat gives the exception behind one of the engine's messages."""
    if message.endswith("was not defined in template."):
        return "UnknownUserParameter"
    if '" is not a valid template section' in message:
        return "InvalidTemplateSection"
    return next((kind for start, kind in _ERROR_TYPES if message.startswith(start)),
                "StackValidationFailed")  # fmt: skip


# -- template validation ----------------------------------------------------------------------


def _schema_document(name: str, schema: Mapping[str, Any], values: Mapping[str, Any],
                     given: Mapping[str, Any]) -> dict[str, Any]:  # fmt: skip
    """One parameter as Heat's validate shows it (heat.engine.api.format_validate_parameter)."""
    kind = str(schema.get("type"))
    document: dict[str, Any] = {
        "Type": _API_TYPES.get(kind, kind),
        "Description": str(schema.get("description") or ""),
        "NoEcho": "true" if str(schema.get("hidden", "false")).lower() == "true" else "false",
        "Label": str(schema.get("label") or name),
    }
    if name in values:
        document["Default"] = values[name]
    if name in given:
        document["Value"] = given[name]
    if schema.get("tags"):
        document["Tags"] = list(schema["tags"])
    described = []
    for constraint in schema.get("constraints") or []:
        bounds = constraint.get("length") or constraint.get("range") or {}
        prefix = "Length" if "length" in constraint else "Value"
        for end in ("min", "max"):
            if bounds.get(end) is not None:  # MinLength, MaxLength, MinValue, MaxValue
                document[f"{end.capitalize()}{prefix}"] = bounds[end]
        if "modulo" in constraint:
            document["Step"] = constraint["modulo"].get("step")
            document["Offset"] = constraint["modulo"].get("offset", 0)
        if "allowed_values" in constraint:
            document["AllowedValues"] = list(constraint["allowed_values"])
        if "allowed_pattern" in constraint:
            document["AllowedPattern"] = constraint["allowed_pattern"]
        if "custom_constraint" in constraint:
            document["CustomConstraint"] = constraint["custom_constraint"]
        if constraint.get("description"):
            described.append(str(constraint["description"]))
    if described:
        document["ConstraintDescription"] = " ".join(described)
    return document


def validate(request: Mapping[str, Any]) -> dict[str, Any]:
    """POST /validate: Heat's answer for a template (its description, parameters, parameter
    groups and environment), or the engine's HotError: the shape, parameter schemas and the
    values given, resource types, template resources, references and cycles. Values are
    checked against their constraints, but for the custom ones (nova.flavor ...), which are
    looked up when the stack is made."""
    if request.get("template") is None:
        raise hot_template.HotError("No Template provided.")
    template = hot_template.load(request["template"])
    environment = heat_documents.parsed(request.get("environment"))
    files = {str(k): str(v) for k, v in (request.get("files") or {}).items()}
    given = {**(environment.get("parameters") or {}), **(request.get("parameters") or {})}
    defaults = dict(environment.get("parameter_defaults") or {})
    schemas = template.parameters
    hot_parameters.check_groups(template)
    for name in given:
        if name not in schemas:
            raise hot_template.HotError(f"The Parameter ({name}) was not defined in template.")
    # Every schema is checked; one with neither a value nor a default, with a placeholder.
    checked = {}
    for name, schema in schemas.items():
        has_value = name in given or name in defaults or "default" in (schema or {})
        if isinstance(schema, dict) and not has_value:
            schema = {k: v for k, v in schema.items() if k != "constraints"}
            schema["default"] = _PLACEHOLDERS.get(str(schema.get("type")), "")
        checked[name] = schema
    raw = {k: v for k, v in template.raw.items() if k != "parameter_groups"}
    resolved = hot_parameters.resolve(
        hot_template.Template(template.version, {**raw, "parameters": checked}),
        {**defaults, **given}, stack_name="validate", stack_id="validate", project_id="validate",
    )  # fmt: skip
    values = {n: v for n, v in resolved.items() if n in schemas and (
        n in given or n in defaults or "default" in (schemas[n] or {}))}  # fmt: skip
    _check_resources(template, environment, files)
    document: dict[str, Any] = {
        "Description": str(template.raw.get("description") or ""),
        "Parameters": {n: _schema_document(n, s, values, given) for n, s in schemas.items()},
    }
    if template.raw.get("parameter_groups"):
        document["ParameterGroups"] = template.raw["parameter_groups"]
    registry = dict(environment.get("resource_registry") or {})
    document["Environment"] = {
        "parameters": dict(environment.get("parameters") or {}),
        "parameter_defaults": defaults,
        "resource_registry": {"resources": {}, **registry},
        "event_sinks": list(environment.get("event_sinks") or []),
        "encrypted_param_names": [],
    }
    return document


def _check_resources(
    template: hot_template.Template, environment: Mapping[str, Any], files: Mapping[str, str]
) -> None:
    """The resource types (after the environment's registry, a group's members' too), the
    templates of template resources, references and cycles."""
    registry = {k: v for k, v in (environment.get("resource_registry") or {}).items()
                if isinstance(v, str)}  # fmt: skip
    definitions: dict[str, dict[str, Any]] = {}
    for name, definition in template.resources.items():
        kind = hot_resources.resolve_type(str(definition["type"]), registry)
        definitions[name] = {**definition, "type": kind}
        member = (definition.get("properties") or {}).get("resource_def") or {}
        if kind == hot_resources.GROUP and isinstance(member.get("type"), str):
            hot_resources.check_types({f"{name}-0": {
                "type": hot_resources.resolve_type(member["type"], registry)}}, files)  # fmt: skip
    hot_resources.check_types(definitions, files)
    for name, definition in definitions.items():
        if definition["type"] in files:
            try:
                hot_template.load(files[definition["type"]])
            except hot_template.HotError as error:
                raise hot_template.HotError(
                    f"Resource {name}: the template {definition['type']}: {error}"
                ) from None
    hot_graph.graph(definitions)


# -- resource types ---------------------------------------------------------------------------


def _describe(kind: str) -> str:
    if kind in hot_resources.KINDS:
        scope = "a cluster-wide" if kind == "OS::Nova::Flavor" else "a"
        return f"Makes {scope} Nimbus {hot_resources.KINDS[kind]}."
    if kind == hot_resources.GROUP:
        return "Makes its members, <group>-<index>, each of resource_def."
    if kind in ("OS::Neutron::SecurityGroupRule", "OS::Cinder::VolumeAttachment",
                "OS::Neutron::RouterInterface"):  # fmt: skip
        return (
            "Adds an item to the object it names (its group's rules, its server's volumes, its "
            "router's interfaces)."
        )
    if kind == "OS::Neutron::FloatingIPAssociation":
        return "Sets a field of the object it names (its floating IP's port and fixed address)."
    return "A value of Heat's own; no object."


# Types Heat makes but hides (support_status HIDDEN): from its list, and its show of them is
# "not supported". RouterGateway is deprecated for OS::Neutron::Router's external_gateway_info;
# Glance::Image (an image from a URL, Glance v1's) for OS::Glance::WebImage since Heat 22.
HIDDEN = frozenset({"OS::Neutron::RouterGateway", "OS::Glance::Image"})


@functools.cache
def resource_types() -> tuple[str, ...]:
    """The types a Stack makes and Heat lists: those the engine renders, not those it accepts
    and fails ("... is not supported yet"), nor those Heat hides."""
    probe = hot_resources.Stack("probe", "probe", "probe")
    served = [hot_resources.GROUP]
    for kind, render in hot_resources.TYPES.items():
        try:
            render("probe", {}, probe)
        except hot_resources.NotSupportedYetError:
            continue
        except Exception:  # a property the probe lacks: the type is served
            pass
        if kind not in HIDDEN:
            served.append(kind)
    return tuple(sorted(served))


def _name_filter(pattern: str) -> Callable[[str], bool]:
    """Heat's `name` filter: a regular expression matched at the start of the type's name
    (`re.match`, so Horizon's `.*Server` and `OS::Nova` match); an invalid one matches nothing,
    and so does one that could backtrack for long (documents.user_pattern)."""
    if not pattern:
        return lambda _: True
    expression = documents.user_pattern(pattern)
    if expression is None:
        return lambda _: False
    return lambda name: expression.match(name) is not None


def resource_type_list(query: Mapping[str, str]) -> list[Any]:
    """GET /resource_types: names, filtered as Heat filters them (`name`, a regular expression;
    `support_status`; `version`, the release a type appeared in), or with `with_description`
    {resource_type, description}."""
    matches = _name_filter(str(query.get("name") or ""))
    status, version = query.get("support_status"), query.get("version")
    schemas = resource_type_schemas()
    kinds: Iterable[str] = [
        k for k in resource_types()
        if matches(k)
        and (status is None or schemas[k]["support_status"]["status"] == status)
        and (version is None or schemas[k]["support_status"]["version"] == version)
    ]  # fmt: skip
    if heat_documents.truthy(query.get("with_description")):
        return [{"resource_type": k, "description": _describe(k)} for k in kinds]
    return list(kinds)


@functools.cache
def resource_type_schemas() -> dict[str, dict[str, Any]]:
    """Heat's own schema of each type (upstream/heat-resource-types.json, see its README)."""
    document = (_UPSTREAM / "heat-resource-types.json").read_text()
    schemas: dict[str, dict[str, Any]] = json.loads(document)
    return schemas


def resource_type_schema(kind: str, *, with_description: bool) -> dict[str, Any] | None:
    """GET /resource_types/{type}: Heat's properties, attributes and support status of a type
    a Stack makes, and with_description what it makes; None for a type not served."""
    if kind not in resource_types():
        return None
    schema = resource_type_schemas()[kind]
    shown = {key: schema[key] for key in ("resource_type", "properties", "attributes",
                                         "support_status")}  # fmt: skip
    if with_description:
        shown["description"] = _describe(kind)
    return shown


# -- template versions and their functions ----------------------------------------------------

HOT = "heat_template_version."
# Heat's description of each function (its class's docstring, first line).
FUNCTIONS = {
    "get_attr": "A function for resolving resource attributes.",
    "get_file": "A function for including a file inline.",
    "get_param": "A function for resolving parameter references.",
    "get_resource": "A function for resolving resource references.",
    "list_join": "A function for joining a list of strings with a given delimiter.",
    "str_replace": "A function for performing string substitutions.",
    "resource_facade": "A function for retrieving data in a parent provider template.",
    "digest": "A function for performing digest operations.",
    "repeat": "A function for iterating over a list of items.",
    "str_split": "A function for splitting delimited strings into a list.",
    "map_merge": "A function for merging maps.",
    "yaql": "A function for executing a yaql expression.",
    "map_replace": "A function for performing substitutions on maps.",
    "if": "A function to return corresponding value based on condition evaluation.",
    "filter": "A function for filtering out values from lists.",
    "str_replace_strict": "A function for performing string substitutions; raises an "
    "exception if a parameter is not present in the template.",
    "make_url": "A function for performing substitutions for URLs.",
    "list_concat": "A function for extending lists.",
    "str_replace_vstrict": "A function for performing string substitutions; raises an "
    "exception if a parameter is not present in the template or its value is empty.",
    "list_concat_unique": "A function for extending lists with unique items.",
    "contains": "A function for checking whether specific value is in sequence.",
    "Fn::GetAZs": "A function for retrieving the availability zones.",
    "Fn::Join": "A function for joining strings.",
    "Fn::Split": "A function for splitting strings.",
    "Fn::Replace": "A function for performing string substitutions.",
    "Fn::Base64": "A placeholder function for converting to base64.",
    "Fn::MemberListToMap": "A function to convert lists with enumerated keys and values to "
    "mapping.",
    "Fn::ResourceFacade": "A function for retrieving data in a parent provider template.",
    "Ref": "A function for resolving parameters or resource references.",
    "Fn::Select": "A function for selecting an item from a list or map.",
    "equals": "A function for comparing whether two values are equal.",
    "not": "A function that acts as a NOT operator on a condition.",
    "and": "A function that acts as an AND operator on conditions.",
    "or": "A function that acts as an OR operator on conditions.",
}


def template_versions() -> list[dict[str, Any]]:
    """GET /template_versions: the HOT versions Nimbus reads (no CFN), with their aliases."""
    aliases: dict[str, list[str]] = {}
    for alias, version in hot_template.ALIASES.items():
        aliases.setdefault(version, []).append(HOT + alias)
    return [{"version": HOT + v, "type": "hot", "aliases": aliases.get(v, [])}
            for v in hot_template.VERSIONS]  # fmt: skip


def template_functions(version: str, *, conditions: bool = False) -> list[dict[str, str]] | None:
    """GET /template_versions/{version}/functions: the functions `version` (Heat's
    `heat_template_version.<date or alias>`) allows, with the condition functions when asked;
    None for a version Nimbus does not read."""
    if not version.startswith(HOT):
        return None
    date = version.removeprefix(HOT)
    date = hot_template.ALIASES.get(date, date)
    if date not in hot_template.VERSIONS:
        return None
    names = sorted(hot_template.functions(date))
    if conditions:
        names += sorted(set(hot_template.condition_functions(date)) - set(names))
    return [{"functions": n, "description": FUNCTIONS.get(n, "")} for n in names]
