"""What a project's member does in Horizon over `nimbus api`, in Debian's Chromium driven by
Playwright, step by step as they click: launch an instance through the Launch Instance wizard
and see it Active, shut it off, start it, reboot it and delete it from its row's menu; create a
key pair and import a public key; create a volume, attach it to an instance and detach it;
extend a volume and snapshot it; create a network with a subnet; make a security group, add a
rule and delete it. Screenshots of each step: tests/integration/dashboard.py says where.

The tests of the instance run in order on the one instance the first launches."""

from __future__ import annotations

import pathlib
import subprocess
import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.integration.conftest import CIRROS, Cloud, flavors, wait_for
from tests.integration.dashboard import (
    act,
    artefacts,
    browser,
    choose,
    confirm,
    dashboard,
    dashboard_static,
    log_in,
    needs_chromium,
    row,
    row_action,
    shot,
)
from tests.integration.openstack import PROJECT, hashed, user

pytestmark = needs_chromium
__all__ = ["browser", "dashboard", "dashboard_static"]  # fixtures, used by name

PASSWORD = "correct horse battery staple"
INSTANCE = "web-1"  # launched in the browser
HOST = "vol-host"  # made with kubectl: the instance the volume is attached to
# How long a step may take: the simulators run a VM within seconds; Horizon's tables poll a
# row in a changing state every few seconds.
WAIT = 60_000


@pytest.fixture(scope="module")
def member(cloud: Cloud, api: str) -> dict[str, str]:
    """A project with a cirros image, a network with a subnet and a running server (HOST), and
    `fay`, its member. (project, user -> their names)"""
    suffix = uuid.uuid4().hex[:5]
    project, name = f"hz-flow-{suffix}", f"fay-{suffix}"
    cloud.apply({"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "Project",
                 "metadata": {"name": project},
                 "spec": {"members": [{"user": name, "role": "member"}],
                          "purge": True}})  # fmt: skip
    user(cloud, name, PASSWORD, default_project=project)
    cloud.apply_text(flavors(("hz1.small", 1, 512, 1)))
    wait_for(cloud, PROJECT, project, None, "{.status.status}", "ACTIVE")
    cloud.apply_text(CIRROS, project)
    cloud.apply_text(
        "apiVersion: network.nimbus.dev/v1alpha1\nkind: Network\n"
        "metadata: {name: flow-net}\n---\n"
        "apiVersion: network.nimbus.dev/v1alpha1\nkind: Subnet\n"
        "metadata: {name: flow-v4}\nspec: {network: flow-net, cidr: 10.9.0.0/24}\n---\n"
        "apiVersion: compute.nimbus.dev/v1alpha1\nkind: Server\n"
        f"metadata: {{name: {HOST}}}\n"
        "spec: {flavor: hz1.small, image: {name: cirros}, networks: [{network: flow-net}]}\n",
        project,
    )
    hashed(cloud, name, PASSWORD)
    return {"project": project, "user": name}


def _logged_in(browser: Browser, dashboard: str, member: dict[str, str], path: str) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    log_in(page, dashboard, member["user"], PASSWORD)
    page.goto(dashboard + path, wait_until="networkidle")
    return page


def _errors(page: Page) -> list[str]:
    """The error messages Horizon shows (its toasts and the wizard's)."""
    return [text.strip() for text in page.locator(".alert-danger:visible").all_inner_texts()]


def _told(page: Page, message: str) -> None:
    """Horizon says the action was done or is under way (its message after the page's reload;
    it fades out after a few seconds, so it is looked for in the page, shown or not)."""
    told = page.locator(".alert-success, .alert-info").filter(has_text=message)
    expect(told.first).to_be_attached(timeout=WAIT)


def _create_volume(page: Page, name: str, filled: Callable[[], None] = lambda: None) -> None:
    """Create Volume, empty, 1 GiB, of the form's default type; `filled` before it is sent;
    until the volume is Available."""
    page.click("#volumes__action_create")
    form = page.locator(".modal:visible")
    expect(form.locator("#id_name")).to_be_visible(timeout=WAIT)
    form.locator("#id_name").fill(name)
    form.locator("#id_size").fill("1")
    filled()
    form.locator("[type=submit]").first.click()
    _status(page, "volumes", name, "Available")


def _status(page: Page, table: str, name: str, word: str) -> None:
    """Until the row of `name` shows the status `word` (Horizon polls a changing row)."""
    expect(row(page, table, name).locator(f"td:text-is('{word}')").first).to_be_visible(
        timeout=WAIT
    )


