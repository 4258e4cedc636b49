"""Chaos, bounded: a rollout of servers, each with a volume and an implicit port, while the
operator is killed (SIGKILL) several times and the API server is restarted once. Everything must
converge: every server ACTIVE with exactly one VM, instance, cloud-init Secret, port and root
disk; no two ports with one address or MAC; every volume in-use by its own server; nothing left
over that no server owns. The figures go to bench/README.md.

It runs on a control plane of its own, since it kills what the session's other tests use.
NIMBUS_CHAOS_SERVERS sets the rollout's size (20); NIMBUS_CHAOS_KEEP_LOG=<file> keeps the
operator's log."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from nimbus.devcloud import cluster
from tests.integration.conftest import CIRROS, Cloud, flavors

SERVERS = int(os.environ.get("NIMBUS_CHAOS_SERVERS", "20"))
KILLS = 3
PROJECT = "chaos"


def _start_operator(devcloud: cluster.DevCloud, log: pathlib.Path, webhook: int) -> Any:
    env = dict(os.environ, **devcloud.operator_env(webhook))
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "nimbus", "run"], stdout=out,
                                stderr=subprocess.STDOUT, env=env)  # fmt: skip


@pytest.fixture
def chaos_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    devcloud = cluster.DevCloud(tmp_path_factory.mktemp("chaos-cloud"))
    try:
        devcloud.up(log=False)
        yield Cloud(devcloud, 0)
    finally:
        devcloud.destroy()


def _items(cloud: Cloud, kind: str) -> list[dict[str, Any]]:
    got = cloud.kubectl("get", kind, "-n", PROJECT, "-o", "json")
    items: list[dict[str, Any]] = json.loads(got.stdout)["items"]
    return items


def _statuses(cloud: Cloud) -> dict[str, str]:
    got = cloud.kubectl("get", "servers.compute.nimbus.dev", "-n", PROJECT, "-o", "json",
                        check=False)  # fmt: skip
    if got.returncode != 0:
        return {}  # the API server is away
    return {s["metadata"]["name"]: (s.get("status") or {}).get("status", "")
            for s in json.loads(got.stdout)["items"]}  # fmt: skip


@pytest.mark.timeout(900)
def test_a_rollout_converges_through_operator_kills_and_an_api_server_restart(
    chaos_cloud: Cloud, tmp_path: pathlib.Path
) -> None:
    cloud, log = chaos_cloud, tmp_path / "operator.log"
    (webhook,) = cluster._free_ports(1)
    operator = _start_operator(cloud.devcloud, log, webhook)
    try:
        deadline = time.monotonic() + 60
        while (
            cloud.kubectl("get", "validatingwebhookconfigurations", check=False).stdout.count(
                "nimbus"
            )
            == 0
        ):
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        cloud.apply({"apiVersion": "identity.nimbus.dev/v1alpha1", "kind": "Project",
                     "metadata": {"name": PROJECT},
                     "spec": {"purge": True, "quota": {"instances": 50, "cores": 50,
                                                      "volumes": 50}}})  # fmt: skip
        cloud.kubectl("wait", "--for=jsonpath={.status.status}=ACTIVE",
                      f"projects.identity.nimbus.dev/{PROJECT}", "--timeout=90s")  # fmt: skip
        cloud.apply_text(flavors(("c1.tiny", 1, 256, 1)))
        cloud.apply_text(CIRROS, PROJECT)
        net = "network.nimbus.dev/v1alpha1"
        cloud.apply(
            {"apiVersion": net, "kind": "Network", "metadata": {"name": "net",
             "namespace": PROJECT}, "spec": {}},
            {"apiVersion": net, "kind": "Subnet", "metadata": {"name": "net-v4",
             "namespace": PROJECT}, "spec": {"network": "net", "cidr": "10.60.0.0/24"}},
        )  # fmt: skip
        objects: list[dict[str, Any]] = []
        for i in range(SERVERS):
            objects.append({"apiVersion": "blockstorage.nimbus.dev/v1alpha1", "kind": "Volume",
                            "metadata": {"name": f"data-{i}", "namespace": PROJECT},
                            "spec": {"sizeGB": 1}})  # fmt: skip
            objects.append({"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Server",
                            "metadata": {"name": f"s-{i}", "namespace": PROJECT},
                            "spec": {"flavor": "c1.tiny", "image": {"name": "cirros"},
                                     "networks": [{"network": "net"}],
                                     "volumes": [{"volume": f"data-{i}"}]}})  # fmt: skip
        started = time.monotonic()
        cloud.apply(*objects)

        # The operator is killed mid-rollout, again and again; the API server restarts once.
        # The API server restarts once under a running operator (between the first two kills).
        away = 0.0
        for kill in range(KILLS):
            time.sleep(3 + 2 * kill)
            operator.send_signal(signal.SIGKILL)
            operator.wait()
            operator = _start_operator(cloud.devcloud, log, webhook)
            if kill == 0:
                time.sleep(4)
                away = cloud.devcloud.restart_apiserver()

        deadline = time.monotonic() + 420
        while True:
            statuses = _statuses(cloud)
            if len(statuses) == SERVERS and set(statuses.values()) == {"ACTIVE"}:
                break
            assert time.monotonic() < deadline, f"not converged: {statuses}"
            time.sleep(1)
        converged = time.monotonic() - started

        servers = {s["metadata"]["name"]: s for s in _items(cloud, "servers.compute.nimbus.dev")}
        uids = {s["metadata"]["uid"] for s in servers.values()}
        for kind in ("virtualmachines.kubevirt.io", "virtualmachineinstances.kubevirt.io"):
            assert sorted(m["metadata"]["name"] for m in _items(cloud, kind)) == sorted(servers)
        secrets = [s["metadata"]["name"] for s in _items(cloud, "secrets")
                   if s["metadata"]["name"].endswith("-cloudinit")]  # fmt: skip
        assert sorted(secrets) == sorted(f"{n}-cloudinit" for n in servers)
        ports = _items(cloud, "ports.network.nimbus.dev")
        assert sorted(p["metadata"]["name"] for p in ports) == sorted(
            f"{n}-port-0" for n in servers
        )
        addresses = [p["status"]["fixedIPs"][0]["ipAddress"] for p in ports]
        macs = [p["status"]["macAddress"] for p in ports]
        assert len(set(addresses)) == SERVERS, addresses
        assert len(set(macs)) == SERVERS, macs
        volumes = _items(cloud, "volumes.blockstorage.nimbus.dev")
        assert len(volumes) == SERVERS  # none lost
        for volume in volumes:
            attached = [a["server"] for a in volume["status"].get("attachments") or []]
            assert attached == [volume["metadata"]["name"].replace("data-", "s-")], volume
            assert volume["status"]["status"] == "in-use"
        roots = [d["metadata"]["name"] for d in _items(cloud, "datavolumes.cdi.kubevirt.io")
                 if d["metadata"]["name"].endswith("-root")]  # fmt: skip
        assert sorted(roots) == sorted(f"{n}-root" for n in servers)
        for kind in ("virtualmachines.kubevirt.io", "ports.network.nimbus.dev", "secrets"):
            for obj in _items(cloud, kind):
                owners = [o["uid"] for o in obj["metadata"].get("ownerReferences") or []
                          if o["kind"] == "Server"]  # fmt: skip
                assert not owners or set(owners) <= uids, f"orphan {kind} {obj['metadata']}"
        text = log.read_text()
        failures = text.count("failed with an exception. Will ignore")
        retries = text.count("trying again in")
        print(
            f"\nchaos: {SERVERS} servers with a volume and a port each, operator killed {KILLS} "
            f"times, API server away {away:.1f} s: every server ACTIVE {converged:.1f} s after "
            f"the apply; 0 duplicates, 0 orphans, 0 lost volumes; {retries} handler failures "
            f"tried again, {failures} ignored"
        )
        assert failures == 0, "a handler's failure was ignored, not retried"
    finally:
        if os.environ.get("NIMBUS_CHAOS_KEEP_LOG"):
            (pathlib.Path(os.environ["NIMBUS_CHAOS_KEEP_LOG"])).write_text(log.read_text())
        operator.send_signal(signal.SIGTERM)
        try:
            operator.wait(timeout=20)
        except subprocess.TimeoutExpired:
            operator.kill()
            operator.wait()
