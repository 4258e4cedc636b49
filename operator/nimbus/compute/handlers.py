"""kopf handlers of compute.nimbus.dev, thin: what a Server names is resolved in references.py,
its interfaces and implicit ports in interfaces.py, the pre-flight in preflight.py, reboot,
resize, rebuild and pause in actions.py, its status in reports.py; the manifests are rendered
by render.py, the status words and conditions decided by status.py."""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

import kopf

from nimbus.api import meta
from nimbus.compute import (
    actions,
    api,
    interfaces,
    keypairs,
    lifecycle,
    preflight,
    references,
    render,
    reports,
    status,
)
from nimbus.k8s import client
from nimbus.network import ipam
from nimbus.runtime import cache, handling, reporting, retrying
from nimbus.runtime.conditions import Condition, FailedError, WaitingError

logger = logging.getLogger(__name__)


@handling.reconciler(api.Flavor)
async def flavor(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A flavor is data: it is ready as soon as the API server has accepted it."""
    await reporting.report(memo.api, dict(body), wanted=[])


async def _report_group(api_client: client.Client, view: cache.View, body: dict[str, Any]) -> None:
    fields = references.group_members(view, body["metadata"]["namespace"], body["metadata"]["name"])
    await reporting.report_changed(api_client, body, fields=fields, wanted=[])


@handling.reconciler(api.ServerGroup)
async def server_group(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """A server group is a policy placement enforces; its status lists members and hosts."""
    await _report_group(memo.api, cache.View.of(kwargs, memo), dict(body))


@handling.follows(api.GROUP, meta.VERSION, "servers")
async def server_group_members(
    type: str | None, body: dict[str, Any], memo: kopf.Memo, view: cache.View
) -> None:
    """A member came, went or moved: its group's status follows."""
    namespace = body["metadata"].get("namespace")
    if type == "DELETED":
        reports.forget_reports(str(namespace), body["metadata"]["name"])
    name = body.get("spec", {}).get("serverGroup")
    group = view.get("servergroups", name, namespace) if name and namespace else None
    if group is not None:
        await _report_group(memo.api, view, dict(group))


def private_key_secret_name(keypair: str) -> str:
    return f"{keypair}-private-key"


@handling.reconciler(api.KeyPair)
async def keypair(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Nova's fingerprint of an imported key; or a generated key, its private half in a Secret."""
    resource = api.KeyPair.model_validate(dict(body))
    name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
    fields: dict[str, Any] = {}
    public_key = resource.spec.public_key
    if public_key is None:
        public_key, secret = await _generated_key(memo.api, dict(body), name, namespace)
        fields["privateKeySecret"] = secret
    try:
        fields["fingerprint"] = keypairs.fingerprint(public_key, resource.spec.type)
    except keypairs.InvalidKeyError as error:
        await reporting.report(
            memo.api, dict(body), wanted=[Condition("KeyValid", "False", "InvalidKey", str(error))]
        )
        raise kopf.PermanentError(str(error)) from None
    fields["publicKey"] = public_key
    await reporting.report(
        memo.api, dict(body), fields=fields, wanted=[Condition("KeyValid", "True", "KeyValid")]
    )


async def _generated_key(
    api_client: client.Client, body: dict[str, Any], name: str, namespace: str
) -> tuple[str, str]:
    """The generated public key: made once, its Secret then being the only record of it."""
    secret_name = private_key_secret_name(name)
    secret = await api_client.get("v1", "Secret", secret_name, namespace)
    if secret is not None:
        return base64.b64decode(secret["data"]["public_key"]).decode(), secret_name
    recorded = (body.get("status") or {}).get("publicKey")
    if recorded:  # the user took the private key and deleted the Secret, as intended
        return str(recorded), secret_name
    private_key, public_key = keypairs.generate(f"{name}@{namespace}")
    await api_client.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": secret_name,
                "namespace": namespace,
                "labels": {
                    "app.kubernetes.io/managed-by": "nimbus",
                    "compute.nimbus.dev/keypair": name,
                },
                "ownerReferences": [client.owner_reference(body)],
            },
            "type": "Opaque",
            "stringData": {"private_key": private_key, "public_key": public_key},
        }
    )
    return public_key, secret_name


@handling.watched(api.Server, wants=lifecycle.reboot_asked)
async def server(body: dict[str, Any], memo: kopf.Memo, view: cache.View) -> None:
    """Resolve what the server references (from the indexes), render its ports, VM and
    cloud-init, and apply them all at once; then report."""
    api_client: client.Client = memo.api
    server_body = body
    action = _planned(server_body, view)
    if action.operation is not None:
        # The copy may predate what a pass before this one did and recorded (an event or a
        # retry waiting for that pass): restart only what the server as it is now asks for.
        seen = server_body["metadata"]
        fresh = await api_client.get(
            api.Server.api_version_name(), "Server", seen["name"], seen["namespace"]
        )
        if fresh is None or fresh["metadata"]["uid"] != seen["uid"]:
            return
        if fresh["metadata"].get("deletionTimestamp"):
            return
        server_body, action = fresh, _planned(fresh, view)
    made = interfaces.Ports(server_body["metadata"]["namespace"])
    annotations = dict(server_body["metadata"].get("annotations") or {})
    try:
        async with reporting.BUILDS.building():
            vm, extra = await _build(api_client, view, server_body, made, action, annotations)
    except FailedError as failed:  # a reference that will never be ready as it is
        made.release()
        await reports.report_failed_reference(api_client, server_body, failed.condition)
        raise kopf.TemporaryError(failed.condition.message, delay=60) from None
    except WaitingError as waiting:
        made.release()
        await reporting.report(
            api_client,
            server_body,
            fields={"status": "BUILD", "taskState": "scheduling"},
            wanted=[waiting.condition],
            observed=False,
        )
        raise kopf.TemporaryError(waiting.condition.message, delay=3) from None
    except render.BuildError as error:
        made.release()
        await reports.report_error(
            api_client, server_body, {"code": 400, "message": str(error)},
            [Condition("Built", "False", "BuildRefused", str(error))],
        )  # fmt: skip
        raise kopf.PermanentError(str(error)) from None
    except preflight.NoValidHostError as refused:
        made.release()
        await reports.report_no_valid_host(api_client, server_body, refused.results)
        raise kopf.TemporaryError(status.NO_VALID_HOST, delay=60) from None  # a node may come
    # What was done to a server that ran before (a reboot, resize or rebuild) is recorded at
    # once, not after a burst: a pass that found it unrecorded would do it again.
    recorded = (server_body.get("status") or {}).get("built")
    done = "operation" in extra or (recorded is not None and recorded != extra.get("built"))
    operation = await reports.report_server(
        api_client,
        view,
        server_body,
        reports.Built(vm, extra, action, lifecycle.asked(server_body)),
        wait_turn=not done,
    )
    if operation is not None:  # look again until the new instance runs, whatever events say
        raise kopf.TemporaryError(f"{operation['type']} under way", delay=2)


