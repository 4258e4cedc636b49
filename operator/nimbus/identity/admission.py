"""The validating admission webhook: the refusals that need more than one object, in Nova's,
Cinder's and Glance's words, naming the field, the value and what is accepted.

- a Server referring to an unknown flavor, image, key pair, network, port, volume or server
  group (listing what exists), to another project's private image, or booting an image bigger
  than its flavor allows;
- a Server or Volume over its project's quota ("Quota exceeded for cores: Requested 4, but
  already used 18 of 20 cores");
- attaching an in-use volume that is not multiattach to a second server;
- deleting an in-use volume.

It judges objects in a Project's namespace. Elsewhere (a namespace a cluster admin made by hand)
objects are taken as they are, and the operator's conditions say what they wait for: a missing
reference, a volume still attached. Reads come from the operator's indexes; a name they miss
is looked up on the API server before it is refused (an object created a moment ago may not
have reached the index yet).

**Concurrent creates.** The webhook runs in the operator's one event loop, and a quota check
and the reservation it makes happen with no await between them: two creates are decided one
after the other, the second seeing the first's reservation. A reservation lasts until the
index holds the object (which then counts itself), or ASSUME_SECONDS if it never comes (another
admission step refused it). Dry runs reserve nothing.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import kopf

from nimbus import cache, kinds
from nimbus.blockstorage import status as storage_status
from nimbus.compute import api as compute_api
from nimbus.compute import render as compute_render
from nimbus.identity import api, authz, render, roles
from nimbus.orchestration import handlers as orchestration
from nimbus.orchestration import hot

ASSUME_SECONDS = 30.0


# -- quota ------------------------------------------------------------------------------------


def quota_exceeded(overs: list[tuple[str, int, int, int]]) -> str:
    """Nova's TooManyInstances text for (resource, requested, used, allowed) over the limit."""
    names = ", ".join(o[0] for o in overs)
    requested = ", ".join(str(o[1]) for o in overs)
    used = ", ".join(str(o[2]) for o in overs)
    allowed = ", ".join(str(o[3]) for o in overs)
    return (
        f"Quota exceeded for {names}: Requested {requested}, but already used {used} "
        f"of {allowed} {names}"
    )


def over_quota(
    requested: Mapping[str, int], used: Mapping[str, int], limits: Mapping[str, int]
) -> list[tuple[str, int, int, int]]:
    """The resources `requested` would take over their limit (-1: unlimited)."""
    return [
        (name, amount, used.get(name, 0), limits[name])
        for name, amount in requested.items()
        if limits.get(name, -1) >= 0 and used.get(name, 0) + amount > limits[name]
    ]


@dataclasses.dataclass
class Ledger:
    """What the webhook admitted that the index does not hold yet: (namespace, plural, name)
    -> (resources, expiry)."""

    clock: Callable[[], float] = time.monotonic
    held: dict[tuple[str, str, str], tuple[dict[str, int], float]] = dataclasses.field(
        default_factory=dict
    )

    def pending(self, namespace: str, plural: str, known: Iterable[str]) -> dict[str, int]:
        """The sum of reservations not yet in the index (`known`); the others are dropped."""
        now, known = self.clock(), set(known)
        total: dict[str, int] = {}
        for key, (amounts, until) in list(self.held.items()):
            if key[0] != namespace or key[1] != plural:
                continue
            if key[2] in known or until < now:
                del self.held[key]
                continue
            for name, amount in amounts.items():
                total[name] = total.get(name, 0) + amount
        return total

    def reserve(self, namespace: str, plural: str, name: str, amounts: dict[str, int]) -> None:
        self.held[(namespace, plural, name)] = (amounts, self.clock() + ASSUME_SECONDS)


LEDGER = Ledger()


def project_of(view: cache.View, namespace: str) -> dict[str, Any] | None:
    for project in view.list("projects"):
        spec = project.get("spec") or {}
        if (spec.get("namespace") or project["metadata"]["name"]) == namespace:
            return project
    return None


def _limits(project: Mapping[str, Any]) -> dict[str, int]:
    quota = api.Quota.model_validate((project.get("spec") or {}).get("quota") or {})
    return {name: int(getattr(quota, name)) for name in api.Quota.model_fields}


