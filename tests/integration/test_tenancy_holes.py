"""The holes a user found by trying the cloud, each closed on the real control plane: a Stack as
a confused deputy, an image made public by a member, a system namespace taken over, two ports
with one address, a port shared by two servers, overlapping subnets. Users are impersonated
(kubectl --as), so the API server's own RBAC judges them."""

from __future__ import annotations

import base64
import json
import pathlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from nimbus.identity import authz
from tests.integration.conftest import CIRROS, Cloud, flavors, wait_for

pytestmark = pytest.mark.timeout(300)
PROJECT = "projects.identity.nimbus.dev"
STACK = "stacks.orchestration.nimbus.dev"
NET = "network.nimbus.dev/v1alpha1"
FLAVOR_STACK = """
heat_template_version: wallaby
resources:
  big:
    type: OS::Nova::Flavor
    properties: {name: BIGFLAVOR, vcpus: 64, ram: 65536, disk: 10, is_public: true}
"""


def as_user(cloud: Cloud, user: str, verb: str, obj: dict[str, Any]) -> tuple[bool, str]:
    got = cloud.kubectl(f"--as={user}", verb, "-f", "-", stdin=yaml.safe_dump(obj), check=False)
    return got.returncode == 0, got.stderr


def _stack(name: str, ns: str, template: str, **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "orchestration.nimbus.dev/v1alpha1", "kind": "Stack",
            "metadata": {"name": name, "namespace": ns, **metadata},
            "spec": {"template": template}}  # fmt: skip


def _network(ns: str, name: str = "net", *cidrs: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"apiVersion": NET, "kind": "Network", "metadata": {"name": name, "namespace": ns},
         "spec": {}}
    ]  # fmt: skip
    for i, cidr in enumerate(cidrs):
        out.append({"apiVersion": NET, "kind": "Subnet",
                    "metadata": {"name": f"{name}-{i}", "namespace": ns},
                    "spec": {"network": name, "cidr": cidr}})  # fmt: skip
    return out


@pytest.fixture
def project(cloud: Cloud, operator: pathlib.Path) -> Iterator[tuple[str, str]]:
    """A project with a member and cirros. (name, member)"""
    name, member = f"h-{uuid.uuid4().hex[:6]}", f"member-{uuid.uuid4().hex[:6]}"
    cloud.apply({"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "Project",
                 "metadata": {"name": name},
                 "spec": {"members": [{"user": member, "role": "member"}],
                          "purge": True}})  # fmt: skip
    wait_for(cloud, PROJECT, name, None, "{.status.status}", "ACTIVE")
    cloud.apply_text(flavors(("z1.tiny", 1, 256, 1)))
    cloud.apply_text(CIRROS, name)
    yield name, member
    cloud.kubectl("delete", PROJECT, name, "--wait=false", check=False)


# -- a Stack acts only with its requester's rights ---------------------------------------------


def test_a_member_s_stack_cannot_make_a_flavor(cloud: Cloud, project: tuple[str, str]) -> None:
    ns, member = project
    ok, why = as_user(cloud, member, "create", _stack("flavor", ns, FLAVOR_STACK))
    assert not ok
    assert "spec.template: You are not authorized to use OS::Nova::Flavor." in why
    assert f"resources.big: user {member} may not create flavors.compute.nimbus.dev " in why
    assert "cluster-wide" in why
    assert cloud.kubectl("get", "flavors", "BIGFLAVOR", check=False).returncode != 0


