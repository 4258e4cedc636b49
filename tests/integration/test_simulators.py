"""KubeVirt's and CDI's own control planes in the local cloud, with only the node side
simulated (virt-handler, the worker pods' work, a CSI provisioner, external-snapshotter): what
they do to real objects on the real API server."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import ssl
import time
import urllib.error
import urllib.request

import pytest
import yaml

from nimbus.api import kinds
from nimbus.compute import render as compute
from nimbus.devcloud.simulators import kubevirt as simulated
from nimbus.k8s import client
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


def test_an_import_succeeds_with_a_bound_claim_and_a_clone_follows(cloud: Cloud) -> None:
    """cdi-controller makes the claim and an importer pod, which a KWOK stage finishes with the
    importer's termination message; a clone of it goes through CDI's host-assisted copy (an
    upload server and a source pod)."""
    ns = cloud.namespace()
    cloud.apply(data_volume(ns, "copy", {"pvc": {"namespace": ns, "name": "cirros"}}))
    # It waits for its source, in CDI's words.
    reason = '{.status.conditions[?(@.type=="Ready")].reason}'
    wait_for(cloud, DV, "copy", ns, reason, "CloneWithoutSource")
    cloud.apply(data_volume(ns, "cirros", {"http": {"url": "https://example.com/cirros.img"}}))
    dv = wait_for(cloud, DV, "cirros", ns, "{.status.phase}", "Succeeded", timeout=90)
    assert dv["status"]["progress"] == "100.0%"
    claim = wait_for(cloud, "pvc", "cirros", ns, "{.status.phase}", "Bound")
    annotations = claim["metadata"]["annotations"]
    assert annotations["cdi.kubevirt.io/storage.pod.phase"] == "Succeeded"
    assert annotations["cdi.kubevirt.io/storage.condition.running.message"] == "Import Complete"
    copy = wait_for(cloud, DV, "copy", ns, "{.status.phase}", "Succeeded", timeout=90)
    assert copy["status"]["progress"] == "100.0%"
    copied = cloud.get("pvc", "copy", ns)["metadata"]["annotations"]
    assert copied["k8s.io/CloneOf"] == "true"


def test_an_unreachable_url_fails_the_importer_and_cdi_says_why(cloud: Cloud) -> None:
    """The importer exits 1; CDI restarts it and reports the error on the DataVolume."""
    ns = cloud.namespace()
    url = "https://images.example.invalid/x.img"
    cloud.apply(data_volume(ns, "bad", {"http": {"url": url}}))
    dv = wait_for(cloud, DV, "bad", ns, "{.status.restartCount}", "1", timeout=90)
    assert dv["status"]["phase"] == "ImportInProgress"
    running = next(c for c in dv["status"]["conditions"] if c["type"] == "Running")
    assert (running["status"], running["reason"]) == ("False", "Error")
    assert running["message"] == (
        f'Unable to connect to http data source: Get "{url}": dial tcp: '
        "lookup images.example.invalid: no such host"
    )


def test_cdi_api_refuses_what_the_crd_schema_cannot(cloud: Cloud) -> None:
    """cdi-apiserver's DataVolume webhook: a source naming nothing to import from."""
    ns = cloud.namespace()
    done = cloud.kubectl(
        "apply", "--server-side", "--field-manager=tests", "-f", "-", check=False,
        stdin=yaml.safe_dump(data_volume(ns, "empty", {"http": {"url": ""}})),
    )  # fmt: skip
    assert done.returncode != 0
    assert 'admission webhook "datavolume-validate.cdi.kubevirt.io" denied' in done.stderr
    assert "spec.source source URL is empty" in done.stderr


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


def _network(namespace: str, name: str) -> dict[str, object]:
    """A NetworkAttachmentDefinition: virt-controller renders a launcher pod only once the
    networks it names exist."""
    return {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"config": '{"cniVersion": "0.3.1", "type": "bridge"}'}}  # fmt: skip


def _launcher(cloud: Cloud, ns: str, vmi: dict[str, object]) -> dict[str, object]:
    uid = vmi["metadata"]["uid"]  # type: ignore[index]
    pods = cloud.kubectl("get", "pods", "-n", ns, "-l", f"kubevirt.io/created-by={uid}",
                         "-o", "json").stdout  # fmt: skip
    (pod,) = json.loads(pods)["items"]
    return pod  # type: ignore[no-any-return]


