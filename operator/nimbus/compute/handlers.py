"""kopf handlers of compute.nimbus.dev: thin; the thinking is in render.py and status.py."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import os
import pathlib
from typing import Any

import kopf
import yaml

from nimbus.api import meta
from nimbus.blockstorage import status as storage_status
from nimbus.compute import api, keypairs, lifecycle, render, status
from nimbus.k8s import client
from nimbus.network import addressing, ipam
from nimbus.network import api as api_network
from nimbus.network import render as network_render
from nimbus.placement import config as placement_config
from nimbus.placement import engine, hosts
from nimbus.runtime import cache, handling, reporting, retrying
from nimbus.runtime.conditions import Condition, WaitingError
from nimbus.scheduler import inventory
from nimbus.scheduler import request as scheduler_request

logger = logging.getLogger(__name__)


@handling.reconciler(api.Flavor)
async def flavor(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A flavor is data: it is ready as soon as the API server has accepted it."""
    await reporting.report(memo.api, dict(body), wanted=[])


def group_members(view: cache.View, namespace: str, group: str) -> dict[str, Any]:
    """`openstack server group show`: the group's servers and the hosts they are on."""
    members = [
        s for s in view.list("servers", namespace)
        if s["spec"].get("serverGroup") == group and not s["metadata"].get("deletionTimestamp")
    ]  # fmt: skip
    hosts = {(s.get("status") or {}).get("host") for s in members} - {None}
    return {"members": [s["metadata"]["name"] for s in members], "hosts": sorted(hosts)}


async def _report_group(api_client: client.Client, view: cache.View, body: dict[str, Any]) -> None:
    fields = group_members(view, body["metadata"]["namespace"], body["metadata"]["name"])
    if not reporting.unchanged(body, fields):
        await reporting.report(api_client, body, fields=fields, wanted=[])


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
        forget_reports(str(namespace), body["metadata"]["name"])
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


COMPUTE = f"{api.GROUP}/{meta.VERSION}"
NETWORK = "network.nimbus.dev/v1alpha1"
STORAGE = "blockstorage.nimbus.dev/v1alpha1"
IMAGES = "image.nimbus.dev/v1alpha1"
KUBEVIRT = "kubevirt.io/v1"
CDI = "cdi.kubevirt.io/v1beta1"


def placement_enabled() -> bool:
    """Servers use the nimbus-scheduler profile when placement is enabled (a setting)."""
    return os.environ.get("NIMBUS_PLACEMENT", "false").lower() in ("1", "true", "yes")


def _flavor(view: cache.View, name: str) -> api.FlavorSpec:
    flavor = view.get("flavors", name)
    if flavor is None:
        raise WaitingError(
            "FlavorFound",
            "FlavorNotFound",
            f'spec.flavor: flavor "{name}" not found; '
            f"available: {', '.join(view.names('flavors'))}",
        )
    return api.FlavorSpec.model_validate(flavor["spec"])


def _image(view: cache.View, ref: api.ImageRef, namespace: str) -> render.ImageDisk:
    project = ref.project or namespace
    image = view.get("images", ref.name, project)
    visible = image is not None and (
        project == namespace
        or image["spec"].get("visibility") == "public"
        or (
            image["spec"].get("visibility") == "shared"
            and namespace in image["spec"].get("members", [])
        )
    )
    if image is None or not visible:
        raise WaitingError(
            "ImageReady",
            "ImageNotFound",
            f"spec.image: Image {ref.name} could not be found in project {project}.",
        )
    state = (image.get("status") or {}).get("status", "queued")
    if state != "active":
        raise WaitingError(
            "ImageReady", "ImageNotActive", f"spec.image: image {ref.name} is {state}, not active"
        )
    return render.ImageDisk(
        namespace=project,
        data_volume=f"image-{ref.name}",
        min_disk_gb=image["spec"].get("minDiskGB", 0),
        min_ram_mb=image["spec"].get("minRamMB", 0),
        virtual_size=image["status"].get("virtualSize"),
        properties=image["spec"].get("properties", {}),
        name=ref.name,
    )