def test_the_requester_is_recorded_by_the_webhook_and_cannot_be_forged(
    cloud: Cloud, project: tuple[str, str]
) -> None:
    ns, member = project
    forged = authz.Requester("admin", groups=("system:masters",)).annotation()
    template = "heat_template_version: wallaby\nresources:\n  key: {type: OS::Nova::KeyPair, " \
        "properties: {name: k1}}\n"  # fmt: skip
    stack = _stack("keys", ns, template, annotations={authz.REQUESTER: forged})
    ok, why = as_user(cloud, member, "create", stack)
    assert ok, why
    recorded = authz.Requester.recorded(cloud.get(STACK, "keys", ns))
    assert recorded is not None
    assert recorded.username == member
    assert "system:authenticated" in recorded.groups
    wait_for(cloud, STACK, "keys", ns, "{.status.stackStatus}", "CREATE_COMPLETE")
    # an update of metadata alone cannot change it either
    patch = json.dumps({"metadata": {"annotations": {authz.REQUESTER: forged}}})
    cloud.kubectl(f"--as={member}", "patch", STACK, "keys", "-n", ns, "--type=merge",
                  "-p", patch)  # fmt: skip
    again = authz.Requester.recorded(cloud.get(STACK, "keys", ns))
    assert again is not None
    assert again.username == member


def test_the_controller_checks_the_requester_where_no_project_admits_the_stack(
    cloud: Cloud, operator: pathlib.Path
) -> None:
    """Outside a project's namespace the webhook judges no template, but the stack controller
    still makes only what its requester may: the flavor is never made."""
    ns, user = cloud.namespace(), f"dev-{uuid.uuid4().hex[:6]}"
    cloud.kubectl("create", "rolebinding", "edit", "--clusterrole=edit", f"--user={user}",
                  "-n", ns)  # fmt: skip
    ok, why = as_user(cloud, user, "create", _stack("flavor", ns, FLAVOR_STACK))
    assert ok, why
    got = wait_for(cloud, STACK, "flavor", ns, "{.status.stackStatus}", "CREATE_FAILED")
    reason = got["status"]["stackStatusReason"]
    assert "Forbidden: You are not authorized to use OS::Nova::Flavor." in reason
    assert cloud.kubectl("get", "flavors", "BIGFLAVOR", check=False).returncode != 0
    cloud.kubectl("delete", "namespace", ns, "--wait=false")


# -- Glance's publicize_image -----------------------------------------------------------------


def test_only_an_admin_makes_an_image_public(cloud: Cloud, project: tuple[str, str]) -> None:
    ns, member = project
    image = yaml.safe_load(CIRROS)
    image["metadata"] = {"name": "mine", "namespace": ns}
    image["spec"]["visibility"] = "public"
    ok, why = as_user(cloud, member, "create", image)
    assert not ok
    assert "spec.visibility: public: Forbidden: You are not authorized to complete " \
        "publicize_image action." in why  # fmt: skip
    assert "nimbus-image-publisher" in why
    image["spec"]["visibility"] = "private"
    ok, why = as_user(cloud, member, "create", image)
    assert ok, why
    image["spec"]["visibility"] = "public"  # nor by a change
    ok, why = as_user(cloud, member, "apply", image)
    assert not ok
    assert "publicize_image" in why
    cloud.kubectl("create", "clusterrolebinding", f"publisher-{member}",
                  "--clusterrole=nimbus-image-publisher", f"--user={member}")  # fmt: skip
    try:
        ok, why = as_user(cloud, member, "apply", image)
        assert ok, why
    finally:
        cloud.kubectl("delete", "clusterrolebinding", f"publisher-{member}")


# -- Neutron's admin-only attributes ------------------------------------------------------------


