"""SIMULATORS of the controllers that cannot run on a machine without a container runtime.

They do to the objects what the real controllers do, and only that, so that Nimbus's operator
can be exercised end to end against a real API server:

- CDI: a DataVolume gets its PVC, then imports with progress to Succeeded (a clone once its
  source exists); an http URL whose host is under the reserved `.invalid` domain (RFC 2606)
  fails as an unreachable one would. Nothing is downloaded: no request leaves the machine.
- a CSI provisioner: a pending PVC gets a PersistentVolume, which kube-controller-manager binds;
  a larger request resizes it.
- KubeVirt: a VirtualMachine that should run gets its DataVolumes, a VirtualMachineInstance and a
  virt-launcher pod carrying the template's labels, annotations, schedulerName and nodeSelector;
  the real kube-scheduler places the pod on a KWOK node; the VMI then reports Running with the
  node and the addresses of its cloud-init network data. Halted removes the VMI and the pod.
- external-snapshotter: a VolumeSnapshot becomes readyToUse with its claim's size.
- KubeVirt's virt-api: the aggregated API subresources.kubevirt.io/v1, its pause and unpause of
  a running VMI (the Paused condition, and the VM's printableStatus Paused), served over TLS on
  127.0.0.1 to the API server alone (its front-proxy client certificate), which has checked
  the caller's RBAC before it proxies.

Each handler does the next step and returns; the status it writes brings the next event.
Run with `nimbus devcloud simulate`; `nimbus devcloud up` starts it beside the control plane.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import datetime
import hashlib
import json
import logging
import os
import ssl
import urllib.parse
from typing import Any

import kopf
import yaml
from aiohttp import web

from nimbus.devcloud import pki
from nimbus.k8s import client
from nimbus.runtime import retrying

CDI = "cdi.kubevirt.io/v1beta1"
KUBEVIRT = "kubevirt.io/v1"
SNAPSHOT = "snapshot.storage.k8s.io/v1"
DRIVER = "simulated.csi.nimbus.dev"  # the provisioner of the devcloud's `standard` class
STEP = 0.2  # seconds between simulated progress steps
PROGRESS_STEPS = ("0.0%", "35.0%", "70.0%", "100.0%")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix="simulator.nimbus.dev"
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="simulator.nimbus.dev"
    )
    settings.posting.enabled = False
    settings.watching.server_timeout = 300
    memo.api = client.Client(client.load_credentials())
    address = os.environ.get("NIMBUS_VIRT_API_ADDRESS")
    memo.virt_api = await serve_virt_api(memo.api, address) if address else None


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    if memo.get("virt_api") is not None:
        await memo.virt_api.cleanup()
    await memo.api.close()


def _storage_request(spec: dict[str, Any]) -> str:
    storage = spec.get("storage") or spec.get("pvc") or {}
    return str(storage.get("resources", {}).get("requests", {}).get("storage", "1Gi"))


# -- CDI ------------------------------------------------------------------------------------


@kopf.on.event("cdi.kubevirt.io", "v1beta1", "datavolumes")
@retrying.retried
async def data_volume(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    api: client.Client = memo.api
    dv = dict(body)
    metadata, spec = dv["metadata"], dv["spec"]
    if metadata.get("deletionTimestamp"):
        return
    status = dv.get("status") or {}
    phase = status.get("phase")
    name, namespace = metadata["name"], metadata["namespace"]
    if phase in ("Succeeded", "Failed"):
        # The VM waiting for its disks is told, as virt-controller watches its DataVolumes.
        for owner in metadata.get("ownerReferences", []):
            if owner["kind"] == "VirtualMachine":
                vm = await api.get(KUBEVIRT, "VirtualMachine", owner["name"], namespace)
                if vm is not None and not vm["metadata"].get("deletionTimestamp"):
                    await reconcile_vm(api, vm)
        return
    claim: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "ownerReferences": [client.owner_reference(dv)],
        },
        "spec": {
            "accessModes": spec.get("storage", {}).get("accessModes", ["ReadWriteOnce"]),
            "resources": {"requests": {"storage": _storage_request(spec)}},
        },
    }
    storage_class = spec.get("storage", {}).get("storageClassName")
    if storage_class:
        claim["spec"]["storageClassName"] = storage_class
    if phase is None and await api.get("v1", "PersistentVolumeClaim", name, namespace) is None:
        await api.apply(claim)  # once: a DataVolume with a phase has its claim
    source = spec.get("source", {})
    http = source.get("http")
    if http and (urllib.parse.urlparse(http["url"]).hostname or "").endswith(".invalid"):
        await _dv_status(api, dv, "Failed", status.get("progress", "0.0%"),
                         f"Unable to connect to http data source: {http['url']}")  # fmt: skip
        return
    clone = source.get("pvc") or source.get("snapshot")
    if clone is not None and not await _wait_for_clone_source(api, dv, source, clone):
        return
    await asyncio.sleep(STEP)
    if phase in (None, "Pending", "CloneScheduled", "ImportScheduled") or not phase:
        await _dv_status(api, dv, "ImportInProgress" if clone is None else "CloneInProgress",
                         PROGRESS_STEPS[0])  # fmt: skip
        return
    current = status.get("progress", PROGRESS_STEPS[0])
    index = PROGRESS_STEPS.index(current) if current in PROGRESS_STEPS else 0
    if index + 1 < len(PROGRESS_STEPS) - 1:
        await _dv_status(api, dv, phase, PROGRESS_STEPS[index + 1])
        return
    await _dv_status(api, dv, "Succeeded", PROGRESS_STEPS[-1])


_READY_SOURCES: set[tuple[str, str, str]] = set()


async def _wait_for_clone_source(
    api: client.Client, dv: dict[str, Any], source: dict[str, Any], clone: dict[str, str]
) -> bool:
    """Wait (up to two minutes) for a clone's source: a bound PVC or a ready snapshot."""
    kind = "PersistentVolumeClaim" if "pvc" in source else "VolumeSnapshot"
    api_version = "v1" if kind == "PersistentVolumeClaim" else SNAPSHOT
    key = (kind, clone["namespace"], clone["name"])
    if key in _READY_SOURCES:
        return True
    for attempt in range(240):
        found = await api.get(api_version, kind, clone["name"], clone["namespace"])
        status = (found or {}).get("status", {})
        if status.get("phase") == "Bound" or status.get("readyToUse") is True:
            _READY_SOURCES.add(key)  # a bound claim or a ready snapshot stays so
            return True
        if attempt == 0:
            await _dv_status(api, dv, "CloneScheduled", "N/A",
                             f"waiting for the clone source {kind} "
                             f"{clone['namespace']}/{clone['name']}")  # fmt: skip
        await asyncio.sleep(0.5)
    return False