def _volume_claim(view: cache.View, name: str, namespace: str, field: str) -> str:
    volume = view.get("volumes", name, namespace)
    if volume is None:
        raise WaitingError(
            "VolumesReady", "VolumeNotFound", f"{field}: Volume {name} could not be found."
        )
    state = (volume.get("status") or {}).get("status")
    if state not in ("available", "in-use"):
        raise WaitingError(
            "VolumesReady",
            "VolumeNotAvailable",
            f"{field}: volume {name} is {state or 'creating'}, not available",
        )
    return str(volume["status"].get("persistentVolumeClaim") or name)


async def _secret_user_data(
    api_client: client.Client, ref: api.UserDataSecret, namespace: str
) -> str:
    """spec.userDataSecret's text. Only a Secret of type nimbus.dev/user-data is read: a type
    cannot change once a Secret exists, so a member who may write Secrets but not read them
    cannot have a server boot with another Secret of the project (a key pair's private key)."""
    field = "spec.userDataSecret"
    secret = await api_client.get("v1", "Secret", ref.name, namespace)
    if secret is None:
        raise WaitingError(
            "UserDataReady", "SecretNotFound", f"{field}.name: Secret {ref.name} not found"
        )
    if secret.get("type") != api.USER_DATA_SECRET_TYPE:
        raise WaitingError(
            "UserDataReady",
            "SecretTypeRefused",
            f"{field}.name: Secret {ref.name} is of type {secret.get('type') or 'Opaque'}; only "
            f"a Secret of type {api.USER_DATA_SECRET_TYPE} is read as user data",
        )
    data = (secret.get("data") or {}).get(ref.key)
    if data is None:
        raise WaitingError(
            "UserDataReady",
            "SecretKeyNotFound",
            f"{field}.key: Secret {ref.name} has no key {ref.key}; it has: "
            f"{', '.join(sorted(secret.get('data') or {})) or 'none'}",
        )
    try:
        return base64.b64decode(data).decode()
    except (ValueError, UnicodeDecodeError):
        raise WaitingError(
            "UserDataReady", "SecretNotText", f"{field}: key {ref.key} of {ref.name} is not text"
        ) from None


def _public_key(view: cache.View, name: str, namespace: str) -> str:
    keypair = view.get("keypairs", name, namespace)
    key = ((keypair or {}).get("status") or {}).get("publicKey")
    if not key:
        raise WaitingError(
            "KeyPairFound",
            "InvalidKeyName",
            f'spec.keyName: Invalid key_name provided. Keypair "{name}" not found.',
        )
    return str(key)


# Projects whose `default` security group this process has made (or is making): a hundred
# servers arriving at once in a new project make it once.
_DEFAULT_GROUPS: dict[str, asyncio.Task[Any]] = {}


async def _security_groups(
    api_client: client.Client, view: cache.View, groups: list[str], namespace: str
) -> None:
    """Every group must exist; Neutron's `default` group is made when a project lacks it."""
    for group in groups:
        if view.get("securitygroups", group, namespace) is not None:
            continue
        if group != "default":
            raise WaitingError(
                "SecurityGroupsFound",
                "SecurityGroupNotFound",
                f"spec.securityGroups: Security group {group} not found for project {namespace}.",
            )
        making = _DEFAULT_GROUPS.get(namespace)
        if making is None or (making.done() and making.exception() is not None):
            making = _DEFAULT_GROUPS[namespace] = asyncio.create_task(
                api_client.apply(
                    {
                        "apiVersion": NETWORK,
                        "kind": "SecurityGroup",
                        "metadata": {"name": "default", "namespace": namespace},
                        "spec": network_render.default_security_group().to_api(),
                    }
                )
            )
        await asyncio.shield(making)


def _interface(
    view: cache.View,
    namespace: str,
    network: str,
    port: str,
    mac: str,
    fixed_ips: list[dict[str, str]],
) -> render.Interface:
    subnets = addressing.subnets_of(view, namespace, network)
    addresses, gateway, dns, routes = [], None, [], []
    for ip in fixed_ips:
        subnet = subnets.get(ip["subnet"])
        if subnet is None:
            continue
        prefix = subnet.cidr.split("/")[1]
        addresses.append(f"{ip['ipAddress']}/{prefix}")
        gateway = gateway or network_render.gateway(subnet)
        dns += subnet.dns_nameservers
        routes += [(r.destination, r.nexthop) for r in subnet.host_routes]
    return render.Interface(
        network=network,
        attachment=f"{namespace}/{network}",
        mac=mac,
        addresses=tuple(addresses),
        gateway=gateway,
        dns=tuple(dns),
        routes=tuple(routes),
        port=port,
    )


