"""Nova's server groups, quota sets, simple tenant usage and hypervisors through the real
`openstack` CLI: each command as a member, a reader, an identity admin (bound to
nimbus-identity-admin) and a cluster admin (bound to cluster-admin) runs it, every call made as
that user, so Kubernetes RBAC decides what Nova's policy would — checked on the objects kubectl
sees."""

from __future__ import annotations

import datetime
import json
import re
import uuid
from collections.abc import Iterator

import pytest
from openstack import connection as sdk_connection

from tests.integration.conftest import Cloud
from tests.integration.openstack import (
    PROJECT,
    as_json,
    call,
    hashed,
    needs_cli,
    openstack,
    user,
)

pytestmark = needs_cli
POLICY = "Policy doesn't allow os_compute_api:{} to be performed."


@pytest.fixture(scope="module")
def admins(cloud: Cloud, tenants: dict[str, str]) -> Iterator[dict[str, str]]:
    """An identity admin (nimbus-identity-admin) and a cluster admin (cluster-admin), each a
    member of the first project (to log in to it)."""
    suffix = uuid.uuid4().hex[:5]
    made = {"identity": f"idadmin-{suffix}", "cluster": f"cadmin-{suffix}"}
    roles = {"identity": "nimbus-identity-admin", "cluster": "cluster-admin"}
    for name in made.values():
        user(cloud, name, f"s3cret-{name}")
    for kind, name in made.items():
        hashed(cloud, name, f"s3cret-{name}")
        cloud.kubectl("create", "clusterrolebinding", name, f"--clusterrole={roles[kind]}",
                      f"--user={name}")  # fmt: skip
        cloud.kubectl("patch", PROJECT, tenants["first"], "--type=json", "-p",
                      f'[{{"op": "add", "path": "/spec/members/-", '
                      f'"value": {{"user": "{name}", "role": "member"}}}}]')  # fmt: skip
    try:
        yield made
    finally:
        for name in made.values():
            cloud.kubectl("delete", "clusterrolebinding", name, check=False)


def _sdk(api: str, name: str, project: str) -> sdk_connection.Connection:
    return sdk_connection.Connection(
        auth_url=f"{api}/v3", username=name, password=f"s3cret-{name}", project_name=project,
        user_domain_name="Default", project_domain_name="Default", region_name="RegionOne",
        interface="public", identity_api_version="3",
    )  # fmt: skip


def test_usage_shows_the_project_s_servers_hours(
    cloud: Cloud, api: str, tenants: dict[str, str], admins: dict[str, str]
) -> None:
    """web (api1.small: 1 vCPU, 512 MB, 1 GB) counted from its launch; every project's usage
    is an admin's, as Nova's policy has it."""
    first = tenants["first"]
    web = cloud.get("osserver", "web", first)
    project_id = cloud.get(PROJECT, first, None)["metadata"]["uid"]
    shown = openstack(api, "alice", first, "usage", "show")
    assert f"on project {project_id}" in shown.stdout, shown.stdout
    assert re.search(r"^\| Servers +\| 1 +\|", shown.stdout, re.M), shown.stdout
    conn = _sdk(api, "alice", first)
    try:
        end = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(days=1)
        usage = conn.compute.get_usage(project_id, start=end - datetime.timedelta(days=2),
                                       end=end)  # fmt: skip
    finally:
        conn.close()
    assert usage.project_id == project_id
    ((server,),) = [usage.server_usages]
    assert (server["instance_id"], server["name"], server["flavor"], server["vcpus"],
            server["memory_mb"], server["local_gb"], server["state"]) == (
        web["metadata"]["uid"], "web", "api1.small", 1, 512, 1, "active")  # fmt: skip
    assert server["started_at"].startswith(web["status"]["launchedAt"].rstrip("Z"))
    assert usage.total_vcpus_usage == pytest.approx(server["hours"])
    assert usage.total_memory_mb_usage == pytest.approx(512 * server["hours"])
    # Every project's usage: a cluster admin's; a member gets Nova's 403.
    refused = openstack(api, "alice", first, "usage", "list", check=False)
    assert refused.returncode != 0
    assert POLICY.format("os-simple-tenant-usage:list") in refused.stderr, refused.stderr
    listed = openstack(api, admins["cluster"], first, "usage", "list")
    assert re.search(rf"^\| {first} +\| 1 +\|", listed.stdout, re.M), listed.stdout


