"""`nimbus devcloud`: idempotent up, status, clean down, data kept across a restart."""

from __future__ import annotations

import contextlib
import pathlib
import subprocess
import sys
import time
import urllib.request

import pytest

from nimbus.devcloud import cluster, components, manifests
from tests.integration.conftest import Cloud


def _nimbus(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nimbus", *args], capture_output=True, text=True, timeout=300
    )


def _scrape(url: str, wanted: str, timeout: float = 60) -> str:
    """/metrics at `url` once it holds `wanted` (the text it last served, after `timeout`)."""
    deadline, text = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=5) as response:
                text = response.read().decode()
            if wanted in text:
                break
        time.sleep(0.5)
    return text


def test_session_cloud_started_quickly_and_fully(cloud: Cloud) -> None:
    assert cloud.ready_after > 0  # started by this session; how fast is a figure, not a test
    status = cloud.devcloud.status()
    running = (*cluster.CONTROL_PLANE, *cluster.KUBEVIRT, "simulators")
    assert all(status[c].startswith("running") for c in running)
    assert status["operator"] == "stopped"  # the tests run their own
    nodes = cloud.kubectl("get", "nodes", "-o", "name").stdout.split()
    assert nodes == [f"node/{n['name']}" for n in cluster.NODES]
    version = cloud.kubectl("version", "-o", "json").stdout
    assert '"gitVersion": "v1.36.3"' in version


def test_kubevirt_and_cdi_crds_are_what_their_pinned_generators_print() -> None:
    """upstream/kubevirt and upstream/containerized-data-importer are written by `make generate`
    from KubeVirt's and CDI's own generators at the pinned versions, never by hand."""
    assert manifests.stale() == [], "run `make generate`"


def test_kubevirt_and_cdi_run_as_their_service_accounts(cloud: Cloud) -> None:
    """Their processes authenticate as the service accounts virt-operator and cdi-operator
    would run them as, and are held to the RBAC KubeVirt's and CDI's generators print."""
    for component, (namespace, account) in components.IDENTITIES.items():
        kubeconfig = cloud.devcloud.identity_kubeconfig(component)
        who = cloud.kubectl(f"--kubeconfig={kubeconfig}", "auth", "whoami", "-o",
                            "jsonpath={.status.userInfo.username}").stdout  # fmt: skip
        assert who == f"system:serviceaccount:{namespace}:{account}"
    handler = cloud.devcloud.identity_kubeconfig("virt-handler")
    denied = cloud.kubectl(f"--kubeconfig={handler}", "auth", "can-i", "delete", "nodes",
                           check=False).stdout.strip()  # fmt: skip
    assert denied == "no"


def test_simulated_nodes_carry_capacity_labels(cloud: Cloud) -> None:
    node = cloud.get("node", "compute-3")
    assert node["metadata"]["labels"]["compute.nimbus.dev/vcpus"] == "32"
    assert node["metadata"]["labels"]["compute.nimbus.dev/memory-mb"] == "131072"
    assert node["metadata"]["labels"]["topology.kubernetes.io/zone"] == "zone-b"
    assert node["status"]["capacity"]["cpu"] == "32"


def test_controller_manager_collects_garbage(cloud: Cloud) -> None:
    """Owner references work: deleting an owner deletes what it owns, as Nimbus relies on."""
    ns = cloud.namespace()
    owner = cloud.kubectl(
        "create", "configmap", "owner", "-n", ns, "-o", "jsonpath={.metadata.uid}"
    )
    uid = owner.stdout
    cloud.kubectl(
        "apply", "-n", ns, "-f", "-",
        stdin=(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owned\n  ownerReferences:\n"
            f"  - {{apiVersion: v1, kind: ConfigMap, name: owner, uid: {uid}}}\n"
        ),
    )  # fmt: skip
    cloud.kubectl("delete", "configmap", "owner", "-n", ns)
    cloud.kubectl("wait", "--for=delete", "configmap/owned", "-n", ns, "--timeout=60s", check=False)
    gone = cloud.kubectl("get", "configmap", "owned", "-n", ns, check=False)
    assert "NotFound" in gone.stderr