@dataclasses.dataclass
class _Ports:
    """The implicit ports a pass makes, and the addresses it holds for them in the ledger."""

    namespace: str
    manifests: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    held: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (network, port)

    def release(self) -> None:
        for network, port in self.held:
            ipam.LEDGER.release(self.namespace, network, port)


def _interfaces(
    view: cache.View, server: dict[str, Any], spec: api.ServerSpec, namespace: str, made: _Ports
) -> tuple[render.Interface, ...]:
    """One interface per entry of spec.networks: a named port, or a port Nimbus makes on the
    network for the server (Nova's implicit port), owned by the server. Its address is
    allocated here, so the VM needs not wait for the port's own reconciliation."""
    interfaces = []
    name = server["metadata"]["name"]
    for index, entry in enumerate(spec.networks):
        if entry.port is not None:
            port = view.get("ports", entry.port, namespace)
            if port is None:
                raise WaitingError(
                    "NetworksReady",
                    "PortNotFound",
                    f"spec.networks[{index}].port: Port {entry.port} could not be found.",
                )
            user = addressing.device_of(view, port, namespace)
            if user not in (None, name) or any(
                other.port == entry.port for other in spec.networks[:index]
            ):
                by = f"server {user}" if user not in (None, name) else "another interface"
                raise WaitingError(
                    "NetworksReady",
                    "PortInUse",
                    f"spec.networks[{index}].port: Port {entry.port} is still in use (by {by}).",
                )
            network = port["spec"]["network"]
            fixed = (port.get("status") or {}).get("fixedIPs") or []
            mac = (port.get("status") or {}).get("macAddress")
            if not fixed or not mac:
                raise WaitingError(
                    "NetworksReady",
                    "PortNotReady",
                    f"port {entry.port} on network {network} has no address yet",
                )
            interfaces.append(_interface(view, namespace, network, entry.port, mac, fixed))
            continue
        assert entry.network is not None
        if view.get("networks", entry.network, namespace) is None:
            raise WaitingError(
                "NetworksReady",
                "NetworkNotFound",
                f"spec.networks[{index}].network: Network {entry.network} could not be found.",
            )
        port_name = f"{name}-port-{index}"
        existing = view.get("ports", port_name, namespace) or {}
        fixed = list((existing.get("spec") or {}).get("fixedIPs") or []) or list(
            (existing.get("status") or {}).get("fixedIPs") or []
        )
        if not fixed or not all(ip.get("ipAddress") and ip.get("subnet") for ip in fixed):
            wanted = [api_network.FixedIP(ip_address=entry.fixed_ip)] if entry.fixed_ip else []
            taken = ipam.LEDGER.taken(
                namespace,
                entry.network,
                view.addresses(namespace, entry.network),
                excluding=port_name,
            )
            allocated = ipam.allocate(
                addressing.subnets_of(view, namespace, entry.network),
                wanted,
                taken,
                entry.network,
            )
            if isinstance(allocated, str):
                raise WaitingError(
                    "NetworksReady", "IpAddressNotAvailable", f"spec.networks[{index}]: {allocated}"
                )
            fixed = allocated
            ipam.LEDGER.reserve(
                namespace, entry.network, port_name, {ip["ipAddress"] for ip in fixed}
            )
            made.held.append((entry.network, port_name))
        mac = network_render.mac_address(namespace, port_name)
        made.manifests.append(
            {
                "apiVersion": NETWORK,
                "kind": "Port",
                "metadata": {
                    "name": port_name,
                    "namespace": namespace,
                    "labels": {
                        "app.kubernetes.io/managed-by": "nimbus",
                        "compute.nimbus.dev/server": name,
                    },
                    "ownerReferences": [client.owner_reference(server)],
                },
                "spec": {
                    "network": entry.network,
                    "securityGroups": spec.security_groups,
                    "macAddress": mac,
                    "fixedIPs": fixed,
                },
            }
        )
        interfaces.append(_interface(view, namespace, entry.network, port_name, mac, fixed))
    return tuple(interfaces)


