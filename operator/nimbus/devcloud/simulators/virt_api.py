"""KubeVirt's virt-api, simulated: the aggregated API subresources.kubevirt.io/v1, its pause and
unpause of a running VMI (the Paused condition, and the VM's printableStatus Paused), served over
TLS on 127.0.0.1 to the API server alone (its front-proxy client certificate), which has checked
the caller's RBAC before it proxies."""

from __future__ import annotations

import json
import logging
import os
import ssl
from typing import Any

from aiohttp import web

from nimbus.devcloud import pki
from nimbus.k8s import client

from . import kubevirt, shared

SUBRESOURCES = "subresources.kubevirt.io"


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


def application(api: client.Client) -> web.Application:
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
        async with kubevirt.VM_LOCKS[(namespace, name)]:
            vmi = await api.get(shared.KUBEVIRT, "VirtualMachineInstance", name, namespace)
            if vmi is None:
                return _status_error(
                    404, "NotFound", f'virtualmachineinstance.kubevirt.io "{name}" not found'
                )
            running = (vmi.get("status") or {}).get("phase") == "Running"
            if action == "pause":
                if not running:
                    return _conflict(name, "VM is not running")
                if kubevirt.paused(vmi):
                    return _conflict(name, "VMI is already paused")
            else:
                if not running:
                    return _conflict(name, "VMI is not running")
                if not kubevirt.paused(vmi):
                    return _conflict(name, "VMI is not paused")
            if dry_run:
                return web.Response(status=200)
            status = dict(vmi.get("status") or {})
            kept = [c for c in status.get("conditions") or [] if c.get("type") != "Paused"]
            if action == "pause":
                kept.append({**kubevirt.PAUSED_CONDITION, "lastTransitionTime": shared.now(),
                             "lastProbeTime": shared.now()})  # fmt: skip
            await kubevirt.vmi_status(api, vmi, {**status, "conditions": kept})
            vm = await api.get(shared.KUBEVIRT, "VirtualMachine", name, namespace)
            if vm is not None:
                await kubevirt.vm_status(
                    api, vm, "Paused" if action == "pause" else "Running", ready=True
                )
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


async def serve(api: client.Client, address: str) -> web.AppRunner:
    """Serve the simulated virt-api at `address` (host:port) with the certificate in
    $NIMBUS_VIRT_API_CERT_DIR, trusting clients of $NIMBUS_VIRT_API_CLIENT_CA."""
    certs = os.environ["NIMBUS_VIRT_API_CERT_DIR"]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(f"{certs}/tls.crt", f"{certs}/tls.key")
    context.load_verify_locations(os.environ["NIMBUS_VIRT_API_CLIENT_CA"])
    context.verify_mode = ssl.CERT_REQUIRED
    runner = web.AppRunner(application(api), access_log=None)
    await runner.setup()
    host, _colon, port = address.rpartition(":")
    await web.TCPSite(runner, host, int(port), ssl_context=context).start()
    return runner