def check_server_quota(
    view: cache.View, namespace: str, name: str, flavor: Mapping[str, Any], *, dry_run: bool
) -> None:
    """instances, cores and ram: the index's servers and the ledger's reservations."""
    project = project_of(view, namespace)
    if project is None:
        return  # a namespace that is no project has no quota
    servers = [s for s in view.list("servers", namespace) if s["metadata"]["name"] != name]
    flavors = {f["metadata"]["name"]: f.get("spec") or {} for f in view.list("flavors")}
    used = {"instances": len(servers), "cores": 0, "ram": 0}
    for server in servers:
        size = flavors.get(server["spec"].get("flavor", "")) or {}
        used["cores"] += int(size.get("vcpus", 0))
        used["ram"] += int(size.get("ramMB", 0))
    for key, amount in LEDGER.pending(namespace, "servers", [*(s["metadata"]["name"]
                                      for s in servers), name]).items():  # fmt: skip
        used[key] += amount
    requested = {"instances": 1, "cores": int(flavor.get("vcpus", 0)),
                 "ram": int(flavor.get("ramMB", 0))}  # fmt: skip
    limits = _limits(project)
    allowed = {"instances": limits["instances"], "cores": limits["cores"], "ram": limits["ram_mb"]}
    overs = over_quota(requested, used, allowed)
    if overs:
        raise kopf.AdmissionError(quota_exceeded(overs), code=403)
    if not dry_run:
        LEDGER.reserve(namespace, "servers", name, requested)


def check_volume_quota(
    view: cache.View, namespace: str, name: str, size_gb: int, *, dry_run: bool
) -> None:
    """Cinder's volumes and gigabytes."""
    project = project_of(view, namespace)
    if project is None:
        return
    volumes = [v for v in view.list("volumes", namespace) if v["metadata"]["name"] != name]
    used = {"volumes": len(volumes), "gigabytes": sum(render.volume_gb(v) for v in volumes)}
    for key, amount in LEDGER.pending(namespace, "volumes", [*(v["metadata"]["name"]
                                      for v in volumes), name]).items():  # fmt: skip
        used[key] += amount
    limits = _limits(project)
    if 0 <= limits["volumes"] <= used["volumes"]:
        raise kopf.AdmissionError(
            f"VolumeLimitExceeded: Maximum number of volumes allowed ({limits['volumes']}) "
            "exceeded for quota 'volumes'.", code=403,
        )  # fmt: skip
    if 0 <= limits["gigabytes"] < used["gigabytes"] + size_gb:
        raise kopf.AdmissionError(
            "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
            f"gigabytes quota. Requested {size_gb}G, quota is {limits['gigabytes']}G and "
            f"{used['gigabytes']}G has been consumed.", code=403,
        )  # fmt: skip
    if not dry_run:
        LEDGER.reserve(namespace, "volumes", name, {"volumes": 1, "gigabytes": size_gb})


# -- references -------------------------------------------------------------------------------


def not_found(field: str, kind: str, name: str, available: Iterable[str]) -> str:
    names = sorted(available)
    listed = ", ".join(names) if names else "none"
    return f'{field}: {kind} "{name}" not found; available: {listed}'


async def lookup(
    view: cache.View, api: Any, plural: str, name: str, namespace: str | None
) -> dict[str, Any] | None:
    """The object from the index, else from the API server (the index may lag a moment)."""
    found = view.get(plural, name, namespace)
    if found is not None:
        return found
    kind = next(k for k in kinds.ALL if k.plural == plural)
    got: dict[str, Any] | None = await api.get(
        kind.api_version_name(), kind.kind_name(), name, namespace
    )
    return got


def image_refusal(image: Mapping[str, Any], namespace: str) -> str | None:
    """Glance's visibility: another project's image is usable only when public, or shared
    with this project."""
    owner = image["metadata"]["namespace"]
    spec = image.get("spec") or {}
    visibility = spec.get("visibility", "private")
    if owner == namespace or visibility == "public":
        return None
    if visibility == "shared" and namespace in (spec.get("members") or []):
        return None
    name = image["metadata"]["name"]
    return (
        f'spec.image: image "{name}" of project {owner} is {visibility}'
        + (f" and not shared with project {namespace}" if visibility == "shared" else "")
        + "; only public images, or images shared with this project, may be used"
    )


def attached_to(view: cache.View, namespace: str, volume: str, besides: str) -> list[str]:
    """The servers other than `besides` whose spec attaches `volume` (or boots from it)."""
    out = []
    for server in view.list("servers", namespace):
        if server["metadata"]["name"] == besides or server["metadata"].get("deletionTimestamp"):
            continue
        spec = server.get("spec") or {}
        names = {v.get("volume") for v in spec.get("volumes") or []}
        names.add((spec.get("bootVolume") or {}).get("name"))
        if volume in names:
            out.append(server["metadata"]["name"])
    return sorted(out)


