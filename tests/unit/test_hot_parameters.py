"""HOT parameters: types, defaults, constraints and groups, with Heat's errors naming the
parameter; pseudo parameters; hidden values."""

from __future__ import annotations

import re
from typing import Any

import pytest

from nimbus.orchestration import parameters
from nimbus.orchestration.hot import template as hot_template


def template(params: dict[str, Any], groups: list[Any] | None = None) -> hot_template.Template:
    raw: dict[str, Any] = {"heat_template_version": "2018-08-31", "parameters": params}
    if groups is not None:
        raw["parameter_groups"] = groups
    return hot_template.load(raw)


def resolve(params: dict[str, Any], given: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return parameters.resolve(template(params), given, stack_name="web", stack_id="uid-1",
                              project_id="demo", **kwargs)  # fmt: skip


def refused(message: str) -> pytest.RaisesExc[hot_template.HotError]:
    return pytest.raises(hot_template.HotError, match=re.escape(message))


@pytest.mark.parametrize(("kind", "given", "value"), [
    ("string", 42, "42"),
    ("number", "8", 8),
    ("number", "1.5", 1.5),
    ("comma_delimited_list", "a, b,c", ["a", "b", "c"]),
    ("comma_delimited_list", ["x", 1], ["x", "1"]),
    ("json", '{"a": [1]}', {"a": [1]}),
    ("json", {"a": 1}, {"a": 1}),
    ("boolean", "yes", True),
    ("boolean", "off", False),
    ("boolean", True, True),
])  # fmt: skip
def test_types(kind: str, given: Any, value: Any) -> None:
    assert resolve({"p": {"type": kind}}, {"p": given})["p"] == value


def test_defaults_and_pseudo_parameters() -> None:
    got = resolve({"flavor": {"type": "string", "default": "m1.small"}}, {})
    assert got == {"flavor": "m1.small", "OS::stack_name": "web", "OS::stack_id": "uid-1",
                   "OS::project_id": "demo"}  # fmt: skip


@pytest.mark.parametrize(("schema", "given", "message"), [
    ({"type": "number"}, "eight", "Parameter 'p' is invalid: Value 'eight' is not an integer"),
    ({"type": "boolean"}, "maybe", "Parameter 'p' is invalid: Unrecognized value \"maybe\""),
    ({"type": "json"}, "[1", "Parameter 'p' is invalid: Value must be valid JSON"),
    ({"type": "string", "constraints": [{"length": {"min": 6, "max": 8}}]}, "abc",
     "Parameter 'p' is invalid: length must be in the range 6 to 8."),
    ({"type": "string", "constraints": [{"length": {"min": 6}}]}, "abc",
     "Parameter 'p' is invalid: length must be at least 6."),
    ({"type": "number", "constraints": [{"range": {"min": 1, "max": 10}}]}, 11,
     "Parameter 'p' is invalid: 11 is out of range (min: 1, max: 10)"),
    ({"type": "number", "constraints": [{"modulo": {"step": 2, "offset": 1}}]}, 4,
     "Parameter 'p' is invalid: 4 is not a multiple of 2 with an offset of 1)"),
    ({"type": "string", "constraints": [{"allowed_values": ["m1.small", "m1.large"]}]}, "m1.x",
     "Parameter 'p' is invalid: \"m1.x\" is not an allowed value ['m1.small', 'm1.large']"),
    ({"type": "string", "constraints": [{"allowed_pattern": "[a-z]+"}]}, "Web1",
     "Parameter 'p' is invalid: \"Web1\" does not match pattern \"[a-z]+\""),
    ({"type": "string", "constraints": [{"allowed_pattern": "[a-z]+",
                                         "description": "lower case letters only"}]}, "Web1",
     "Parameter 'p' is invalid: lower case letters only"),
])  # fmt: skip
def test_heats_errors_name_the_parameter(schema: dict[str, Any], given: Any, message: str) -> None:
    with refused(message):
        resolve({"p": schema}, {"p": given})


def test_missing_unknown_and_badly_typed_parameters() -> None:
    with refused("The Parameter (p) was not provided."):
        resolve({"p": {"type": "string"}}, {})
    with refused("The Parameter (q) was not defined in template."):
        resolve({"p": {"type": "string", "default": ""}}, {"q": 1})
    with refused("Invalid type (integer) for parameter p; accepted are string, number"):
        resolve({"p": {"type": "integer"}}, {"p": 1})


def test_custom_constraints_ask_the_cloud() -> None:
    def lookup(kind: str, value: str) -> str | None:
        flavors = {"m1.small"}
        return None if value in flavors else f"The Flavor ({value}) could not be found."

    schema = {"type": "string", "constraints": [{"custom_constraint": "nova.flavor"}]}
    assert resolve({"f": schema}, {"f": "m1.small"}, lookup=lookup)["f"] == "m1.small"
    with refused("Parameter 'f' is invalid: Error validating value 'm1.huge': The Flavor "
                 "(m1.huge) could not be found."):  # fmt: skip
        resolve({"f": schema}, {"f": "m1.huge"}, lookup=lookup)
    with refused('"sahara.plugin" is not a custom constraint Nimbus knows'):
        resolve({"f": {"type": "string", "constraints": [{"custom_constraint": "sahara.plugin"}]}},
                {"f": "x"})  # fmt: skip


def test_parameter_groups() -> None:
    params = {"a": {"type": "string", "default": ""}, "b": {"type": "string", "default": ""}}
    parameters.check_groups(template(params, [{"label": "A", "parameters": ["a", "b"]}]))
    with refused("The grouped parameter c does not reference a valid parameter."):
        parameters.check_groups(template(params, [{"parameters": ["c"]}]))
    with refused("The a parameter must be assigned to one parameter group only."):
        parameters.check_groups(template(params, [{"parameters": ["a"]}, {"parameters": ["a"]}]))
    with refused("Parameters must be provided for each Parameter Group."):
        parameters.check_groups(template(params, [{"label": "empty"}]))


def test_hidden_parameters_are_shown_as_stars() -> None:
    tmpl = template({"password": {"type": "string", "hidden": True}, "user": {"type": "string"}})
    assert parameters.shown(tmpl, {"password": "s3cret", "user": "admin"}) == {
        "password": "******", "user": "admin"}  # fmt: skip