def test_server_groups_are_made_joined_and_deleted_through_the_cli(
    cloud: Cloud, api: str, tenants: dict[str, str]
) -> None:
    first, second = tenants["first"], tenants["second"]
    group = as_json(openstack(api, "alice", first, "server", "group", "create", "--policy",
                              "anti-affinity", "-f", "json", "g1"))  # fmt: skip
    assert (group["name"], group["policy"], group["members"]) == ("g1", "anti-affinity", [])
    body = cloud.get("servergroups.compute.nimbus.dev", "g1", first)
    assert (body["metadata"]["uid"], body["spec"]) == (group["id"], {"policy": "anti-affinity"})
    spread = as_json(openstack(api, "alice", first, "server", "group", "create", "--policy",
                               "anti-affinity", "--rule", "max_server_per_host=2", "-f", "json",
                               "Spread Out"))  # fmt: skip
    assert spread["rules"] == {"max_server_per_host": 2}, spread
    objects = json.loads(cloud.kubectl("get", "servergroups.compute.nimbus.dev", "-n", first,
                                       "-o", "json").stdout)  # fmt: skip
    made = next(o for o in objects["items"] if o["metadata"]["uid"] == spread["id"])
    assert made["spec"]["rules"] == {"maxServerPerHost": 2}
    assert made["metadata"]["annotations"]["openstack.nimbus.dev/name"] == "Spread Out"
    listed = as_json(openstack(api, "alice", first, "server", "group", "list", "-f", "json"))
    assert sorted(g["Name"] for g in listed) == ["Spread Out", "g1"]

    server = as_json(openstack(api, "alice", first, "server", "create", "--flavor", "api1.small",
                               "--image", tenants["first-image"], "--network", "private",
                               "--hint",
                               f"group={group['id']}", "--wait", "-f", "json",
                               "grouped"))  # fmt: skip
    assert server["status"] == "ACTIVE"
    assert cloud.get("osserver", "grouped", first)["spec"]["serverGroup"] == "g1"
    token = openstack(api, "alice", first, "token", "issue", "-f", "value", "-c",
                      "id").stdout.strip()  # fmt: skip
    _, shown = call(f"{api}/compute/v2.1/servers/{server['id']}", token=token,
                    headers={"OpenStack-API-Version": "compute 2.71"})  # fmt: skip
    assert shown["server"]["server_groups"] == [group["id"]]
    shown = as_json(openstack(api, "alice", first, "server", "group", "show", "-f", "json", "g1"))
    assert shown["members"] == [server["id"]]

    # Another project's group is not found; a reader of the project makes none.
    missing = openstack(api, "bob", second, "server", "group", "show", group["id"], check=False)
    assert missing.returncode != 0
    assert "No ServerGroup found" in missing.stderr, missing.stderr
    seen = as_json(openstack(api, "carol", first, "server", "group", "list", "-f", "json"))
    assert sorted(g["Name"] for g in seen) == ["Spread Out", "g1"]
    refused = openstack(api, "carol", first, "server", "group", "create", "--policy",
                        "affinity", "nope", check=False)  # fmt: skip
    assert refused.returncode != 0
    assert "cannot create resource" in refused.stderr, refused.stderr

    openstack(api, "alice", first, "server", "delete", "--wait", "grouped")
    openstack(api, "alice", first, "server", "group", "delete", "g1", "Spread Out")
    left = json.loads(cloud.kubectl("get", "servergroups.compute.nimbus.dev", "-n", first,
                                    "-o", "json").stdout)  # fmt: skip
    assert [g for g in left["items"] if not g["metadata"].get("deletionTimestamp")] == []


