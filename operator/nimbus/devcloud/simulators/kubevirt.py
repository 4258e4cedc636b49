"""KubeVirt's node side, simulated: what virt-handler (and the virt-launcher it talks to) does on
a node that cannot run a guest. KubeVirt's own virt-api and virt-controller run for real: they
admit the VM, make its instance and launcher pod, and the real kube-scheduler places the pod on
a KWOK node. Then, as the handler would, writing as the handler's service account:

- an instance virt-controller has Scheduled on a node starts: Running, with interfaces at the
  addresses its cloud-init network data configures (as a guest would) and the pod's address on
  the pod network;
- an instance being deleted shuts down: Succeeded, so virt-controller can let it go;
- a volume hotplugged into a running instance (once virt-controller's attachment pod is ready)
  is attached to the domain, and one unplugged is unmounted, as `hotplugged` says;
- each KWOK node carries the handler's heartbeat, so virt-controller keeps its instances;
- virt-api's calls to a node's handler (pause, unpause) are served over mutual TLS under
  KubeVirt's CA, at 127.0.0.1 (the handler pods run on the KWOK nodes' host network), and set
  the instance's Paused condition as a paused domain would."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import ssl
from typing import Any

import kopf
import yaml
from aiohttp import web

from nimbus.devcloud import pki
from nimbus.k8s import client
from nimbus.runtime import retrying

from . import shared

PAUSED_CONDITION = {
    "type": "Paused", "status": "True", "reason": "PausedByUser",
    "message": "VMI was paused by user",
}  # fmt: skip
HEARTBEAT = "kubevirt.io/heartbeat"
HEARTBEAT_INTERVAL = 30.0  # seconds; virt-controller gives up on a node after 5 minutes


def paused(vmi: dict[str, Any] | None) -> bool:
    conditions = ((vmi or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Paused" and c.get("status") == "True" for c in conditions)


def handler(memo: kopf.Memo) -> client.Client:
    """The client that writes as virt-handler's service account (the admin's when none)."""
    writer: client.Client = memo.get("handler") or memo.api
    return writer


@kopf.on.event("kubevirt.io", "v1", "virtualmachineinstances")
@retrying.retried
async def instance(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    if type == "DELETED":
        return
    vmi = dict(body)
    status = vmi.get("status") or {}
    phase = status.get("phase")
    if vmi["metadata"].get("deletionTimestamp"):
        await shut_down(memo.api, handler(memo), vmi)
        return
    if phase == "Running":
        await _hotplug(handler(memo), vmi)
        return
    if phase != "Scheduled" or not status.get("nodeName"):
        return
    pod = await _launcher_pod(memo.api, vmi)
    interfaces = await _interfaces(
        memo.api,
        vmi["metadata"]["namespace"],
        vmi["spec"],
        (pod or {}).get("status", {}).get("podIP"),
    )
    running = {
        **moved(status, "Running"),
        "interfaces": interfaces,
        "machine": {"type": "q35"},
        "selinuxContext": "none",  # the node's, as the handler reports it: a host without SELinux
        "launcherContainerImageVersion": (pod or {})
        .get("spec", {})
        .get("containers", [{}])[0]
        .get("image"),
    }
    await write_status(handler(memo), vmi, running)


async def shut_down(api: client.Client, writer: client.Client, vmi: dict[str, Any] | None) -> None:
    """An instance being deleted: the domain shuts down and the launcher exits, Succeeded. At
    once, and again on a conflict (virt-controller writes the instance too): KWOK removes the
    launcher pod without the grace a real one takes, and an instance still Running when its pod
    is gone is Failed, which virt-controller counts as a crash. Only that instance: read again
    by name, the instance may already be its successor (same name, another uid), which runs on."""
    uid = ((vmi or {}).get("metadata") or {}).get("uid")
    for _attempt in range(20):
        if vmi is None or (vmi.get("status") or {}).get("phase") not in ("Scheduled", "Running"):
            return
        if vmi["metadata"].get("uid") != uid or not vmi["metadata"].get("deletionTimestamp"):
            return  # the one being deleted is gone: this is the next instance
        try:
            await write_status(writer, vmi, moved(vmi["status"], "Succeeded"))
            return
        except client.ApiError as error:
            if error.status != 409:
                raise
        metadata = vmi["metadata"]
        vmi = await api.get(
            shared.KUBEVIRT, "VirtualMachineInstance", metadata["name"], metadata["namespace"]
        )


def hotplugged(vmi: dict[str, Any]) -> list[dict[str, Any]]:
    """The volume statuses once the handler has done its part of a hotplug, as virt-handler
    does it: a volume virt-controller has attached to the node (its attachment pod ready) is
    attached to the domain, Ready at the next free SCSI target; one gone from the spec is
    unmounted from the launcher, after which virt-controller deletes its attachment pod and
    its status."""
    statuses = ((vmi.get("status") or {}).get("volumeStatus")) or []
    in_spec = {v["name"] for v in vmi["spec"].get("volumes", [])}
    used = {s.get("target") for s in statuses if s.get("target")}
    result = []
    for status in statuses:
        hotplug, name = status.get("hotplugVolume"), status["name"]
        if hotplug is None:
            result.append(status)
        elif name in in_spec and status.get("phase") in ("AttachedToNode", "MountedToPod"):
            if not hotplug.get("attachPodUID"):  # the attachment pod is not ready yet
                result.append(status)
                continue
            target = next(t for t in _scsi_targets() if t not in used)
            used.add(target)
            result.append({
                **status, "phase": "Ready", "target": target, "reason": "VolumeReady",
                "message": f"Successfully attach hotplugged volume {name} to VM",
            })  # fmt: skip
        elif name not in in_spec and status.get("phase") in ("Ready", "MountedToPod"):
            result.append({
                **status, "phase": "UnMountedFromPod", "target": "",
                "reason": "VolumeUnMountedFromPod",
                "message": f"Volume {name} has been unmounted from virt-launcher pod",
            })  # fmt: skip
        else:
            result.append(status)
    return result


def _scsi_targets() -> list[str]:
    return [f"sd{letter}" for letter in "abcdefghijklmnopqrstuvwxyz"]


async def _hotplug(writer: client.Client, vmi: dict[str, Any]) -> None:
    """A running instance's hotplugged volumes attached or unmounted (`hotplugged`). A conflict
    is left: virt-controller wrote the instance, and its event brings the newer copy here."""
    statuses = hotplugged(vmi)
    if statuses == ((vmi.get("status") or {}).get("volumeStatus") or []):
        return
    try:
        await write_status(writer, vmi, {**vmi["status"], "volumeStatus": statuses})
    except client.ApiError as error:
        if error.status != 409:
            raise


def moved(status: dict[str, Any], phase: str) -> dict[str, Any]:
    """The status in a new phase, its transition recorded as virt-handler records it
    (virt-controller reads there whether an instance ever ran: one that ended without having
    run counts as a failed start, and its VM backs off)."""
    transitions = [*status.get("phaseTransitionTimestamps", [])]
    transitions.append({"phase": phase, "phaseTransitionTimestamp": shared.now()})
    return {**status, "phase": phase, "phaseTransitionTimestamps": transitions}


async def write_status(api: client.Client, vmi: dict[str, Any], status: dict[str, Any]) -> None:
    """Write the instance's status, if it changed: the object whole (the kind has no status
    subresource), as read, so that a concurrent write by virt-controller is a conflict."""
    if vmi.get("status") != status:
        await api.replace({**vmi, "status": status})


async def _launcher_pod(api: client.Client, vmi: dict[str, Any]) -> dict[str, Any] | None:
    pods = await api.list(
        "v1", "Pod", vmi["metadata"]["namespace"],
        label_selector=f"kubevirt.io/created-by={vmi['metadata']['uid']}",
    )  # fmt: skip
    running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
    return next(iter(running or pods), None)


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
        entry: dict[str, Any] = {"name": interface["name"], "infoSource": "domain, guest-agent"}
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


@kopf.timer(
    "", "v1", "nodes", interval=HEARTBEAT_INTERVAL, annotations={"kwok.x-k8s.io/node": "fake"}
)
@retrying.retried
async def heartbeat(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """The handler's heartbeat on its node, and the label that makes the node schedulable."""
    await handler(memo).patch("v1", "Node", body["metadata"]["name"], None, {
        "metadata": {"annotations": {HEARTBEAT: shared.now()},
                     "labels": {"kubevirt.io/schedulable": "true"}},
    })  # fmt: skip