def test_a_member_launches_an_instance_through_the_wizard(
    dashboard: str, browser: Browser, member: dict[str, str]
) -> None:
    """Details (a name), Source (cirros, no new volume), Flavor, Networks (the project's one,
    allocated as the only one), Security Groups (default), Key Pair (none): Launch; the
    instance is Active in the table, on the network's subnet."""
    shots = artefacts("flow-launch-instance")
    page = _logged_in(browser, dashboard, member, "/project/instances/")
    shot(page, shots, "01-instances")
    page.click("#instances__action_launch-ng")
    wizard = page.locator(".ng-wizard")
    expect(wizard.locator("#name")).to_be_visible(timeout=WAIT)
    wizard.locator("#name").fill(INSTANCE)
    shot(page, shots, "02-details")

    def step(title: str) -> None:
        wizard.locator(f".wizard-nav a:has-text('{title}')").click()

    def allocate(*texts: str) -> None:
        """The transfer table's ↑ on the available row showing each of `texts`."""
        shown = "".join(f":has-text('{text}')" for text in texts)
        available = wizard.locator(f".step:visible tr{shown}:has(button:visible)")
        expect(available).to_be_visible(timeout=WAIT)
        available.locator("button").click()

    step("Source")
    wizard.locator("#vol-create:text-is('No')").click()
    allocate("cirros", "Private")  # the project's own (other projects' public ones are listed)
    allocated = wizard.locator(".step:visible table").first  # above the available ones
    expect(allocated).to_contain_text("cirros")
    shot(page, shots, "03-source")
    step("Flavor")
    allocate("hz1.small")
    shot(page, shots, "04-flavor")
    step("Networks")
    expect(allocated).to_contain_text("flow-net")
    shot(page, shots, "05-networks")
    step("Security Groups")
    expect(allocated).to_contain_text("default")
    shot(page, shots, "06-security-groups")
    step("Key Pair")
    shot(page, shots, "07-key-pair")
    assert _errors(page) == []  # the default volume type too: Cinder's __DEFAULT__
    launch = wizard.locator("button.finish")
    expect(launch).to_be_enabled()
    launch.click()
    expect(wizard).to_be_hidden(timeout=WAIT)
    expect(row(page, "instances", INSTANCE)).to_be_visible(timeout=WAIT)
    shot(page, shots, "08-launched")
    _status(page, "instances", INSTANCE, "Active")
    launched = row(page, "instances", INSTANCE)
    expect(launched).to_contain_text("10.9.0.")
    expect(launched).to_contain_text("hz1.small")
    expect(launched).to_contain_text("Running")
    shot(page, shots, "09-active")
    page.close()


def test_a_member_launches_from_a_volume_with_user_data_a_group_and_a_zone(
    dashboard: str, browser: Browser, cloud: Cloud, member: dict[str, str]
) -> None:
    """The wizard's other steps: Details (a zone), Source (a bootable volume made from cirros),
    Flavor, Configuration (a customization script), Server Groups (one of the project's):
    Active, and the Server asks for each."""
    shots = artefacts("flow-launch-from-volume")
    project = member["project"]
    cloud.apply(
        {"apiVersion": "blockstorage.nimbus.dev/v1alpha1", "kind": "Volume",
         "metadata": {"name": "boot-vol", "namespace": project},
         "spec": {"sizeGB": 1, "source": {"image": {"name": "cirros"}}}},
        {"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "ServerGroup",
         "metadata": {"name": "pack", "namespace": project}, "spec": {"policy": "affinity"}},
    )  # fmt: skip
    wait_for(cloud, "volumes.blockstorage.nimbus.dev", "boot-vol", project, "{.status.status}",
             "available", timeout=120)  # fmt: skip
    page = _logged_in(browser, dashboard, member, "/project/instances/")
    page.click("#instances__action_launch-ng")
    wizard = page.locator(".ng-wizard")
    expect(wizard.locator("#name")).to_be_visible(timeout=WAIT)
    wizard.locator("#name").fill("from-vol")
    zone = wizard.locator("#availability-zone")
    expect(zone).to_be_visible(timeout=WAIT)
    zones = [z.strip() for z in zone.locator("option").all_inner_texts() if z.strip()]
    chosen = next(z for z in zones if z != "Any Availability Zone")
    zone.select_option(label=chosen)
    shot(page, shots, "01-details")

    def step(title: str) -> None:
        wizard.locator(f".wizard-nav a:has-text('{title}')").click()

    def allocate(text: str) -> None:
        """The transfer table's ↑ on the available row showing `text`, until it is allocated."""
        up = wizard.locator(f".step:visible tr:has-text('{text}') td:last-child button")
        expect(up.first).to_be_visible(timeout=WAIT)
        up.first.click()
        allocated = wizard.locator(".step:visible table").first
        expect(allocated).to_contain_text(text)

    step("Source")
    wizard.locator("#boot-source-type").select_option(label="Volume")
    allocate("boot-vol")
    shot(page, shots, "02-source")
    step("Flavor")
    allocate("hz1.small")
    step("Configuration")
    wizard.locator("textarea#user-data").fill("#!/bin/sh\necho hello from the dashboard\n")
    shot(page, shots, "03-configuration")
    step("Server Groups")
    allocate("pack")
    shot(page, shots, "04-server-group")
    launch = wizard.locator("button.finish")
    expect(launch).to_be_enabled()
    launch.click()
    expect(wizard).to_be_hidden(timeout=WAIT)
    _status(page, "instances", "from-vol", "Active")
    expect(row(page, "instances", "from-vol")).to_contain_text(chosen)
    shot(page, shots, "05-active")
    spec = cloud.get("servers.compute.nimbus.dev", "from-vol", project)["spec"]
    assert spec["bootVolume"]["name"] == "boot-vol", spec
    wanted = {"serverGroup": "pack", "availabilityZone": chosen}
    assert {key: spec.get(key) for key in wanted} == wanted, spec
    assert "echo hello from the dashboard" in spec["userData"]
    assert _errors(page) == []
    row_action(page, "instances", "from-vol", "delete")
    confirm(page)
    expect(row(page, "instances", "from-vol")).to_have_count(0, timeout=WAIT)
    page.close()


