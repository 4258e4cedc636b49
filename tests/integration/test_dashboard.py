"""Horizon 27, unmodified, over `nimbus api`, driven in Debian's Chromium by Playwright as a user
drives it: log in with a Nimbus user's password, land on the project's overview, switch to the
user's other project, log out; every page of the menu, for a member and for a project's admin,
renders without a server error; and a user of one project sees none of another's instances,
volumes or networks. Screenshots of each step: tests/integration/dashboard.py says where."""

from __future__ import annotations

import json
import pathlib
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.integration.conftest import CIRROS, Cloud, flavors, wait_for
from tests.integration.dashboard import (
    Crawl,
    artefacts,
    browser,
    crawl,
    dashboard,
    dashboard_static,
    log_in,
    menu,
    needs_chromium,
    shot,
)
from tests.integration.openstack import PROJECT, as_json, call, hashed, openstack, user

pytestmark = needs_chromium
__all__ = ["browser", "dashboard", "dashboard_static"]  # fixtures, used by name

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def people(cloud: Cloud, api: str) -> dict[str, str]:
    """Two projects: `dana` a member of both (her default: the first), `ed` the first's admin;
    each project with a network, a volume and a server named after it (a-*, b-*).
    (first, second -> the projects' names; dana, ed -> the users' names)"""
    suffix = uuid.uuid4().hex[:5]
    first, second = f"hz-a-{suffix}", f"hz-b-{suffix}"
    dana, ed = f"dana-{suffix}", f"ed-{suffix}"
    for project, members in ((first, [{"user": dana, "role": "member"},
                                      {"user": ed, "role": "admin"}]),
                             (second, [{"user": dana, "role": "member"}])):  # fmt: skip
        cloud.apply({"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "Project",
                     "metadata": {"name": project},
                     "spec": {"members": members, "purge": True}})  # fmt: skip
    user(cloud, dana, PASSWORD, default_project=first)
    user(cloud, ed, PASSWORD, default_project=first)
    cloud.apply_text(flavors(("hz1.small", 1, 512, 1)))
    for project, prefix in ((first, "a"), (second, "b")):
        wait_for(cloud, PROJECT, project, None, "{.status.status}", "ACTIVE")
        cloud.apply_text(CIRROS, project)
        cloud.apply_text(
            f"apiVersion: network.nimbus.dev/v1alpha1\nkind: Network\n"
            f"metadata: {{name: {prefix}-secret-net}}\n---\n"
            f"apiVersion: network.nimbus.dev/v1alpha1\nkind: Subnet\n"
            f"metadata: {{name: {prefix}-secret-v4}}\n"
            f"spec: {{network: {prefix}-secret-net, cidr: 10.9.0.0/24}}\n---\n"
            f"apiVersion: blockstorage.nimbus.dev/v1alpha1\nkind: Volume\n"
            f"metadata: {{name: {prefix}-secret-vol}}\nspec: {{sizeGB: 1}}\n---\n"
            f"apiVersion: compute.nimbus.dev/v1alpha1\nkind: Server\n"
            f"metadata: {{name: {prefix}-secret-vm}}\n"
            f"spec: {{flavor: hz1.small, image: {{name: cirros}},"
            f" networks: [{{network: {prefix}-secret-net}}]}}\n",
            project,
        )
    for name in (dana, ed):
        hashed(cloud, name, PASSWORD)
    return {"first": first, "second": second, "dana": dana, "ed": ed}


def _current_project(page: Page) -> str:
    """The project the header's context menu shows as the current one."""
    return page.inner_text(".context-project").strip()


def test_a_member_logs_in_switches_project_and_logs_out(
    dashboard: str, browser: Browser, people: dict[str, str]
) -> None:
    shots = artefacts("login-switch-logout")
    page = browser.new_page()
    page.goto(f"{dashboard}/auth/login/")
    assert page.is_visible("#id_username")
    assert page.is_visible("#id_password")
    assert not page.is_visible("#id_domain")  # one domain: Default
    shot(page, shots, "01-login-form")

    log_in(page, dashboard, people["dana"], PASSWORD)
    assert page.url == f"{dashboard}/project/", page.content()[:2000]
    assert page.title() == "Overview - Nimbus"
    assert _current_project(page) == people["first"]
    assert page.inner_text(".user-menu .user-name").strip() == people["dana"]
    shot(page, shots, "02-overview-first-project")

    page.click("li.dropdown:has(ul.context-selection) > a.dropdown-toggle")
    shot(page, shots, "03-project-menu")
    with page.expect_navigation():
        page.click(f"ul.context-selection a:has-text('{people['second']}')")
    assert _current_project(page) == people["second"]
    page.goto(f"{dashboard}/project/instances/")
    assert "b-secret-vm" in page.inner_text("#instances")
    shot(page, shots, "04-instances-second-project")

    page.click("li.user-menu > a.dropdown-toggle")
    with page.expect_navigation():
        page.click("button:has-text('Sign Out')")
    assert page.url.startswith(f"{dashboard}/auth/login/"), page.url
    shot(page, shots, "05-logged-out")
    page.goto(f"{dashboard}/project/")  # the session is gone: back to the login form
    assert page.url.startswith(f"{dashboard}/auth/login/"), page.url
    page.close()