# Ports named by servers admitted a moment ago, before the index holds them:
# (namespace, port) -> (server, expiry).
PORTS_NAMED: dict[tuple[str, str], tuple[str, float]] = {}


def port_in_use(
    view: cache.View,
    port: Mapping[str, Any],
    namespace: str,
    server: str,
    networks: list[Mapping[str, Any]],
    index: int,
) -> str | None:
    """Nova's PortInUse: a port serves one interface of one server. Another server naming it,
    owning it (an implicit port), or admitted naming it a moment ago holds it."""
    name = port["metadata"]["name"]
    if any(n.get("port") == name for n in networks[:index]):
        return f"Port {name} is still in use (by another interface of this server)."
    users = {
        o["name"]
        for o in port["metadata"].get("ownerReferences") or []
        if o.get("kind") == "Server" and o["name"] != server
    }
    for other in view.list("servers", namespace):
        if other["metadata"]["name"] == server or other["metadata"].get("deletionTimestamp"):
            continue
        if any(n.get("port") == name for n in (other.get("spec") or {}).get("networks") or []):
            users.add(other["metadata"]["name"])
    held, now = PORTS_NAMED.get((namespace, name)), time.monotonic()
    admitted = held is not None and held[0] != server and held[1] > now
    if held is not None and admitted and view.get("servers", held[0], namespace) is None:
        users.add(held[0])  # admitted a moment ago, not in the index yet
    if users:
        return f"Port {name} is still in use (by server {', '.join(sorted(users))})."
    return None


def overlapping(subnet: Mapping[str, Any], others: Iterable[Mapping[str, Any]]) -> str | None:
    """Neutron's refusal of a subnet whose cidr overlaps another of its network's."""
    spec = subnet.get("spec") or {}
    try:
        cidr = ipaddress.ip_network(str(spec.get("cidr")), strict=False)
    except ValueError:
        return None  # the schema says what is wrong with it
    for other in others:
        other_spec = other.get("spec") or {}
        if other["metadata"]["name"] == subnet["metadata"]["name"]:
            continue
        if other_spec.get("network") != spec.get("network"):
            continue
        try:
            theirs = ipaddress.ip_network(str(other_spec.get("cidr")), strict=False)
        except ValueError:
            continue
        if theirs.version == cidr.version and cidr.overlaps(theirs):
            return (
                f"spec.cidr: Invalid input for operation: Requested subnet with cidr: {cidr} for "
                f"network: {spec.get('network')} overlaps with another subnet "
                f"({other['metadata']['name']}, {theirs})."
            )
    return None


def image_too_big(
    flavor: Mapping[str, Any], image: Mapping[str, Any], flavor_name: str = ""
) -> str | None:
    """Nova's "flavor too small" texts, as the render refuses them."""
    spec = image.get("spec") or {}
    status = image.get("status") or {}
    disk = compute_render.ImageDisk(
        namespace=image["metadata"]["namespace"],
        data_volume="",
        min_disk_gb=int(spec.get("minDiskGB", 0)),
        min_ram_mb=int(spec.get("minRamMB", 0)),
        virtual_size=status.get("virtualSize"),
        name=image["metadata"]["name"],
    )
    try:
        compute_render.check_flavor_fits_image(
            compute_api.FlavorSpec.model_validate(flavor), disk, flavor_name
        )
    except compute_render.BuildError as error:
        return str(error)
    return None


# -- the handlers -----------------------------------------------------------------------------


def _changed(operation: str, old: Any, new: Any) -> bool:
    """Only what a user asks is judged: a create, or a change of spec. The operator's own
    writes (finalizers, annotations) and anything during deletion pass."""
    if operation == "CREATE":
        return True
    if (new or {}).get("metadata", {}).get("deletionTimestamp"):
        return False
    return bool((old or {}).get("spec") != (new or {}).get("spec"))


async def _refer(
    view: cache.View, api: Any, plural: str, kind: str, field: str, name: str, namespace: str | None
) -> dict[str, Any]:
    found = await lookup(view, api, plural, name, namespace)
    if found is None:
        raise kopf.AdmissionError(not_found(field, kind, name, view.names(plural, namespace)))
    return found


@kopf.on.validate("compute.nimbus.dev", "v1alpha1", "servers", id="servers",
                  operations=["CREATE", "UPDATE"])  # fmt: skip
