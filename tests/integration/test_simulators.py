"""The devcloud SIMULATORS of CDI, a CSI provisioner, KubeVirt and external-snapshotter do to
real objects on the real API server what those controllers do."""

from __future__ import annotations

import dataclasses
import json
import ssl
import urllib.error
import urllib.request

import pytest

from nimbus.compute import render as compute
from nimbus.devcloud.simulators import kubevirt
from tests.integration.conftest import Cloud, wait_for
from tests.unit import test_render_server as servers

DV = "datavolumes.cdi.kubevirt.io"
VM = "virtualmachines.kubevirt.io"
VMI = "virtualmachineinstances.kubevirt.io"


def data_volume(namespace: str, name: str, source: dict[str, object]) -> dict[str, object]:
    return {
        "apiVersion": "cdi.kubevirt.io/v1beta1",
        "kind": "DataVolume",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"source": source, "storage": {"resources": {"requests": {"storage": "1Gi"}}}},
    }


def test_an_import_progresses_to_succeeded_with_a_bound_claim(cloud: Cloud) -> None:
    ns = cloud.namespace()
    cloud.apply(data_volume(ns, "cirros", {"http": {"url": "https://example.com/cirros.img"}}))
    dv = wait_for(cloud, DV, "cirros", ns, "{.status.phase}", "Succeeded")
    assert dv["status"]["progress"] == "100.0%"
    wait_for(cloud, "pvc", "cirros", ns, "{.status.phase}", "Bound")
    # A clone of it waits for its source, then succeeds.
    cloud.apply(data_volume(ns, "copy", {"pvc": {"namespace": ns, "name": "cirros"}}))
    wait_for(cloud, DV, "copy", ns, "{.status.phase}", "Succeeded")


def test_an_unreachable_url_fails_the_import(cloud: Cloud) -> None:
    ns = cloud.namespace()
    cloud.apply(data_volume(ns, "bad", {"http": {"url": "https://images.example.invalid/x.img"}}))
    dv = wait_for(cloud, DV, "bad", ns, "{.status.phase}", "Failed")
    running = next(c for c in dv["status"]["conditions"] if c["type"] == "Running")
    assert running["message"] == (
        "Unable to connect to http data source: https://images.example.invalid/x.img"
    )


def test_claims_are_provisioned_and_resized(cloud: Cloud) -> None:
    ns = cloud.namespace()
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": "data", "namespace": ns},
             "spec": {"accessModes": ["ReadWriteOnce"],
                      "resources": {"requests": {"storage": "1Gi"}}}}  # fmt: skip
    cloud.apply(claim)
    wait_for(cloud, "pvc", "data", ns, "{.status.capacity.storage}", "1Gi")
    claim["spec"]["resources"] = {"requests": {"storage": "2Gi"}}  # type: ignore[index]
    cloud.apply(claim)
    wait_for(cloud, "pvc", "data", ns, "{.status.capacity.storage}", "2Gi")
    snapshot = {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                "metadata": {"name": "nightly", "namespace": ns},
                "spec": {"source": {"persistentVolumeClaimName": "data"}}}  # fmt: skip
    cloud.apply(snapshot)
    ready = wait_for(cloud, "volumesnapshot", "nightly", ns, "{.status.readyToUse}", "true")
    assert ready["status"]["restoreSize"] == "2Gi"


def _server(namespace: str, **changes: object) -> compute.ServerInputs:
    image = dataclasses.replace(servers.CIRROS, namespace=namespace, data_volume="cirros")
    return servers.inputs(namespace=namespace, image=image, owner=None, **changes)