def _report(found: Crawl, shots: pathlib.Path) -> None:
    """What the crawl saw, kept beside its screenshots: each page's status, and the errors
    Horizon showed (what the API does not serve, or refuses this user)."""
    report = {"pages": found.pages, "server_errors": found.server_errors,
              "messages": found.messages}  # fmt: skip
    (shots / "crawl.json").write_text(json.dumps(report, indent=2))


def test_every_menu_page_renders_for_a_member(
    dashboard: str, browser: Browser, people: dict[str, str]
) -> None:
    shots = artefacts("crawl-member")
    page = browser.new_page()
    log_in(page, dashboard, people["dana"], PASSWORD)
    paths = menu(page)
    assert {"/project/", "/project/instances/", "/project/volumes/", "/project/networks/",
            "/project/security_groups/", "/project/images/"} <= set(paths), paths  # fmt: skip
    assert not [p for p in paths if p.startswith("/admin/")], paths  # a member: no Admin
    found = crawl(page, dashboard, paths, shots)
    _report(found, shots)
    assert found.server_errors == [], found.server_errors
    assert all(status == 200 for status in found.pages.values()), found.pages
    page.close()


def test_every_menu_page_renders_for_a_project_admin(
    dashboard: str, browser: Browser, people: dict[str, str]
) -> None:
    """The Admin and Identity dashboards (the Project one is the member's crawl): a page may
    be refused (403: Nimbus's admin is a project's, not the cloud's), never a server error."""
    shots = artefacts("crawl-admin")
    page = browser.new_page()
    log_in(page, dashboard, people["ed"], PASSWORD)
    paths = [p for p in menu(page) if not p.startswith("/project/")]
    assert {"/admin/", "/admin/instances/", "/admin/volumes/", "/admin/networks/",
            "/identity/", "/identity/users/"} <= set(paths), paths  # fmt: skip
    found = crawl(page, dashboard, paths, shots)
    _report(found, shots)
    assert found.server_errors == [], found.server_errors
    assert all(status in (200, 403) for status in found.pages.values()), found.pages
    page.close()


@pytest.mark.parametrize(
    ("user_key", "pages"),
    [
        ("dana", ("/project/instances/", "/project/volumes/", "/project/networks/")),
        ("ed", ("/admin/instances/", "/admin/volumes/", "/admin/networks/")),
    ],
)  # fmt: skip
def test_a_project_s_users_see_none_of_another_project_s_objects(
    dashboard: str, browser: Browser, people: dict[str, str], user_key: str,
    pages: tuple[str, ...],
) -> None:  # fmt: skip
    """In the first project, its instance, volume and network are listed, the second's never:
    not to a member, not on the Admin dashboard to the first project's admin."""
    shots = artefacts(f"isolation-{user_key}")
    page = browser.new_page()
    log_in(page, dashboard, people[user_key], PASSWORD)
    assert _current_project(page) == people["first"]
    for path, kind in zip(pages, ("vm", "vol", "net"), strict=True):
        page.goto(dashboard + path, wait_until="networkidle")
        table = page.inner_text("table")
        shot(page, shots, path.strip("/").replace("/", "-"))
        assert f"a-secret-{kind}" in table, (path, table)
        assert "b-secret" not in page.content(), (path, table)
    page.close()


def test_what_horizon_and_heat_dashboard_ask_for_that_nimbus_has_none_of_is_an_empty_list(
    api: str, people: dict[str, str]
) -> None:
    """Horizon's Volumes page looks up volume groups, its volume type pages QoS specs and
    encryption, heat-dashboard's Template Generator backups and QoS policies: the answers of a
    cloud with none, not a 404 (an error on the page)."""
    token = as_json(openstack(api, people["dana"], people["first"], "token", "issue", "-f",
                              "json", password=PASSWORD))  # fmt: skip
    base = f"{api}/volume/v3/{token['project_id']}"
    latest = {"X-Auth-Token": token["id"], "OpenStack-API-Version": "volume 3.70"}
    for path, key in (("groups/detail", "groups"), ("groups", "groups"),
                      ("group_snapshots/detail", "group_snapshots"),
                      ("group_types", "group_types"), ("qos-specs", "qos_specs"),
                      ("backups", "backups"), ("backups/detail", "backups")):  # fmt: skip
        assert call(f"{base}/{path}", headers=latest) == (200, {key: []}), path
    # heat-dashboard's Template Generator asks Neutron for QoS policies too.
    assert call(f"{api}/network/v2.0/qos/policies", headers=latest) == (200, {"policies": []})
    # Before the microversion that brought groups, Cinder has no such resource.
    older = {**latest, "OpenStack-API-Version": "volume 3.12"}
    assert call(f"{base}/groups/detail", headers=older)[0] == 404
    assert call(f"{base}/types/no-such-type/encryption", headers=latest)[0] == 404


