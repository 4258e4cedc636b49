"""HOT templates: versions, the functions each version allows, their semantics as hot_spec.rst
gives them (with Heat's quirks), conditions and dependencies; and every real Heat template of
tests/fixtures/heat-templates."""

from __future__ import annotations

import pathlib
import re
from typing import Any

import pytest

from nimbus.orchestration.hot import functions, graph
from nimbus.orchestration.hot import template as hot_template

FIXTURES = pathlib.Path(__file__).parents[1] / "fixtures" / "heat-templates"
LATEST = "2021-04-16"


def refused(message: str) -> pytest.RaisesExc[hot_template.HotError]:
    """The HotError saying `message` (a plain text, not a pattern)."""
    return pytest.raises(hot_template.HotError, match=re.escape(message))


def ev(node: Any, version: str = LATEST, **context: Any) -> Any:
    ctx = functions.Context(version=version, **context)
    return functions.evaluate(node, ctx)


# -- versions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "version"), [
    ("2013-05-23", "2013-05-23"), ("juno", "2014-10-16"), ("2016-10-14", "2016-10-14"),
    ("newton", "2016-10-14"), ("pike", "2017-09-01"), ("wallaby", "2021-04-16"),
])  # fmt: skip
def test_versions_and_their_aliases(given: str, version: str) -> None:
    assert hot_template.version_of({"heat_template_version": given}) == version


def test_an_unknown_version_names_those_that_exist() -> None:
    with refused('"heat_template_version: 2019-01-01". '
                       '"heat_template_version" should be one of: 2013-05-23, '):  # fmt: skip
        hot_template.version_of({"heat_template_version": "2019-01-01"})
    with refused("Template format version not found."):
        hot_template.version_of({})


@pytest.mark.parametrize(("function", "first"), [
    ("digest", "2015-04-30"), ("repeat", "2015-04-30"), ("str_split", "2015-10-15"),
    ("map_merge", "2016-04-08"), ("map_replace", "2016-10-14"), ("if", "2016-10-14"),
    ("yaql", "2016-10-14"), ("filter", "2017-02-24"), ("str_replace_strict", "2017-02-24"),
    ("make_url", "2017-09-01"), ("list_concat", "2017-09-01"), ("contains", "2017-09-01"),
    ("str_replace_vstrict", "2017-09-01"), ("list_concat_unique", "2017-09-01"),
])  # fmt: skip
def test_each_version_allows_exactly_its_functions(function: str, first: str) -> None:
    for version in hot_template.VERSIONS:
        assert (function in hot_template.functions(version)) == (version >= first), version


def test_a_function_a_version_lacks_is_an_error_naming_the_version() -> None:
    template = {
        "heat_template_version": "2014-10-16",
        "resources": {
            "a": {"type": "OS::Heat::Value", "properties": {"value": {"str_split": [",", "a,b"]}}}
        },
    }
    with refused('The function "str_split" is not supported in '
                       "heat_template_version 2014-10-16: it came in 2015-10-15"):  # fmt: skip
        hot_template.load(template)
    with refused(
        '"Fn::Select" is not supported in heat_template_version 2015-10-15: it was '
        "removed after 2015-04-30"
    ):
        ev({"Fn::Select": [0, ["a"]]}, "2015-10-15")


def test_the_shape_of_a_template_is_checked() -> None:
    base = {"heat_template_version": "2013-05-23"}
    with refused('"conditions" is not a valid template section'):
        hot_template.load({**base, "conditions": {}})  # conditions came in 2016-10-14
    with refused('Resource a is missing "type"'):
        hot_template.load({**base, "resources": {"a": {"properties": {}}}})
    with refused('"propertys" is not a valid keyword inside a resource'):
        hot_template.load({**base, "resources": {"a": {"type": "T", "propertys": {}}}})
    with refused('Invalid deletion policy "retain"'):
        hot_template.load({**base, "resources": {"a": {"type": "T", "deletion_policy": "retain"}}})
    hot_template.load({"heat_template_version": "2016-10-14",
                       "resources": {"a": {"type": "T", "deletion_policy": "retain"}}})  # fmt: skip


# -- functions ---------------------------------------------------------------------------------


def test_get_param_with_paths_and_heats_empty_string_for_a_bad_path() -> None:
    params = {"net": {"subnets": [{"cidr": "10.0.0.0/24"}]}, "name": "web"}
    assert ev({"get_param": "name"}, parameters=params) == "web"
    assert ev({"get_param": ["net", "subnets", 0, "cidr"]}, parameters=params) == "10.0.0.0/24"
    assert ev({"get_param": ["net", "nope", 3]}, parameters=params) == ""
    with refused("The Parameter (missing) was not provided."):
        ev({"get_param": "missing"}, parameters=params)