def test_quotas_are_shown_to_members_and_set_by_an_admin(
    cloud: Cloud, api: str, tenants: dict[str, str], admins: dict[str, str]
) -> None:
    """`quota show` (Nova's, Cinder's and Neutron's at once) and `quota set`, which writes the
    Project's spec.quota as the caller: an identity admin may, a project member may not."""
    first = tenants["first"]
    quota = {q["Resource"]: q["Limit"] for q in as_json(openstack(
        api, "alice", first, "quota", "show", "-f", "json"))}  # fmt: skip
    assert {k: quota[k] for k in ("instances", "cores", "ram", "server-groups", "volumes",
                                  "networks")} == {
        "instances": 10, "cores": 20, "ram": 51200, "server-groups": 10, "volumes": 10,
        "networks": 100}  # fmt: skip
    # By the project's id: a member may not look projects up by name (Keystone's 403).
    project_id = cloud.get(PROJECT, first, None)["metadata"]["uid"]
    refused = openstack(api, "alice", first, "quota", "set", "--instances", "5", project_id,
                        check=False)  # fmt: skip
    assert refused.returncode != 0
    assert POLICY.format("os-quota-sets:update") in refused.stderr, refused.stderr

    openstack(api, admins["identity"], first, "quota", "set", "--instances", "5", "--cores",
              "8", first)  # fmt: skip
    spec = cloud.get(PROJECT, first, None)["spec"]["quota"]
    assert (spec["instances"], spec["cores"]) == (5, 8)
    usage = {q["Resource"]: (q["Limit"], q["In Use"]) for q in as_json(openstack(
        api, "alice", first, "quota", "show", "--compute", "--usage", "-f", "json"))}  # fmt: skip
    assert usage["instances"][0] == 5
    assert usage["cores"][0] == 8
    defaults = {q["Resource"]: q["Limit"] for q in as_json(openstack(
        api, "alice", first, "quota", "show", "--compute", "--default", "-f", "json"))}  # fmt: skip
    assert defaults["instances"] == 10
    # Nova refuses a limit below what is in use (web, at least), unless forced.
    below = openstack(api, admins["identity"], first, "quota", "set", "--instances", "0", first,
                      check=False)  # fmt: skip
    assert below.returncode != 0
    assert "must be greater than or equal to already used" in below.stderr, below.stderr
    openstack(api, admins["identity"], first, "quota", "delete", "--compute", first)
    assert cloud.get(PROJECT, first, None)["spec"]["quota"].get("instances", 10) == 10