def _planned(server_body: dict[str, Any], view: cache.View) -> lifecycle.Action:
    return lifecycle.plan(
        server_body["spec"],
        dict(server_body["metadata"].get("annotations") or {}),
        server_body.get("status") or {},
        references.flavor_disks(view),
    )


async def _build(
    api_client: client.Client,
    view: cache.View,
    server_body: dict[str, Any],
    made: interfaces.Ports,
    action: lifecycle.Action,
    annotations: dict[str, str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The server's objects, applied: its ports and cloud-init first, at once; then the VM,
    which KubeVirt starts with them; then the reboot, resize or rebuild asked for. Returns the
    VM as applied and the status fields that record the build."""
    inputs = await references.inputs(api_client, view, server_body, made, action)
    secret = render.render_cloud_init_secret(inputs)
    machine = render.render_virtual_machine(inputs)
    if inputs.placement and view.get("virtualmachines", inputs.name, inputs.namespace) is None:
        filter_results = preflight.no_valid_host(view, inputs)
        if filter_results is not None:
            raise preflight.NoValidHostError(filter_results)
    results = await asyncio.gather(
        *(api_client.apply(p) for p in made.manifests),
        api_client.apply(secret),
        return_exceptions=True,
    )
    for manifest, result in zip(made.manifests, results, strict=False):
        if isinstance(result, BaseException):  # the port was not made: its addresses are free
            ipam.LEDGER.release(
                made.namespace, manifest["spec"]["network"], manifest["metadata"]["name"]
            )
    failed = next((r for r in results if isinstance(r, BaseException)), None)
    if failed is not None:
        raise failed
    vm = await api_client.apply(machine)
    await actions.delete_on_termination(api_client, view, server_body)
    extra = await actions.act(api_client, server_body, action, annotations, machine)
    if "operation" not in extra:
        try:
            await actions.power(api_client, view, server_body)
        except client.ApiError as error:  # virt-api away (a 503) or refusing: try again
            logger.warning("server %s/%s: %s", inputs.namespace, inputs.name, error)
            raise kopf.TemporaryError(str(error), delay=10) from None
    return vm, extra


# (namespace, floating IP) -> the port it was last seen on: a dissociation's events name none.
_FLOATING_PORTS: dict[tuple[str, str], set[str]] = {}


@handling.follows("network.nimbus.dev", meta.VERSION, "floatingips")
async def floating_ip_changed(
    type: str | None, body: dict[str, Any], memo: kopf.Memo, view: cache.View
) -> None:
    """A floating IP (dis)associated: the addresses of the server using its port follow."""
    namespace = body["metadata"]["namespace"]
    key = (namespace, body["metadata"]["name"])
    now = {body["spec"].get("port"), (body.get("status") or {}).get("port")} - {None}
    ports = _FLOATING_PORTS.pop(key, set()) | {str(p) for p in now}
    if type != "DELETED" and now:
        _FLOATING_PORTS[key] = {str(p) for p in now}
    for port_name in sorted(ports):
        port = view.get("ports", port_name, namespace)
        server = (port or {}).get("status", {}).get("deviceID")
        server_body = view.get("servers", server, namespace) if server else None
        if server_body is not None and not server_body["metadata"].get("deletionTimestamp"):
            await reports.report_server(memo.api, view, server_body)


@kopf.on.event(
    "kubevirt.io", "v1", "virtualmachines", labels={"app.kubernetes.io/managed-by": "nimbus"}
)
@kopf.on.event(
    "kubevirt.io",
    "v1",
    "virtualmachineinstances",
    labels={"app.kubernetes.io/managed-by": "nimbus"},
)
@retrying.retried
async def machine_changed(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """The VM or its instance moved: the server's status follows."""
    name = body["metadata"].get("labels", {}).get("compute.nimbus.dev/server")
    namespace = body["metadata"]["namespace"]
    view = cache.View.of(kwargs, memo)
    server_body = view.get("servers", name, namespace) if name else None
    if server_body is not None and not server_body["metadata"].get("deletionTimestamp"):
        try:
            await actions.power(memo.api, view, server_body)
        except client.ApiError as error:  # the status still follows the machine
            logger.warning("server %s/%s: %s", namespace, name, error)
        await reports.report_server(memo.api, view, server_body)
