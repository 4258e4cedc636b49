"""Neutron's sorting and pagination of lists (sort_key, sort_dir, marker, limit), as
openstacksdk and Horizon page through networks: until a page comes back empty."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from nimbus.openstack import neutron, neutron_documents
from nimbus.openstack.faults import Fault

NETWORKS = [{"id": "c", "name": "private"}, {"id": "a", "name": "public"},
            {"id": "b", "name": "data"}]  # fmt: skip


def _ids(documents: list[dict[str, Any]]) -> list[str]:
    return [d["id"] for d in documents]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["c", "a", "b"]),  # no paging asked: the list as it is
        ({"limit": ["2"]}, ["a", "b"]),  # a page: by id
        ({"limit": ["2"], "marker": ["b"]}, ["c"]),
        ({"limit": ["2"], "marker": ["c"]}, []),  # the last page is empty: the client stops
        ({"marker": ["gone"]}, []),
        ({"sort_key": ["name"]}, ["b", "c", "a"]),
        ({"sort_key": ["name"], "sort_dir": ["desc"]}, ["a", "c", "b"]),
        ({"sort_key": ["name"], "sort_dir": ["desc"], "marker": ["c"], "limit": ["5"]}, ["b"]),
        ({"limit": ["0"]}, ["a", "b", "c"]),  # 0: no limit, as in Neutron
        ({"fields": ["id"]}, ["c", "a", "b"]),
    ],
)  # fmt: skip
def test_a_list_is_sorted_and_paged_as_neutron_does(
    query: dict[str, list[str]], expected: list[str]
) -> None:
    assert _ids(neutron_documents.page(NETWORKS, query)) == expected


def test_paging_until_an_empty_page_visits_each_network_once() -> None:
    """openstacksdk's loop: limit, then the last id seen as the next marker."""
    seen: list[str] = []
    query: dict[str, list[str]] = {"limit": ["1"]}
    while page := neutron_documents.page(NETWORKS, query):
        seen += _ids(page)
        query = {"limit": ["1"], "marker": [page[-1]["id"]]}
    assert seen == ["a", "b", "c"]


def test_ties_are_broken_by_the_second_key() -> None:
    documents = [{"id": "2", "name": "x"}, {"id": "1", "name": "x"}, {"id": "3", "name": "a"}]
    query = {"sort_key": ["name", "id"], "sort_dir": ["asc", "desc"]}
    assert _ids(neutron_documents.page(documents, query)) == ["3", "2", "1"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/?limit=ten", "Bad limit request: Limit must be an integer 0 or greater and not 'ten'"),
        ("/?limit=-1", "Bad limit request: Limit must be an integer 0 or greater and not '-1'"),
        ("/?sort_key=name&sort_dir=up",
         "Invalid input for operation: sort_dir: 'up' is not one of asc, desc."),
    ],
)  # fmt: skip
def test_a_bad_page_is_neutron_s_400(path: str, message: str) -> None:
    with pytest.raises(Fault) as raised:
        neutron.respond("networks", [{"id": "a"}], make_mocked_request("GET", path))
    assert (raised.value.code, raised.value.message) == (400, message)