async def _dv_status(
    api: client.Client, dv: dict[str, Any], phase: str, progress: str, message: str = ""
) -> None:
    metadata = dv["metadata"]
    ready = "True" if phase == "Succeeded" else "False"
    conditions = [
        {"type": "Bound", "status": "True", "reason": "Bound", "message": "",
         "lastTransitionTime": _now(), "lastHeartbeatTime": _now()},
        {"type": "Ready", "status": ready, "reason": phase, "message": message,
         "lastTransitionTime": _now(), "lastHeartbeatTime": _now()},
        {"type": "Running", "status": "True" if phase.endswith("InProgress") else "False",
         "reason": "Error" if phase == "Failed" else phase, "message": message,
         "lastTransitionTime": _now(), "lastHeartbeatTime": _now()},
    ]  # fmt: skip
    await api.patch_status(
        CDI, "DataVolume", metadata["name"], metadata["namespace"],
        {"phase": phase, "progress": progress, "claimName": metadata["name"],
         "conditions": conditions},
    )  # fmt: skip


# -- a CSI provisioner ----------------------------------------------------------------------


_PROVISIONERS: dict[str, str] = {}  # StorageClass -> its provisioner
_PROVISIONED: set[str] = set()  # the volumes made, by name (a claim's uid in it)


@kopf.on.event("", "v1", "persistentvolumeclaims")
@retrying.retried
async def claim(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    api: client.Client = memo.api
    pvc = dict(body)
    metadata, spec, status = pvc["metadata"], pvc["spec"], pvc.get("status") or {}
    if metadata.get("deletionTimestamp"):
        return
    request = spec["resources"]["requests"]["storage"]
    volume_name = f"pv-{metadata['uid']}"
    if status.get("phase") == "Bound":
        capacity = status.get("capacity", {}).get("storage")
        if capacity is not None and capacity != request and spec.get("volumeName") == volume_name:
            await api.apply(_volume(pvc, volume_name, request))
            capacity_patch = {"capacity": {"storage": request}}
            await api.patch_status(
                "v1",
                "PersistentVolumeClaim",
                metadata["name"],
                metadata["namespace"],
                capacity_patch,
            )
        return
    if spec.get("volumeName") and spec["volumeName"] != volume_name:
        return  # bound to a volume someone else made
    class_name = spec.get("storageClassName") or ""
    provisioner = _PROVISIONERS.get(class_name)
    if provisioner is None:
        storage_class = await api.get("storage.k8s.io/v1", "StorageClass", class_name)
        provisioner = (storage_class or {}).get("provisioner", "")
        if storage_class is not None:  # a class's provisioner is immutable
            _PROVISIONERS[class_name] = provisioner
    if provisioner != DRIVER:
        return  # another driver's claim: it stays Pending, as it would without that driver
    if (
        volume_name not in _PROVISIONED
        and await api.get("v1", "PersistentVolume", volume_name) is None
    ):
        await api.apply(_volume(pvc, volume_name, request))
    _PROVISIONED.add(volume_name)


def _volume(pvc: dict[str, Any], name: str, size: str) -> dict[str, Any]:
    metadata, spec = pvc["metadata"], pvc["spec"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": name,
            "labels": {"simulator.nimbus.dev/provisioned": "true"},
            "annotations": {"pv.kubernetes.io/provisioned-by": DRIVER},
        },
        "spec": {
            "capacity": {"storage": size},
            "accessModes": spec.get("accessModes", ["ReadWriteOnce"]),
            "persistentVolumeReclaimPolicy": "Retain",  # deleted by released_volume below
            "storageClassName": spec.get("storageClassName") or "",
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "csi": {"driver": DRIVER, "volumeHandle": metadata["uid"]},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": metadata["namespace"],
                "name": metadata["name"],
                "uid": metadata["uid"],
            },
        },
    }


