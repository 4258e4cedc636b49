"""kopf handlers of compute.nimbus.dev: thin; the thinking is in render.py and status.py."""

from __future__ import annotations

import base64
import os
from typing import Any

import kopf

from nimbus import handling, meta, reporting
from nimbus.compute import api, keypairs, render, status
from nimbus.conditions import Condition, WaitingError
from nimbus.k8s import client
from nimbus.network import api as api_network
from nimbus.network import render as network_render


@handling.reconciler(api.GROUP, "flavors")
async def flavor(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A flavor is data: it is ready as soon as the API server has accepted it."""
    await reporting.report(memo.api, dict(body), wanted=[])


def private_key_secret_name(keypair: str) -> str:
    return f"{keypair}-private-key"


@handling.reconciler(api.GROUP, "keypairs")
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


def placement_enabled() -> bool:
    """Servers use the nimbus-scheduler profile when placement is enabled (a setting)."""
    return os.environ.get("NIMBUS_PLACEMENT", "false").lower() in ("1", "true", "yes")


async def _flavor(api_client: client.Client, name: str) -> api.FlavorSpec:
    flavor = await api_client.get(COMPUTE, "Flavor", name)
    if flavor is None:
        names = sorted(f["metadata"]["name"] for f in await api_client.list(COMPUTE, "Flavor"))
        raise WaitingError(
            "FlavorFound",
            "FlavorNotFound",
            f'spec.flavor: flavor "{name}" not found; available: {", ".join(names)}',
        )
    return api.FlavorSpec.model_validate(flavor["spec"])


async def _image(api_client: client.Client, ref: api.ImageRef, namespace: str) -> render.ImageDisk:
    project = ref.project or namespace
    image = await api_client.get(IMAGES, "Image", ref.name, project)
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
    )


async def _volume_claim(api_client: client.Client, name: str, namespace: str, field: str) -> str:
    volume = await api_client.get(STORAGE, "Volume", name, namespace)
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


async def _public_key(api_client: client.Client, name: str, namespace: str) -> str:
    keypair = await api_client.get(COMPUTE, "KeyPair", name, namespace)
    key = ((keypair or {}).get("status") or {}).get("publicKey")
    if not key:
        raise WaitingError(
            "KeyPairFound",
            "InvalidKeyName",
            f'spec.keyName: Invalid key_name provided. Keypair "{name}" not found.',
        )
    return str(key)


async def _security_groups(api_client: client.Client, groups: list[str], namespace: str) -> None:
    """Every group must exist; Neutron's `default` group is made when a project lacks it."""
    for group in groups:
        if await api_client.get(NETWORK, "SecurityGroup", group, namespace) is not None:
            continue
        if group != "default":
            raise WaitingError(
                "SecurityGroupsFound",
                "SecurityGroupNotFound",
                f"spec.securityGroups: Security group {group} not found for project {namespace}.",
            )
        default = network_render.default_security_group()
        await api_client.apply(
            {
                "apiVersion": NETWORK,
                "kind": "SecurityGroup",
                "metadata": {"name": "default", "namespace": namespace},
                "spec": default.to_api(),
            }
        )


async def _interface(
    api_client: client.Client, port_name: str, namespace: str, network: str
) -> render.Interface:
    port = await api_client.get(NETWORK, "Port", port_name, namespace)
    fixed = ((port or {}).get("status") or {}).get("fixedIPs") or []
    mac = ((port or {}).get("status") or {}).get("macAddress")
    if port is None or not fixed or not mac:
        raise WaitingError(
            "NetworksReady",
            "PortNotReady",
            f"port {port_name} on network {network} has no address yet",
        )
    subnets = {
        s["metadata"]["name"]: api_network.SubnetSpec.model_validate(s["spec"])
        for s in await api_client.list(NETWORK, "Subnet", namespace)
        if s["spec"]["network"] == network
    }
    addresses, gateway, dns, routes = [], None, [], []
    for ip in fixed:
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
        port=port_name,
    )


async def _interfaces(
    api_client: client.Client, server: dict[str, Any], spec: api.ServerSpec, namespace: str
) -> tuple[render.Interface, ...]:
    """One interface per entry of spec.networks: a named port, or a port Nimbus makes on the
    network for the server (Nova's implicit port), owned by the server."""
    interfaces = []
    name = server["metadata"]["name"]
    for index, entry in enumerate(spec.networks):
        if entry.port is not None:
            port = await api_client.get(NETWORK, "Port", entry.port, namespace)
            if port is None:
                raise WaitingError(
                    "NetworksReady",
                    "PortNotFound",
                    f"spec.networks[{index}].port: Port {entry.port} could not be found.",
                )
            interfaces.append(
                await _interface(api_client, entry.port, namespace, port["spec"]["network"])
            )
            continue
        assert entry.network is not None
        if await api_client.get(NETWORK, "Network", entry.network, namespace) is None:
            raise WaitingError(
                "NetworksReady",
                "NetworkNotFound",
                f"spec.networks[{index}].network: Network {entry.network} could not be found.",
            )
        port_name = f"{name}-port-{index}"
        port_spec: dict[str, Any] = {
            "network": entry.network,
            "securityGroups": spec.security_groups,
        }
        if entry.fixed_ip:
            port_spec["fixedIPs"] = [{"ipAddress": entry.fixed_ip}]
        await api_client.apply(
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
                "spec": port_spec,
            }
        )
        interfaces.append(await _interface(api_client, port_name, namespace, entry.network))
    return tuple(interfaces)