def test_get_resource_and_get_attr_come_from_the_context() -> None:
    attrs = {"first_address": "10.0.0.5", "networks": {"private": ["10.0.0.5"]}}
    context: dict[str, Any] = {"resources": frozenset({"srv"}), "resource": lambda n: f"stack-{n}",
               "attribute": lambda n, a: attrs if a is None else attrs.get(a)}  # fmt: skip
    assert ev({"get_resource": "srv"}, **context) == "stack-srv"
    assert ev({"get_attr": ["srv", "networks", "private", 0]}, **context) == "10.0.0.5"
    assert ev({"get_attr": ["srv"]}, **context) == attrs  # every attribute, since 2015-10-15
    with refused('Arguments to "get_attr" must be of the form'):
        ev({"get_attr": ["srv"]}, "2015-04-30", **context)
    with refused('The specified reference "nope"'):
        ev({"get_resource": "nope"}, **context)


def test_get_file() -> None:
    assert ev({"get_file": "boot.sh"}, files={"boot.sh": "#!/bin/sh"}) == "#!/bin/sh"
    with refused('No content found in the "files" section for '
                       "get_file path: x.sh"):  # fmt: skip
        ev({"get_file": "x.sh"})


@pytest.mark.parametrize(("node", "version", "result"), [
    ({"list_join": [",", ["a", "b"]]}, "2014-10-16", "a,b"),
    ({"list_join": [",", ["a"], ["b", "c"]]}, "2015-10-15", "a,b,c"),
    ({"list_join": ["-", ["a", {"k": 1}]]}, LATEST, 'a-{"k": 1}'),
    ({"str_split": [",", "a,b,c"]}, LATEST, ["a", "b", "c"]),
    ({"str_split": [",", "a,b,c", 1]}, LATEST, "b"),
    ({"digest": ["sha256", "hi"]}, LATEST,
     "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4"),
    ({"map_merge": [{"a": 1, "b": 2}, {"b": 3}]}, LATEST, {"a": 1, "b": 3}),
    ({"map_replace": [{"k1": "v1", "k2": "v2"}, {"keys": {"k1": "K1"}, "values": {"v2": "V2"}}]},
     LATEST, {"K1": "v1", "k2": "V2"}),
    ({"list_concat": [["a", "b"], ["b"]]}, LATEST, ["a", "b", "b"]),
    ({"list_concat_unique": [["a", "b"], ["b", "c"]]}, LATEST, ["a", "b", "c"]),
    ({"contains": ["b", ["a", "b"]]}, LATEST, True),
    ({"filter": [["b", None], ["a", "b", None, "c"]]}, LATEST, ["a", "c"]),
    ({"make_url": {"scheme": "https", "host": "fd00::1", "port": 8443, "path": "v1/x",
                   "query": {"a": "b c"}, "fragment": "top"}}, LATEST,
     "https://[fd00::1]:8443/v1/x?a=b+c#top"),
])  # fmt: skip
def test_functions(node: Any, version: str, result: Any) -> None:
    assert ev(node, version) == result


def test_list_join_of_several_lists_came_in_liberty() -> None:
    with refused('Incorrect arguments to "list_join"'):
        ev({"list_join": [",", ["a"], ["b"]]}, "2015-04-30")


def test_str_replace_replaces_the_longest_key_first_and_encodes_non_strings() -> None:
    node = {"str_replace": {"template": "$var and $var_long: $n", "params": {
        "$var": "short", "$var_long": "long", "$n": {"k": [1]}}}}  # fmt: skip
    assert ev(node) == 'short and long: {"k": [1]}'


def test_str_replace_strict_and_very_strict() -> None:
    with refused("The following params were not found in the "
                       "template: $gone"):  # fmt: skip
        ev({"str_replace_strict": {"template": "x", "params": {"$gone": "y"}}})
    with refused("The following params had empty values: x"):
        ev({"str_replace_vstrict": {"template": "x", "params": {"x": ""}}})
    assert ev({"str_replace_strict": {"template": "a-x", "params": {"x": "b"}}}) == "a-b"