def test_a_vm_runs_on_a_kwok_node_with_its_addresses_then_stops(cloud: Cloud) -> None:
    """KubeVirt's own virt-controller makes the instance and its launcher pod (the real
    kube-scheduler places it); the simulated virt-handler starts it with its addresses."""
    ns = cloud.namespace()
    cloud.apply(data_volume(ns, "cirros", {"http": {"url": "https://example.com/cirros.img"}}))
    cloud.apply(_network(ns, "private"))
    inputs = _server(
        ns,
        interfaces=(compute.Interface("private", f"{ns}/private", "02:00:00:00:00:50",
                                      ("10.0.0.50/24",), "10.0.0.1"),),
        spec=servers.server(availabilityZone="zone-b"),
    )  # fmt: skip
    cloud.apply(compute.render_cloud_init_secret(inputs), compute.render_virtual_machine(inputs))
    wait_for(cloud, VM, "web-1", ns, "{.status.printableStatus}", "Running", timeout=90)
    wait_for(cloud, VM, "web-1", ns, "{.status.ready}", "true")
    vmi = cloud.get(VMI, "web-1", ns)
    assert vmi["status"]["nodeName"] == "compute-3"  # zone-b
    (interface,) = vmi["status"]["interfaces"]  # virt-controller adds its podInterfaceName
    assert {k: interface[k] for k in ("name", "mac", "ipAddress", "ipAddresses")} == {
        "name": "net0", "mac": "02:00:00:00:00:50", "ipAddress": "10.0.0.50",
        "ipAddresses": ["10.0.0.50"],
    }  # fmt: skip
    pod = _launcher(cloud, ns, vmi)
    assert pod["metadata"]["labels"]["compute.nimbus.dev/vcpus"] == "1"  # type: ignore[index]
    assert pod["spec"]["nodeName"] == "compute-3"  # type: ignore[index]
    assert cloud.get("pvc", "web-1-root", ns)["status"]["phase"] == "Bound"

    cloud.kubectl("patch", VM, "web-1", "-n", ns, "--type=merge",
                  "-p", '{"spec": {"runStrategy": "Halted"}}')  # fmt: skip
    wait_for(cloud, VM, "web-1", ns, "{.status.printableStatus}", "Stopped")
    wait_for_gone(cloud, VMI, "web-1", ns)


