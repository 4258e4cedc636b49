"""KubeVirt's virt-controller and virt-handler, simulated: a VirtualMachine that should run gets
its DataVolumes, a VirtualMachineInstance and a virt-launcher pod carrying the template's labels,
annotations, schedulerName and nodeSelector; the real kube-scheduler places the pod on a KWOK
node; the VMI then reports Running with the node and the addresses of its cloud-init network
data. Halted removes the VMI and the pod."""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
from typing import Any

import kopf
import yaml

from nimbus.k8s import client
from nimbus.runtime import retrying

from . import shared

PAUSED_CONDITION = {
    "type": "Paused", "status": "True", "reason": "PausedByUser",
    "message": "VMI was paused by user",
}  # fmt: skip


def launcher_pod_name(vm: str) -> str:
    return f"virt-launcher-{vm}-{hashlib.sha256(vm.encode()).hexdigest()[:5]}"


def paused(vmi: dict[str, Any] | None) -> bool:
    conditions = ((vmi or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Paused" and c.get("status") == "True" for c in conditions)


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
    vm = await memo.api.get(
        shared.KUBEVIRT, "VirtualMachine", vm_name, body["metadata"]["namespace"]
    )
    if vm is not None and not vm["metadata"].get("deletionTimestamp"):
        await reconcile_vm(memo.api, vm)


@kopf.on.event("kubevirt.io", "v1", "virtualmachineinstances")
@retrying.retried
async def instance(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    """An instance deleted while its VM should run (a restart) is made again."""
    if type != "DELETED":
        return
    vm = await memo.api.get(shared.KUBEVIRT, "VirtualMachine", body["metadata"]["name"],
                            body["metadata"]["namespace"])  # fmt: skip
    if vm is not None and not vm["metadata"].get("deletionTimestamp"):
        await reconcile_vm(memo.api, vm)


# One reconciliation of a VM at a time, as virt-controller's work queue has one worker per key:
# a VM's, its pod's and its instance's events all reconcile the VM, and two at once would let
# the one that read the pod first write its (older) status last. virt-api's pause and unpause
# take the same lock.
VM_LOCKS: collections.defaultdict[tuple[str, str], asyncio.Lock] = collections.defaultdict(
    asyncio.Lock
)


async def reconcile_vm(api: client.Client, vm: dict[str, Any]) -> None:
    async with VM_LOCKS[(vm["metadata"]["namespace"], vm["metadata"]["name"])]:
        await _reconcile_vm(api, vm)


async def _reconcile_vm(api: client.Client, vm: dict[str, Any]) -> None:
    metadata, spec = vm["metadata"], vm["spec"]
    name, namespace = metadata["name"], metadata["namespace"]
    strategy = spec.get("runStrategy") or ("Always" if spec.get("running") else "Halted")
    pod_name = launcher_pod_name(name)
    if strategy == "Halted":
        if (vm.get("status") or {}).get("printableStatus") not in (None, "Stopped"):
            await api.delete(shared.KUBEVIRT, "VirtualMachineInstance", name, namespace)
            await api.delete("v1", "Pod", pod_name, namespace)
        await vm_status(api, vm, "Stopped", ready=False)
        return

    volumes = []
    for template in spec.get("dataVolumeTemplates", []):
        dv_name = template["metadata"]["name"]
        dv = await api.get(shared.CDI, "DataVolume", dv_name, namespace)
        if dv is None:
            dv = await api.apply({"apiVersion": shared.CDI, "kind": "DataVolume",
                                  "metadata": {"name": dv_name, "namespace": namespace,
                                               "ownerReferences": [client.owner_reference(vm)]},
                                  "spec": template["spec"]})  # fmt: skip
        volumes.append(dv)
    for dv in volumes:
        phase = (dv or {}).get("status", {}).get("phase")
        if phase == "Failed":
            await vm_status(api, vm, "DataVolumeError", ready=False)
            return
        if phase != "Succeeded":
            await vm_status(api, vm, "Provisioning", ready=False)
            return

    template = spec["template"]
    labels = {**template.get("metadata", {}).get("labels", {}), "kubevirt.io/domain": name}
    vmi_spec = template["spec"]
    vmi = await api.get(shared.KUBEVIRT, "VirtualMachineInstance", name, namespace)
    if vmi is not None and vmi["metadata"].get("deletionTimestamp"):
        return  # a restart: the new instance comes once this one is gone
    if vmi is None:
        vmi = await api.apply({
            "apiVersion": shared.KUBEVIRT, "kind": "VirtualMachineInstance",
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
        await vmi_status(api, vmi, waiting)
        await vm_status(api, vm, "ErrorUnschedulable", ready=False)
        return
    if pod_status.get("phase") != "Running":
        await vm_status(api, vm, "Starting", ready=False)
        return
    current = vmi.get("status") or {}
    if current.get("phase") == "Running" and current.get("nodeName") == pod["spec"]["nodeName"]:
        # A guest's addresses do not move; a paused one stays paused.
        await vm_status(api, vm, "Paused" if paused(vmi) else "Running", ready=True)
        return
    interfaces = await _interfaces(api, namespace, vmi_spec, pod_status.get("podIP"))
    running = {
        "phase": "Running",
        "nodeName": pod["spec"]["nodeName"],
        "interfaces": interfaces,
        "conditions": [{"type": "Ready", "status": "True"}],
    }
    await vmi_status(api, vmi, running)
    await vm_status(api, vm, "Running", ready=True)


async def vmi_status(api: client.Client, vmi: dict[str, Any], status: dict[str, Any]) -> None:
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


async def vm_status(api: client.Client, vm: dict[str, Any], printable: str, *, ready: bool) -> None:
    """The VM's printableStatus and readiness; a paused one carries its instance's Paused
    condition, as virt-controller copies it."""
    current = vm.get("status") or {}
    conditions = [PAUSED_CONDITION] if printable == "Paused" else []
    paused_before = [c for c in current.get("conditions") or [] if c.get("type") == "Paused"]
    if (
        current.get("printableStatus") == printable
        and current.get("ready", False) == ready
        and bool(paused_before) == bool(conditions)
    ):
        return
    await api.patch_status(
        shared.KUBEVIRT, "VirtualMachine", vm["metadata"]["name"], vm["metadata"]["namespace"],
        {"printableStatus": printable, "ready": ready, "created": printable != "Stopped",
         "conditions": conditions},
    )  # fmt: skip