async def _inputs(
    api_client: client.Client,
    view: cache.View,
    server: dict[str, Any],
    made: _Ports,
    action: lifecycle.Action,
) -> render.ServerInputs:
    name, namespace = server["metadata"]["name"], server["metadata"]["namespace"]
    spec = api.ServerSpec.model_validate(server["spec"])
    flavor = _flavor(view, action.flavor)
    image = _image(view, spec.image, namespace) if spec.image else None
    boot_claim = (
        _volume_claim(view, spec.boot_volume.name, namespace, "spec.bootVolume")
        if spec.boot_volume
        else None
    )
    keys = (_public_key(view, spec.key_name, namespace),) if spec.key_name else ()
    claims = tuple(
        (v.volume, _volume_claim(view, v.volume, namespace, "spec.volumes")) for v in spec.volumes
    )
    await _security_groups(api_client, view, spec.security_groups, namespace)
    secret_user_data = (
        await _secret_user_data(api_client, spec.user_data_secret, namespace)
        if spec.user_data_secret
        else None
    )
    interfaces = _interfaces(view, server, spec, namespace, made)
    return render.ServerInputs(
        name=name,
        namespace=namespace,
        spec=spec,
        flavor_name=action.flavor,
        flavor=flavor,
        image=image,
        boot_claim=boot_claim,
        public_keys=keys,
        interfaces=interfaces,
        volume_claims=claims,
        placement=placement_enabled(),
        owner=client.owner_reference(server),
        root_generation=action.root_generation,
        secret_user_data=secret_user_data,
    )


def flavor_disks(view: cache.View) -> dict[str, int]:
    return {f["metadata"]["name"]: int(f["spec"].get("diskGB", 0)) for f in view.list("flavors")}


def _no_valid_host(view: cache.View, inputs: render.ServerInputs) -> list[str] | None:
    """Placement's pre-flight: Nova's filter results when no node could ever take the server
    (its flavor bigger than every node, say), else None. The request is the server's own."""
    config, defaults = placement_settings()
    return inventory.preflight(
        view.list("nodes"), scheduler_request.server_request(inputs), config, defaults
    )


def placement_settings() -> tuple[engine.Config, hosts.Defaults]:
    """Placement's configuration file ($NIMBUS_PLACEMENT_CONFIG), as the extender reads it."""
    path = os.environ.get("NIMBUS_PLACEMENT_CONFIG")
    if not path:
        return placement_config.parse(None)
    try:
        document = yaml.safe_load(pathlib.Path(path).read_text())
        return placement_config.parse(document)
    except (OSError, yaml.YAMLError, placement_config.ConfigError):
        return placement_config.parse(None)  # the extender reports the bad file


async def _report_error(
    api_client: client.Client,
    server_body: dict[str, Any],
    fault: dict[str, Any],
    conditions: list[Condition],
) -> None:
    """A server that will not build: ERROR, Nova's fault, and why in conditions."""
    await reporting.report(
        api_client,
        server_body,
        fields={"status": "ERROR", "taskState": None, "powerState": "NOSTATE",
                "fault": {**fault, "created": reporting.now()}},
        wanted=conditions,
    )  # fmt: skip


async def _report_no_valid_host(
    api_client: client.Client, server_body: dict[str, Any], results: list[str]
) -> None:
    details = f"Filter results: {results}"
    await _report_error(
        api_client,
        server_body,
        {"code": 500, "message": status.NO_VALID_HOST, "details": details},
        [
            Condition("Scheduled", "False", "NoValidHost", f"{status.NO_VALID_HOST} {details}"),
            Condition("Running", "False", "Error", status.NO_VALID_HOST),
        ],
    )


def _reboot_asked(body: dict[str, Any]) -> str | None:
    return (body["metadata"].get("annotations") or {}).get(lifecycle.REBOOT)


class _NoValidHostError(Exception):
    """Placement's pre-flight found no node that could ever take the server."""

    def __init__(self, results: list[str]) -> None:
        super().__init__(status.NO_VALID_HOST)
        self.results = results


