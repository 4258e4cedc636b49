"""What placement asks, read from a virt-launcher pod (or a VirtualMachine's template): the
labels and annotations the compute render puts there (their names: compute/scheduling.py), and
the zone from the pod's node selector `topology.kubernetes.io/zone`. Pure: no client, no kopf.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from nimbus.compute import render, scheduling
from nimbus.placement import engine, filters, hosts

# KubeVirt labels the target pod of a live migration with its migration's uid.
MIGRATION = "kubevirt.io/migrationJobUID"


@dataclasses.dataclass(frozen=True)
class GroupPolicy:
    """A ServerGroup's spec: its policy and rules (Nova's names)."""

    policy: str
    rules: dict[str, Any] = dataclasses.field(default_factory=dict)


def server(metadata: Mapping[str, Any]) -> str | None:
    """`namespace/name` of the Server a pod runs, or None when it is not a Nimbus pod."""
    labels = metadata.get("labels") or {}
    if labels.get("app.kubernetes.io/managed-by") != "nimbus" or scheduling.SERVER not in labels:
        return None
    return f"{metadata.get('namespace')}/{labels[scheduling.SERVER]}"


def served(pod: Mapping[str, Any]) -> bool:
    """True for the pods placement decides: a Server's, and not a migration's target (a live
    migration moves a placed server; kube-scheduler alone picks its target)."""
    metadata = pod.get("metadata") or {}
    return server(metadata) is not None and MIGRATION not in (metadata.get("labels") or {})


def _json(annotations: Mapping[str, str], key: str) -> dict[str, Any]:
    try:
        value = json.loads(annotations.get(key) or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _int(labels: Mapping[str, str], key: str) -> int:
    try:
        return int(labels.get(key, "0"))
    except ValueError:
        return 0


def placed(pod: Mapping[str, Any]) -> hosts.Placed | None:
    """What a pod uses on its node: a Server's pod its flavor, any other pod its requests (on
    Kubernetes every pod consumes); None for pods that are done."""
    metadata = pod.get("metadata") or {}
    name = server(metadata)
    phase = (pod.get("status") or {}).get("phase")
    if name is None:
        return hosts.pod_usage(pod)
    if phase in ("Succeeded", "Failed"):
        return None
    labels = metadata.get("labels") or {}
    extra_specs = (
        _json(metadata.get("annotations") or {}, scheduling.FLAVOR_SPEC).get("extraSpecs") or {}
    )
    spec = engine.RequestSpec(vcpus=0, memory_mb=0, disk_gb=0, extra_specs=extra_specs)
    return hosts.Placed(
        name=name,
        vcpus=_int(labels, scheduling.VCPUS),
        memory_mb=_int(labels, scheduling.MEMORY_MB),
        disk_gb=_int(labels, scheduling.DISK_GB),
        busy=phase != "Running",  # building: Nova's I/O operation
        devices=filters.pci_requests(spec),
    )


def _namespaced(namespace: str, names: Any) -> list[str]:
    if isinstance(names, str):
        names = [names]
    return [n if "/" in n else f"{namespace}/{n}" for n in names or []]


def nova_hints(namespace: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """A Server's schedulerHints (its API names) as Nova's scheduler hints."""
    hints: dict[str, Any] = {}
    if given.get("sameHost"):
        hints["same_host"] = _namespaced(namespace, given["sameHost"])
    if given.get("differentHost"):
        hints["different_host"] = _namespaced(namespace, given["differentHost"])
    if given.get("query"):
        hints["query"] = given["query"]
    if given.get("buildNearHostIP"):
        hints["build_near_host_ip"] = given["buildNearHostIP"]
        hints["cidr"] = given.get("cidr", "/24")
    return hints


def server_request(inputs: render.ServerInputs) -> engine.RequestSpec:
    """The RequestSpec of a Server about to be built, read from its inputs directly (no pod):
    what its pod will ask once it exists, without its server group's members (the pre-flight
    asks of empty nodes)."""
    flavor, hints = inputs.flavor, inputs.spec.scheduler_hints
    return engine.RequestSpec(
        vcpus=flavor.vcpus,
        memory_mb=flavor.ram_mb,
        disk_gb=render.disk_request_gb(flavor, boot_from_volume=inputs.image is None),
        extra_specs={str(k): str(v) for k, v in flavor.extra_specs.items()},
        image_properties={
            str(k): str(v) for k, v in (inputs.image.properties if inputs.image else {}).items()
        },
        hints=nova_hints(inputs.namespace, hints.to_api() if hints is not None else {}),
        availability_zone=inputs.spec.availability_zone,
        project_id=inputs.namespace,
        image=inputs.spec.image.name if inputs.spec.image is not None else None,
    )


def request_spec(
    metadata: Mapping[str, Any],
    node_selector: Mapping[str, str] | None,
    group: GroupPolicy | None = None,
    members: Mapping[str, str] | None = None,
) -> engine.RequestSpec:
    """The RequestSpec of a Server's pod. `group` is its ServerGroup's policy, `members` the
    group's placed servers (`namespace/name` -> node)."""
    namespace = str(metadata.get("namespace"))
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    flavor = _json(annotations, scheduling.FLAVOR_SPEC)
    hints = nova_hints(namespace, _json(annotations, scheduling.SCHEDULER_HINTS))
    server_group = None
    if group is not None:
        members = dict(members or {})
        server_group = engine.ServerGroup(
            policy=group.policy,
            hosts=tuple(sorted(set(members.values()))),
            members=tuple(sorted(members)),
            rules=dict(group.rules),
        )
    return engine.RequestSpec(
        vcpus=_int(labels, scheduling.VCPUS),
        memory_mb=_int(labels, scheduling.MEMORY_MB),
        disk_gb=_int(labels, scheduling.DISK_GB),
        extra_specs={str(k): str(v) for k, v in (flavor.get("extraSpecs") or {}).items()},
        image_properties={
            str(k): str(v) for k, v in _json(annotations, scheduling.IMAGE_PROPERTIES).items()
        },
        hints=hints,
        availability_zone=(node_selector or {}).get(hosts.ZONE),
        project_id=str(labels.get(scheduling.PROJECT, namespace)),
        server_group=server_group,
        image=annotations.get(scheduling.IMAGE),
    )


def group_of(metadata: Mapping[str, Any]) -> tuple[str, str] | None:
    """(namespace, name) of the ServerGroup a Server's pod belongs to."""
    name = (metadata.get("labels") or {}).get(scheduling.SERVER_GROUP)
    return (str(metadata.get("namespace")), name) if name else None


def group_policy(server_group: Mapping[str, Any]) -> GroupPolicy:
    """A ServerGroup object's policy and rules, in Nova's names."""
    spec = server_group.get("spec") or {}
    rules = spec.get("rules") or {}
    out = {}
    if "maxServerPerHost" in rules:
        out["max_server_per_host"] = int(rules["maxServerPerHost"])
    return GroupPolicy(policy=str(spec.get("policy", "")), rules=out)