def test_hypervisors_are_the_nodes_and_an_admin_s(
    cloud: Cloud, api: str, tenants: dict[str, str], admins: dict[str, str]
) -> None:
    first = tenants["first"]
    nodes = json.loads(cloud.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert nodes
    listed = as_json(openstack(api, admins["cluster"], first, "hypervisor", "list", "-f",
                               "json"))  # fmt: skip
    assert {(h["ID"], h["Hypervisor Hostname"]) for h in listed} == {
        (n["metadata"]["uid"], n["metadata"]["name"]) for n in nodes}  # fmt: skip
    web_host = cloud.get("osserver", "web", first)["status"]["host"]
    shown = as_json(openstack(api, admins["cluster"], first, "hypervisor", "show", "-f", "json",
                              web_host))  # fmt: skip
    assert (shown["hypervisor_hostname"], shown["state"]) == (web_host, "up")
    # The aggregates are the nodes' labels, as the scheduler reads them.
    labelled = {k.removeprefix("aggregate.compute.nimbus.dev/")
                for n in nodes for k in n["metadata"].get("labels", {})
                if k.startswith("aggregate.compute.nimbus.dev/")}  # fmt: skip
    aggregates = as_json(openstack(api, admins["cluster"], first, "aggregate", "list", "-f",
                                   "json"))  # fmt: skip
    assert {a["Name"] for a in aggregates} == labelled
    refused = openstack(api, "alice", first, "hypervisor", "list", check=False)
    assert refused.returncode != 0
    assert POLICY.format("os-hypervisors:list-detail") in refused.stderr, refused.stderr
    # Each node's nova-compute service, as Horizon's Hypervisors page lists them.
    services = as_json(openstack(api, admins["cluster"], first, "compute", "service", "list",
                                 "--service", "nova-compute", "-f", "json"))  # fmt: skip
    assert {(s["Host"], s["Binary"]) for s in services} == {
        (n["metadata"]["name"], "nova-compute") for n in nodes}  # fmt: skip
    assert {s["State"] for s in services} == {"up"}
    refused = openstack(api, "alice", first, "compute", "service", "list", check=False)
    assert POLICY.format("os-services:list") in refused.stderr, refused.stderr
    conn = _sdk(api, admins["cluster"], first)
    try:
        statistics = conn.compute.get("/os-hypervisors/statistics", microversion="2.87").json()[
            "hypervisor_statistics"
        ]
    finally:
        conn.close()
    assert statistics["count"] == sum(1 for n in nodes if not n["spec"].get("unschedulable"))
    assert statistics["running_vms"] >= 1


def test_a_cluster_admin_lists_every_project_s_servers(
    cloud: Cloud, api: str, tenants: dict[str, str], admins: dict[str, str]
) -> None:
    """`server list --all-projects` (all_tenants): Nova's admin list, every project's servers
    with their own project's id; `--project` narrows it; a member gets Nova's policy 403."""
    first, cadmin = tenants["first"], admins["cluster"]
    every = as_json(openstack(api, cadmin, first, "server", "list", "--all-projects", "--long",
                              "-f", "json"))  # fmt: skip
    web = cloud.get("osserver", "web", first)
    project = cloud.get(PROJECT, first, None)["metadata"]["uid"]
    (row,) = [s for s in every if s["ID"] == web["metadata"]["uid"]]
    assert (row["Name"], row["Project ID"]) == ("web", project)
    namespaces = {s["metadata"]["namespace"] for s in json.loads(
        cloud.kubectl("get", "osserver", "-A", "-o", "json").stdout)["items"]}  # fmt: skip
    assert len({s["Project ID"] for s in every}) == len(namespaces)
    narrowed = as_json(openstack(api, cadmin, first, "server", "list", "--all-projects",
                                 "--project", project, "-f", "json"))  # fmt: skip
    assert web["metadata"]["uid"] in {s["ID"] for s in narrowed}
    assert len(narrowed) < len(every) or len(namespaces) == 1
    refused = openstack(api, "alice", first, "server", "list", "--all-projects", check=False)
    assert refused.returncode != 0
    assert POLICY.format("servers:detail:get_all_tenants") in refused.stderr, refused.stderr


def test_a_private_flavor_with_extra_specs_and_an_access_list(
    cloud: Cloud, api: str, tenants: dict[str, str], admins: dict[str, str]
) -> None:
    """A cluster admin makes a private flavor with extra specs; a project sees it once on its
    access list; a member may not make flavors."""
    first, cadmin = tenants["first"], admins["cluster"]
    name = f"Gold {uuid.uuid4().hex[:4]}"
    made = as_json(openstack(api, cadmin, first, "flavor", "create", "--vcpus", "1", "--ram",
                             "256", "--disk", "1", "--private", "--property",
                             "hw:cpu_policy=dedicated", name, "-f", "json"))  # fmt: skip
    held = next(f for f in json.loads(cloud.kubectl("get", "osflavor", "-o", "json").stdout)
                ["items"] if f["metadata"]["uid"] == made["id"])  # fmt: skip
    assert held["spec"]["isPublic"] is False
    assert held["spec"]["extraSpecs"] == {"hw:cpu_policy": "dedicated"}
    assert held["metadata"]["annotations"]["openstack.nimbus.dev/name"] == name

    def alice_sees() -> set[str]:
        listed = as_json(openstack(api, "alice", first, "flavor", "list", "--all", "-f", "json"))
        return {f["Name"] for f in listed}

    assert name not in alice_sees()
    project_id = cloud.get(PROJECT, first, None)["metadata"]["uid"]
    openstack(api, cadmin, first, "flavor", "set", "--project", project_id, name)
    assert name in alice_sees()
    openstack(api, cadmin, first, "flavor", "set", "--property", "hw:mem_page_size=large", name)
    openstack(api, cadmin, first, "flavor", "unset", "--property", "hw:cpu_policy", name)
    shown = as_json(openstack(api, cadmin, first, "flavor", "show", made["id"], "-f", "json"))
    assert shown["properties"] == {"hw:mem_page_size": "large"}
    assert project_id in str(shown["access_project_ids"])
    refused = openstack(api, "alice", first, "flavor", "create", "--vcpus", "1", "--ram", "64",
                        "nope", check=False)  # fmt: skip
    assert refused.returncode != 0
    assert "forbidden" in refused.stderr.lower(), refused.stderr
    openstack(api, cadmin, first, "flavor", "delete", made["id"])
    assert name not in {f["Name"] for f in as_json(openstack(
        api, cadmin, first, "flavor", "list", "--all", "-f", "json"))}  # fmt: skip


def test_a_server_over_quota_is_refused_in_nova_s_words(
    cloud: Cloud, api: str, tenants: dict[str, str]
) -> None:
    first = tenants["first"]
    cloud.kubectl("patch", PROJECT, first, "--type=merge", "-p",
                  '{"spec": {"quota": {"instances": 1}}}')  # fmt: skip
    try:
        refused = openstack(api, "alice", first, "server", "create", "--flavor", "api1.small",
                            "--image", tenants["first-image"], "--network", "private",
                            "one-too-many",
                            check=False)  # fmt: skip
        assert refused.returncode != 0
        assert "Quota exceeded for instances: Requested 1, but already used 1 of 1 instances" \
            in refused.stderr, refused.stderr  # fmt: skip
        assert "admission webhook" not in refused.stderr
    finally:
        cloud.kubectl("patch", PROJECT, first, "--type=json", "-p",
                      '[{"op": "remove", "path": "/spec/quota/instances"}]')  # fmt: skip