def _paged(url: str, key: str, headers: dict[str, str]) -> list[str]:
    """Every id of a list, a page of one at a time, each next page from the last id seen."""
    ids: list[str] = []
    while True:
        marker = f"&marker={ids[-1]}" if ids else ""
        status, body = call(f"{url}?limit=1{marker}", headers=headers)
        assert status == 200, body
        if not body[key]:
            return ids
        assert len(body[key]) == 1, body
        ids.append(body[key][0]["id"])
        assert len(ids) < 50, ids  # a marker ignored would page forever


def test_the_lists_horizon_pages_through_are_paged_by_limit_and_marker(
    api: str, people: dict[str, str]
) -> None:
    """Horizon's admin Flavors and its Networks pages ask for a page (openstacksdk then follows
    with the last id as the marker): every item once, in pages, as in one list."""
    token = as_json(openstack(api, people["dana"], people["first"], "token", "issue", "-f",
                              "json", password=PASSWORD))  # fmt: skip
    headers = {"X-Auth-Token": token["id"]}
    for url, key in ((f"{api}/compute/v2.1/flavors", "flavors"),
                     (f"{api}/network/v2.0/networks", "networks")):  # fmt: skip
        status, whole = call(url, headers=headers)
        assert status == 200
        assert len(whole[key]) >= 1
        assert sorted(_paged(url, key, headers)) == sorted(item["id"] for item in whole[key])
    # A full page of flavors links to the next, as Nova's does.
    _, page = call(f"{api}/compute/v2.1/flavors?limit=1", headers=headers)
    assert page["flavors_links"][0]["rel"] == "next"
    assert "marker=" in page["flavors_links"][0]["href"]


def test_a_cloud_admin_sees_the_hypervisors_the_flavors_and_every_project_s_instances(
    cloud: Cloud, dashboard: str, browser: Browser, people: dict[str, str]
) -> None:
    """The cloud's admin: a cluster admin of Kubernetes (the API impersonates them, so they may
    list nodes and every namespace) with the admin role in the project they are in (Horizon
    shows the Admin dashboard to that role). Hypervisors are the nodes, Flavors the cloud's,
    Instances every project's."""
    shots = artefacts("admin-cloud")
    root = f"root-{uuid.uuid4().hex[:5]}"
    cloud.kubectl("patch", PROJECT, people["first"], "--type=json", "-p",
                  '[{"op": "add", "path": "/spec/members/-", "value": {"user": "'
                  + root + '", "role": "admin"}}]')  # fmt: skip
    user(cloud, root, PASSWORD, default_project=people["first"])
    binding = f"hz-cloud-admin-{root}"
    cloud.kubectl("create", "clusterrolebinding", binding, "--clusterrole=cluster-admin",
                  f"--user={root}")  # fmt: skip
    hashed(cloud, root, PASSWORD)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        log_in(page, dashboard, root, PASSWORD)
        nodes = cloud.kubectl("get", "nodes", "-o", "jsonpath={.items[*].metadata.name}")
        page.goto(f"{dashboard}/admin/hypervisors/", wait_until="networkidle")
        hypervisors = page.locator("#hypervisors tbody")
        for node in nodes.stdout.split():
            expect(hypervisors).to_contain_text(node)
        expect(hypervisors).to_contain_text("QEMU")
        shot(page, shots, "01-hypervisors")
        page.goto(f"{dashboard}/admin/flavors/", wait_until="networkidle")
        expect(page.locator("#flavors tbody")).to_contain_text("hz1.small")
        shot(page, shots, "02-flavors")
        page.goto(f"{dashboard}/admin/instances/", wait_until="networkidle")
        instances = page.locator("#instances tbody")
        for server, project in (("a-secret-vm", people["first"]),
                                ("b-secret-vm", people["second"])):  # fmt: skip
            expect(instances.locator("tr").filter(has_text=server)).to_contain_text(project)
        shot(page, shots, "03-every-instance")
        assert page.locator(".alert-danger:visible").all_inner_texts() == []
        page.close()
    finally:
        cloud.kubectl("delete", "clusterrolebinding", binding, "--ignore-not-found",
                      check=False)  # fmt: skip