def test_only_a_project_admin_sets_neutrons_admin_only_fields(
    cloud: Cloud, operator: pathlib.Path
) -> None:
    """router:external, shared, a provider (the cloud's admin's: every project sees such a
    network, or it is the hosts'), a router's ha, enable_snat false and fixed gateway address, a
    floating IP's address (the project's admin's): Neutron's policy leaves them to an admin, and
    so does admission whichever door (kubectl here) the request came through."""
    ns = f"h-{uuid.uuid4().hex[:6]}"
    member, admin = f"member-{uuid.uuid4().hex[:6]}", f"admin-{uuid.uuid4().hex[:6]}"
    cloud.apply({"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "Project",
                 "metadata": {"name": ns},
                 "spec": {"members": [{"user": member, "role": "member"},
                                      {"user": admin, "role": "admin"}],
                          "purge": True}})  # fmt: skip
    wait_for(cloud, PROJECT, ns, None, "{.status.status}", "ACTIVE")
    try:
        ext = {"apiVersion": NET, "kind": "Network", "metadata": {"name": "ext", "namespace": ns},
               "spec": {"external": True}}  # fmt: skip
        # a network every project sees, or on the hosts' network, is the cloud's admin's
        for who in (member, admin):
            ok, why = as_user(cloud, who, "create", ext)
            assert not ok
            assert "spec.external: True: Forbidden: (rule:create_network:router:external) is " \
                "disallowed by policy. Only the cloud's admin sets it (the verb administer on " \
                "networks.network.nimbus.dev cluster-wide, in the ClusterRole " \
                "nimbus-network-admin)" in why  # fmt: skip
        for spec, rule in (({"shared": True}, "shared"),
                           ({"provider": {"cni": "macvlan"}}, "provider:cni")):  # fmt: skip
            ok, why = as_user(cloud, admin, "create", {**ext, "spec": spec})
            assert not ok
            assert f"rule:create_network:{rule}" in why
        cloud.kubectl("create", "clusterrolebinding", f"network-admin-{admin}",
                      "--clusterrole=nimbus-network-admin", f"--user={admin}")  # fmt: skip
        ok, why = as_user(cloud, admin, "create", ext)
        assert ok, why
        # the member edits what is not the admin's, and not what is
        ok, why = as_user(
            cloud, member, "apply", {**ext, "spec": {"external": True, "description": "the uplink"}}
        )
        assert ok, why
        for doc in _network(ns, "ext", "10.99.0.0/24")[1:] + _network(ns, "inner", "10.1.0.0/24"):
            cloud.apply(doc)

        def router(**spec: Any) -> dict[str, Any]:
            return {"apiVersion": NET, "kind": "Router",
                    "metadata": {"name": f"r-{uuid.uuid4().hex[:4]}", "namespace": ns},
                    "spec": spec}  # fmt: skip

        refused = {
            "rule:create_router:ha": router(ha=True),
            "rule:create_router:external_gateway_info:enable_snat": router(
                externalGateway={"network": "ext", "enableSNAT": False}),
            "rule:create_router:external_gateway_info:external_fixed_ips": router(
                externalGateway={"network": "ext",
                                 "externalFixedIPs": [{"ipAddress": "10.99.0.9"}]}),
            "rule:create_floatingip:floating_ip_address": {
                "apiVersion": NET, "kind": "FloatingIP",
                "metadata": {"name": "fip", "namespace": ns},
                "spec": {"floatingNetwork": {"network": "ext"},
                         "floatingIPAddress": "10.99.0.20"}},
        }  # fmt: skip
        for rule, obj in refused.items():
            ok, why = as_user(cloud, member, "create", obj)
            assert not ok, rule
            assert f"({rule}) is disallowed by policy" in why
        ok, why = as_user(cloud, member, "create",
                          router(externalGateway={"network": "ext"}))  # fmt: skip
        assert ok, why
        for rule, obj in refused.items():
            ok, why = as_user(cloud, admin, "create", obj)
            assert ok, f"{rule}: {why}"
        # nor through a Stack, whose objects the operator makes
        shared = ("heat_template_version: wallaby\nresources:\n  net:\n"
                  "    type: OS::Neutron::Net\n    properties: {shared: true}\n")  # fmt: skip
        ok, why = as_user(cloud, member, "create", _stack("shared", ns, shared))
        assert not ok
        assert "You are not authorized to use OS::Neutron::Net." in why
        assert "may not administer networks.network.nimbus.dev cluster-wide" in why
        ok, why = as_user(cloud, admin, "create", _stack("shared", ns, shared))
        assert ok, why
    finally:
        cloud.kubectl("delete", "clusterrolebinding", f"network-admin-{admin}",
                      "--ignore-not-found", check=False)  # fmt: skip
        cloud.kubectl("delete", PROJECT, ns, "--wait=false", check=False)


