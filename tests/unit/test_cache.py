"""The indexes' shape: every indexed kind is found from an object's apiVersion and kind, as a
handler test builds its View from objects."""

from __future__ import annotations

import pytest

from nimbus.api import kinds
from nimbus.runtime import cache

KINDS = [(k.api_version_name(), k.kind_name(), k.plural) for k in kinds.ALL] + [
    ("kubevirt.io/v1", "VirtualMachine", "virtualmachines"),
    ("kubevirt.io/v1", "VirtualMachineInstance", "virtualmachineinstances"),
    ("v1", "Node", "nodes"),
]


@pytest.mark.parametrize(("api_version", "kind", "plural"), KINDS)
def test_an_indexed_kind_is_found_by_its_api_version_and_kind(
    api_version: str, kind: str, plural: str
) -> None:
    index_id = cache.index_of(api_version, kind)
    if plural in cache.INDEXED_PLURALS:
        assert index_id is not None
        assert cache.INDEXED[index_id][2] == plural
    else:
        assert index_id is None


def test_every_index_is_reached_by_one_of_the_kinds() -> None:
    found = {cache.index_of(v, k) for v, k, _ in KINDS}
    assert set(cache.INDEXED) <= found
    assert cache.index_of("v1", "Pod") is None