def test_a_member_shuts_off_starts_and_reboots_the_instance(
    dashboard: str, browser: Browser, member: dict[str, str]
) -> None:
    """From the row's action menu, each confirmed as Horizon asks: Shutoff, then Active."""
    shots = artefacts("flow-instance-actions")
    page = _logged_in(browser, dashboard, member, "/project/instances/")
    _status(page, "instances", INSTANCE, "Active")
    row_action(page, "instances", INSTANCE, "stop")
    shot(page, shots, "01-confirm-shut-off")
    confirm(page)
    _told(page, f"Shut Off Instance: {INSTANCE}")
    _status(page, "instances", INSTANCE, "Shutoff")
    shot(page, shots, "02-shut-off")
    row_action(page, "instances", INSTANCE, "start")
    _told(page, f"Started Instance: {INSTANCE}")
    _status(page, "instances", INSTANCE, "Active")
    shot(page, shots, "03-started")
    row_action(page, "instances", INSTANCE, "soft_reboot")
    shot(page, shots, "04-confirm-soft-reboot")
    confirm(page)
    _told(page, f"Soft Rebooted Instance: {INSTANCE}")
    _status(page, "instances", INSTANCE, "Active")
    shot(page, shots, "05-rebooted")
    assert _errors(page) == []
    page.close()


def test_a_member_pauses_resizes_and_reads_the_console_of_the_instance(
    dashboard: str, browser: Browser, cloud: Cloud, member: dict[str, str]
) -> None:
    """Pause Instance, then Resume Instance (one toggle of the row's menu): Paused, then
    Active. Resize Instance to a larger flavor: Active on it at once (Nimbus confirms a resize
    itself, so no Confirm Resize is asked). The instance's Log tab: its console, empty (see
    docs/dashboard.md)."""
    shots = artefacts("flow-instance-pause-resize")
    cloud.apply_text(flavors(("hz1.medium", 1, 1024, 1)))
    page = _logged_in(browser, dashboard, member, "/project/instances/")
    _status(page, "instances", INSTANCE, "Active")
    row_action(page, "instances", INSTANCE, "pause")
    _told(page, f"Paused Instance: {INSTANCE}")
    _status(page, "instances", INSTANCE, "Paused")
    shot(page, shots, "01-paused")
    row_action(page, "instances", INSTANCE, "pause")  # now "Resume Instance"
    _told(page, f"Resumed Instance: {INSTANCE}")
    _status(page, "instances", INSTANCE, "Active")
    shot(page, shots, "02-resumed")

    row_action(page, "instances", INSTANCE, "resize")
    workflow = page.locator(".modal:visible")
    expect(workflow.locator("#id_old_flavor_name")).to_have_value("hz1.small", timeout=WAIT)
    choose(workflow, "id_flavor", "hz1.medium")
    shot(page, shots, "03-resize")
    workflow.locator(".button-final, [type=submit]").last.click()
    _told(page, f'Request for resizing of instance "{INSTANCE}" has been submitted.')
    instance = row(page, "instances", INSTANCE)
    expect(instance).to_contain_text("hz1.medium", timeout=WAIT)
    _status(page, "instances", INSTANCE, "Active")
    expect(instance.locator("[id$='__action_confirm']")).to_have_count(0)
    shot(page, shots, "04-resized")

    instance.locator(f"td a:text-is('{INSTANCE}')").click()
    page.click("a[data-target$='instance_details__log']")
    log = page.locator("#instance_details__log")
    expect(log.locator("pre")).to_be_attached(timeout=WAIT)
    expect(log).to_contain_text("Instance Console Log")
    shot(page, shots, "05-console-log")
    assert _errors(page) == []
    page.close()


def test_a_member_deletes_the_instance(
    dashboard: str, browser: Browser, member: dict[str, str]
) -> None:
    shots = artefacts("flow-delete-instance")
    page = _logged_in(browser, dashboard, member, "/project/instances/")
    row_action(page, "instances", INSTANCE, "delete")
    shot(page, shots, "01-confirm-delete")
    confirm(page)
    _told(page, f"Scheduled deletion of Instance: {INSTANCE}")
    shot(page, shots, "02-deleting")
    expect(row(page, "instances", INSTANCE)).to_have_count(0, timeout=WAIT)
    expect(row(page, "instances", HOST)).to_be_visible()
    shot(page, shots, "03-deleted")
    assert _errors(page) == []
    page.close()