async def validate_server(body: kopf.Body, dryrun: bool, memo: kopf.Memo, **kwargs: Any) -> None:
    operation, old, new = kwargs.get("operation", ""), kwargs.get("old"), kwargs.get("new")
    view, api = cache.View.of(kwargs, memo), memo.api
    namespace = str(body["metadata"].get("namespace"))
    if not _changed(operation, old, new or dict(body)) or project_of(view, namespace) is None:
        return
    name = str(body["metadata"].get("name", ""))
    spec = body.get("spec") or {}
    flavor = await _refer(view, api, "flavors", "flavor", "spec.flavor", spec["flavor"], None)
    image_ref = spec.get("image")
    if image_ref:
        project = image_ref.get("project") or namespace
        field = "spec.image" if project == namespace else f"spec.image (project {project})"
        image = await _refer(view, api, "images", "image", field, image_ref["name"], project)
        why = image_refusal(image, namespace) or image_too_big(
            flavor.get("spec") or {}, image, spec["flavor"]
        )
        if why:
            raise kopf.AdmissionError(why)
    if spec.get("keyName"):
        await _refer(view, api, "keypairs", "key pair", "spec.keyName", spec["keyName"], namespace)
    if spec.get("serverGroup"):
        await _refer(view, api, "servergroups", "server group", "spec.serverGroup",
                     spec["serverGroup"], namespace)  # fmt: skip
    for i, entry in enumerate(spec.get("networks") or []):
        if entry.get("network"):
            await _refer(view, api, "networks", "network", f"spec.networks[{i}].network",
                         entry["network"], namespace)  # fmt: skip
        if entry.get("port"):
            field = f"spec.networks[{i}].port"
            port = await _refer(view, api, "ports", "port", field, entry["port"], namespace)
            why = port_in_use(view, port, namespace, name, spec.get("networks") or [], i)
            if why:
                raise kopf.AdmissionError(f"{field}: {why}", code=409)
    volumes = [("spec.bootVolume.name", (spec.get("bootVolume") or {}).get("name"))]
    volumes += [(f"spec.volumes[{i}].volume", v.get("volume"))
                for i, v in enumerate(spec.get("volumes") or [])]  # fmt: skip
    for field, volume_name in volumes:
        if not volume_name:
            continue
        volume = await _refer(view, api, "volumes", "volume", field, volume_name, namespace)
        others = attached_to(view, namespace, volume_name, besides=name)
        if others and not (volume.get("spec") or {}).get("multiattach"):
            raise kopf.AdmissionError(
                f"{field}: Invalid volume: volume {volume_name} is in-use, attached to "
                f"{', '.join(others)}, and is not multiattach; detach it first, or use a "
                "multiattach volume"
            )
    old_flavor = ((old or {}).get("spec") or {}).get("flavor")
    if operation == "CREATE" or old_flavor != spec["flavor"]:
        check_server_quota(view, namespace, name, flavor.get("spec") or {},
                           dry_run=dryrun or operation != "CREATE")  # fmt: skip
    if not dryrun:  # admitted: its ports are held until the index has the server
        until = time.monotonic() + ASSUME_SECONDS
        for entry in spec.get("networks") or []:
            if entry.get("port"):
                PORTS_NAMED[(namespace, entry["port"])] = (name, until)


@kopf.on.validate("blockstorage.nimbus.dev", "v1alpha1", "volumes", id="volumes",
                  operations=["CREATE", "UPDATE", "DELETE"])  # fmt: skip
async def validate_volume(body: kopf.Body, dryrun: bool, memo: kopf.Memo, **kwargs: Any) -> None:
    operation, old, new = kwargs.get("operation", ""), kwargs.get("old"), kwargs.get("new")
    view = cache.View.of(kwargs, memo)
    source = old if operation == "DELETE" and old else dict(body)
    namespace = str(source["metadata"].get("namespace"))
    name = str(source["metadata"].get("name", ""))
    if project_of(view, namespace) is None:
        return  # not a project's: reconciled as it is (a deletion waits for detaching)
    if operation == "DELETE":
        others = attached_to(view, namespace, name, besides="")
        if others:
            raise kopf.AdmissionError(
                f"Invalid volume: volume {name} status must be available or error, but current "
                f"status is: in-use (attached to {', '.join(others)}); detach it first"
            )
        snapshots = storage_status.dependent_snapshots(view.list("snapshots", namespace), name)
        if snapshots:
            raise kopf.AdmissionError(storage_status.snapshots_refusal(name, snapshots))
        return
    if not _changed(operation, old, new or dict(body)):
        return
    size = int((body.get("spec") or {}).get("sizeGB") or 0)
    grown = size - int(((old or {}).get("spec") or {}).get("sizeGB") or 0)
    if operation == "CREATE":
        check_volume_quota(view, namespace, name, size, dry_run=dryrun)
    elif grown > 0:
        check_volume_quota(view, namespace, name, size, dry_run=True)