@kopf.on.event("", "v1", "persistentvolumes", labels={"simulator.nimbus.dev/provisioned": "true"})
@retrying.retried
async def released_volume(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A simulated volume whose claim is gone is deleted, as a Delete reclaim policy would."""
    if (body.get("status") or {}).get("phase") == "Released":
        await memo.api.delete("v1", "PersistentVolume", body["metadata"]["name"])


# -- external-snapshotter -------------------------------------------------------------------


@kopf.on.event("snapshot.storage.k8s.io", "v1", "volumesnapshots")
@retrying.retried
async def volume_snapshot(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    api: client.Client = memo.api
    metadata, status = body["metadata"], body.get("status") or {}
    if metadata.get("deletionTimestamp") or status.get("readyToUse"):
        return
    claim_name = body["spec"]["source"].get("persistentVolumeClaimName")
    pvc = None
    for _attempt in range(240):  # up to two minutes for the claim to be bound
        pvc = await api.get("v1", "PersistentVolumeClaim", claim_name, metadata["namespace"])
        if pvc is not None and pvc.get("status", {}).get("phase") == "Bound":
            break
        await asyncio.sleep(0.5)
    else:
        error = {"time": _now(), "message": f"PersistentVolumeClaim {claim_name} is not bound"}
        await api.patch_status(
            SNAPSHOT, "VolumeSnapshot", metadata["name"], metadata["namespace"],
            {"readyToUse": False, "error": error},
        )  # fmt: skip
        return
    assert pvc is not None
    await asyncio.sleep(STEP)
    await api.patch_status(
        SNAPSHOT, "VolumeSnapshot", metadata["name"], metadata["namespace"],
        {"readyToUse": True, "creationTime": _now(),
         "restoreSize": pvc["status"]["capacity"]["storage"],
         "boundVolumeSnapshotContentName": f"snapcontent-{metadata['uid']}"},
    )  # fmt: skip


# -- KubeVirt -------------------------------------------------------------------------------


def launcher_pod_name(vm: str) -> str:
    return f"virt-launcher-{vm}-{hashlib.sha256(vm.encode()).hexdigest()[:5]}"


# The generation of each VM last reconciled on its own event: virt-controller acts on a VM's
# spec, not on the status it wrote itself (its pods, instances and disks have their own events).
_SEEN_GENERATIONS: dict[str, int] = {}


@kopf.on.event("kubevirt.io", "v1", "virtualmachines")
@retrying.retried
async def virtual_machine(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    uid, generation = body["metadata"]["uid"], body["metadata"].get("generation", 0)
    if type == "DELETED":
        _SEEN_GENERATIONS.pop(uid, None)
        return
    if body["metadata"].get("deletionTimestamp") or _SEEN_GENERATIONS.get(uid) == generation:
        return
    _SEEN_GENERATIONS[uid] = generation
    await reconcile_vm(memo.api, dict(body))


@kopf.on.event("", "v1", "pods", labels={"kubevirt.io": "virt-launcher"})
@retrying.retried
async def launcher_pod(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A launcher pod moved (scheduled, running, unschedulable): its VM's status follows."""
    vm_name = body["metadata"]["labels"].get("vm.kubevirt.io/name")
    vm = await memo.api.get(KUBEVIRT, "VirtualMachine", vm_name, body["metadata"]["namespace"])
    if vm is not None and not vm["metadata"].get("deletionTimestamp"):
        await reconcile_vm(memo.api, vm)


@kopf.on.event("kubevirt.io", "v1", "virtualmachineinstances")
@retrying.retried
async def instance(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    """An instance deleted while its VM should run (a restart) is made again."""
    if type != "DELETED":
        return
    vm = await memo.api.get(KUBEVIRT, "VirtualMachine", body["metadata"]["name"],
                            body["metadata"]["namespace"])  # fmt: skip
    if vm is not None and not vm["metadata"].get("deletionTimestamp"):
        await reconcile_vm(memo.api, vm)


# One reconciliation of a VM at a time, as virt-controller's work queue has one worker per key:
# a VM's, its pod's and its instance's events all reconcile the VM, and two at once would let
# the one that read the pod first write its (older) status last.
_VM_LOCKS: collections.defaultdict[tuple[str, str], asyncio.Lock] = collections.defaultdict(
    asyncio.Lock
)


async def reconcile_vm(api: client.Client, vm: dict[str, Any]) -> None:
    async with _VM_LOCKS[(vm["metadata"]["namespace"], vm["metadata"]["name"])]:
        await _reconcile_vm(api, vm)


async def _reconcile_vm(api: client.Client, vm: dict[str, Any]) -> None:
    metadata, spec = vm["metadata"], vm["spec"]
    name, namespace = metadata["name"], metadata["namespace"]
    strategy = spec.get("runStrategy") or ("Always" if spec.get("running") else "Halted")
    pod_name = launcher_pod_name(name)
    if strategy == "Halted":
        if (vm.get("status") or {}).get("printableStatus") not in (None, "Stopped"):
            await api.delete(KUBEVIRT, "VirtualMachineInstance", name, namespace)
            await api.delete("v1", "Pod", pod_name, namespace)
        await _vm_status(api, vm, "Stopped", ready=False)
        return

    volumes = []
    for template in spec.get("dataVolumeTemplates", []):
        dv_name = template["metadata"]["name"]
        dv = await api.get(CDI, "DataVolume", dv_name, namespace)
        if dv is None:
            dv = await api.apply({"apiVersion": CDI, "kind": "DataVolume",
                                  "metadata": {"name": dv_name, "namespace": namespace,
                                               "ownerReferences": [client.owner_reference(vm)]},
                                  "spec": template["spec"]})  # fmt: skip
        volumes.append(dv)
    for dv in volumes:
        phase = (dv or {}).get("status", {}).get("phase")
        if phase == "Failed":
            await _vm_status(api, vm, "DataVolumeError", ready=False)
            return
        if phase != "Succeeded":
            await _vm_status(api, vm, "Provisioning", ready=False)
            return

    template = spec["template"]
    labels = {**template.get("metadata", {}).get("labels", {}), "kubevirt.io/domain": name}
    vmi_spec = template["spec"]
    vmi = await api.get(KUBEVIRT, "VirtualMachineInstance", name, namespace)
    if vmi is not None and vmi["metadata"].get("deletionTimestamp"):
        return  # a restart: the new instance comes once this one is gone
    if vmi is None:
        vmi = await api.apply({
            "apiVersion": KUBEVIRT, "kind": "VirtualMachineInstance",
            "metadata": {"name": name, "namespace": namespace, "labels": labels,
                         "annotations": template.get("metadata", {}).get("annotations", {}),
                         "ownerReferences": [client.owner_reference(vm)]},
            "spec": vmi_spec,
        })  # fmt: skip
    pod = await api.get("v1", "Pod", pod_name, namespace)
    owners = [o.get("uid") for o in (pod or {}).get("metadata", {}).get("ownerReferences", [])]
    if pod is not None and vmi["metadata"]["uid"] not in owners:
        await api.delete("v1", "Pod", pod_name, namespace)  # the last instance's pod
        return  # its deletion brings us back
    if pod is None:
        pod = await api.apply(_launcher_pod(pod_name, namespace, vmi, labels, template))
    pod_status = pod.get("status") or {}
    scheduled = next((c for c in pod_status.get("conditions", [])
                      if c["type"] == "PodScheduled"), None)  # fmt: skip
    if scheduled is not None and scheduled.get("reason") == "Unschedulable":
        waiting = {  # virt-controller copies the pod's condition to the VMI
            "phase": "Scheduling",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                            "message": scheduled.get("message", "")}],
        }  # fmt: skip
        await _vmi_status(api, vmi, waiting)
        await _vm_status(api, vm, "ErrorUnschedulable", ready=False)
        return
    if pod_status.get("phase") != "Running":
        await _vm_status(api, vm, "Starting", ready=False)
        return
    current = vmi.get("status") or {}
    if current.get("phase") == "Running" and current.get("nodeName") == pod["spec"]["nodeName"]:
        # A guest's addresses do not move; a paused one stays paused.
        await _vm_status(api, vm, "Paused" if _paused(vmi) else "Running", ready=True)
        return
    interfaces = await _interfaces(api, namespace, vmi_spec, pod_status.get("podIP"))
    running = {
        "phase": "Running",
        "nodeName": pod["spec"]["nodeName"],
        "interfaces": interfaces,
        "conditions": [{"type": "Ready", "status": "True"}],
    }
    await _vmi_status(api, vmi, running)
    await _vm_status(api, vm, "Running", ready=True)