def _fingerprint(key: pathlib.Path) -> str:
    """An SSH key's MD5 fingerprint, as Nova shows it (colon-separated hex)."""
    printed = subprocess.run(["ssh-keygen", "-l", "-E", "md5", "-f", str(key)], check=True,
                             capture_output=True, text=True).stdout  # fmt: skip
    return printed.split()[1].removeprefix("MD5:")


def test_a_member_creates_a_key_pair_and_imports_a_public_key(
    dashboard: str, browser: Browser, member: dict[str, str], tmp_path: pathlib.Path
) -> None:
    """Create: the browser downloads the private key, whose fingerprint the table shows;
    import: an ssh-keygen public key, its fingerprint in the table as ssh-keygen prints it."""
    shots = artefacts("flow-key-pairs")
    page = _logged_in(browser, dashboard, member, "/project/key_pairs/")
    shot(page, shots, "01-key-pairs")
    page.click("#keypairs__action_create")
    form = page.locator(".modal:visible")
    expect(form.locator("#id_name")).to_be_visible(timeout=WAIT)
    form.locator("#id_name").fill("made-here")
    shot(page, shots, "02-create")
    with page.expect_download(timeout=WAIT) as download:
        form.locator("[type=submit]").first.click()
    # Horizon names the file with quotes, which Chromium turns into underscores.
    assert "made-here.pem" in download.value.suggested_filename
    private = tmp_path / "made-here.pem"
    download.value.save_as(private)
    private.chmod(0o600)
    assert private.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    page.goto(f"{dashboard}/project/key_pairs/", wait_until="networkidle")
    made = page.locator("#keypairs__row__made-here")
    expect(made).to_be_visible(timeout=WAIT)
    expect(made).to_contain_text(_fingerprint(private))  # the key pair of the downloaded key
    shot(page, shots, "03-created")

    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    page.click("#keypairs__action_import")
    form = page.locator(".modal:visible")
    expect(form.locator("#id_public_key")).to_be_visible(timeout=WAIT)
    form.locator("#id_name").fill("imported-here")
    form.locator("#id_key_type").select_option("ssh")
    form.locator("#id_public_key").fill(pathlib.Path(f"{key}.pub").read_text())
    shot(page, shots, "04-import")
    form.locator("[type=submit]").first.click()
    imported = page.locator("#keypairs__row__imported-here")
    expect(imported).to_be_visible(timeout=WAIT)
    expect(imported).to_contain_text(_fingerprint(key))
    _told(page, "imported-here")
    shot(page, shots, "05-imported")
    assert _errors(page) == []
    page.close()


def test_a_member_attaches_a_new_volume_to_an_instance_and_detaches_it(
    cloud: Cloud, dashboard: str, browser: Browser, member: dict[str, str]
) -> None:
    """Create Volume (1 GiB, empty, the default type the form offers): Available; Manage
    Attachments, to HOST: In-use, on it; detach it there: Available again."""
    wait_for(cloud, "osserver", HOST, member["project"], "{.status.status}", "ACTIVE")
    shots = artefacts("flow-volume-attach")
    page = _logged_in(browser, dashboard, member, "/project/volumes/")
    _create_volume(page, "data", lambda: shot(page, shots, "01-create"))
    expect(row(page, "volumes", "data")).to_contain_text("1GiB")
    expect(row(page, "volumes", "data")).to_contain_text("__DEFAULT__")  # the form's default
    shot(page, shots, "02-available")
    assert _errors(page) == []

    row_action(page, "volumes", "data", "attachments")
    form = page.locator(".modal:visible")
    choose(form, "id_instance", HOST, exact=False)
    shot(page, shots, "03-attach")
    form.locator("[type=submit]").first.click()
    _status(page, "volumes", "data", "In-use")
    expect(row(page, "volumes", "data")).to_contain_text(f"on {HOST}")
    shot(page, shots, "04-in-use")

    row_action(page, "volumes", "data", "attachments")
    form = page.locator(".modal:visible")
    attachment = form.locator(f"#attachments tbody tr:has-text('{HOST}')")
    expect(attachment).to_be_visible(timeout=WAIT)
    shot(page, shots, "05-attachments")
    attachment.locator("[id$='__action_detach']").click()
    confirm(page)
    _told(page, f"Volume data on instance {HOST}")
    _status(page, "volumes", "data", "Available")
    shot(page, shots, "06-detached")
    assert _errors(page) == []
    page.close()


