"""What a Server names, resolved from the indexes: its flavor, image, volumes, key pair,
security groups and user data; each missing or not ready one a WaitingError that says which
(the condition the server then shows)."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from nimbus.compute import api, interfaces, lifecycle, preflight, render
from nimbus.k8s import client
from nimbus.network import render as network_render
from nimbus.runtime import cache
from nimbus.runtime.conditions import FailedError, WaitingError

NETWORK = "network.nimbus.dev/v1alpha1"


def group_members(view: cache.View, namespace: str, group: str) -> dict[str, Any]:
    """`openstack server group show`: the group's servers and the hosts they are on."""
    members = [
        s for s in view.list("servers", namespace)
        if s["spec"].get("serverGroup") == group and not s["metadata"].get("deletionTimestamp")
    ]  # fmt: skip
    hosts = {(s.get("status") or {}).get("host") for s in members} - {None}
    return {"members": [s["metadata"]["name"] for s in members], "hosts": sorted(hosts)}


def flavor_disks(view: cache.View) -> dict[str, int]:
    return {f["metadata"]["name"]: int(f["spec"].get("diskGB", 0)) for f in view.list("flavors")}


def flavor_spec(view: cache.View, name: str) -> api.FlavorSpec:
    flavor = view.get("flavors", name)
    if flavor is None:
        raise WaitingError(
            "FlavorFound",
            "FlavorNotFound",
            f'spec.flavor: flavor "{name}" not found; '
            f"available: {', '.join(view.names('flavors'))}",
        )
    return api.FlavorSpec.model_validate(flavor["spec"])


# What an image or volume that will never be ready as it is says (Glance's, Cinder's words).
IMAGE_FAILED = ("killed", "deleted", "pending_delete", "deactivated")
VOLUME_FAILED = ("error", "error_deleting", "error_extending")


def image_disk(view: cache.View, ref: api.ImageRef, namespace: str) -> render.ImageDisk:
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
    if state in IMAGE_FAILED:
        reason = (image.get("status") or {}).get("reason")
        raise FailedError(
            "ImageReady", "ImageUnusable",
            f"spec.image: Image {ref.name} is not active: it is {state}"
            + (f" ({reason})" if reason else ""),
        )  # fmt: skip
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


def volume_claim(view: cache.View, name: str, namespace: str, field: str) -> str:
    volume = view.get("volumes", name, namespace)
    if volume is None:
        raise WaitingError(
            "VolumesReady", "VolumeNotFound", f"{field}: Volume {name} could not be found."
        )
    state = (volume.get("status") or {}).get("status")
    if state in VOLUME_FAILED:
        raise FailedError("VolumesReady", "VolumeError", f"{field}: volume {name} is {state}")
    # A volume growing (extending) stays attached, as in Cinder: its server runs on.
    if state not in ("available", "in-use", "attaching", "detaching", "extending"):
        raise WaitingError(
            "VolumesReady",
            "VolumeNotAvailable",
            f"{field}: volume {name} is {state or 'creating'}, not available",
        )
    return str(volume["status"].get("persistentVolumeClaim") or name)


async def user_data_text(api_client: client.Client, ref: api.UserDataSecret, namespace: str) -> str:
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


def public_key(view: cache.View, name: str, namespace: str) -> str:
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


async def security_groups(
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


async def inputs(
    api_client: client.Client,
    view: cache.View,
    server: dict[str, Any],
    made: interfaces.Ports,
    action: lifecycle.Action,
) -> render.ServerInputs:
    name, namespace = server["metadata"]["name"], server["metadata"]["namespace"]
    spec = api.ServerSpec.model_validate(server["spec"])
    flavor = flavor_spec(view, action.flavor)
    image = image_disk(view, spec.image, namespace) if spec.image else None
    boot_claim = (
        volume_claim(view, spec.boot_volume.name, namespace, "spec.bootVolume")
        if spec.boot_volume
        else None
    )
    keys = (public_key(view, spec.key_name, namespace),) if spec.key_name else ()
    claims = tuple(
        (v.volume, volume_claim(view, v.volume, namespace, "spec.volumes")) for v in spec.volumes
    )
    await security_groups(api_client, view, spec.security_groups, namespace)
    secret_user_data = (
        await user_data_text(api_client, spec.user_data_secret, namespace)
        if spec.user_data_secret
        else None
    )
    nics = interfaces.interfaces(view, server, spec, namespace, made)
    return render.ServerInputs(
        name=name,
        namespace=namespace,
        spec=spec,
        flavor_name=action.flavor,
        flavor=flavor,
        image=image,
        boot_claim=boot_claim,
        public_keys=keys,
        interfaces=nics,
        volume_claims=claims,
        placement=preflight.placement_enabled(),
        owner=client.owner_reference(server),
        root_generation=action.root_generation,
        secret_user_data=secret_user_data,
    )