# -- a project never takes a namespace over ----------------------------------------------------


@pytest.mark.parametrize("namespace", ["kube-system", "kube-public", "default"])
def test_a_project_cannot_name_a_kubernetes_namespace(
    cloud: Cloud, operator: pathlib.Path, namespace: str
) -> None:
    why = cloud.refusal({"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "Project",
                         "metadata": {"name": f"p-{uuid.uuid4().hex[:6]}"},
                         "spec": {"namespace": namespace}}, dry_run=False)  # fmt: skip
    assert "spec.namespace: default and kube-* are Kubernetes' own namespaces" in why
    why = cloud.refusal({"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "Project",
                         "metadata": {"name": namespace}, "spec": {}})  # fmt: skip
    assert "never a project's" in why


def test_a_project_cannot_take_over_an_existing_namespace(
    cloud: Cloud, operator: pathlib.Path
) -> None:
    ns = cloud.namespace()
    why = cloud.refusal({"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "Project",
                         "metadata": {"name": ns}, "spec": {}}, dry_run=False)  # fmt: skip
    assert f"spec.namespace: namespace {ns} exists and is not a project's" in why
    labels = cloud.get("namespace", ns)["metadata"].get("labels") or {}
    assert "identity.nimbus.dev/project" not in labels
    assert not cloud.get("namespace", ns)["metadata"].get("ownerReferences")
    cloud.kubectl("delete", "namespace", ns, "--wait=false")


# -- addresses: one address and one MAC per port -----------------------------------------------


def test_ports_applied_in_one_call_get_distinct_addresses_and_macs(
    cloud: Cloud, project: tuple[str, str]
) -> None:
    ns, _member = project
    cloud.apply(*_network(ns, "net", "10.50.0.0/24"))
    ports = [{"apiVersion": NET, "kind": "Port", "metadata": {"name": f"p{i}", "namespace": ns},
              "spec": {"network": "net"}} for i in range(12)]  # fmt: skip
    cloud.apply(*ports)
    got = [wait_for(cloud, "ports.network.nimbus.dev", f"p{i}", ns, "{.status.fixedIPs[0].subnet}",
                    "net-0") for i in range(12)]  # fmt: skip
    addresses = [p["status"]["fixedIPs"][0]["ipAddress"] for p in got]
    macs = [p["status"]["macAddress"] for p in got]
    assert len(set(addresses)) == 12, addresses
    assert len(set(macs)) == 12, macs


def test_a_mac_address_in_use_is_refused_in_neutrons_words(
    cloud: Cloud, project: tuple[str, str]
) -> None:
    ns, _member = project
    cloud.apply(*_network(ns, "net", "10.51.0.0/24"))
    port = {"apiVersion": NET, "kind": "Port", "metadata": {"name": "first", "namespace": ns},
            "spec": {"network": "net", "macAddress": "02:00:00:00:00:07"}}  # fmt: skip
    cloud.apply(port)
    wait_for(cloud, "ports.network.nimbus.dev", "first", ns, "{.status.macAddress}",
             "02:00:00:00:00:07")  # fmt: skip
    cloud.apply({**port, "metadata": {"name": "second", "namespace": ns}})
    got = wait_for(cloud, "ports.network.nimbus.dev", "second", ns,
                   '{.status.conditions[?(@.type=="AddressAllocated")].reason}',
                   "MacAddressInUse")  # fmt: skip
    assert got["status"]["status"] == "DOWN"


# -- a port serves one interface of one server -------------------------------------------------


