"""Nova's server tags as tables: which tags are valid (in Nova's words when not), when a server
may be tagged, and the list filters."""

from __future__ import annotations

from typing import Any

import pytest

from nimbus.openstack import server_tags
from nimbus.openstack.faults import Fault


@pytest.mark.parametrize(
    ("tags", "query", "kept"),
    [
        (["a", "b"], {}, True),
        (["a", "b"], {"tags": "a,b"}, True),
        (["a"], {"tags": "a,b"}, False),  # every one
        (["b"], {"tags-any": "a,b"}, True),
        ([], {"tags-any": "a,b"}, False),  # one at least
        (["a", "b"], {"not-tags": "a,b"}, False),  # not every one
        (["a"], {"not-tags": "a,b"}, True),
        (["c"], {"not-tags-any": "a,b"}, True),
        (["b", "c"], {"not-tags-any": "a,b"}, False),  # none
        (["a", "c"], {"tags": "a", "not-tags-any": "b"}, True),  # together: all of them hold
        (["a"], {"tags": ""}, True),  # an empty filter filters nothing
    ],
)  # fmt: skip
def test_the_list_filters_are_nova_s(tags: list[str], query: dict[str, str], kept: bool) -> None:
    assert server_tags.matches(tags, query) is kept


@pytest.mark.parametrize(
    ("body", "tags"),
    [
        ({"tags": []}, []),
        ({"tags": ["web", "db", "web"]}, ["web", "db"]),  # a set, in the order given
        ({"tags": ["x" * 60]}, ["x" * 60]),
    ],
)  # fmt: skip
def test_a_replacement_is_the_tags_given(body: dict[str, Any], tags: list[str]) -> None:
    assert server_tags.replacing(body) == tags


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({}, "Invalid input for field/attribute tags. Value: {}. 'tags' is a required property"),
        ({"tags": [], "x": 1}, "Additional properties are not allowed ('x' unexpected)"),
        ({"tags": "web"}, "'web' is not of type 'array'"),
        ({"tags": [f"t{i}" for i in range(51)]}, "is too long: at most 50 tags"),
        ({"tags": ["a/b"]}, "'a/b' does not match '^[^,/]*$'"),
        ({"tags": ["a,b"]}, "'a,b' does not match '^[^,/]*$'"),
        ({"tags": [""]}, "'' should be non-empty"),
        ({"tags": ["x" * 61]}, "is too long"),
        ({"tags": [7]}, "7 is not of type 'string'"),
    ],
)  # fmt: skip
def test_a_bad_replacement_is_nova_s_400_naming_the_field(body: dict[str, Any], said: str) -> None:
    with pytest.raises(Fault) as refused:
        server_tags.replacing(body)
    assert refused.value.code == 400
    assert said in refused.value.message


def test_a_bad_tag_in_the_path_is_refused_in_nova_s_words() -> None:
    with pytest.raises(Fault) as refused:
        server_tags.one("a,b")
    assert (refused.value.code, refused.value.message) == (400, (
        "Tag 'a,b' is invalid. It must be a non empty string without characters '/' and ','. "
        "Validation error message: 'a,b' does not match '^[^,/]*$'"))  # fmt: skip
    assert server_tags.one("web") == "web"


def _server(status: str, **status_fields: Any) -> dict[str, Any]:
    return {"metadata": {"uid": "s-1", "name": "web", "annotations": {}},
            "spec": {"powerState": "Running"},
            "status": {"status": status, **status_fields}}  # fmt: skip


@pytest.mark.parametrize(
    ("status", "allowed"),
    [("ACTIVE", True), ("SHUTOFF", True), ("PAUSED", True), ("BUILD", False),
     ("ERROR", False)],
)  # fmt: skip
def test_only_a_settled_server_is_tagged(status: str, allowed: bool) -> None:
    if allowed:
        server_tags.check_taggable(_server(status), "update tag")
        return
    with pytest.raises(Fault) as refused:
        server_tags.check_taggable(_server(status), "update tag")
    assert refused.value.code == 409
    assert refused.value.message.startswith("Cannot 'update tag' instance s-1 while it is in")
