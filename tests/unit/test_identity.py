"""A Project's children, usage and roles: table tests of the pure render."""

from __future__ import annotations

from typing import Any

import pytest

from nimbus.identity import api, render, roles

OWNER = {"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "Project", "name": "acme",
         "uid": "u-1", "controller": True, "blockOwnerDeletion": True}  # fmt: skip


def spec(**fields: Any) -> api.ProjectSpec:
    return api.ProjectSpec.model_validate(fields)


def test_a_project_is_a_labelled_namespace_of_its_name_or_of_spec_namespace() -> None:
    ns = render.render_namespace("acme", spec(), OWNER)
    assert ns["metadata"]["name"] == "acme"
    assert ns["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "nimbus",
        "identity.nimbus.dev/project": "acme",
    }
    assert (
        render.render_namespace("acme", spec(namespace="acme-prod"), OWNER)["metadata"]["name"]
        == "acme-prod"
    )


def test_the_resource_quota_counts_objects_and_leaves_unlimited_out() -> None:
    quota = render.render_quota("acme", "acme", api.Quota.model_validate(
        {"instances": 3, "volumes": -1, "ports": 7}))  # fmt: skip
    hard = quota["spec"]["hard"]
    assert hard["count/servers.compute.nimbus.dev"] == "3"
    assert hard["count/ports.network.nimbus.dev"] == "7"
    assert hard["count/keypairs.compute.nimbus.dev"] == "100"
    assert "count/volumes.blockstorage.nimbus.dev" not in hard  # -1: unlimited
    assert not any("cores" in k or k.startswith("requests.") for k in hard)  # Nimbus counts these


@pytest.mark.parametrize(
    ("members", "enabled", "bound"),
    [
        ([], True, {}),
        ([{"user": "alice", "role": "admin"}, {"group": "ops", "role": "admin"},
          {"user": "bob", "role": "reader"}], True,
         {"admin": [("User", "alice"), ("Group", "ops")], "reader": [("User", "bob")]}),
        ([{"user": "alice", "role": "admin"}], False, {}),  # disabled: nobody holds a role
    ],
)  # fmt: skip
def test_members_become_role_bindings(
    members: list[dict[str, str]], enabled: bool, bound: dict[str, list[tuple[str, str]]]
) -> None:
    bindings = render.render_role_bindings("acme", "acme", spec(members=members, enabled=enabled))
    assert {
        role: [(s["kind"], s["name"]) for s in b["subjects"]] for role, b in bindings.items()
    } == bound
    for role, binding in bindings.items():
        assert binding["metadata"]["name"] == f"nimbus-project-{role}"
        assert binding["roleRef"]["name"] == f"nimbus-project-{role}"


def test_isolation_lets_in_the_projects_own_pods_only() -> None:
    policy = render.render_isolation("acme", "acme")
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/managed-by":
                                                             "nimbus"}}  # fmt: skip
    assert policy["spec"]["ingress"] == [{"from": [{"podSelector": {}}]}]


def test_usage_is_openstack_quota_show_usage() -> None:
    held: dict[str, list[dict[str, Any]]] = {
        "servers": [{"spec": {"flavor": "m1.small"}}, {"spec": {"flavor": "m1.large"}},
                    {"spec": {"flavor": "gone"}}],
        "volumes": [{"spec": {"sizeGB": 10}}, {"spec": {}, "status": {"sizeGB": 3}}],
        "securitygroups": [{"spec": {"rules": [{}, {}]}}],
    }  # fmt: skip
    flavors = {"m1.small": {"vcpus": 1, "ramMB": 2048}, "m1.large": {"vcpus": 4, "ramMB": 8192}}
    got = render.usage(api.Quota(), held, flavors)
    assert got["instances"] == {"inUse": 3, "reserved": 0, "limit": 10}
    assert got["cores"] == {"inUse": 5, "reserved": 0, "limit": 20}
    assert got["ramMB"] == {"inUse": 10240, "reserved": 0, "limit": 51200}
    assert got["gigabytes"]["inUse"] == 13
    assert got["securityGroups"]["inUse"] == 1
    assert got["securityGroupRules"]["inUse"] == 2
    assert got["keyPairs"] == {"inUse": 0, "reserved": 0, "limit": 100}
    assert set(got) == {render.USAGE_NAMES[f] for f in api.Quota.model_fields}