def test_repeat_with_and_without_permutations() -> None:
    node = {"repeat": {"for_each": {"<%p%>": [80, 443], "<%n%>": ["a", "b"]},
                       "template": {"port": "<%p%>", "net": "<%n%>"}}}  # fmt: skip
    assert ev(node) == [{"port": "80", "net": "a"}, {"port": "80", "net": "b"},
                        {"port": "443", "net": "a"}, {"port": "443", "net": "b"}]  # fmt: skip
    node["repeat"]["permutations"] = False
    assert ev(node) == [{"port": "80", "net": "a"}, {"port": "443", "net": "b"}]
    with refused('"permutations" is not supported'):
        ev(node, "2016-10-14")


def test_if_with_three_arguments_and_wallabys_two() -> None:
    conditions = {"prod": True, "dev": False}
    assert ev({"if": ["prod", "big", "small"]}, conditions=conditions) == "big"
    assert ev({"a": 1, "b": {"if": ["dev", 2]}}, conditions=conditions) == {"a": 1}
    assert ev([1, {"if": ["dev", 2]}], conditions=conditions) == [1]
    with refused('Arguments to "if" must be of the form'):
        ev({"if": ["dev", 2]}, "2018-08-31", conditions=conditions)
    with refused('Invalid condition "qa"'):
        ev({"if": ["qa", 1, 2]}, conditions=conditions)


def test_yaql_is_named_as_not_supported() -> None:
    with refused('The function "yaql" is not supported by Nimbus'):
        ev({"yaql": {"expression": "$.data", "data": {}}})


# -- conditions --------------------------------------------------------------------------------


def test_conditions_evaluate_with_each_other_and_parameters() -> None:
    template = hot_template.load({
        "heat_template_version": "2017-09-01",
        "conditions": {
            "prod": {"equals": [{"get_param": "env"}, "prod"]},
            "big": {"and": ["prod", {"not": {"equals": [{"get_param": "size"}, 1]}}]},
            "either": {"or": ["big", {"contains": [{"get_param": "env"}, ["qa", "dev"]]}]},
        },
    })  # fmt: skip
    ctx = functions.Context(version=template.version, parameters={"env": "prod", "size": 3})
    values = functions.evaluate_conditions(template, ctx)
    assert values == {"prod": True, "big": True, "either": True}


def test_conditions_refuse_functions_they_may_not_use_and_cycles() -> None:
    with refused('The function "str_split" is not allowed in '
                       "conditions"):  # fmt: skip
        hot_template.load({"heat_template_version": "2017-09-01",
                           "conditions": {"c": {"str_split": [",", "a"]}}})  # fmt: skip
    template = hot_template.load({
        "heat_template_version": "2016-10-14",
        "conditions": {"a": {"not": "b"}, "b": {"not": "a"}},
    })  # fmt: skip
    with refused('Circular definition for condition "a"'):
        functions.evaluate_conditions(template, functions.Context(version=template.version))


# -- dependencies ------------------------------------------------------------------------------


def test_dependencies_come_in_waves_from_references_and_depends_on() -> None:
    template = hot_template.load({
        "heat_template_version": "2016-10-14",
        "resources": {
            "net": {"type": "OS::Neutron::Net"},
            "subnet": {"type": "OS::Neutron::Subnet",
                       "properties": {"network": {"get_resource": "net"}}},
            "server": {"type": "OS::Nova::Server", "depends_on": "subnet",
                       "properties": {"networks": [{"network": {"get_resource": "net"}}]}},
            "ip": {"type": "OS::Heat::Value",
                   "properties": {"value": {"get_attr": ["server", "first_address"]}}},
        },
    })  # fmt: skip
    assert graph.order(graph.dependencies(template)) == [["net"], ["subnet"], ["server"], ["ip"]]


def test_a_cycle_or_an_unknown_reference_is_refused() -> None:
    def template(resources: dict[str, Any]) -> hot_template.Template:
        return hot_template.load({"heat_template_version": "2016-10-14", "resources": resources})

    with refused("Circular Dependency Found: a, b"):
        graph.dependencies(template({"a": {"type": "T", "depends_on": "b"},
                                     "b": {"type": "T", "depends_on": ["a"]}}))  # fmt: skip
    with refused('The specified reference "c" (in a) is incorrect.'):
        graph.dependencies(
            template({"a": {"type": "T", "properties": {"x": {"get_resource": "c"}}}})
        )


# -- real templates ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_real_heat_template_parses_with_its_dependencies(path: pathlib.Path) -> None:
    template = hot_template.load(path.read_text())
    waves = graph.order(graph.dependencies(template))
    assert sorted(n for wave in waves for n in wave) == sorted(template.resources)
