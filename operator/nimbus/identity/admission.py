"""The admission webhook's tenancy part, and what every service's admission shares: a
project's quota (Nova's, Cinder's and Neutron's words) with a ledger of reservations, a project's
namespace never taken over, and looking up references from the indexes.

Each service judges its own kinds: compute/admission.py (servers), blockstorage/admission.py
(volumes, snapshots), network/admission.py (subnets), image/admission.py (images),
orchestration/admission.py (stacks). They judge objects in a Project's namespace. Elsewhere (a
namespace a cluster admin made by hand) objects are taken as they are, and the operator's
conditions say what they wait for. Reads come from the operator's indexes; a name they miss is
looked up on the API server before it is refused (an object created a moment ago may not have
reached the index yet).

**Concurrent creates.** The webhook runs in the operator's one event loop, and a quota check
and the reservation it makes happen with no await between them: two creates are decided one
after the other, the second seeing the first's reservation. A reservation lasts until the
index holds the object (which then counts itself), or ASSUME_SECONDS if it never comes (another
admission step refused it). Dry runs reserve nothing.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import kopf

from nimbus.api import kinds
from nimbus.identity import api, render
from nimbus.runtime import cache

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
    kind = kinds.by_plural(plural)
    got: dict[str, Any] | None = await api.get(
        kind.api_version_name(), kind.kind_name(), name, namespace
    )
    return got


# -- the handlers -----------------------------------------------------------------------------


def changed(operation: str, old: Any, new: Any) -> bool:
    """Only what a user asks is judged: a create, or a change of spec. The operator's own
    writes (finalizers, annotations) and anything during deletion pass."""
    if operation == "CREATE":
        return True
    if (new or {}).get("metadata", {}).get("deletionTimestamp"):
        return False
    return bool((old or {}).get("spec") != (new or {}).get("spec"))


async def refer(
    view: cache.View, api: Any, plural: str, kind: str, field: str, name: str, namespace: str | None
) -> dict[str, Any]:
    found = await lookup(view, api, plural, name, namespace)
    if found is None:
        raise kopf.AdmissionError(not_found(field, kind, name, view.names(plural, namespace)))
    return found


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
