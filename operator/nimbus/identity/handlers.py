"""kopf handlers of identity.nimbus.dev: a Project becomes its namespace, quota, role bindings
and isolation; its status is `openstack quota show --usage`; its deletion drains it in order. A
User's password is kept as a salted hash in the system namespace, hashed again when it
changes."""

from __future__ import annotations

import asyncio
import datetime
import os
from typing import Any

import kopf

from nimbus.api import meta
from nimbus.identity import api, render, roles
from nimbus.k8s import client
from nimbus.openstack import passwords
from nimbus.runtime import cache, conditions, handling, metrics, reporting
from nimbus.runtime.conditions import Condition

PROJECTS = f"{api.GROUP}/{meta.VERSION}"
RBAC = "rbac.authorization.k8s.io/v1"
USAGE_SECONDS = 5.0  # how often a project's usage is counted again (from the indexes)
# How often a User's password Secret is read again for a change. Secrets are not watched: a
# cluster holds many, and a watch would decode every one; a read per user and minute is less.
PASSWORD_RECHECK_SECONDS = 60.0
WAITING_SECONDS = 10.0  # a missing password Secret or key is looked for again after this
# scrypt takes 128 MiB and a tenth of a second a hash (in a thread): two at a time at most.
_HASHING = asyncio.Semaphore(2)
_USERS: dict[str, asyncio.Lock] = {}  # one pass at a time per user (its handler and timer)
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


def system_namespace() -> str:
    """Where the operator keeps what is no project's (password hashes): the chart's release
    namespace, `nimbus-system` unless told."""
    return os.environ.get("NIMBUS_SYSTEM_NAMESPACE") or "nimbus-system"


@kopf.on.startup()
async def system_namespace_made(memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    """The system namespace, made when missing (the local cloud, `nimbus run` by hand); the
    chart's is its release namespace, which exists. Never deleted by the operator."""
    api_client: client.Client = memo.api
    name = system_namespace()
    try:
        if await api_client.get("v1", "Namespace", name) is None:
            await api_client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {
                "name": name, "labels": dict(render.MANAGED)}})  # fmt: skip
    except client.ApiError as error:  # made meanwhile by another replica, or not ours to make
        logger.warning(f"namespace {name} not made: {error}")


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


_IMPERSONATION = asyncio.Lock()
_IMPERSONATED: list[list[str]] = []  # the names last written, once written


@kopf.on.event(api.GROUP, meta.VERSION, "users")
@kopf.on.event(api.GROUP, meta.VERSION, "projects")
async def impersonation(
    memo: kopf.Memo, logger: kopf.Logger, type: str | None, body: kopf.Body, **_: Any
) -> None:
    """The OpenStack API may impersonate the Users there are, and assert the group of the
    Projects there are, and nothing else: each User or Project made or deleted rewrites the
    ClusterRole naming them (roles.impersonation_role). A change to one already named, and not
    being deleted (a Project's status, often), changes nothing and lists nothing."""
    api_client: client.Client = memo.api
    metadata = body.get("metadata") or {}
    if (type == "MODIFIED" and not metadata.get("deletionTimestamp") and _IMPERSONATED
            and metadata.get("name") in _IMPERSONATED[-1]):  # fmt: skip
        return
    async with _IMPERSONATION:
        users, projects = [
            sorted(o["metadata"]["name"] for o in await api_client.list(kind.api_version_name(),
                                                                        kind.__name__)
                   if not o["metadata"].get("deletionTimestamp"))
            for kind in (api.User, api.Project)
        ]  # fmt: skip
        names = [*users, "", *projects]
        if _IMPERSONATED and _IMPERSONATED[-1] == names:
            return
        role = roles.impersonation_role(users, projects)
        try:  # its rules alone: the chart owns the rest of it (and Helm its labels)
            try:
                await api_client.patch(RBAC, "ClusterRole", roles.IMPERSONATION, None,
                                       {"rules": role["rules"]})  # fmt: skip
            except client.ApiError as error:
                if error.status != 404:
                    raise
                await api_client.create(role)  # no chart: the operator makes it
        except client.ApiError as error:  # no right to: the API impersonates no one new
            logger.warning(f"ClusterRole {roles.IMPERSONATION} not applied: {error}")
            return
        _IMPERSONATED[:] = [names]