def test_a_member_creates_a_network_with_a_subnet(
    dashboard: str, browser: Browser, member: dict[str, str]
) -> None:
    """The Create Network workflow: Network (a name), Subnet (a name, a CIDR), Subnet Details
    (as they are): the network is listed with its subnet and its CIDR."""
    shots = artefacts("flow-create-network")
    page = _logged_in(browser, dashboard, member, "/project/networks/")
    page.click("#networks__action_create")
    workflow = page.locator(".modal:visible")
    expect(workflow.locator("#id_net_name")).to_be_visible(timeout=WAIT)
    workflow.locator("#id_net_name").fill("made-net")
    shot(page, shots, "01-network")
    workflow.locator(".button-next").click()
    expect(workflow.locator("#id_subnet_name")).to_be_visible()
    workflow.locator("#id_subnet_name").fill("made-v4")
    workflow.locator("#id_cidr").fill("10.42.0.0/24")
    shot(page, shots, "02-subnet")
    workflow.locator(".button-next").click()
    expect(workflow.locator("#id_allocation_pools")).to_be_visible()
    shot(page, shots, "03-subnet-details")
    workflow.locator(".button-final").click()
    _told(page, 'Created network "made-net"')
    network = row(page, "networks", "made-net")
    expect(network).to_contain_text("made-v4 10.42.0.0/24", timeout=WAIT)
    expect(network.locator("td:text-is('Active')")).to_be_visible(timeout=WAIT)
    shot(page, shots, "04-created")
    assert _errors(page) == []
    page.close()


def test_a_member_makes_a_security_group_and_its_rules(
    dashboard: str, browser: Browser, member: dict[str, str]
) -> None:
    """Create Security Group (a name): its rules page, Horizon's two egress rules; Add Rule
    (HTTP, from anywhere): listed as port 80; Delete Rule: gone."""
    shots = artefacts("flow-security-group")
    page = _logged_in(browser, dashboard, member, "/project/security_groups/")
    page.click("#security_groups__action_create")
    form = page.locator(".modal:visible")
    expect(form.locator("#id_name")).to_be_visible(timeout=WAIT)
    form.locator("#id_name").fill("web-sg")
    form.locator("#id_description").fill("the web tier")
    shot(page, shots, "01-create")
    form.locator("[type=submit]").first.click()
    _told(page, "Successfully created security group: web-sg")
    rules = page.locator("#rules tbody tr")
    expect(rules.filter(has_text="Egress")).to_have_count(2, timeout=WAIT)  # IPv4 and IPv6
    shot(page, shots, "02-rules")

    page.click("#rules__action_add_rule")
    form = page.locator(".modal:visible")
    choose(form, "id_rule_menu", "HTTP")
    shot(page, shots, "03-add-rule")
    form.locator("[type=submit]").first.click()
    _told(page, "Successfully added rule")
    http = rules.filter(has_text="80 (HTTP)")
    expect(http).to_have_count(1, timeout=WAIT)
    expect(http).to_contain_text("Ingress")
    expect(http).to_contain_text("0.0.0.0/0")
    shot(page, shots, "04-added")

    act(http, "delete")
    confirm(page)
    _told(page, "Deleted Rule")
    expect(rules.filter(has_text="80 (HTTP)")).to_have_count(0, timeout=WAIT)
    shot(page, shots, "05-deleted")
    assert _errors(page) == []
    page.close()


def test_a_member_extends_a_volume_and_snapshots_it(
    dashboard: str, browser: Browser, member: dict[str, str]
) -> None:
    """Create Volume (1 GiB); Extend Volume to 2 GiB: Available at 2GiB; Create Snapshot: the
    snapshot Available on the Volume Snapshots page, of that volume."""
    shots = artefacts("flow-volume-extend-snapshot")
    page = _logged_in(browser, dashboard, member, "/project/volumes/")
    _create_volume(page, "grow")

    row_action(page, "volumes", "grow", "extend")
    form = page.locator(".modal:visible")
    expect(form.locator("#id_new_size")).to_be_visible(timeout=WAIT)
    form.locator("#id_new_size").fill("2")
    shot(page, shots, "01-extend")
    form.locator("[type=submit]").first.click()
    _told(page, 'Extending volume: "grow"')
    expect(row(page, "volumes", "grow")).to_contain_text("2GiB", timeout=WAIT)
    _status(page, "volumes", "grow", "Available")
    shot(page, shots, "02-extended")

    row_action(page, "volumes", "grow", "snapshots")
    form = page.locator(".modal:visible")
    expect(form.locator("#id_name")).to_be_visible(timeout=WAIT)
    form.locator("#id_name").fill("grow-snap")
    shot(page, shots, "03-snapshot")
    form.locator("[type=submit]").first.click()
    _told(page, 'Creating volume snapshot "grow-snap"')
    _status(page, "volume_snapshots", "grow-snap", "Available")
    expect(row(page, "volume_snapshots", "grow-snap")).to_contain_text("grow")
    shot(page, shots, "04-snapshot-available")
    assert _errors(page) == []
    page.close()