async def _vmi_status(api: client.Client, vmi: dict[str, Any], status: dict[str, Any]) -> None:
    """Write the VMI's status if it changed (virt-handler writes only what changed). The same
    apply keeps the labels, annotations and owner it was made with: what an apply leaves out,
    its field manager gives up (and the garbage collector would not find the VM's instance)."""
    if vmi.get("status") == status:
        return
    kept = ("name", "namespace", "labels", "annotations", "ownerReferences")
    await api.apply({
        "apiVersion": vmi["apiVersion"], "kind": vmi["kind"],
        "metadata": {k: vmi["metadata"][k] for k in kept if k in vmi["metadata"]},
        "spec": vmi["spec"], "status": status,
    })  # fmt: skip


def _launcher_pod(
    name: str,
    namespace: str,
    vmi: dict[str, Any],
    labels: dict[str, str],
    template: dict[str, Any],
) -> dict[str, Any]:
    """What virt-controller makes: requests of a tenth of the vCPUs (KubeVirt's default
    cpuAllocationRatio) and the guest memory."""
    domain = template["spec"]["domain"]
    cpu = domain.get("cpu", {})
    vcpus = cpu.get("sockets", 1) * cpu.get("cores", 1) * cpu.get("threads", 1)
    memory = domain.get("memory", {}).get("guest", "1Gi")
    spec: dict[str, Any] = {
        "containers": [{
            "name": "compute",
            "image": "quay.io/kubevirt/virt-launcher:v1.9.0",
            "resources": {"requests": {"cpu": f"{vcpus * 100}m", "memory": memory}},
        }],
        "restartPolicy": "Never",
    }  # fmt: skip
    for key in ("schedulerName", "nodeSelector", "tolerations", "affinity"):
        if key in template["spec"]:
            spec[key] = template["spec"][key]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**labels, "kubevirt.io": "virt-launcher",
                       "vm.kubevirt.io/name": vmi["metadata"]["name"]},
            "annotations": template.get("metadata", {}).get("annotations", {}),
            "ownerReferences": [client.owner_reference(vmi)],
        },
        "spec": spec,
    }  # fmt: skip