def test_a_port_in_use_cannot_be_taken_by_another_server(
    cloud: Cloud, project: tuple[str, str]
) -> None:
    ns, member = project
    cloud.apply(*_network(ns, "net", "10.52.0.0/24"))
    cloud.apply({"apiVersion": NET, "kind": "Port", "metadata": {"name": "p", "namespace": ns},
                 "spec": {"network": "net"}})  # fmt: skip

    def server(name: str, *ports: str) -> dict[str, Any]:
        return {"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Server",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"flavor": "z1.tiny", "image": {"name": "cirros"},
                         "networks": [{"port": p} for p in ports]}}  # fmt: skip

    ok, why = as_user(cloud, member, "create", server("twice", "p", "p"))
    assert not ok
    assert "spec.networks[1].port: Port p is still in use (by another interface" in why
    ok, why = as_user(cloud, member, "create", server("first", "p"))
    assert ok, why
    ok, why = as_user(cloud, member, "create", server("second", "p"))
    assert not ok
    assert "spec.networks[0].port: Port p is still in use (by server first)." in why
    first = wait_for(cloud, "servers.compute.nimbus.dev", "first", ns, "{.status.status}",
                     "ACTIVE", timeout=120)  # fmt: skip
    # whatever the build waited on (the port's address), no condition is left behind False
    stale = [c for c in first["status"]["conditions"] if c["status"] != "True"]
    assert not stale, stale
    port = cloud.get("ports.network.nimbus.dev", "p", ns)
    assert port["status"]["deviceID"] == "first"


# -- subnets ------------------------------------------------------------------------------------


def test_overlapping_subnets_on_one_network_are_refused(
    cloud: Cloud, project: tuple[str, str]
) -> None:
    ns, member = project
    cloud.apply(*_network(ns, "net", "10.53.0.0/24"))
    wider = _network(ns, "net", "10.53.0.0/16")[1]
    wider["metadata"]["name"] = "wider"
    ok, why = as_user(cloud, member, "create", wider)
    assert not ok
    assert "spec.cidr: Invalid input for operation: Requested subnet with cidr: 10.53.0.0/16 " \
        "for network: net overlaps with another subnet (net-0, 10.53.0.0/24)." in why  # fmt: skip
    other = _network(ns, "other", "10.53.0.0/24")  # another network may use the same cidr
    ok, why = as_user(cloud, member, "create", other[0])
    assert ok, why
    ok, why = as_user(cloud, member, "create", other[1])
    assert ok, why


# -- volumes go with their server only when asked -----------------------------------------------


def test_delete_on_termination_deletes_only_the_volumes_marked_so(
    cloud: Cloud, project: tuple[str, str]
) -> None:
    ns, member = project
    for name in ("scratch", "keep"):
        cloud.apply({"apiVersion": "blockstorage.nimbus.dev/v1alpha1", "kind": "Volume",
                     "metadata": {"name": name, "namespace": ns},
                     "spec": {"sizeGB": 1}})  # fmt: skip
    server = {"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Server",
              "metadata": {"name": "vm", "namespace": ns},
              "spec": {"flavor": "z1.tiny", "image": {"name": "cirros"},
                       "volumes": [{"volume": "scratch", "deleteOnTermination": True},
                                   {"volume": "keep"}]}}  # fmt: skip
    ok, why = as_user(cloud, member, "create", server)
    assert ok, why
    wait_for(cloud, "servers.compute.nimbus.dev", "vm", ns, "{.status.status}", "ACTIVE",
             timeout=120)  # fmt: skip
    wait_for(cloud, "volumes.blockstorage.nimbus.dev", "scratch", ns,
             "{.metadata.ownerReferences[0].name}", "vm")  # fmt: skip
    cloud.kubectl(f"--as={member}", "delete", "servers.compute.nimbus.dev", "vm", "-n", ns)
    deadline = time.monotonic() + 60
    while cloud.kubectl("get", "volumes.blockstorage.nimbus.dev", "scratch", "-n", ns,
                        check=False).returncode == 0:  # fmt: skip
        assert time.monotonic() < deadline, "the volume marked deleteOnTermination stayed"
        time.sleep(0.5)
    kept = wait_for(cloud, "volumes.blockstorage.nimbus.dev", "keep", ns, "{.status.status}",
                    "available")  # fmt: skip
    assert not kept["metadata"].get("ownerReferences")