HELLO_WORLD = (
    pathlib.Path(__file__).parents[1]
    / "fixtures"
    / "heat-templates"
    / ("ht__hot__hello_world.yaml")
)


def _pick(form: Locator, field: str, starting: str) -> None:
    """Select the first option of a plain `<select>` whose text starts with `starting`."""
    options = form.locator(f"#{field} option")
    expect(options.first).to_be_attached(timeout=WAIT)
    texts = options.all_inner_texts()
    value = options.nth(next(i for i, t in enumerate(texts) if t.strip().startswith(starting)))
    form.locator(f"#{field}").select_option(value=value.get_attribute("value"))


def test_a_member_launches_the_hello_world_stack_reads_it_updates_and_deletes_it(
    dashboard: str, browser: Browser, cloud: Cloud, member: dict[str, str]
) -> None:
    """Orchestration (heat-dashboard, unmodified): Launch Stack from Heat's hello-world template
    as a file, its flavor, image and key pair picked from the form's lists (which send ids);
    Create Complete; its Overview shows the output, its Resources the server, its Events the
    creation; Change Stack Template with one pasted in (an output more): Update Complete and
    the new output; Delete Stack: gone. Check, Suspend and Resume are not offered (policy)."""
    shots = artefacts("flow-stack")
    cloud.apply({"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "KeyPair",
                 "metadata": {"name": "stack-key", "namespace": member["project"]},
                 "spec": {}})  # fmt: skip
    page = _logged_in(browser, dashboard, member, "/project/stacks/")
    expect(page.locator("#stacks__action_suspend")).to_have_count(0)
    expect(page.locator("#stacks__action_check")).to_have_count(0)
    page.click("#stacks__action_launch")
    form = page.locator(".modal:visible")
    choose(form, "id_template_source", "File")
    form.locator("#id_template_upload").set_input_files(str(HELLO_WORLD))
    shot(page, shots, "01-select-template")
    form.locator("[type=submit]").first.click()

    form = page.locator(".modal:visible")
    expect(form.locator("#id_stack_name")).to_be_visible(timeout=WAIT)
    form.locator("#id_stack_name").fill("hello")
    form.locator("#id___param_admin_pass").fill("Secret1")
    form.locator("#id___param_flavor").select_option(label="hz1.small")
    _pick(form, "id___param_image", "cirros (")  # its label: name (size)
    form.locator("#id___param_key_name").select_option(label="stack-key")
    expect(form.locator("#id_password")).to_have_count(0)  # enable_user_pass is off
    shot(page, shots, "02-launch")
    form.locator("[type=submit]").first.click()
    _told(page, "Stack creation started.")
    _status(page, "stacks", "hello", "Create Complete")
    shot(page, shots, "03-created")

    row(page, "stacks", "hello").locator("td a:text-is('hello')").click()
    page.click("a[data-target$='stack_details__overview']")
    overview = page.locator("#stack_details__overview")
    expect(overview).to_contain_text("server_networks", timeout=WAIT)
    expect(overview).to_contain_text("The networks of the deployed server")
    expect(overview).to_contain_text("Create_Complete: Stack CREATE completed successfully")
    shot(page, shots, "04-overview")
    page.click("a[data-target$='stack_details__resources']")
    resources = page.locator("#resources tbody tr")
    expect(resources.filter(has_text="OS::Nova::Server")).to_contain_text("Create Complete")
    shot(page, shots, "05-resources")
    page.click("a[data-target$='stack_details__events']")
    expect(page.locator("#events tbody tr").filter(has_text="server").first).to_be_visible()
    shot(page, shots, "06-events")

    page.goto(f"{dashboard}/project/stacks/", wait_until="networkidle")
    row_action(page, "stacks", "hello", "edit")
    form = page.locator(".modal:visible")
    choose(form, "id_template_source", "Direct Input")
    more = HELLO_WORLD.read_text() + (
        "  greeting:\n    description: Said by the stack\n"
        "    value: {list_join: [' ', [hello, {get_param: 'OS::stack_name'}]]}\n"
    )
    form.locator("#id_template_data").fill(more)
    shot(page, shots, "07-change-template")
    form.locator("[type=submit]").first.click()
    form = page.locator(".modal:visible")
    expect(form.locator("#id___param_admin_pass")).to_be_visible(timeout=WAIT)
    form.locator("#id___param_admin_pass").fill("Secret1")
    form.locator("#id___param_flavor").select_option(label="hz1.small")
    _pick(form, "id___param_image", "cirros (")  # its label: name (size)
    form.locator("#id___param_key_name").select_option(label="stack-key")
    shot(page, shots, "08-update")
    form.locator("[type=submit]").first.click()
    _status(page, "stacks", "hello", "Update Complete")
    row(page, "stacks", "hello").locator("td a:text-is('hello')").click()
    page.click("a[data-target$='stack_details__overview']")
    expect(page.locator("#stack_details__overview")).to_contain_text("hello hello", timeout=WAIT)
    shot(page, shots, "09-updated")

    page.goto(f"{dashboard}/project/stacks/", wait_until="networkidle")
    row_action(page, "stacks", "hello", "delete")
    confirm(page)
    expect(row(page, "stacks", "hello")).to_have_count(0, timeout=WAIT * 2)
    shot(page, shots, "10-deleted")
    page.close()


