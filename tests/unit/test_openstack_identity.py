"""Keystone's mappings, as tables: a user's roles on a project (with the roles they imply),
the catalog a token carries, and fault documents in each service's shape."""

from __future__ import annotations

from typing import Any

import pytest

from nimbus.openstack import faults, keystone
from nimbus.openstack.service import Services


def _project(*members: dict[str, str], enabled: bool = True) -> dict[str, Any]:
    return {"metadata": {"name": "demo", "uid": "p-1"},
            "spec": {"members": list(members), "enabled": enabled}}  # fmt: skip


@pytest.mark.parametrize(
    ("project", "user", "roles"),
    [
        (_project({"user": "alice", "role": "admin"}), "alice", ("admin", "member", "reader")),
        (_project({"user": "alice", "role": "member"}), "alice", ("member", "reader")),
        (_project({"user": "alice", "role": "reader"}), "alice", ("reader",)),
        (_project({"user": "alice", "role": "reader"}, {"user": "alice", "role": "member"}),
         "alice", ("member", "reader")),
        (_project({"user": "bob", "role": "admin"}), "alice", ()),
        (_project({"group": "ops", "role": "admin"}), "ops", ()),  # a group is not a user
        (_project({"user": "alice", "role": "admin"}, enabled=False), "alice", ()),
    ],
)  # fmt: skip
def test_a_user_s_roles_on_a_project(
    project: dict[str, Any], user: str, roles: tuple[str, ...]
) -> None:
    assert Services.roles_on(project, user) == roles


def test_the_catalog_names_each_service_at_its_public_url() -> None:
    entries = {e["type"]: e for e in keystone.catalog("http://127.0.0.1:5000/", "RegionOne", "p1")}
    assert set(entries) == {"identity", "compute", "image", "network", "volumev3",
                            "block-storage", "orchestration", "load-balancer"}  # fmt: skip
    urls = {k: e["endpoints"][0]["url"] for k, e in entries.items()}
    assert urls["compute"] == "http://127.0.0.1:5000/compute/v2.1"
    assert urls["volumev3"] == "http://127.0.0.1:5000/volume/v3/p1"
    assert urls["orchestration"] == "http://127.0.0.1:5000/heat/v1/p1"
    assert urls["load-balancer"] == "http://127.0.0.1:5000/load-balancer"
    interfaces = [p["interface"] for p in entries["image"]["endpoints"]]
    assert interfaces == ["public", "internal", "admin"]
    # Unscoped: no project, so no service whose URL names one.
    unscoped = {e["type"] for e in keystone.catalog("http://x", "RegionOne", None)}
    assert "volumev3" not in unscoped
    assert "compute" in unscoped


@pytest.mark.parametrize(
    ("fault", "document"),
    [
        (faults.Fault(404, "Instance x could not be found."),
         {"itemNotFound": {"code": 404, "message": "Instance x could not be found."}}),
        (faults.Fault(400, "Invalid flavorRef provided."),
         {"badRequest": {"code": 400, "message": "Invalid flavorRef provided."}}),
        (faults.Fault(401, faults.UNAUTHORIZED, style="keystone"),
         {"error": {"code": 401, "title": "Unauthorized", "message": faults.UNAUTHORIZED}}),
        (faults.Fault(404, "Network n could not be found.", style="neutron",
                      kind="NetworkNotFound"),
         {"NeutronError": {"type": "NetworkNotFound", "message": "Network n could not be found.",
                           "detail": ""}}),
    ],
)  # fmt: skip
def test_errors_are_each_service_s_own_documents(
    fault: faults.Fault, document: dict[str, Any]
) -> None:
    assert fault.document() == document