async def _interfaces(
    api: client.Client, namespace: str, vmi_spec: dict[str, Any], pod_ip: str | None
) -> list[dict[str, Any]]:
    """The guest's interfaces: what its cloud-init network data configures (as a guest would),
    and the pod's address on the pod network."""
    addresses_by_mac: dict[str, list[str]] = {}
    for volume in vmi_spec.get("volumes", []):
        ref = volume.get("cloudInitNoCloud", {}).get("networkDataSecretRef")
        if ref:
            secret = None
            for _attempt in range(20):  # a pod mounting a missing Secret waits for it
                secret = await api.get("v1", "Secret", ref["name"], namespace)
                if secret is not None:
                    break
                await asyncio.sleep(0.5)
            raw = (secret or {}).get("data", {}).get("networkdata")
            data = yaml.safe_load(base64.b64decode(raw)) if raw else {}
            for ethernet in (data or {}).get("ethernets", {}).values():
                mac = ethernet.get("match", {}).get("macaddress")
                if mac:
                    addresses_by_mac[mac] = [a.split("/")[0] for a in ethernet.get("addresses", [])]
    interfaces = []
    for interface in vmi_spec["domain"]["devices"].get("interfaces", []):
        entry: dict[str, Any] = {"name": interface["name"]}
        if "masquerade" in interface and pod_ip:
            entry.update(ipAddress=pod_ip, ipAddresses=[pod_ip])
        mac = interface.get("macAddress")
        if mac:
            entry["mac"] = mac
            ips = addresses_by_mac.get(mac, [])
            if ips:
                entry.update(ipAddress=ips[0], ipAddresses=ips)
        interfaces.append(entry)
    return interfaces