def test_drain_progress_in_words() -> None:
    assert render.drain_progress({"servers": 3, "volumes": 1}) == "3 servers, 1 volume left"
    assert render.drain_progress({"servers": 0}) == "nothing left"


def test_roles_grow_from_reader_to_admin_and_never_grant_projects_or_flavors() -> None:
    by_name = {r["metadata"]["name"]: r for r in roles.cluster_roles()}
    reader, member, admin = (by_name[f"nimbus-project-{r}"] for r in ("reader", "member", "admin"))
    verbs = {tuple(rule["verbs"]) for rule in reader["rules"]}
    assert verbs == {("get", "list", "watch")}
    assert all("create" in rule["verbs"] for rule in member["rules"])
    secrets = next(r for r in admin["rules"] if r["resources"] == ["secrets"])
    assert secrets["verbs"] == [*roles.READ, *roles.WRITE]
    for role in (reader, member, admin):
        for rule in role["rules"]:
            assert not {"projects", "flavors", "volumetypes"} & set(rule["resources"])
    servers = next(r for r in reader["rules"] if r["apiGroups"] == ["compute.nimbus.dev"])
    assert servers["resources"] == ["keypairs", "servergroups", "servers"]
    assert reader["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    public = by_name["nimbus-public-reader"]["rules"]
    assert {r["resources"][0] for r in public} == {"flavors", "volumetypes"}


def test_deletion_protection_is_an_admission_policy_on_delete() -> None:
    policy, binding = roles.deletion_protection()
    rule = policy["spec"]["matchConstraints"]["resourceRules"][0]
    assert (rule["operations"], rule["resources"]) == (["DELETE"], ["projects"])
    assert binding["spec"]["validationActions"] == ["Deny"]


@pytest.mark.parametrize(
    ("users", "projects", "rules"),
    [
        ([], [], []),
        (["bob", "alice", "bob"], [], [("users", ["alice", "bob"])]),
        (["alice"], ["beta", "alpha"],
         [("users", ["alice"]), ("groups", ["nimbus:project:alpha", "nimbus:project:beta"])]),
        ([], ["alpha"], [("groups", ["nimbus:project:alpha"])]),
    ],
)  # fmt: skip
def test_the_api_impersonates_named_users_and_asserts_named_project_groups_only(
    users: list[str], projects: list[str], rules: list[tuple[str, list[str]]]
) -> None:
    role = roles.impersonation_role(users, projects)
    assert role["metadata"]["name"] == roles.IMPERSONATION
    assert [(r["resources"][0], r["resourceNames"]) for r in role["rules"]] == rules
    assert all(r["verbs"] == ["impersonate"] and r["resourceNames"] for r in role["rules"])


def test_the_member_status_policy_lets_owners_through_and_confines_members() -> None:
    policy, binding = roles.member_status_policy()
    spec = policy["spec"]
    assert spec["matchConstraints"]["resourceRules"][0]["resources"] == ["images"]
    assert spec["matchConstraints"]["resourceRules"][0]["operations"] == ["UPDATE"]
    owner = next(v["expression"] for v in spec["variables"] if v["name"] == "owner")
    assert ".check('update').allowed()" in owner
    rule = spec["validations"][0]["expression"]
    assert rule.startswith("variables.owner || (object.spec == oldObject.spec")
    assert "'nimbus:project:' + k.substring(31)" in rule
    assert binding["spec"] == {"policyName": policy["metadata"]["name"],
                               "validationActions": ["Deny"]}  # fmt: skip
    assert [policy, binding] == roles.cluster_objects()[-2:]
