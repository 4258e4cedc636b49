"""The webhook's refusals in OpenStack's words, and the ledger that keeps concurrent creates
from slipping under a quota together."""

from __future__ import annotations

import pytest

from nimbus.compute import admission as compute_admission
from nimbus.identity import admission


@pytest.mark.parametrize(
    ("overs", "text"),
    [
        ([("cores", 4, 18, 20)],
         "Quota exceeded for cores: Requested 4, but already used 18 of 20 cores"),
        ([("cores", 4, 18, 20), ("ram", 8192, 48000, 51200)],
         "Quota exceeded for cores, ram: Requested 4, 8192, but already used 18, 48000 of "
         "20, 51200 cores, ram"),
    ],
)  # fmt: skip
def test_novas_quota_text(overs: list[tuple[str, int, int, int]], text: str) -> None:
    assert admission.quota_exceeded(overs) == text


def test_over_quota_is_strictly_over_and_minus_one_is_unlimited() -> None:
    limits = {"cores": 20, "ram": -1, "instances": 10}
    assert admission.over_quota({"cores": 2}, {"cores": 18}, limits) == []  # exactly at the limit
    assert admission.over_quota({"cores": 3}, {"cores": 18}, limits) == [("cores", 3, 18, 20)]
    assert admission.over_quota({"ram": 10**9}, {"ram": 10**9}, limits) == []


def test_the_ledger_holds_reservations_until_the_index_has_them_or_they_expire() -> None:
    now = [0.0]
    ledger = admission.Ledger(clock=lambda: now[0])
    ledger.reserve("p", "servers", "a", {"cores": 2})
    ledger.reserve("p", "servers", "b", {"cores": 1})
    ledger.reserve("q", "servers", "c", {"cores": 8})
    assert ledger.pending("p", "servers", known=[]) == {"cores": 3}
    assert ledger.pending("p", "servers", known=["a"]) == {"cores": 1}  # a counts itself now
    now[0] += admission.ASSUME_SECONDS + 1
    assert ledger.pending("p", "servers", known=[]) == {}  # b was never created
    assert ledger.pending("q", "servers", known=[]) == {}


@pytest.mark.parametrize(
    ("visibility", "members", "refusal"),
    [
        ("public", [], None),
        ("shared", ["mine"], None),
        ("shared", ["someone"], 'spec.image: image "cirros" of project theirs is shared and not '
         "shared with project mine; only public images, or images shared with this project, "
         "may be used"),
        ("private", [], 'spec.image: image "cirros" of project theirs is private; only public '
         "images, or images shared with this project, may be used"),
    ],
)  # fmt: skip
def test_glance_visibility_decides_who_boots_an_image(
    visibility: str, members: list[str], refusal: str | None
) -> None:
    image = {"metadata": {"name": "cirros", "namespace": "theirs"},
             "spec": {"visibility": visibility, "members": members}}  # fmt: skip
    assert compute_admission.image_refusal(image, "mine") == refusal
    assert compute_admission.image_refusal({**image, "metadata": {"name": "cirros",
                                    "namespace": "mine"}}, "mine") is None  # fmt: skip


def test_not_found_lists_what_exists() -> None:
    assert admission.not_found("spec.flavor", "flavor", "x", ["b", "a"]) == (
        'spec.flavor: flavor "x" not found; available: a, b'
    )
    assert admission.not_found("spec.keyName", "key pair", "k", []).endswith("available: none")


def test_an_image_too_big_for_the_flavor_in_novas_words() -> None:
    image = {
        "metadata": {"name": "i", "namespace": "p"},
        "spec": {"minRamMB": 128, "minDiskGB": 1},
        "status": {"virtualSize": 2 * 2**30},
    }
    assert compute_admission.image_too_big({"vcpus": 1, "ramMB": 64, "diskGB": 1}, image, "m1") == (
        "Flavor's memory is too small for requested image. (flavor m1: 64 MB of RAM; image i "
        "needs minRamMB 128)"
    )
    assert "Flavor's disk is too small for requested image." in str(
        compute_admission.image_too_big({"vcpus": 1, "ramMB": 256, "diskGB": 1}, image)
    )
    assert compute_admission.image_too_big({"vcpus": 1, "ramMB": 256, "diskGB": 5}, image) is None