@handling.watched(api.Server, wants=_reboot_asked)
async def server(body: dict[str, Any], memo: kopf.Memo, view: cache.View) -> None:
    """Resolve what the server references (from the indexes), render its ports, VM and
    cloud-init, and apply them all at once; then report."""
    api_client: client.Client = memo.api
    server_body = body
    made = _Ports(server_body["metadata"]["namespace"])
    annotations = dict(server_body["metadata"].get("annotations") or {})
    action = lifecycle.plan(
        server_body["spec"],
        annotations,
        server_body.get("status") or {},
        flavor_disks(view),
    )
    try:
        async with reporting.BUILDS.building():
            vm, extra = await _build(api_client, view, server_body, made, action, annotations)
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
        await _report_error(
            api_client, server_body, {"code": 400, "message": str(error)},
            [Condition("Built", "False", "BuildRefused", str(error))],
        )  # fmt: skip
        raise kopf.PermanentError(str(error)) from None
    except _NoValidHostError as refused:
        made.release()
        await _report_no_valid_host(api_client, server_body, refused.results)
        raise kopf.TemporaryError(status.NO_VALID_HOST, delay=60) from None  # a node may come
    # What was done to a server that ran before (a reboot, resize or rebuild) is recorded at
    # once, not after a burst: a pass that found it unrecorded would do it again.
    recorded = (server_body.get("status") or {}).get("built")
    done = "operation" in extra or (recorded is not None and recorded != extra.get("built"))
    operation = await report_server(
        api_client, view, server_body, vm=vm, extra=extra, wait_turn=not done
    )
    if operation is not None:  # look again until the new instance runs, whatever events say
        raise kopf.TemporaryError(f"{operation['type']} under way", delay=2)