def test_a_member_routes_the_network_out_and_gives_a_server_a_floating_ip(
    dashboard: str, browser: Browser, cloud: Cloud, member: dict[str, str]
) -> None:
    """With an external network an admin made: Create Router (its gateway on it), Add
    Interface on the project's subnet (its gateway address), Allocate IP To Project from it,
    Associate it with the server's port, Disassociate and Release it, Delete Router."""
    shots = artefacts("flow-router-floating-ip")
    project = member["project"]
    net = "network.nimbus.dev/v1alpha1"
    cloud.apply(
        {"apiVersion": net, "kind": "Network",
         "metadata": {"name": "outside", "namespace": project}, "spec": {"external": True}},
        {"apiVersion": net, "kind": "Subnet",
         "metadata": {"name": "outside-v4", "namespace": project},
         "spec": {"network": "outside", "cidr": "198.51.100.0/28"}},
    )  # fmt: skip
    page = _logged_in(browser, dashboard, member, "/project/routers/")
    page.click("#routers__action_create")
    form = page.locator(".modal:visible")
    expect(form.locator("#id_name")).to_be_visible(timeout=WAIT)
    form.locator("#id_name").fill("edge")
    choose(form, "id_external_network", "outside")
    shot(page, shots, "01-create-router")
    form.locator("[type=submit]").first.click()
    _told(page, "Router edge was successfully created.")
    _status(page, "routers", "edge", "Active")
    shot(page, shots, "02-router")

    row(page, "routers", "edge").locator("td a:text-is('edge')").click()
    page.click("a[data-target$='router_details__interfaces']")
    page.click("#interfaces__action_create")
    form = page.locator(".modal:visible")
    choose(form, "id_subnet_id", "flow-net: 10.9.0.0/24 (flow-v4)")
    shot(page, shots, "03-add-interface")
    form.locator("[type=submit]").first.click()
    _told(page, "Interface added")
    page.click("a[data-target$='router_details__interfaces']")
    expect(page.locator("#interfaces tbody")).to_contain_text("10.9.0.1", timeout=WAIT)
    shot(page, shots, "04-interface")

    page.goto(f"{dashboard}/project/floating_ips/", wait_until="networkidle")
    page.click("#floating_ips__action_allocate")
    form = page.locator(".modal:visible")
    choose(form, "id_pool", "outside")
    form.locator("[type=submit]").first.click()
    _told(page, "Allocated Floating IP 198.51.100.")
    floating = page.locator("#floating_ips tbody tr").filter(has_text="198.51.100.")
    expect(floating).to_have_count(1, timeout=WAIT)
    shot(page, shots, "05-allocated")
    act(floating, "associate")
    form = page.locator(".modal:visible")
    choose(form, "id_port_id", f"{HOST}: 10.9.0.", exact=False)
    shot(page, shots, "06-associate")
    form.locator("[type=submit]").first.click()
    _told(page, "associated.")
    expect(floating).to_contain_text(HOST, timeout=WAIT)
    shot(page, shots, "07-associated")
    act(floating, "disassociate")
    if page.locator(".modal:visible").count():
        confirm(page)
    _told(page, "Successfully disassociated Floating IP: 198.51.100.")
    expect(floating).not_to_contain_text(HOST, timeout=WAIT)
    act(floating, "release")
    confirm(page)
    _told(page, "Released Floating IP")
    expect(floating).to_have_count(0, timeout=WAIT)
    shot(page, shots, "08-released")

    page.goto(f"{dashboard}/project/routers/", wait_until="networkidle")
    row_action(page, "routers", "edge", "delete")
    confirm(page)
    expect(row(page, "routers", "edge")).to_have_count(0, timeout=WAIT)
    shot(page, shots, "09-router-deleted")
    assert _errors(page) == []
    page.close()
    cloud.kubectl("delete", "subnets.network.nimbus.dev,networks.network.nimbus.dev",
                  "outside-v4", "outside", "-n", project, "--ignore-not-found", "--wait=false",
                  check=False)  # fmt: skip