# -- data is never lost to a deletion that did not say so --------------------------------------


def _volume(name: str, ns: str) -> dict[str, Any]:
    return {"apiVersion": "blockstorage.nimbus.dev/v1alpha1", "kind": "Volume",
            "metadata": {"name": name, "namespace": ns}, "spec": {"sizeGB": 1}}  # fmt: skip


def _snapshot(name: str, ns: str, volume: str) -> dict[str, Any]:
    return {"apiVersion": "blockstorage.nimbus.dev/v1alpha1", "kind": "Snapshot",
            "metadata": {"name": name, "namespace": ns}, "spec": {"volume": volume}}  # fmt: skip


def test_a_volume_with_snapshots_is_not_deleted(cloud: Cloud, project: tuple[str, str]) -> None:
    ns, member = project
    cloud.apply(_volume("data", ns))
    wait_for(cloud, "volumes.blockstorage.nimbus.dev", "data", ns, "{.status.status}",
             "available")  # fmt: skip
    cloud.apply(_snapshot("snap", ns, "data"))
    wait_for(cloud, "snapshots.blockstorage.nimbus.dev", "snap", ns, "{.spec.volume}", "data")
    got = cloud.kubectl(f"--as={member}", "delete", "volumes.blockstorage.nimbus.dev", "data",
                        "-n", ns, check=False)  # fmt: skip
    assert got.returncode != 0
    assert "Invalid volume: Volume data still has 1 dependent snapshots (snap); delete them " \
        "first" in got.stderr  # fmt: skip
    cloud.kubectl("delete", "snapshots.blockstorage.nimbus.dev", "snap", "-n", ns)
    cloud.kubectl(f"--as={member}", "delete", "volumes.blockstorage.nimbus.dev", "data", "-n", ns)


def test_a_snapshot_of_a_missing_volume_is_refused_or_fails(
    cloud: Cloud, project: tuple[str, str]
) -> None:
    ns, member = project
    ok, why = as_user(cloud, member, "create", _snapshot("nothing", ns, "ghost"))
    assert not ok
    assert 'spec.volume: volume "ghost" not found; available: ' in why
    plain = cloud.namespace()  # no project: the webhook lets it through, the controller says
    cloud.apply(_snapshot("nothing", plain, "ghost"))
    got = wait_for(cloud, "snapshots.blockstorage.nimbus.dev", "nothing", plain,
                   "{.status.status}", "error")  # fmt: skip
    (found,) = [c for c in got["status"]["conditions"] if c["type"] == "VolumeFound"]
    assert found["message"] == "spec.volume: Volume ghost could not be found: nothing to snapshot"
    cloud.kubectl("delete", "namespace", plain, "--wait=false")


def test_a_project_holding_volumes_is_deleted_only_when_told_to_purge(
    cloud: Cloud, operator: pathlib.Path
) -> None:
    name = f"d-{uuid.uuid4().hex[:6]}"
    cloud.apply({"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "Project",
                 "metadata": {"name": name}, "spec": {}})  # fmt: skip
    wait_for(cloud, PROJECT, name, None, "{.status.status}", "ACTIVE")
    cloud.apply(_volume("data", name))
    wait_for(cloud, "volumes.blockstorage.nimbus.dev", "data", name, "{.status.status}",
             "available")  # fmt: skip
    refused = cloud.kubectl("delete", PROJECT, name, check=False)
    assert refused.returncode != 0
    assert f"project {name} holds volumes data: deleting it would delete their data. Set " \
        "spec.purge: true" in refused.stderr  # fmt: skip
    assert cloud.get("volumes.blockstorage.nimbus.dev", "data", name)
    cloud.kubectl("patch", PROJECT, name, "--type=merge", "-p", '{"spec": {"purge": true}}')
    cloud.kubectl("delete", PROJECT, name, "--timeout=120s")
    gone = cloud.kubectl("get", "volumes.blockstorage.nimbus.dev", "-n", name, "-o", "name",
                         check=False)  # fmt: skip
    assert not gone.stdout.strip()