async def _inputs(api_client: client.Client, server: dict[str, Any]) -> render.ServerInputs:
    name, namespace = server["metadata"]["name"], server["metadata"]["namespace"]
    spec = api.ServerSpec.model_validate(server["spec"])
    flavor = await _flavor(api_client, spec.flavor)
    image = await _image(api_client, spec.image, namespace) if spec.image else None
    boot_claim = (
        await _volume_claim(api_client, spec.boot_volume.name, namespace, "spec.bootVolume")
        if spec.boot_volume
        else None
    )
    keys = (await _public_key(api_client, spec.key_name, namespace),) if spec.key_name else ()
    await _security_groups(api_client, spec.security_groups, namespace)
    interfaces = await _interfaces(api_client, server, spec, namespace)
    claims = tuple(
        [
            (v.volume, await _volume_claim(api_client, v.volume, namespace, "spec.volumes"))
            for v in spec.volumes
        ]
    )
    return render.ServerInputs(
        name=name,
        namespace=namespace,
        spec=spec,
        flavor_name=spec.flavor,
        flavor=flavor,
        image=image,
        boot_claim=boot_claim,
        public_keys=keys,
        interfaces=interfaces,
        volume_claims=claims,
        placement=placement_enabled(),
        owner=client.owner_reference(server),
    )


@handling.reconciler(api.GROUP, "servers")
async def server(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Resolve what the server references, render its VM and cloud-init, apply them."""
    api_client: client.Client = memo.api
    server_body = dict(body)
    try:
        inputs = await _inputs(api_client, server_body)
        secret = render.render_cloud_init_secret(inputs)
        machine = render.render_virtual_machine(inputs)
    except WaitingError as waiting:
        await reporting.report(
            api_client,
            server_body,
            fields={"status": "BUILD", "taskState": "scheduling"},
            wanted=[waiting.condition],
            observed=False,
        )
        raise kopf.TemporaryError(waiting.condition.message, delay=3) from None
    except render.BuildError as error:
        await reporting.report(
            api_client,
            server_body,
            fields={
                "status": "ERROR",
                "taskState": None,
                "fault": {"code": 400, "message": str(error), "created": reporting.now()},
            },
            wanted=[Condition("Built", "False", "BuildRefused", str(error))],
        )
        raise kopf.PermanentError(str(error)) from None
    await api_client.apply(secret)
    await api_client.apply(machine)
    await report_server(api_client, server_body)


@kopf.on.event(
    "kubevirt.io", "v1", "virtualmachines", labels={"app.kubernetes.io/managed-by": "nimbus"}
)
@kopf.on.event(
    "kubevirt.io",
    "v1",
    "virtualmachineinstances",
    labels={"app.kubernetes.io/managed-by": "nimbus"},
)
async def machine_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """The VM or its instance moved: the server's status follows."""
    name = body["metadata"].get("labels", {}).get("compute.nimbus.dev/server")
    namespace = body["metadata"]["namespace"]
    server_body = await memo.api.get(COMPUTE, "Server", name, namespace) if name else None
    if server_body is not None and not server_body["metadata"].get("deletionTimestamp"):
        await report_server(memo.api, server_body)


async def report_server(api_client: client.Client, server_body: dict[str, Any]) -> None:
    name, namespace = server_body["metadata"]["name"], server_body["metadata"]["namespace"]
    vm = await api_client.get(KUBEVIRT, "VirtualMachine", name, namespace)
    vmi = await api_client.get(KUBEVIRT, "VirtualMachineInstance", name, namespace)
    networks = []
    for entry in server_body["spec"].get("networks", []):
        if entry.get("port"):  # addresses of a port are listed under the port's network
            port = await api_client.get(NETWORK, "Port", entry["port"], namespace)
            networks.append((port or {}).get("spec", {}).get("network", entry["port"]))
        else:
            networks.append(entry.get("network"))
    state = status.server_state(
        vm,
        vmi,
        [str(n) for n in networks],
        paused_requested=server_body["spec"].get("powerState") == "Paused",
    )
    zone = None
    if state.host:
        node = await api_client.get("v1", "Node", state.host)
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
    }
    current = server_body.get("status") or {}
    if reporting.unchanged(server_body, fields):
        return
    if state.fault is not None:
        fields["fault"] = {**state.fault, "created": reporting.now()}
    if state.status == "ACTIVE" and not current.get("launchedAt"):
        fields["launchedAt"] = reporting.now()
    scheduled = (
        Condition("Scheduled", "True", "Scheduled", f"on {state.host}")
        if state.host
        else Condition("Scheduled", "False", "Scheduling", "waiting for a host")
    )
    running = {
        "ACTIVE": Condition("Running", "True", "Active"),
        "SHUTOFF": Condition("Running", "True", "Shutoff", "stopped, as asked"),
        "PAUSED": Condition("Running", "True", "Paused", "paused, as asked"),
        "ERROR": Condition("Running", "False", "Error", (state.fault or {}).get("message", "")),
    }.get(
        state.status,
        Condition("Running", "False", state.status.title(), f"server {name} is {state.status}"),
    )
    wanted = [running] if state.status in ("SHUTOFF", "ERROR") else [scheduled, running]
    await reporting.report(api_client, server_body, fields=fields, wanted=wanted)