# -- virt-handler's server, as virt-api calls it -----------------------------------------------


def _status_error(code: int, message: str) -> web.Response:
    return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                              "message": message, "code": code}, status=code)  # fmt: skip


def application(api: client.Client, writer: client.Client) -> web.Application:
    """The routes of virt-handler that virt-api uses for a running instance: reading with
    `api` (the handler reads from its informers' cache; its role may list and watch, not get),
    writing with `writer` (as the handler)."""

    async def act(request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        action = request.match_info["action"]
        vmi = await api.get(shared.KUBEVIRT, "VirtualMachineInstance", name, namespace)
        if vmi is None:
            return _status_error(404, f'virtualmachineinstance.kubevirt.io "{name}" not found')
        status = dict(vmi.get("status") or {})
        kept = [c for c in status.get("conditions") or [] if c.get("type") != "Paused"]
        if action == "pause":
            kept.append({**PAUSED_CONDITION, "lastTransitionTime": shared.now(),
                         "lastProbeTime": None})  # fmt: skip
        await write_status(writer, vmi, {**status, "conditions": kept})
        logging.getLogger(__name__).info("%s %s/%s", action, namespace, name)
        return web.Response(status=202)

    app = web.Application(middlewares=[_virt_api_only])
    app.router.add_put(
        "/v1/namespaces/{namespace}/virtualmachineinstances/{name}/{action:pause|unpause}", act
    )
    return app


@web.middleware
async def _virt_api_only(request: web.Request, handler: Any) -> web.StreamResponse:
    """Only virt-api may call, by its client certificate under KubeVirt's CA (the handshake
    has checked the CA; the name is checked here, as virt-handler does)."""
    peer = request.transport.get_extra_info("peercert") if request.transport else None
    names = [value for rdn in (peer or {}).get("subject", ()) for key, value in rdn
             if key == "commonName"]  # fmt: skip
    if pki.VIRT_HANDLER_CLIENT not in names:
        return _status_error(401, "Unauthorized")
    response: web.StreamResponse = await handler(request)
    return response


async def serve(
    api: client.Client, writer: client.Client, address: str, certs: str
) -> web.AppRunner:
    """Serve virt-handler's endpoint at `address` (host:port) with the certificates in `certs`
    (pki.write_kubevirt_pki)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(f"{certs}/handler.crt", f"{certs}/handler.key")
    context.load_verify_locations(f"{certs}/ca.crt")
    context.verify_mode = ssl.CERT_REQUIRED
    runner = web.AppRunner(application(api, writer), access_log=None)
    await runner.setup()
    host, _colon, port = address.rpartition(":")
    await web.TCPSite(runner, host, int(port), ssl_context=context).start()
    return runner


def environment() -> tuple[str, str, str] | None:
    """Where the handler serves, its certificates and its kubeconfig, when the cloud says."""
    address = os.environ.get("NIMBUS_VIRT_HANDLER_ADDRESS")
    if not address:
        return None
    return (
        address,
        os.environ["NIMBUS_VIRT_HANDLER_PKI"],
        os.environ["NIMBUS_VIRT_HANDLER_KUBECONFIG"],
    )