def test_namespace_deletion_completes(cloud: Cloud) -> None:
    ns = cloud.namespace()
    cloud.kubectl("create", "configmap", "x", "-n", ns)
    cloud.kubectl("delete", "namespace", ns, "--timeout=60s")
    assert "NotFound" in cloud.kubectl("get", "namespace", ns, check=False).stderr


@pytest.mark.timeout(300)
def test_up_is_idempotent_down_is_clean_and_data_survives(tmp_path: pathlib.Path) -> None:
    run_dir = tmp_path / "cloud"
    devcloud = cluster.DevCloud(run_dir)
    try:
        up = _nimbus("devcloud", "up", "--dir", str(run_dir))
        assert up.returncode == 0, up.stderr
        assert "apiserver ready in" in up.stdout
        pids = dict(devcloud._state()["pids"])
        assert set(pids) == set(cluster.COMPONENTS)
        # The operator runs as the chart runs it, metrics included: the project's gauges
        # (docs/how-to/quotas.md) are scraped from it.
        metrics = _nimbus("devcloud", "metrics-url", "--dir", str(run_dir)).stdout.strip()
        port = devcloud._state()["ports"]["operator-metrics"]
        assert metrics == f"http://127.0.0.1:{port}/metrics"
        assert f"  operator metrics: {metrics}" in up.stdout.splitlines()
        devcloud.kubectl("apply", "--server-side", "-f", "-", stdin=(
            "apiVersion: identity.nimbus.dev/v1alpha1\nkind: Project\n"
            "metadata: {name: gauged}\nspec: {quota: {instances: 7}}\n"))  # fmt: skip
        gauge = 'nimbus_project_quota{project="gauged",resource="instances"} 7.0'
        assert gauge in _scrape(metrics, gauge)

        again = _nimbus("devcloud", "up", "--dir", str(run_dir))
        assert "already running" in again.stdout
        assert devcloud._state()["pids"] == pids

        status = _nimbus("devcloud", "status", "--dir", str(run_dir))
        assert status.returncode == 0
        assert all("running" in line for line in status.stdout.splitlines())
        assert _nimbus("devcloud", "kubeconfig", "--dir", str(run_dir)).stdout.strip() == str(
            run_dir / "kubeconfig"
        )

        devcloud.kubectl("create", "namespace", "keep-me")
        down = _nimbus("devcloud", "down", "--dir", str(run_dir))
        assert down.returncode == 0
        # the seconds of stopping are announced before they start
        assert down.stdout.splitlines() == [
            f"stopping the local cloud in {run_dir} (its data stays) ...",
            "devcloud down",
        ]
        assert _nimbus("devcloud", "metrics-url", "--dir", str(run_dir)).returncode == 3
        assert all(not pathlib.Path(f"/proc/{pid}").exists() or cluster._zombie(pid)
                   for pid in pids.values())  # fmt: skip
        stopped = _nimbus("devcloud", "status", "--dir", str(run_dir))
        assert stopped.returncode == 3
        assert all(line.endswith("stopped") for line in stopped.stdout.splitlines())

        assert _nimbus("devcloud", "up", "--dir", str(run_dir)).returncode == 0
        assert "keep-me" in devcloud.kubectl("get", "namespace", "keep-me").stdout
        assert (run_dir / "logs" / "kube-apiserver.log").stat().st_size > 0
    finally:
        devcloud.destroy()
    assert not run_dir.exists()


def test_pods_are_scheduled_and_run_on_the_simulated_nodes(cloud: Cloud) -> None:
    """The real kube-scheduler binds, KWOK runs: what the virt-launcher simulation relies on."""
    ns = cloud.namespace()
    zone_b = '{"spec": {"nodeSelector": {"topology.kubernetes.io/zone": "zone-b"}}}'
    cloud.kubectl(
        "run", "probe", "--image=busybox", "--restart=Never", "-n", ns, "--overrides", zone_b
    )
    cloud.kubectl(
        "wait", "--for=jsonpath={.status.phase}=Running", "pod/probe", "-n", ns, "--timeout=60s"
    )
    assert cloud.get("pod", "probe", ns)["spec"]["nodeName"] == "compute-3"