# Heat's max_template_size; and what a Stack may hold in all, well inside etcd's 1.5 MiB for
# one object (the API server stores a Stack whole, with its status).
MAX_TEMPLATE_BYTES = 524288
MAX_STACK_BYTES = 1024 * 1024


def _size(value: Any) -> int:
    return len(value.encode()) if isinstance(value, str) else len(json.dumps(value).encode())


def stack_too_big(spec: Mapping[str, Any]) -> str | None:
    """Heat's refusal of a template over max_template_size, and ours of a Stack too big to be
    kept as one object."""
    template = _size(spec.get("template"))
    if template > MAX_TEMPLATE_BYTES:
        return (
            f"spec.template: Template size ({template} bytes) exceeds maximum allowed size "
            f"({MAX_TEMPLATE_BYTES} bytes): Heat's max_template_size. Split it into nested "
            "stacks (OS::Heat::Stack, or template resources in spec.files)"
        )
    total = sum(_size(spec.get(k) or {}) for k in ("template", "files", "environment",
                                                   "parameters"))  # fmt: skip
    if total > MAX_STACK_BYTES:
        return (
            f"spec: the Stack's template, files, environment and parameters are {total} bytes; "
            f"at most {MAX_STACK_BYTES} bytes are taken, since the API server keeps a Stack as "
            "one object in etcd (1.5 MiB at most, status included). Split it into nested stacks"
        )
    return None


async def _operator_user(memo: kopf.Memo) -> str:
    if memo.get("operator_user") is None:
        memo.operator_user = await authz.whoami(memo.api)
    return str(memo.operator_user)


@kopf.on.mutate("orchestration.nimbus.dev", "v1alpha1", "stacks", id="stacks-requester",
                operations=["CREATE", "UPDATE"])  # fmt: skip
async def record_requester(
    body: kopf.Body, patch: kopf.Patch, userinfo: kopf.UserInfo, memo: kopf.Memo, **kwargs: Any
) -> None:
    """Who asked for a Stack (or its change of spec), from the API server's own account, so its
    controller makes only what that user may. The annotation is the webhook's alone: set on a
    create and a change of spec, kept as it was on any other update."""
    operation, old = kwargs.get("operation", ""), kwargs.get("old")
    annotations = dict(body["metadata"].get("annotations") or {})
    given = annotations.get(authz.REQUESTER)
    if given and userinfo.get("username") == await _operator_user(memo):
        return  # the operator makes a nested stack for its parent's requester
    if operation == "CREATE" or (old or {}).get("spec") != body.get("spec"):
        wanted: str | None = authz.Requester.of(userinfo).annotation()
    else:
        wanted = ((old or {}).get("metadata", {}).get("annotations") or {}).get(authz.REQUESTER)
    if wanted != given:
        patch.metadata.setdefault("annotations", {})[authz.REQUESTER] = wanted


@kopf.on.validate("orchestration.nimbus.dev", "v1alpha1", "stacks", id="stacks",
                  operations=["CREATE", "UPDATE"])  # fmt: skip
async def validate_stack(
    body: kopf.Body, dryrun: bool, userinfo: kopf.UserInfo, memo: kopf.Memo, **kwargs: Any
) -> None:
    """A Stack whose template, parameters or resource types Heat would refuse is refused here,
    with Heat's reason, before anything is made; so is one making what its user may not make
    (a SubjectAccessReview per kind and namespace: the operator's rights are not theirs)."""
    operation, old, new = kwargs.get("operation", ""), kwargs.get("old"), kwargs.get("new")
    view = cache.View.of(kwargs, memo)
    namespace = str(body["metadata"].get("namespace"))
    if not _changed(operation, old, new or dict(body)):
        return
    too_big = stack_too_big(body.get("spec") or {})
    if too_big:
        raise kopf.AdmissionError(too_big, code=413)
    if project_of(view, namespace) is None:
        return
    stack = {**dict(body), "metadata": {**dict(body["metadata"]), "uid":
                                        body["metadata"].get("uid") or "validating"}}  # fmt: skip
    try:
        plan = orchestration.Plan(stack, view)
    except hot.HotError as error:
        raise kopf.AdmissionError(f"spec.template: {error}") from None
    if userinfo.get("username") == await _operator_user(memo):
        return  # a nested stack: its parent was checked for its requester
    refusal = await plan.refusal(memo.api, authz.Requester.of(userinfo))
    if refusal is not None:
        raise kopf.AdmissionError(f"spec.template: {refusal}", code=403)


