"""The folders that parametrized tests read are there and full: an empty parameter set would be
skipped, not failed, and the tests over it would check nothing."""

from __future__ import annotations

import pathlib

import pytest

REPO = pathlib.Path(__file__).parents[2]


@pytest.mark.parametrize(
    ("folder", "pattern", "at_least"),
    [
        ("tests/fixtures/heat-templates", "*.yaml", 10),
        ("tests/fixtures/nova-parity", "case-*.json", 20),
        ("tests/fixtures/nova-34-parity", "case-*.json", 10),
        ("examples", "*.yaml", 7),
        ("operator/nimbus/templates", "*.j2", 12),
        ("crds", "*.yaml", 16),
    ],
)
def test_a_parametrized_folder_is_full(folder: str, pattern: str, at_least: int) -> None:
    found = sorted((REPO / folder).glob(pattern))
    assert len(found) >= at_least, f"{folder}/{pattern}: {len(found)} files"