async def _vm_status(
    api: client.Client, vm: dict[str, Any], printable: str, *, ready: bool
) -> None:
    """The VM's printableStatus and readiness; a paused one carries its instance's Paused
    condition, as virt-controller copies it."""
    current = vm.get("status") or {}
    conditions = [_PAUSED_CONDITION] if printable == "Paused" else []
    paused_before = [c for c in current.get("conditions") or [] if c.get("type") == "Paused"]
    if (
        current.get("printableStatus") == printable
        and current.get("ready", False) == ready
        and bool(paused_before) == bool(conditions)
    ):
        return
    await api.patch_status(
        KUBEVIRT, "VirtualMachine", vm["metadata"]["name"], vm["metadata"]["namespace"],
        {"printableStatus": printable, "ready": ready, "created": printable != "Stopped",
         "conditions": conditions},
    )  # fmt: skip


# -- KubeVirt's virt-api: the aggregated subresources ------------------------------------------

SUBRESOURCES = "subresources.kubevirt.io"
_PAUSED_CONDITION = {
    "type": "Paused", "status": "True", "reason": "PausedByUser",
    "message": "VMI was paused by user",
}  # fmt: skip


def _paused(vmi: dict[str, Any] | None) -> bool:
    conditions = ((vmi or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Paused" and c.get("status") == "True" for c in conditions)


def _status_error(code: int, reason: str, message: str) -> web.Response:
    """A Kubernetes Status, as virt-api answers a refused request."""
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}  # fmt: skip
    return web.json_response(body, status=code)


def _conflict(name: str, why: str) -> web.Response:
    return _status_error(
        409, "Conflict",
        f'Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io "{name}": {why}',
    )  # fmt: skip


def virt_api(api: client.Client) -> web.Application:
    """The routes of the simulated virt-api."""

    async def discovery(_request: web.Request) -> web.Response:
        resources = [
            {"name": f"virtualmachineinstances/{action}", "singularName": "", "namespaced": True,
             "kind": "VirtualMachineInstance", "verbs": ["update"]}
            for action in ("pause", "unpause")
        ]  # fmt: skip
        return web.json_response(
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{SUBRESOURCES}/v1",
                "resources": resources,
            }
        )

    async def act(request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        action = request.match_info["action"]
        text = await request.text()
        try:
            options = json.loads(text) if text.strip() else {}
        except ValueError:
            message = f"Can not unmarshal Request body to struct: {text[:200]}"
            return _status_error(400, "BadRequest", message)
        dry_run = "All" in (options.get("dryRun") or [])
        async with _VM_LOCKS[(namespace, name)]:
            vmi = await api.get(KUBEVIRT, "VirtualMachineInstance", name, namespace)
            if vmi is None:
                return _status_error(
                    404, "NotFound", f'virtualmachineinstance.kubevirt.io "{name}" not found'
                )
            running = (vmi.get("status") or {}).get("phase") == "Running"
            if action == "pause":
                if not running:
                    return _conflict(name, "VM is not running")
                if _paused(vmi):
                    return _conflict(name, "VMI is already paused")
            else:
                if not running:
                    return _conflict(name, "VMI is not running")
                if not _paused(vmi):
                    return _conflict(name, "VMI is not paused")
            if dry_run:
                return web.Response(status=200)
            status = dict(vmi.get("status") or {})
            kept = [c for c in status.get("conditions") or [] if c.get("type") != "Paused"]
            if action == "pause":
                kept.append({**_PAUSED_CONDITION, "lastTransitionTime": _now(),
                             "lastProbeTime": _now()})  # fmt: skip
            await _vmi_status(api, vmi, {**status, "conditions": kept})
            vm = await api.get(KUBEVIRT, "VirtualMachine", name, namespace)
            if vm is not None:
                await _vm_status(api, vm, "Paused" if action == "pause" else "Running", ready=True)
        logging.getLogger(__name__).info(
            "%s %s/%s for %s", action, namespace, name, request.headers.get("X-Remote-User")
        )
        return web.Response(status=200)

    app = web.Application(middlewares=[_front_proxy_only])
    app.router.add_get(f"/apis/{SUBRESOURCES}/v1", discovery)
    app.router.add_put(
        f"/apis/{SUBRESOURCES}/v1/namespaces/{{namespace}}/virtualmachineinstances/{{name}}"
        "/{action:pause|unpause}",
        act,
    )
    return app


@web.middleware
async def _front_proxy_only(request: web.Request, handler: Any) -> web.StreamResponse:
    """Only the API server, by its front-proxy client certificate (the TLS handshake has
    checked it against the front-proxy CA), may call: it has authenticated and authorized the
    user it names in X-Remote-User."""
    peer = request.transport.get_extra_info("peercert") if request.transport else None
    names = [value for rdn in (peer or {}).get("subject", ()) for key, value in rdn
             if key == "commonName"]  # fmt: skip
    if pki.FRONT_PROXY_CLIENT not in names:  # the API server's --requestheader-allowed-names
        return _status_error(401, "Unauthorized", "Unauthorized")
    response: web.StreamResponse = await handler(request)
    return response


async def serve_virt_api(api: client.Client, address: str) -> web.AppRunner:
    """Serve the simulated virt-api at `address` (host:port) with the certificate in
    $NIMBUS_VIRT_API_CERT_DIR, trusting clients of $NIMBUS_VIRT_API_CLIENT_CA."""
    certs = os.environ["NIMBUS_VIRT_API_CERT_DIR"]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(f"{certs}/tls.crt", f"{certs}/tls.key")
    context.load_verify_locations(os.environ["NIMBUS_VIRT_API_CLIENT_CA"])
    context.verify_mode = ssl.CERT_REQUIRED
    runner = web.AppRunner(virt_api(api), access_log=None)
    await runner.setup()
    host, _colon, port = address.rpartition(":")
    await web.TCPSite(runner, host, int(port), ssl_context=context).start()
    return runner


def run() -> None:
    """Run the simulators until interrupted."""
    logging.getLogger("kopf").setLevel(logging.WARNING)
    kopf.run(standalone=True, clusterwide=True)
