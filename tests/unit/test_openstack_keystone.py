"""Keystone's user, project and role-assignment documents, and its requests read back as User
and Project specs: tables, both ways."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from nimbus.openstack import keystone_credentials, tokens
from nimbus.openstack import keystone_documents as documents
from nimbus.openstack.faults import Fault

USER = {
    "metadata": {"name": "dave", "uid": "u-1"},
    "spec": {"enabled": False, "email": "dave@example.org", "description": "ops",
             "defaultProject": "demo"},
    "status": {"passwordChangedAt": "2026-12-07T10:00:00.000001Z"},
}  # fmt: skip
PROJECT = {
    "metadata": {"name": "demo", "uid": "p-1"},
    "spec": {"description": "the demo", "tags": ["a"],
             "members": [{"user": "dave", "role": "member"}, {"user": "erin", "role": "admin"},
                         {"group": "ops", "role": "reader"}, {"user": "ghost", "role": "reader"}]},
}  # fmt: skip


def test_a_user_document_says_what_the_user_object_does() -> None:
    assert documents.user(USER, default_project_id="p-1") == {
        "id": "u-1", "name": "dave", "domain_id": "default", "enabled": False,
        "password_expires_at": None, "description": "ops", "options": {}, "links": {"self": ""},
        "email": "dave@example.org", "default_project_id": "p-1",
        "password_changed_at": "2026-12-07T10:00:00.000001Z",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("request_", "partial", "spec"),
    [
        ({"name": "dave"}, False, {"enabled": True}),
        ({"enabled": False, "email": "d@x.org"}, True, {"enabled": False, "email": "d@x.org"}),
        ({"email": ""}, True, {"email": None}),
        ({"default_project_id": "p-1", "domain_id": "default"}, True, {"defaultProject": "demo"}),
        ({"default_project_id": None}, True, {"defaultProject": None}),
        ({"description": "x"}, True, {"description": "x"}),
    ],
)
def test_a_user_request_becomes_a_user_spec(
    request_: dict[str, Any], partial: bool, spec: dict[str, Any]
) -> None:
    assert documents.user_spec(request_, projects_by_id={"p-1": "demo"}, partial=partial) == spec


@pytest.mark.parametrize(
    ("kind", "request_", "said"),
    [
        ("user", {"domain_id": "other"}, "'user/domain_id': 'other' is not accepted"),
        ("user", {"enabled": "yes"}, "'user/enabled': 'yes' is not accepted; true or false"),
        ("user", {"default_project_id": "p-9"}, "'p-9' is not the id of a project"),
        ("user", {"email": "x" * 300}, "a string of at most 255 characters"),
        ("project", {"parent_id": "p-1"}, "projects are not nested"),
        ("project", {"tags": "a"}, "'project/tags': 'a' is not accepted"),
        ("project", {"is_domain": True}, "the one domain is 'default'"),
    ],
)
def test_a_bad_request_names_the_field_the_value_and_what_is_accepted(
    kind: str, request_: dict[str, Any], said: str
) -> None:
    def read() -> Any:
        if kind == "user":
            return documents.user_spec(request_, projects_by_id={"p-1": "demo"})
        return documents.project_spec(request_)

    with pytest.raises(Fault) as raised:
        read()
    assert (raised.value.code, raised.value.style) == (400, "keystone")
    assert said in raised.value.message


@pytest.mark.parametrize(
    ("kind", "name", "said"),
    [
        ("user", "Dave Smith", "DNS label"),
        ("user", "system-dave", "Kubernetes reserves system:"),
        ("project", "a" * 64, "at most 63"),
        ("project", "", "a name is required"),
        ("user", None, "a name is required"),
    ],
)
def test_names_kubernetes_cannot_hold_are_refused(kind: str, name: Any, said: str) -> None:
    with pytest.raises(Fault) as raised:
        documents.check_name(kind, name)
    assert said in raised.value.message
    assert f"'{kind}/name'" in raised.value.message


@pytest.mark.parametrize("name", ["dave", "d-1", "a" * 63, "systemd"])
def test_dns_labels_are_names(name: str) -> None:
    assert documents.check_name("user", name) == name


def test_a_project_document_and_spec() -> None:
    assert documents.project(PROJECT) == {
        "id": "p-1", "name": "demo", "domain_id": "default", "description": "the demo",
        "enabled": True, "parent_id": "default", "is_domain": False, "tags": ["a"],
        "options": {}, "links": {"self": ""},
    }  # fmt: skip
    assert documents.project_spec({"name": "x", "description": "d"}) == {
        "description": "d", "enabled": True}  # fmt: skip
    assert documents.project_spec({"enabled": False}, partial=True) == {"enabled": False}


def test_role_assignments_are_the_members_that_are_users() -> None:
    ids = {"dave": "u-1", "erin": "u-2"}  # ghost has no User; ops is a group
    found = documents.assignments([PROJECT], ids)
    assert [(a["user"]["id"], a["role"]["id"]) for a in found] == [("u-1", "member"),
                                                                   ("u-2", "admin")]  # fmt: skip
    assert documents.assignments([PROJECT], ids, user="erin", role_id="member") == []
    named = documents.assignments([PROJECT], ids, user="dave", project_id="p-1", names=True)
    assert named == [{
        "role": {"id": "member", "name": "member"},
        "user": {"id": "u-1", "name": "dave", "domain": {"id": "default", "name": "Default"}},
        "scope": {"project": {"id": "p-1", "name": "demo",
                              "domain": {"id": "default", "name": "Default"}}},
        "links": {"assignment": ""},
    }]  # fmt: skip
    assert documents.assignments([PROJECT], ids, project_id="p-2") == []


@pytest.mark.parametrize(
    ("members", "add", "role", "after"),
    [
        ([], True, "member", [{"user": "dave", "role": "member"}]),
        ([{"user": "dave", "role": "member"}], True, "member",
         [{"user": "dave", "role": "member"}]),
        ([{"user": "dave", "role": "member"}, {"user": "dave", "role": "admin"}], False, "admin",
         [{"user": "dave", "role": "member"}]),
        ([{"group": "dave", "role": "admin"}], False, "admin",
         [{"group": "dave", "role": "admin"}]),
    ],
)  # fmt: skip
def test_granting_and_revoking_a_role_changes_that_member_only(
    members: list[dict[str, Any]], add: bool, role: str, after: list[dict[str, Any]]
) -> None:
    change = documents.with_member if add else documents.without_member
    assert change(members, "dave", role) == after


@pytest.mark.parametrize("role", ["admin", "member", "reader"])
def test_the_three_roles_are_their_own_ids(role: str) -> None:
    assert documents.check_role(role) == role
    assert documents.role(role)["id"] == documents.role(role)["name"] == role


def test_an_unknown_role_is_keystone_s_404() -> None:
    with pytest.raises(Fault) as raised:
        documents.check_role("Member")
    assert (raised.value.code, raised.value.message) == (404, "Could not find role: Member.")


@pytest.mark.parametrize(
    ("roles", "implied"),
    [(["reader"], ("reader",)), (["member"], ("member", "reader")),
     (["admin"], ("admin", "member", "reader")), ([], ())],
)  # fmt: skip
def test_an_application_credential_keeps_its_roles_and_what_they_imply(
    roles: list[str], implied: tuple[str, ...]
) -> None:
    assert keystone_credentials.implied(roles) == implied


def test_an_application_credential_s_token_carries_its_id_and_roles() -> None:
    keys = tokens.setup()
    now = datetime.datetime(2026, 12, 7, 10, 0, tzinfo=datetime.UTC)
    token = tokens.Token(
        user="alice", methods=("application_credential",), issued_at=now,
        expires_at=now + datetime.timedelta(hours=1), audit_id=tokens.new_audit_id(),
        project_id="p-1", project_name="demo", application_credential="c0ffee",
        roles=("reader",),
    )  # fmt: skip
    assert tokens.verify(keys, tokens.issue(keys, token), now=now) == token
    plain = tokens.Token(user="alice", methods=("password",), issued_at=now,
                         expires_at=now + datetime.timedelta(hours=1), audit_id="a")  # fmt: skip
    assert tokens.verify(keys, tokens.issue(keys, plain), now=now).roles is None