# -- user data that holds secrets stays out of readers' sight ----------------------------------


def test_user_data_from_a_secret_reaches_the_guest_and_no_reader(
    cloud: Cloud, operator: pathlib.Path
) -> None:
    name = f"u-{uuid.uuid4().hex[:6]}"
    member, reader = f"m-{name}", f"r-{name}"
    cloud.apply({"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "Project",
                 "metadata": {"name": name},
                 "spec": {"purge": True,
                          "members": [{"user": member, "role": "member"},
                                      {"user": reader, "role": "reader"}]}})  # fmt: skip
    wait_for(cloud, PROJECT, name, None, "{.status.status}", "ACTIVE")
    cloud.apply_text(flavors(("z1.tiny", 1, 256, 1)))
    cloud.apply_text(CIRROS, name)
    text = "#cloud-config\nchpasswd: {list: 'root:hunter2'}\n"
    made = cloud.kubectl(f"--as={member}", "create", "secret", "generic", "boot", "-n", name,
                         "--type=nimbus.dev/user-data",
                         f"--from-literal=userdata={text}")  # fmt: skip
    assert made.returncode == 0, made.stderr
    # the member wrote it and cannot read it back; nor can the reader
    for user in (member, reader):
        got = cloud.kubectl(f"--as={user}", "get", "secret", "boot", "-n", name, check=False)
        assert "is forbidden" in got.stderr, user
    opaque = cloud.kubectl(f"--as={member}", "create", "secret", "generic", "plain", "-n", name,
                           "--from-literal=userdata=#!/bin/sh")  # fmt: skip
    assert opaque.returncode == 0, opaque.stderr

    def server(server_name: str, secret: str) -> dict[str, Any]:
        return {"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Server",
                "metadata": {"name": server_name, "namespace": name},
                "spec": {"flavor": "z1.tiny", "image": {"name": "cirros"},
                         "userDataSecret": {"name": secret}}}  # fmt: skip

    ok, why = as_user(cloud, member, "create", server("vm", "boot"))
    assert ok, why
    wait_for(cloud, "servers.compute.nimbus.dev", "vm", name, "{.status.status}", "ACTIVE",
             timeout=120)  # fmt: skip
    seen = cloud.kubectl(f"--as={reader}", "get", "servers.compute.nimbus.dev", "vm", "-n", name,
                         "-o", "json")  # fmt: skip
    assert "hunter2" not in seen.stdout
    assert '"userDataSecret"' in seen.stdout
    cloud_init = cloud.get("secret", "vm-cloudinit", name)
    assert "hunter2" in base64.b64decode(cloud_init["data"]["userdata"]).decode()
    # any other Secret of the project (a key pair's private key) is never passed to a guest
    ok, why = as_user(cloud, member, "create", server("vm2", "plain"))
    assert ok, why
    waiting = wait_for(cloud, "servers.compute.nimbus.dev", "vm2", name,
                   '{.status.conditions[?(@.type=="UserDataReady")].reason}',
                   "SecretTypeRefused")  # fmt: skip
    assert waiting["status"]["status"] == "BUILD"
    cloud.kubectl("delete", PROJECT, name, "--wait=false")


# -- a Stack too big is refused with the limit and why -----------------------------------------


@pytest.mark.parametrize("megabytes", [0.6, 2.0])
def test_a_stack_too_big_is_refused_with_heats_limit(
    cloud: Cloud, project: tuple[str, str], megabytes: float
) -> None:
    ns, member = project
    padding = "x" * int(megabytes * 1024 * 1024)
    template = f"heat_template_version: wallaby\ndescription: {padding}\nresources: {{}}\n"
    ok, why = as_user(cloud, member, "create", _stack("big", ns, template))
    assert not ok
    assert "status code 413" not in why
    assert "spec.template: Template size (" in why
    assert "exceeds maximum allowed size (524288 bytes): Heat's max_template_size" in why
