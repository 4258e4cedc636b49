"""kopf handlers of identity.nimbus.dev: a Project becomes its namespace, quota, role bindings
and isolation; its status is `openstack quota show --usage`; its deletion drains it in order."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import kopf

from nimbus.api import meta
from nimbus.identity import api, render, roles
from nimbus.k8s import client
from nimbus.runtime import cache, handling, metrics, reporting
from nimbus.runtime.conditions import Condition

PROJECTS = f"{api.GROUP}/{meta.VERSION}"
RBAC = "rbac.authorization.k8s.io/v1"
USAGE_SECONDS = 5.0  # how often a project's usage is counted again (from the indexes)
HELD = (
    "servers", "keypairs", "servergroups", "volumes", "snapshots", "networks", "subnets",
    "ports", "securitygroups",
)  # fmt: skip


@kopf.on.startup()
async def cluster_objects(memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    """The ClusterRoles members are bound to, and the policy protecting projects."""
    if os.environ.get("NIMBUS_CLUSTER_OBJECTS", "true").lower() == "false":
        return  # the Helm chart ships them, and the operator holds no right to change them
    api_client: client.Client = memo.api
    for obj in roles.cluster_objects():
        try:
            await api_client.apply(obj)
        except client.ApiError as error:  # an operator without the rights: the chart ships them
            logger.warning(f"{obj['kind']} {obj['metadata']['name']} not applied: {error}")


def _held(view: cache.View, namespace: str) -> dict[str, list[Any]]:
    return {plural: list(view.list(plural, namespace)) for plural in HELD}


def _flavors(view: cache.View) -> dict[str, Any]:
    return {f["metadata"]["name"]: f.get("spec") or {} for f in view.list("flavors")}


def project_usage(
    view: cache.View, project: str, namespace: str, quota: api.Quota
) -> dict[str, Any]:
    """status.usage; the project's metrics follow."""
    held, flavors = _held(view, namespace), _flavors(view)
    usage = render.usage(quota, held, flavors)
    disk = sum(
        int((flavors.get(s["spec"].get("flavor", "")) or {}).get("diskGB", 0))
        for s in held["servers"]
    )
    metrics.project_usage(project, usage, disk)
    return usage