def test_a_member_makes_a_server_group_and_deletes_it(
    dashboard: str, browser: Browser, member: dict[str, str]
) -> None:
    """Server Groups (Horizon's Angular panel): Create Server Group (a name, anti-affinity):
    listed with its policy; Delete Server Group: gone."""
    shots = artefacts("flow-server-group")
    page = _logged_in(browser, dashboard, member, "/project/server_groups/")
    page.locator("button:has-text('Create Server Group')").click()
    dialog = page.locator(".modal-dialog:visible")
    expect(dialog.locator("input[name=name]")).to_be_visible(timeout=WAIT)
    dialog.locator("input[name=name]").fill("spread")
    dialog.locator("select[name=policy]").select_option(label="Anti Affinity")
    shot(page, shots, "01-create")
    dialog.locator(".modal-footer .btn-primary").click()
    listed = page.locator("hz-resource-table tbody tr").filter(has_text="spread")
    expect(listed.first).to_contain_text("Anti Affinity", timeout=WAIT)
    shot(page, shots, "02-created")
    listed.first.locator(".dropdown-toggle, button:has-text('Delete')").first.click()
    menu_item = page.locator("a:has-text('Delete Server Group'):visible")
    if menu_item.count():
        menu_item.first.click()
    page.locator(".modal-dialog:visible .modal-footer .btn-danger").click()
    expect(page.locator("hz-resource-table tbody tr").filter(has_text="spread")).to_have_count(
        0, timeout=WAIT
    )
    shot(page, shots, "03-deleted")
    assert _errors(page) == []
    page.close()


@pytest.mark.timeout(300)
def test_an_identity_admin_makes_a_project_a_user_and_their_role(
    dashboard: str, browser: Browser, cloud: Cloud, member: dict[str, str]
) -> None:
    """An identity admin (bound to the ClusterRole nimbus-identity-admin, docs/openstack-api.md)
    who is an admin of the project they are in (Horizon shows Identity's buttons to the admin
    role, as Keystone's policy says; Kubernetes decides what they may do): Identity → Projects
    → Create Project; Users → Create User (a password, that project as primary, the role
    member). The user logs in there. Then Delete User and Delete Project."""
    shots = artefacts("flow-identity-admin")
    suffix = uuid.uuid4().hex[:5]
    admin, team, newcomer = f"ivy-{suffix}", f"team-{suffix}", f"erin-{suffix}"
    cloud.kubectl("patch", PROJECT, member["project"], "--type=json", "-p",
                  '[{"op": "add", "path": "/spec/members/-", "value": {"user": "'
                  + admin + '", "role": "admin"}}]')  # fmt: skip
    user(cloud, admin, PASSWORD, default_project=member["project"])
    binding = f"hz-identity-admin-{suffix}"
    cloud.kubectl("create", "clusterrolebinding", binding,
                  "--clusterrole=nimbus-identity-admin", f"--user={admin}")  # fmt: skip
    hashed(cloud, admin, PASSWORD)
    try:
        page = _logged_in(browser, dashboard, {**member, "user": admin}, "/identity/")
        page.click("#tenants__action_create")
        workflow = page.locator(".modal:visible")
        expect(workflow.locator("#id_name")).to_be_visible(timeout=WAIT)
        workflow.locator("#id_name").fill(team)
        workflow.locator("#id_description").fill("the web team")
        shot(page, shots, "01-create-project")
        workflow.locator(".button-final, [type=submit]").last.click()
        _told(page, f'Created new project "{team}".')
        expect(row(page, "tenants", team)).to_contain_text("the web team", timeout=WAIT)
        shot(page, shots, "02-project")

        page.goto(f"{dashboard}/identity/users/", wait_until="networkidle")
        page.click("#users__action_create")
        form = page.locator(".modal:visible")
        expect(form.locator("#id_name")).to_be_visible(timeout=WAIT)
        form.locator("#id_name").fill(newcomer)
        form.locator("#id_email").fill(f"{newcomer}@example.org")
        form.locator("#id_password").fill(PASSWORD)
        form.locator("#id_confirm_password").fill(PASSWORD)
        choose(form, "id_project", team)
        choose(form, "id_role_id", "member")
        shot(page, shots, "03-create-user")
        form.locator("[type=submit]").first.click()
        _told(page, f'User "{newcomer}" was successfully created.')
        expect(row(page, "users", newcomer)).to_contain_text(f"{newcomer}@example.org")
        shot(page, shots, "04-user")
        members = cloud.get(PROJECT, team, None)["spec"]["members"]
        assert {"user": newcomer, "role": "member"} in members, members
        hashed(cloud, newcomer, PASSWORD)

        theirs = _logged_in(browser, dashboard, {**member, "user": newcomer}, "/project/")
        expect(theirs.locator(".context-project")).to_contain_text(team, timeout=WAIT)
        shot(theirs, shots, "05-their-project")
        theirs.close()

        row_action(page, "users", newcomer, "delete")
        confirm(page)
        _told(page, f"Deleted User: {newcomer}")
        expect(row(page, "users", newcomer)).to_have_count(0, timeout=WAIT)
        page.goto(f"{dashboard}/identity/", wait_until="networkidle")
        row_action(page, "tenants", team, "delete")
        confirm(page)
        expect(row(page, "tenants", team)).to_have_count(0, timeout=WAIT)
        shot(page, shots, "06-deleted")
        assert _errors(page) == []
        page.close()
    finally:
        cloud.kubectl("delete", "clusterrolebinding", binding, "--ignore-not-found",
                      check=False)  # fmt: skip