@kopf.on.validate("network.nimbus.dev", "v1alpha1", "subnets", id="subnets",
                  operations=["CREATE"])  # fmt: skip
async def validate_subnet(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """Neutron refuses overlapping subnets on one network: ports would take addresses from the
    wider one, the other's gateway and DNS server among them. Read from the API server, not
    the index, so a subnet made a moment ago counts."""
    namespace = str(body["metadata"].get("namespace"))
    others = await memo.api.list("network.nimbus.dev/v1alpha1", "Subnet", namespace)
    why = overlapping(dict(body), others)
    if why:
        raise kopf.AdmissionError(why, code=400)


@kopf.on.validate("image.nimbus.dev", "v1alpha1", "images", id="images",
                  operations=["CREATE", "UPDATE"])  # fmt: skip
async def validate_image(
    body: kopf.Body, userinfo: kopf.UserInfo, memo: kopf.Memo, **kwargs: Any
) -> None:
    """Glance's publicize_image: only an admin makes an image public, since every project then
    sees it. Here: whoever may `publicize` images cluster-wide (cluster admins, and those bound
    to the ClusterRole nimbus-image-publisher)."""
    old = kwargs.get("old") or {}
    if (body.get("spec") or {}).get("visibility") != "public":
        return
    if (old.get("spec") or {}).get("visibility") == "public":
        return  # it was public already
    access = authz.Access("publicize", "image.nimbus.dev", "images")
    if await authz.denied(memo.api, authz.Requester.of(userinfo), [access]):
        raise kopf.AdmissionError(
            "spec.visibility: public: Forbidden: You are not authorized to complete "
            "publicize_image action. Only an admin may make an image public (the verb "
            f"publicize on images.image.nimbus.dev, in the ClusterRole "
            f"{roles.IMAGE_PUBLISHER}); use visibility: shared with members to give it to some "
            "projects",
            code=403,
        )


@kopf.on.validate("identity.nimbus.dev", "v1alpha1", "projects", id="projects",
                  operations=["CREATE", "DELETE"])  # fmt: skip
async def validate_project(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """A project's namespace is its own: one that exists already and is not this project's
    (kube-system, an application's, the operator's) is never adopted. A project holding
    volumes is deleted only when its spec says purge."""
    if kwargs.get("operation") == "DELETE":
        old = kwargs.get("old") or dict(body)
        spec = api.ProjectSpec.model_validate(old.get("spec") or {})
        if spec.purge:
            return
        project = str(old["metadata"]["name"])
        view, namespace = cache.View.of(kwargs, memo), render.namespace_of(project, spec)
        why = render.volumes_kept(project, {p: view.names(p, namespace) for p in render.DATA})
        if why:
            raise kopf.AdmissionError(why, code=409)
        return
    name = str(body["metadata"].get("name", ""))
    namespace = render.namespace_of(name, api.ProjectSpec.model_validate(body.get("spec") or {}))
    existing = await memo.api.get("v1", "Namespace", namespace)
    if existing is None:
        return
    owner = (existing["metadata"].get("labels") or {}).get(render.PROJECT_LABEL)
    if owner != name:
        whose = f"project {owner}'s" if owner else "not a project's"
        raise kopf.AdmissionError(
            f"spec.namespace: namespace {namespace} exists and is {whose}; a project makes its "
            "own namespace and never takes one over: choose another name or spec.namespace",
            code=409,
        )


@kopf.on.validate("blockstorage.nimbus.dev", "v1alpha1", "snapshots", id="snapshots",
                  operations=["CREATE"])  # fmt: skip
async def validate_snapshot(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """Cinder snapshots only a volume that exists."""
    view = cache.View.of(kwargs, memo)
    namespace = str(body["metadata"].get("namespace"))
    if project_of(view, namespace) is None:
        return
    volume = str((body.get("spec") or {}).get("volume") or "")
    await _refer(view, memo.api, "volumes", "volume", "spec.volume", volume, namespace)