async def _build(
    api_client: client.Client,
    view: cache.View,
    server_body: dict[str, Any],
    made: _Ports,
    action: lifecycle.Action,
    annotations: dict[str, str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The server's objects, applied: its ports and cloud-init first, at once; then the VM,
    which KubeVirt starts with them; then the reboot, resize or rebuild asked for. Returns the
    VM as applied and the status fields that record the build."""
    inputs = await _inputs(api_client, view, server_body, made, action)
    secret = render.render_cloud_init_secret(inputs)
    machine = render.render_virtual_machine(inputs)
    if inputs.placement and view.get("virtualmachines", inputs.name, inputs.namespace) is None:
        filter_results = _no_valid_host(view, inputs)
        if filter_results is not None:
            raise _NoValidHostError(filter_results)
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
    await _delete_on_termination(api_client, view, server_body)
    extra = await _act(api_client, server_body, action, annotations, machine)
    if "operation" not in extra:
        try:
            await _power(api_client, view, server_body)
        except client.ApiError as error:  # virt-api away (a 503) or refusing: try again
            logger.warning("server %s/%s: %s", inputs.namespace, inputs.name, error)
            raise kopf.TemporaryError(str(error), delay=10) from None
    return vm, extra


TERMINATION_MANAGER = "nimbus-delete-on-termination"


async def _delete_on_termination(
    api_client: client.Client, view: cache.View, server_body: dict[str, Any]
) -> None:
    """Nova's delete_on_termination: a volume so marked is owned by its server (an
    ownerReference that is not its controller), so Kubernetes' garbage collector deletes it once
    the server is gone, whether the operator saw the server go or not. A volume not marked (or
    no longer) is not owned by it and stays. The reference is applied under a field manager of
    its own, so that nothing else of the volume (a Stack's spec) changes hands."""
    namespace, uid = server_body["metadata"]["namespace"], server_body["metadata"]["uid"]
    spec = server_body.get("spec") or {}
    marked = {v["volume"] for v in spec.get("volumes") or [] if v.get("deleteOnTermination")}
    boot = spec.get("bootVolume") or {}
    if boot.get("deleteOnTermination"):
        marked.add(boot["name"])
    for volume in view.list("volumes", namespace):
        name = volume["metadata"]["name"]
        owned = any(o.get("uid") == uid for o in volume["metadata"].get("ownerReferences") or [])
        if (name in marked) == owned or volume["metadata"].get("deletionTimestamp"):
            continue
        references = (
            [{**client.owner_reference(server_body), "controller": False,
              "blockOwnerDeletion": False}]
            if name in marked
            else []
        )  # fmt: skip
        await api_client.apply(
            {"apiVersion": STORAGE, "kind": "Volume",
             "metadata": {"name": name, "namespace": namespace,
                          "ownerReferences": references}},
            field_manager=TERMINATION_MANAGER,
        )  # fmt: skip


async def _power(api_client: client.Client, view: cache.View, server_body: dict[str, Any]) -> None:
    """Pause or unpause the running instance as spec.powerState asks, through KubeVirt's
    virt-api (a pause lasts as long as the instance: a new one, after a reboot, is paused
    again). An instance that moved meanwhile (virt-api's 409) is left to its next event."""
    name, namespace = server_body["metadata"]["name"], server_body["metadata"]["namespace"]
    vmi = view.get("virtualmachineinstances", name, namespace)
    if (vmi or {}).get("status", {}).get("phase") != "Running":
        return
    wanted = server_body["spec"].get("powerState") == "Paused"
    if status.paused(vmi) == wanted:
        return
    try:
        await api_client.put_subresource(
            "subresources.kubevirt.io/v1", "virtualmachineinstances", name, namespace,
            "pause" if wanted else "unpause",
        )  # fmt: skip
    except client.ApiError as error:
        if error.status != 409:
            raise


async def _act(
    api_client: client.Client,
    server_body: dict[str, Any],
    action: lifecycle.Action,
    annotations: dict[str, str],
    machine: dict[str, Any],
) -> dict[str, Any]:
    """Reboot, resize or rebuild, as the change asked: restart the running instance (KubeVirt
    starts a new one from the updated VM), after a new root disk (rebuild) or a larger one
    (resize). Returns the status fields that record it."""
    name, namespace = server_body["metadata"]["name"], server_body["metadata"]["namespace"]
    fields: dict[str, Any] = {"built": lifecycle.built(server_body["spec"], annotations, action)}
    if action.operation is None:
        return fields
    built_before = (server_body.get("status") or {}).get("built") or {}
    if action.operation == "REBUILD":  # the old root disk goes: its image is no longer wanted
        old_root = render.root_volume_name(name, int(built_before.get("rootGeneration", 0)))
        await api_client.delete(CDI, "DataVolume", old_root, namespace)
    if action.operation == "RESIZE":
        await _grow_root_disk(api_client, machine, name, namespace, action.root_generation)
    vmi = await api_client.get(KUBEVIRT, "VirtualMachineInstance", name, namespace)
    if vmi is not None and not vmi["metadata"].get("deletionTimestamp"):
        await api_client.delete(KUBEVIRT, "VirtualMachineInstance", name, namespace)
        fields["operation"] = {"type": action.operation, "instance": vmi["metadata"]["uid"]}
    return fields


async def _grow_root_disk(
    api_client: client.Client,
    machine: dict[str, Any],
    name: str,
    namespace: str,
    generation: int,
) -> None:
    """A larger flavor's root disk: the existing claim is expanded (never shrunk)."""
    root = render.root_volume_name(name, generation)
    wanted = next(
        (
            t["spec"]["storage"]["resources"]["requests"]["storage"]
            for t in machine["spec"].get("dataVolumeTemplates", [])
            if t["metadata"]["name"] == root
        ),
        None,
    )
    claim = await api_client.get("v1", "PersistentVolumeClaim", root, namespace)
    if wanted is None or claim is None:
        return
    current = claim["spec"]["resources"]["requests"]["storage"]
    if storage_status.gigabytes(wanted) > storage_status.gigabytes(current):
        await api_client.patch(
            "v1",
            "PersistentVolumeClaim",
            root,
            namespace,
            {"spec": {"resources": {"requests": {"storage": wanted}}}},
        )


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
            await _power(memo.api, view, server_body)
        except client.ApiError as error:  # the status still follows the machine
            logger.warning("server %s/%s: %s", namespace, name, error)
        await report_server(memo.api, view, server_body)


def _fresher(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    """Of two copies of one object, the later: a VM just applied may be older than the index's
    copy by the time the report is written (the machine moved on meanwhile)."""
    if a is None or b is None:
        return a or b
    try:
        older = int(a["metadata"]["resourceVersion"]) < int(b["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return a
    return b if older else a


@dataclasses.dataclass
class _Reports:
    """One server's reports: taken one at a time, and the last status written."""

    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    written: dict[str, Any] | None = None


# Two writers report a server: its own handler and its VM's and VMI's events. Computed
# concurrently, an older picture could be written last (a server back in BUILD after ACTIVE,
# with no event left to correct it). So each report waits its turn and is computed then, from
# the indexes as they are and the freshest copy of the server (the event's, the index's, or
# what the last report wrote).
_REPORTS: dict[tuple[str, str], _Reports] = {}


async def report_server(
    api_client: client.Client,
    view: cache.View,
    server_body: dict[str, Any],
    *,
    vm: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    wait_turn: bool = True,
) -> dict[str, Any] | None:
    """The server's status from its VM and VMI (the indexes' copies, or the VM just applied);
    returns the reboot, resize or rebuild still under way, if any. It waits for servers being
    built unless told not to."""
    if wait_turn:
        await reporting.BUILDS.turn()
    key = (server_body["metadata"]["namespace"], server_body["metadata"]["name"])
    reports = _REPORTS.setdefault(key, _Reports())
    async with reports.lock:
        fresh = _fresher(server_body, view.get("servers", key[1], key[0]))
        fresh = _fresher(fresh, reports.written)
        if fresh is not None and fresh["metadata"].get("uid") == server_body["metadata"].get("uid"):
            server_body = fresh
        operation, written = await _report_server(api_client, view, server_body, vm=vm, extra=extra)
        if written is not None:
            reports.written = written
        return operation


def forget_reports(namespace: str, name: str) -> None:
    _REPORTS.pop((namespace, name), None)


async def _report_server(
    api_client: client.Client,
    view: cache.View,
    server_body: dict[str, Any],
    *,
    vm: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The report itself: the operation still under way, and the server as written (None when
    nothing needed writing)."""
    name, namespace = server_body["metadata"]["name"], server_body["metadata"]["namespace"]
    vm = _fresher(vm, view.get("virtualmachines", name, namespace))
    vmi = view.get("virtualmachineinstances", name, namespace)
    networks = []
    for entry in server_body["spec"].get("networks", []):
        if entry.get("port"):  # addresses of a port are listed under the port's network
            port = view.get("ports", entry["port"], namespace)
            networks.append((port or {}).get("spec", {}).get("network", entry["port"]))
        else:
            networks.append(entry.get("network"))
    state = status.server_state(
        vm,
        vmi,
        [str(n) for n in networks],
        paused_requested=server_body["spec"].get("powerState") == "Paused",
    )
    extra = dict(extra or {})
    operation = extra.pop("operation", (server_body.get("status") or {}).get("operation"))
    if operation and lifecycle.finished(operation, vmi):
        operation = None
    if operation and state.status not in ("ERROR", "SHUTOFF"):
        kind = operation["type"]
        state = dataclasses.replace(state, status=kind, task_state=lifecycle.TASK_STATES[kind])
        if state.host is None:  # between two instances: Nova shows the server where it was
            before = server_body.get("status") or {}
            state = dataclasses.replace(
                state,
                host=before.get("host"),
                addresses=before.get("addresses") or {},
                networks=before.get("networks") or "",
            )
    zone = None
    if state.host:
        node = view.get("nodes", state.host)
        zone = ((node or {}).get("metadata", {}).get("labels") or {}).get(
            "topology.kubernetes.io/zone"
        )
    fields: dict[str, Any] = {
        "status": state.status,
        "taskState": state.task_state,
        "powerState": state.power_state,
        "host": state.host,
        "availabilityZone": zone,
        "addresses": state.addresses,
        "networks": state.networks or None,
        "virtualMachine": name,
        "fault": state.fault,
        "operation": operation,
        **extra,
    }
    current = server_body.get("status") or {}
    if reporting.unchanged(server_body, fields):
        return operation, None
    if state.fault is not None:
        fields["fault"] = {**state.fault, "created": reporting.now()}
    if state.status == "ACTIVE" and not current.get("launchedAt"):
        fields["launchedAt"] = reporting.now()
    built = fields.get("built") or current.get("built") or {}
    refused = lifecycle.plan(
        server_body["spec"],
        server_body["metadata"].get("annotations") or {},
        {**current, "built": built},
        flavor_disks(view),
    ).refused
    wanted = status.server_conditions(
        name,
        state,
        operation=bool(operation),
        resize_refused=refused,
        built_flavor=built.get("flavor"),
        current=current.get("conditions") or [],
    )
    written = await reporting.report(api_client, server_body, fields=fields, wanted=wanted)
    return operation, written