@handling.reconciler(api.Project)
async def project(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """Apply the project's namespace, quota, isolation and role bindings; report ACTIVE."""
    if body["metadata"].get("deletionTimestamp"):
        return
    api_client: client.Client = memo.api
    name = body["metadata"]["name"]
    spec = api.ProjectSpec.model_validate(body["spec"])
    namespace = render.namespace_of(name, spec)
    existing = await api_client.get("v1", "Namespace", namespace)
    owner = ((existing or {}).get("metadata", {}).get("labels") or {}).get(render.PROJECT_LABEL)
    if existing is not None and owner != name:
        # Never adopt a namespace: kube-system, an application's, another project's.
        whose = f"belongs to project {owner}" if owner else "exists and is not a project's"
        message = f"spec.namespace: namespace {namespace} {whose}; it is left as it is"
        await reporting.report(
            api_client, dict(body), fields={"status": "ERROR", "namespace": None},
            wanted=[Condition("NamespaceReady", "False", "NamespaceTaken", message)],
        )  # fmt: skip
        raise kopf.PermanentError(message)
    await api_client.apply(render.render_namespace(name, spec, client.owner_reference(dict(body))))
    bindings = render.render_role_bindings(name, namespace, spec)
    quota, *_ = await asyncio.gather(
        api_client.apply(render.render_quota(name, namespace, spec.quota)),
        api_client.apply(render.render_isolation(name, namespace)),
        *(api_client.apply(b) for b in bindings.values()),
        *(
            api_client.delete(RBAC, "RoleBinding", render.role_binding_name(role), namespace)
            for role in render.ROLES
            if role not in bindings
        ),
    )
    counted = (quota.get("status") or {}).get("used") or {}
    if (quota.get("status") or {}).get("hard") != quota["spec"]["hard"] or not set(
        quota["spec"]["hard"]
    ) <= set(counted):
        # Until kube-controller-manager has counted the quota, the API server refuses every
        # create it covers ("status unknown for quota"): the project is not ready before.
        await reporting.report(
            api_client, dict(body), fields={"status": "BUILD", "namespace": namespace},
            wanted=[Condition("NamespaceReady", "True", "Created", f"namespace {namespace}"),
                    Condition("QuotaReady", "False", "QuotaCounting",
                              "waiting for the quota controller to count the project")],
            observed=False,
        )  # fmt: skip
        raise kopf.TemporaryError("the project's quota is not counted yet", delay=1)
    view = cache.View.of(kwargs, memo)
    members = sum(len(b["subjects"]) for b in bindings.values())
    await reporting.report(
        api_client,
        dict(body),
        fields={
            "status": "ACTIVE",
            "namespace": namespace,
            "usage": project_usage(view, name, namespace, spec.quota),
        },
        wanted=[
            Condition("NamespaceReady", "True", "Created", f"namespace {namespace}"),
            Condition("QuotaReady", "True", "Counted", f"quota {render.QUOTA_NAME}"),
            Condition(
                "MembersBound", "True", "Bound" if spec.enabled else "Disabled",
                f"{members} role assignments" if spec.enabled
                else "the project is disabled: its members hold no roles",
            ),
        ],
    )  # fmt: skip


@kopf.timer(api.GROUP, meta.VERSION, "projects", interval=USAGE_SECONDS, idle=USAGE_SECONDS)
async def project_usage_timer(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """Usage follows what the project holds; written only when it changed."""
    status = body.get("status") or {}
    if body["metadata"].get("deletionTimestamp") or status.get("status") != "ACTIVE":
        return
    spec = api.ProjectSpec.model_validate(body["spec"])
    namespace = render.namespace_of(body["metadata"]["name"], spec)
    usage = project_usage(
        cache.View.of(kwargs, memo), body["metadata"]["name"], namespace, spec.quota
    )
    if status.get("usage") != usage:
        await memo.api.patch_status(PROJECTS, "Project", body["metadata"]["name"], None,
                                    {"usage": usage})  # fmt: skip


@kopf.on.delete(api.GROUP, meta.VERSION, "projects")
async def drain(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """Delete what the project holds, in order: stacks, servers, snapshots, then volumes,
    then ports, networks and the rest; then its namespace. Each step waits for the last one
    to be gone, and the status says what is left."""
    api_client: client.Client = memo.api
    spec = api.ProjectSpec.model_validate(body["spec"])
    namespace = render.namespace_of(body["metadata"]["name"], spec)
    existing = await api_client.get("v1", "Namespace", namespace)
    labels = ((existing or {}).get("metadata") or {}).get("labels") or {}
    if existing is None or labels.get(render.PROJECT_LABEL) != body["metadata"]["name"]:
        metrics.forget_project(body["metadata"]["name"])
        return  # not the project's namespace (it was never adopted): nothing of it is touched
    view = cache.View.of(kwargs, memo)
    for step in render.DRAIN_ORDER:
        if not spec.purge and set(step) & set(render.DATA):
            held = {plural: view.names(plural, namespace) for plural in render.DATA}
            kept = render.volumes_kept(body["metadata"]["name"], held)
            if kept:  # got past the webhook (or came with it away): the data stays
                await reporting.report(
                    api_client, dict(body), fields={"status": "DELETING"},
                    wanted=[Condition("Drained", "False", "VolumesKept", kept)], observed=False,
                )  # fmt: skip
                raise kopf.TemporaryError(kept, delay=10)
        left = {plural: view.list(plural, namespace) for plural in step}
        counts = {plural: len(objects) for plural, objects in left.items()}
        if not any(counts.values()):
            continue
        for plural, objects in left.items():
            kind = render.KINDS[plural]
            for obj in objects:
                if not obj["metadata"].get("deletionTimestamp"):
                    await api_client.delete(
                        kind.api_version_name(), kind.kind_name(), obj["metadata"]["name"],
                        namespace,
                    )  # fmt: skip
        progress = render.drain_progress(counts)
        await reporting.report(
            api_client, dict(body), fields={"status": "DELETING"},
            wanted=[Condition("Drained", "False", "Draining", progress)], observed=False,
        )  # fmt: skip
        raise kopf.TemporaryError(f"draining: {progress}", delay=2)
    await api_client.delete("v1", "Namespace", namespace)
    metrics.forget_project(body["metadata"]["name"])
