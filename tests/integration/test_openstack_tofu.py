"""OpenTofu and terraform-provider-openstack v3, both built from the pinned Go modules, against
`nimbus api` as a Terraform user drives an OpenStack cloud: `tofu init` installs the provider
(from a local filesystem mirror: the machine reaches no registry), `tofu apply` makes a network,
subnet, security group and rule, keypair, volume and a server with the volume attached, `tofu
plan` then finds nothing to change, a second apply changes the server, volume and subnet in
place (and again nothing is left to change), and `tofu destroy` leaves nothing of them
(tests/fixtures/tofu/main.tf; docs/how-to/terraform.md)."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import platform
import shutil
import subprocess
import time
from typing import Any

import pytest

from nimbus.devcloud import build
from tests.integration.conftest import Cloud, wait_for

CONFIGURATION = pathlib.Path(__file__).parents[1] / "fixtures" / "tofu" / "main.tf"
# Where an object keeps the OpenStack name it was given when Kubernetes cannot hold it.
NAME = "openstack.nimbus.dev/name"
PROVIDER = "registry.opentofu.org/terraform-provider-openstack/openstack"
# Go's names for the machine, as the mirror's platform directory spells them.
ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@dataclasses.dataclass(frozen=True)
class Tofu:
    """The pinned `tofu`, configured to install the provider only from its local mirror."""

    binary: pathlib.Path
    cli_config: pathlib.Path

    def run(self, workdir: pathlib.Path, *args: str, variables: dict[str, str],
            timeout: float = 600) -> subprocess.CompletedProcess[str]:  # fmt: skip
        # Nothing of the caller's OpenStack or OpenTofu settings but its logging (TF_LOG=DEBUG
        # and TF_LOG_PATH show the provider's requests and the answers).
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OS_", "TF_")) or k in ("TF_LOG", "TF_LOG_PATH")}  # fmt: skip
        env.update({f"TF_VAR_{name}": value for name, value in variables.items()})
        env.update(TF_CLI_CONFIG_FILE=str(self.cli_config), TF_IN_AUTOMATION="1", TF_INPUT="0",
                   CHECKPOINT_DISABLE="1", NO_COLOR="1")  # fmt: skip
        return subprocess.run([str(self.binary), *args, "-no-color"], cwd=workdir, env=env,
                              capture_output=True, text=True, timeout=timeout)  # fmt: skip


@pytest.fixture(scope="module")
def tofu(tmp_path_factory: pytest.TempPathFactory) -> Tofu:
    """`tofu` and a CLI configuration whose filesystem mirror holds the built provider, laid out
    as OpenTofu expects (<mirror>/<host>/<namespace>/<type>/<version>/<os>_<arch>/)."""
    try:
        built = build.ensure(["tofu", "terraform-provider-openstack"], log=False)
    except build.BuildError as error:
        pytest.skip(f"OpenTofu or terraform-provider-openstack could not be built: {error}")
    home = tmp_path_factory.mktemp("tofu")
    version = build.OPENSTACK_PROVIDER_VERSION.lstrip("v")
    target = f"{platform.system().lower()}_{ARCHITECTURES[platform.machine().lower()]}"
    mirror = home / "mirror"
    package = mirror / PROVIDER / version / target
    package.mkdir(parents=True)
    shutil.copy(built["terraform-provider-openstack"],
                package / f"terraform-provider-openstack_v{version}")  # fmt: skip
    cli_config = home / "tofu.tfrc"
    cli_config.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["{PROVIDER}"]\n  }}\n'
        f'  direct {{\n    exclude = ["{PROVIDER}"]\n  }}\n'
        "}\n"
    )
    return Tofu(built["tofu"], cli_config)


def _exists(cloud: Cloud, kind: str, namespace: str, uid: str) -> dict[str, Any] | None:
    items: list[dict[str, Any]] = json.loads(
        cloud.kubectl("get", kind, "-n", namespace, "-o", "json").stdout
    )["items"]
    return next((i for i in items if i["metadata"]["uid"] == uid), None)


def _named(cloud: Cloud, kind: str, namespace: str, uid: str, name: str) -> dict[str, Any]:
    """The object of that uid, which holds the OpenStack name it was given."""
    found = _exists(cloud, kind, namespace, uid)
    assert found is not None, f"no {kind} {uid}"
    assert found["metadata"]["annotations"][NAME] == name, found["metadata"]
    return found


@pytest.mark.timeout(900)
def test_tofu_applies_plans_nothing_more_and_destroys(
    cloud: Cloud, api: str, tenants: dict[str, str], tofu: Tofu, tmp_path: pathlib.Path
) -> None:
    first = tenants["first"]
    shutil.copy(CONFIGURATION, tmp_path / "main.tf")
    variables = {"auth_url": f"{api}/v3", "project": first, "password": "s3cret-alice",
                 "flavor": "api1.small", "image": tenants["first-image"]}  # fmt: skip

    def run(*args: str) -> str:
        """tofu's output; the test fails, with what it printed, unless it exits 0."""
        result = tofu.run(tmp_path, *args, variables=variables)
        assert result.returncode == 0, (
            f"tofu {' '.join(args)}: exit {result.returncode}\n{result.stdout[-6000:]}"
            f"\n{result.stderr[-6000:]}"
        )
        return result.stdout

    initialised = run("init")
    version = build.OPENSTACK_PROVIDER_VERSION.lstrip("v")
    assert f"Installing terraform-provider-openstack/openstack v{version}" in initialised
    assert "OpenTofu has been successfully initialized!" in initialised

    run("apply", "-auto-approve")
    outputs = json.loads(run("output", "-json"))
    ids, address, device = (outputs[k]["value"] for k in ("ids", "address", "device"))

    server = wait_for(cloud, "osserver", "tf-web", first, "{.status.status}", "ACTIVE")
    assert server["metadata"]["uid"] == ids["server"]
    assert server["spec"]["keyName"] == "tf-deployer"
    network = _named(cloud, "osnet", first, ids["network"], "App network")
    assert network["spec"]["description"] == "made by OpenTofu"
    subnet = _named(cloud, "ossubnet", first, ids["subnet"], "App network v4")
    assert (subnet["spec"]["network"], subnet["spec"]["cidr"]) == (
        network["metadata"]["name"], "10.30.0.0/24")  # fmt: skip
    assert address.startswith("10.30.0."), address
    group = _named(cloud, "ossg", first, ids["security_group"], "allow_ssh")
    assert server["spec"]["securityGroups"] == [group["metadata"]["name"]]
    assert {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "portRangeMin": 22,
            "portRangeMax": 22, "remoteIPPrefix": "0.0.0.0/0",
            "description": ""} in group["spec"]["rules"]  # fmt: skip
    keypair = cloud.get("oskeypair", "tf-deployer", first)
    assert keypair["spec"]["publicKey"].startswith("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAw/")
    volume = _named(cloud, "osvol", first, ids["volume"], "Web data")
    assert volume["spec"]["sizeGB"] == 1
    assert [v["volume"] for v in server["spec"]["volumes"]] == [volume["metadata"]["name"]]
    assert device.startswith("/dev/"), device

    # What the cloud answers is what was applied: nothing to change.
    run("plan", "-detailed-exitcode")

    # A second apply changes in place what the provider updates in place: the server's name
    # (one Kubernetes cannot hold), metadata and security groups, the attached volume's size,
    # the subnet's DNS servers.
    variables.update(server_name="Web Server", server_metadata='{role = "web"}',
                     more_security_groups='["default"]', volume_size="2",
                     dns_nameservers='["192.0.2.54"]')  # fmt: skip
    changed = run("apply", "-auto-approve")
    assert "Resources: 0 added, 3 changed, 0 destroyed." in changed, changed
    server = cloud.get("osserver", "tf-web", first)
    assert server["metadata"]["annotations"][NAME] == "Web Server"
    assert (server["spec"]["metadata"], server["spec"]["securityGroups"]) == (
        {"role": "web"}, [group["metadata"]["name"], "default"])  # fmt: skip
    assert cloud.get("osvol", volume["metadata"]["name"], first)["spec"]["sizeGB"] == 2
    subnet = cloud.get("ossubnet", subnet["metadata"]["name"], first)
    assert subnet["spec"]["dnsNameservers"] == ["192.0.2.54"]
    run("plan", "-detailed-exitcode")

    run("destroy", "-auto-approve")
    made = [("osserver", ids["server"]), ("osnet", ids["network"]), ("ossubnet", ids["subnet"]),
            ("ossg", ids["security_group"]), ("osvol", ids["volume"])]  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        left = [f"{kind} {uid}" for kind, uid in made if _exists(cloud, kind, first, uid)]
        found = cloud.kubectl("get", "oskeypair", "tf-deployer", "-n", first, check=False)
        left += ["oskeypair tf-deployer"] if found.returncode == 0 else []
        if not left or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not left, f"left after tofu destroy: {left}"
