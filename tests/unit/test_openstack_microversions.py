"""Microversion negotiation, as every OpenStack service does it: a table."""

from __future__ import annotations

import pytest

from nimbus.openstack import microversions
from nimbus.openstack.faults import Fault

NOVA = ((2, 1), (2, 96))


@pytest.mark.parametrize(
    ("headers", "legacy", "version"),
    [
        ([], None, (2, 1)),
        (["compute 2.53"], None, (2, 53)),
        (["volume 3.5", "compute 2.10"], None, (2, 10)),
        (["Compute latest"], None, (2, 96)),
        ([], "2.40", (2, 40)),
        (["compute 2.60"], "2.40", (2, 60)),
        (["volume 3.70"], None, (2, 1)),  # another service's: the minimum
    ],
)
def test_the_version_asked_for(
    headers: list[str], legacy: str | None, version: tuple[int, int]
) -> None:
    assert microversions.negotiate(headers, "compute", *NOVA, legacy=legacy) == version


@pytest.mark.parametrize("asked", ["2.97", "2.0", "3.1", "two", "2.1.1"])
def test_a_version_not_served_is_a_406_naming_the_range(asked: str) -> None:
    with pytest.raises(Fault) as raised:
        microversions.negotiate([f"compute {asked}"], "compute", *NOVA)
    assert raised.value.code == 406
    assert raised.value.message == (
        f"Version {asked} is not supported by the API. Minimum is 2.1 and maximum is 2.96."
    )