@handling.reconciler(api.User, poll=PASSWORD_RECHECK_SECONDS)
async def user(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Keep a salted hash of the user's password (spec.passwordSecret) in the system namespace,
    made again only when the password changed, which then sets status.passwordChangedAt; report
    Ready. Also run every PASSWORD_RECHECK_SECONDS, to see the Secret change."""
    if body["metadata"].get("deletionTimestamp"):
        return
    api_client: client.Client = memo.api
    name = body["metadata"]["name"]
    spec = api.UserSpec.model_validate(body.get("spec") or {})
    async with _USERS.setdefault(name, asyncio.Lock()):
        try:
            wanted = await _password(api_client, dict(body), spec)
        except conditions.WaitingError as waiting:
            await _report(api_client, dict(body), [waiting.condition], observed=False)
            raise kopf.TemporaryError(str(waiting), delay=WAITING_SECONDS) from None
        await _report(api_client, dict(body), [wanted])


async def _password(
    api_client: client.Client, body: dict[str, Any], spec: api.UserSpec
) -> Condition:
    """The PasswordReady condition, once the hash kept is the password's. The password is
    verified against the hash kept before it is hashed again, and only when its Secret changed
    since; a new hash sets status.passwordChangedAt."""
    ref = spec.password_secret
    if ref is None:
        return Condition("PasswordReady", "True", "NoPasswordSecret",
                         "no spec.passwordSecret: the password is set through the Identity "
                         "API")  # fmt: skip
    name, namespace = body["metadata"]["name"], system_namespace()
    secret = await api_client.get("v1", "Secret", ref.name, ref.namespace)
    password = render.password_of(ref, secret)
    assert secret is not None  # password_of said so
    source = render.hashed_from(ref, secret)
    kept_name = render.password_secret_name(name)
    stored, stored_from = render.kept_hash(
        await api_client.get("v1", "Secret", kept_name, namespace)
    )
    ready = Condition("PasswordReady", "True", "Hashed",
                      f"key {ref.key} of Secret {ref.namespace}/{ref.name}, kept as a salted "
                      f"hash in Secret {namespace}/{kept_name}")  # fmt: skip
    if stored is not None and stored_from == source:
        return ready  # the Secret has not changed since it was hashed
    async with _HASHING:
        same = stored is not None and await asyncio.to_thread(passwords.verify, password, stored)
        hashed = (
            stored
            if stored is not None and same
            else await asyncio.to_thread(passwords.hash_password, password)
        )
    owner = client.owner_reference(body)

    async def keep(marker: str) -> None:
        await api_client.apply(render.render_password_hash(name, namespace, hashed, marker, owner))

    if same and not (stored_from or "").startswith(render.PENDING):
        await keep(source)  # the Secret changed, not the password: tokens stay good
        return ready
    # A new password: passwordChangedAt is written after the hash (a token the old password
    # gets meanwhile is older), and the hash is marked pending until it is, so that a pass
    # that fails in between is finished by the next one rather than forgotten.
    await keep(render.PENDING + source)
    await api_client.patch_status(api.User.api_version_name(), "User", name, None,
                                  {"passwordChangedAt": _now()})  # fmt: skip
    await keep(source)
    await api_client.event(body, reason="PasswordChanged",
                           message=f"the password of user {name} changed: tokens issued "
                           "before it no longer work")  # fmt: skip
    return ready


def _now() -> str:
    """RFC 3339 with microseconds: a token issued a moment before the change is older."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def _report(
    api_client: client.Client,
    body: dict[str, Any],
    wanted: list[Condition],
    *,
    observed: bool = True,
) -> None:
    """`reporting.report`, unless the status says it all already: a user's recheck every
    minute writes nothing when nothing changed."""
    status = body.get("status") or {}
    said = {c["type"]: (c["status"], c["reason"], c["message"])
            for c in status.get("conditions") or []}  # fmt: skip
    saying = {c.type: (c.status, c.reason, c.message)
              for c in [*wanted, conditions.ready(wanted)]}  # fmt: skip
    current = not observed or status.get("observedGeneration") == body["metadata"].get("generation")
    if said == saying and current:
        return
    await reporting.report(api_client, body, wanted=wanted, observed=observed)