def test_a_vm_runs_on_a_kwok_node_with_its_addresses_then_stops(cloud: Cloud) -> None:
    ns = cloud.namespace()
    cloud.apply(data_volume(ns, "cirros", {"http": {"url": "https://example.com/cirros.img"}}))
    inputs = _server(
        ns,
        interfaces=(compute.Interface("private", f"{ns}/private", "02:00:00:00:00:50",
                                      ("10.0.0.50/24",), "10.0.0.1"),),
        spec=servers.server(availabilityZone="zone-b"),
    )  # fmt: skip
    cloud.apply(compute.render_cloud_init_secret(inputs), compute.render_virtual_machine(inputs))
    vm = wait_for(cloud, VM, "web-1", ns, "{.status.printableStatus}", "Running", timeout=90)
    assert vm["status"]["ready"] is True
    vmi = cloud.get(VMI, "web-1", ns)
    assert vmi["status"]["nodeName"] == "compute-3"  # zone-b
    assert vmi["status"]["interfaces"] == [
        {"name": "net0", "mac": "02:00:00:00:00:50", "ipAddress": "10.0.0.50",
         "ipAddresses": ["10.0.0.50"]}
    ]  # fmt: skip
    pod = cloud.get("pod", kubevirt.launcher_pod_name("web-1"), ns)
    assert pod["metadata"]["labels"]["compute.nimbus.dev/vcpus"] == "1"
    assert pod["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "100m"
    assert cloud.get("pvc", "web-1-root", ns)["status"]["phase"] == "Bound"

    cloud.kubectl("patch", VM, "web-1", "-n", ns, "--type=merge",
                  "-p", '{"spec": {"runStrategy": "Halted"}}')  # fmt: skip
    wait_for(cloud, VM, "web-1", ns, "{.status.printableStatus}", "Stopped")
    assert "NotFound" in cloud.kubectl("get", VMI, "web-1", "-n", ns, check=False).stderr


def test_a_vm_no_node_can_take_is_unschedulable(cloud: Cloud) -> None:
    ns = cloud.namespace()
    cloud.apply(data_volume(ns, "cirros", {"http": {"url": "https://example.com/cirros.img"}}))
    inputs = _server(ns, spec=servers.server(availabilityZone="zone-nowhere"))
    cloud.apply(compute.render_cloud_init_secret(inputs), compute.render_virtual_machine(inputs))
    wait_for(cloud, VM, "web-1", ns, "{.status.printableStatus}", "ErrorUnschedulable",
             timeout=90)  # fmt: skip


def _subresource(cloud: Cloud, ns: str, name: str, action: str, body: str = "{}") -> str:
    """PUT virtualmachineinstances/<name>/<action> through the API server, as virtctl does;
    what kubectl printed (its error, when refused)."""
    path = f"/apis/subresources.kubevirt.io/v1/namespaces/{ns}/virtualmachineinstances/{name}"
    done = cloud.kubectl("replace", "--raw", f"{path}/{action}", "-f", "-", stdin=body,
                         check=False)  # fmt: skip
    return (done.stdout + done.stderr).strip()


def test_virt_api_pauses_and_unpauses_a_running_instance(cloud: Cloud) -> None:
    """KubeVirt's aggregated API, through the API server: refusals in virt-api's words, a dry
    run that changes nothing, and the Paused condition and printableStatus."""
    listed = json.loads(cloud.kubectl("get", "--raw", "/apis/subresources.kubevirt.io/v1").stdout)
    assert {r["name"] for r in listed["resources"]} == {
        "virtualmachineinstances/pause", "virtualmachineinstances/unpause"
    }  # fmt: skip
    ns = cloud.namespace()
    assert 'virtualmachineinstance.kubevirt.io "web-1" not found' in _subresource(
        cloud, ns, "web-1", "pause"
    )
    cloud.apply(data_volume(ns, "cirros", {"http": {"url": "https://example.com/cirros.img"}}))
    inputs = _server(ns)
    cloud.apply(compute.render_cloud_init_secret(inputs), compute.render_virtual_machine(inputs))
    wait_for(cloud, VM, "web-1", ns, "{.status.printableStatus}", "Running", timeout=90)

    assert "VMI is not paused" in _subresource(cloud, ns, "web-1", "unpause")
    assert _subresource(cloud, ns, "web-1", "pause", '{"dryRun": ["All"]}') == ""
    assert cloud.get(VM, "web-1", ns)["status"]["printableStatus"] == "Running"
    assert _subresource(cloud, ns, "web-1", "pause") == ""
    vm = wait_for(cloud, VM, "web-1", ns, "{.status.printableStatus}", "Paused")
    assert [c["reason"] for c in vm["status"]["conditions"]] == ["PausedByUser"]
    paused = [c for c in cloud.get(VMI, "web-1", ns)["status"]["conditions"]
              if c["type"] == "Paused"]  # fmt: skip
    assert paused[0]["message"] == "VMI was paused by user"
    assert "VMI is already paused" in _subresource(cloud, ns, "web-1", "pause")
    assert _subresource(cloud, ns, "web-1", "unpause") == ""
    wait_for(cloud, VM, "web-1", ns, "{.status.printableStatus}", "Running")

    cloud.kubectl("patch", VM, "web-1", "-n", ns, "--type=merge",
                  "-p", '{"spec": {"runStrategy": "Halted"}}')  # fmt: skip
    wait_for(cloud, VM, "web-1", ns, "{.status.printableStatus}", "Stopped")
    assert "not found" in _subresource(cloud, ns, "web-1", "pause")


def test_virt_api_answers_the_api_server_alone(cloud: Cloud) -> None:
    """Called directly, without the API server's front-proxy certificate, it refuses."""
    port = cloud.devcloud._state()["ports"]["virt-api"]
    context = ssl.create_default_context(cafile=str(cloud.devcloud.virt_api_pki / "ca.crt"))
    context.load_cert_chain(cloud.devcloud.pki_dir / "admin.crt",
                            cloud.devcloud.pki_dir / "admin.key")  # fmt: skip
    request = urllib.request.Request(
        f"https://127.0.0.1:{port}/apis/subresources.kubevirt.io/v1", method="GET"
    )
    # A client of another CA: the handshake fails, or (TLS 1.3) the server hangs up after it.
    with pytest.raises((ssl.SSLError, ConnectionError, urllib.error.URLError)):
        urllib.request.urlopen(request, context=context, timeout=10)