def wait_for_gone(cloud: Cloud, kind: str, name: str, ns: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while "NotFound" not in cloud.kubectl("get", kind, name, "-n", ns, check=False).stderr:
        assert time.monotonic() < deadline, f"{kind} {ns}/{name} still there"
        time.sleep(0.5)


def test_a_vm_no_node_can_take_is_unschedulable(cloud: Cloud) -> None:
    ns = cloud.namespace()
    cloud.apply(data_volume(ns, "cirros", {"http": {"url": "https://example.com/cirros.img"}}))
    inputs = _server(ns, spec=servers.server(availabilityZone="zone-nowhere"))
    cloud.apply(compute.render_cloud_init_secret(inputs), compute.render_virtual_machine(inputs))
    wait_for(cloud, VM, "web-1", ns, "{.status.printableStatus}", "ErrorUnschedulable",
             timeout=90)  # fmt: skip
    scheduled = [c for c in cloud.get(VMI, "web-1", ns)["status"]["conditions"]
                 if c["type"] == "PodScheduled"]  # fmt: skip
    assert scheduled[0]["reason"] == "Unschedulable"


def test_virt_api_refuses_what_the_crd_schema_cannot(cloud: Cloud) -> None:
    """KubeVirt's rules live in virt-api's webhooks, not in its CRD schema: a disk naming no
    volume, an interface naming no network, masquerade on a network other than the pod's, two
    disks booting first."""
    ns = cloud.namespace()
    vm = compute.render_virtual_machine(_server(ns))
    template = vm["spec"]["template"]["spec"]

    def refused(change: str) -> str:
        done = cloud.kubectl("apply", "--server-side", "--field-manager=tests", "--dry-run=server",
                             "-f", "-", stdin=yaml.safe_dump(vm), check=False)  # fmt: skip
        assert done.returncode != 0, f"{change}: admitted"
        return done.stderr

    template["domain"]["devices"]["disks"].append({"name": "orphan", "disk": {"bus": "virtio"}})
    assert "orphan" in refused("a disk without a volume")
    template["domain"]["devices"]["disks"].pop()
    interfaces = template["domain"]["devices"]["interfaces"]
    interfaces.append({"name": "nowhere", "bridge": {}})
    assert "nowhere" in refused("an interface without a network")
    interfaces.pop()
    template["networks"][0] = {"name": "default", "multus": {"networkName": f"{ns}/private"}}
    assert "Masquerade interface only implemented with pod network" in refused("masquerade")
    template["networks"][0] = {"name": "default", "pod": {}}
    for disk in template["domain"]["devices"]["disks"][:2]:
        disk["bootOrder"] = 1
    assert "already set for a different device" in refused("two disks booting first")


def _subresource(cloud: Cloud, ns: str, name: str, action: str, body: str = "{}") -> str:
    """PUT virtualmachineinstances/<name>/<action> through the API server, as virtctl does;
    what kubectl printed (its error, when refused)."""
    path = f"/apis/subresources.kubevirt.io/v1/namespaces/{ns}/virtualmachineinstances/{name}"
    done = cloud.kubectl("replace", "--raw", f"{path}/{action}", "-f", "-", stdin=body,
                         check=False)  # fmt: skip
    return (done.stdout + done.stderr).strip()


def test_virt_api_pauses_and_unpauses_a_running_instance(cloud: Cloud) -> None:
    """KubeVirt's aggregated API, through the API server: refusals in virt-api's words, a dry
    run that changes nothing, and the pause reaching the node's (simulated) virt-handler over
    mutual TLS: the Paused condition and printableStatus."""
    listed = json.loads(cloud.kubectl("get", "--raw", "/apis/subresources.kubevirt.io/v1").stdout)
    assert {"virtualmachineinstances/pause", "virtualmachineinstances/unpause"} <= {
        r["name"] for r in listed["resources"]
    }
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
    paused = [c for c in vm["status"]["conditions"] if c["type"] == "Paused"]
    assert (paused[0]["reason"], paused[0]["message"]) == ("PausedByUser", "VMI was paused by user")
    assert "VMI is already paused" in _subresource(cloud, ns, "web-1", "pause")
    assert _subresource(cloud, ns, "web-1", "unpause") == ""
    wait_for(cloud, VM, "web-1", ns, "{.status.printableStatus}", "Running")

    cloud.kubectl("patch", VM, "web-1", "-n", ns, "--type=merge",
                  "-p", '{"spec": {"runStrategy": "Halted"}}')  # fmt: skip
    wait_for(cloud, VM, "web-1", ns, "{.status.printableStatus}", "Stopped")
    wait_for_gone(cloud, VMI, "web-1", ns)
    assert "not found" in _subresource(cloud, ns, "web-1", "pause")


def test_the_simulated_virt_handler_answers_virt_api_alone(cloud: Cloud) -> None:
    """Called without KubeVirt's client certificate (here the cluster admin's), it refuses."""
    port = cloud.devcloud._state()["ports"]["virt-handler"]
    context = ssl.create_default_context(cafile=str(cloud.devcloud.kubevirt_pki / "ca.crt"))
    context.load_cert_chain(cloud.devcloud.pki_dir / "admin.crt",
                            cloud.devcloud.pki_dir / "admin.key")  # fmt: skip
    request = urllib.request.Request(
        f"https://127.0.0.1:{port}/v1/namespaces/x/virtualmachineinstances/y/pause", method="PUT"
    )
    # A client of another CA: the handshake fails, or (TLS 1.3) the server hangs up after it.
    with pytest.raises((ssl.SSLError, ConnectionError, urllib.error.URLError)):
        urllib.request.urlopen(request, context=context, timeout=10)


def test_a_deleted_instance_s_shutdown_never_touches_its_successor(cloud: Cloud) -> None:
    """The simulated virt-handler shuts down an instance being deleted, reading it again by name
    on a conflict: what it reads then may be the next instance (same name, another uid) or one
    no longer being deleted, which must run on. Marking it Succeeded made virt-controller stop
    it and start yet another: a resize restarting the server twice."""
    ns = cloud.namespace()
    cloud.apply(data_volume(ns, "cirros", {"http": {"url": "https://example.com/cirros.img"}}))
    cloud.apply(_network(ns, "private"))
    interface = compute.Interface("private", f"{ns}/private", "02:00:00:00:00:51",
                                  ("10.0.0.51/24",), "10.0.0.1")  # fmt: skip
    inputs = _server(ns, interfaces=(interface,))
    cloud.apply(compute.render_cloud_init_secret(inputs), compute.render_virtual_machine(inputs))
    wait_for(cloud, VMI, "web-1", ns, "{.status.phase}", "Running", timeout=90)
    running = cloud.get(VMI, "web-1", ns)
    # A copy as the handler saw an earlier instance of that name: being deleted, and stale.
    stale = json.loads(json.dumps(running))
    stale["metadata"].update(deletionTimestamp="2026-12-07T00:00:00Z", resourceVersion="1",
                             uid="00000000-0000-0000-0000-000000000001")  # fmt: skip

    async def shut() -> None:  # as the simulated handler does, writing as virt-handler
        admin = client.load_credentials(str(cloud.devcloud.kubeconfig))
        handler = client.load_credentials(
            str(cloud.devcloud.identity_kubeconfig("virt-handler")))  # fmt: skip
        async with client.Client(admin, kinds=kinds.table()) as api, \
                client.Client(handler, kinds=kinds.table()) as writer:  # fmt: skip
            await simulated.shut_down(api, writer, stale)

    asyncio.run(shut())
    after = cloud.get(VMI, "web-1", ns)
    assert (after["metadata"]["uid"], after["status"]["phase"]) == (
        running["metadata"]["uid"], "Running")  # fmt: skip
