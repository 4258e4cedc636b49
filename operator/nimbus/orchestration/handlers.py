"""kopf handlers of orchestration.nimbus.dev: a Stack's template becomes Nimbus objects, created
in waves as their dependencies complete, with Heat's statuses, resources and outputs; an update
applies the new template; a delete removes what the stack made, last wave first, but what is
retained.

Each pass plans the whole stack from its template and the live objects (level-triggered), and is
tried again every half second while something is in progress."""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import os
import time
from collections.abc import Mapping
from typing import Any

import kopf

from nimbus.api import kinds, meta
from nimbus.identity import authz
from nimbus.k8s import client
from nimbus.orchestration import api, changes, observed, resources
from nimbus.orchestration import plan as plan_
from nimbus.orchestration.hot import functions
from nimbus.orchestration.hot import template as hot_template
from nimbus.orchestration.plan import Plan
from nimbus.runtime import cache, handling, reporting
from nimbus.runtime.conditions import Condition

# Whether this operator serves the admission webhook that records a Stack's requester.
_RECORDED = bool(os.environ.get("NIMBUS_WEBHOOK_ADDRESS"))
# A requester's rights are asked again at most this often (seconds): a stack in progress passes
# every AGAIN seconds, and each pass would ask the API server a SubjectAccessReview per kind.
RIGHTS_SECONDS = 30.0
_RIGHTS: dict[tuple[str, Any, str | None], tuple[float, str | None]] = {}
# While a stack is in progress, the next pass comes this soon (seconds): each wave waits for
# the one before, so this is paid once per wave. A pass reads indexes and writes only changes.
AGAIN = 0.5


def _owned(manifest: dict[str, Any], body: Mapping[str, Any], retain: bool) -> dict[str, Any]:
    if not retain and manifest["metadata"].get("namespace"):
        manifest["metadata"]["ownerReferences"] = [client.owner_reference(dict(body))]
    requester = ((body.get("metadata") or {}).get("annotations") or {}).get(authz.REQUESTER)
    if manifest["kind"] == "Stack" and requester:  # a nested stack acts for the same user
        manifest["metadata"].setdefault("annotations", {})[authz.REQUESTER] = requester
    return manifest


def _retained(definition: Mapping[str, Any]) -> bool:
    return str(definition.get("deletion_policy", "Delete")).lower() == "retain"


@dataclasses.dataclass
class Store:
    """What a stack keeps between passes, in its Secret `<stack>-stack-values`: the values of
    Heat's own resources (a RandomString is made once), the items its resources added to other
    objects and the fields they set on them (to take them out and unset them again), and the
    spec of its last complete create or update (what a rollback goes back to)."""

    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    appended: dict[str, Any] = dataclasses.field(default_factory=dict)
    assigned: dict[str, Any] = dataclasses.field(default_factory=dict)
    complete: dict[str, Any] | None = None
    saved: dict[str, str] = dataclasses.field(default_factory=dict)  # the Secret's data, as read

    def data(self) -> dict[str, str]:
        out = {"values": self.values, "appended": self.appended, "assigned": self.assigned}
        if self.complete is not None:
            out["complete"] = self.complete
        return {k: base64.b64encode(json.dumps(v).encode()).decode() for k, v in out.items()}

    @classmethod
    async def load(cls, api_client: client.Client, stack: Mapping[str, Any]) -> Store:
        metadata = stack["metadata"]
        secret = await api_client.get(
            "v1", "Secret", f"{metadata['name']}-stack-values", metadata["namespace"]
        )
        data = (secret or {}).get("data") or {}
        read = {k: json.loads(base64.b64decode(v)) for k, v in data.items()}
        store = cls(
            read.get("values") or {},
            read.get("appended") or {},
            read.get("assigned") or {},
            read.get("complete"),
        )
        store.saved = store.data()
        return store

    async def save(self, api_client: client.Client, body: Mapping[str, Any]) -> None:
        """Write the Secret, when something in it changed since it was read or written."""
        data = self.data()
        if data == self.saved:
            return
        stack = body["metadata"]
        await api_client.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": f"{stack['name']}-stack-values",
                    "namespace": stack["namespace"],
                    "ownerReferences": [client.owner_reference(dict(body))],
                },
                "data": data,
            }
        )
        self.saved = data


@dataclasses.dataclass
class Pass:
    """One pass over a stack's resources: what each became, and how far it got."""

    refs: dict[str, Any] = dataclasses.field(default_factory=dict)
    attrs: dict[str, Any] = dataclasses.field(default_factory=dict)
    states: dict[str, tuple[str, str, str | None]] = dataclasses.field(default_factory=dict)
    done: set[str] = dataclasses.field(default_factory=set)
    failed: bool = False

    def set(self, name: str, word: str, reason: str, physical: str | None = None) -> None:
        self.states[name] = (word, reason, physical)
        if word.endswith("FAILED"):
            self.failed = True

    def complete(self, name: str, action: str, physical: str | None) -> None:
        self.set(name, f"{action}_COMPLETE", "state changed", physical)
        self.done.add(name)

    def busy(self, members: list[str]) -> int:
        return sum(self.states.get(m, ("",))[0].endswith("IN_PROGRESS") for m in members)


def _listed_before(body: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The stack's resources as its status lists them, by name: what the last pass reported."""
    listed = (body.get("status") or {}).get("resources") or []
    return {entry["resourceName"]: entry for entry in listed}


def _was_made(entry: Mapping[str, Any] | None) -> bool:
    """Whether the stack's status says the resource was made (it is past INIT)."""
    return entry is not None and not str(entry.get("resourceStatus") or "").startswith("INIT")


def _group_changed(
    name: str, members: list[str], run: Pass, before: Mapping[str, Mapping[str, Any]]
) -> bool:
    """Whether this pass is still changing a group: a member's status moved since the last
    pass (made, changed, completed), or a member the last pass listed was dropped."""
    moved = any(
        run.states.get(m, ("",))[0] != (before.get(m) or {}).get("resourceStatus") for m in members
    )
    dropped = any(n.startswith(f"{name}-") and n not in members for n in before)
    return moved or dropped


async def _converge(
    api_client: client.Client,
    view: cache.View,
    body: Mapping[str, Any],
    plan: Plan,
    action: str,
    store: Store,
) -> Pass:
    """Bring the stack's objects to its plan, wave by wave: a resource is made (or updated, or
    replaced) once everything it needs is complete."""
    namespace = plan.stack.namespace
    run = Pass()
    before = _listed_before(body)
    for wave in plan.waves:
        for name in wave:
            definition = plan.definitions[name]
            kind = definition["type"]
            last = before.get(name)
            # Heat's action for this resource, given whether it was made and is changed now
            act = functools.partial(
                observed.action, action, changed=False, before=(last or {}).get("resourceStatus")
            )
            if not plan.graph[name] <= run.done or run.failed:
                word = observed.waiting((last or {}).get("resourceStatus"))
                if word == "INIT_COMPLETE" or last is None:
                    run.set(name, word, "")
                else:  # an update has not come to it: it stays as it was
                    run.set(name, word, last.get("resourceStatusReason") or "",
                            last.get("physicalResourceID"))  # fmt: skip
                continue
            if kind == resources.GROUP:
                members = definition["members"]
                run.refs[name] = [run.refs.get(m) for m in members]
                changed = _group_changed(name, members, run, before)
                run.complete(name, act(made=_was_made(last), changed=changed), name)
                continue
            ctx = plan.context(run.refs, run.attrs)
            try:
                properties = functions.evaluate(definition.get("properties") or {}, ctx)
                external = functions.evaluate(definition.get("external_id"), ctx)
                made = (
                    None
                    if external is not None
                    else resources.render(
                        kind, name, properties, plan.stack, plan.files, plan.environment
                    )
                )
            except hot_template.HotError as error:
                run.set(name, f"{act(made=_was_made(last), changed=True)}_FAILED", str(error))
                continue
            if external is not None:  # an existing object, adopted by name, never changed
                adopted = act(made=_was_made(last))
                _external(run, view, plan, name, kind, str(external), adopted)
                continue
            if isinstance(made, resources.Value):
                stored = name in store.values
                if not stored:
                    store.values[name] = {"value": made.value, "attributes": made.attributes}
                run.refs[name] = store.values[name]["value"]
                run.attrs[name] = store.values[name]["attributes"]
                run.complete(name, act(made=stored), None)
                continue
            if isinstance(made, resources.Append):
                record = dataclasses.asdict(made)
                previous = store.appended.get(name)
                appending = act(made=previous is not None, changed=previous != record)
                if previous is not None and previous != record:  # moved or changed: out first
                    await changes.unappend(api_client, namespace, previous)
                target = await changes.append(api_client, namespace, made)
                if target is None:
                    run.set(name, f"{appending}_IN_PROGRESS", f"waiting for {made.name}")
                    continue
                store.appended[name] = record
                run.refs[name] = f"{made.name}/{name}"
                run.complete(name, appending, run.refs[name])
                continue
            if isinstance(made, resources.Assign):
                await _converge_assign(api_client, namespace, run, store, name, made, act)
                continue
            assert isinstance(made, resources.Apply)
            manifest = _owned(made.manifest, body, _retained(definition))
            meta_ = manifest["metadata"]
            plural = plan_.KIND[manifest["kind"]].plural
            current = view.get(plural, meta_["name"], meta_.get("namespace"))
            physical = meta_["name"]
            if current is not None and current["metadata"].get("deletionTimestamp"):
                reason = "waiting for the one it replaces to go"
                run.set(name, f"{act(made=False)}_IN_PROGRESS", reason)
                continue
            changed = current is None or not changes.subset(manifest["spec"], current.get("spec"))
            replaced = (
                observed.needs_replacement(manifest, current)
                if changed and current is not None
                else []
            )
            group = plan.group_of.get(name)
            if changed and group is not None:  # a group's batch size holds the rest back
                members = plan.definitions[group]["members"]
                policy = plan.definitions[group].get("update_policy") or {}
                batch = policy.get("batch_create" if current is None else "rolling_update") or {}
                size = int(batch.get("max_batch_size") or 0)
                if size and run.busy(members) >= size:
                    run.set(name, "INIT_COMPLETE", "waiting for its batch")
                    continue
            if replaced:  # Heat replaces what it cannot update; a name is taken once here
                await api_client.delete(
                    manifest["apiVersion"], manifest["kind"], physical, meta_.get("namespace")
                )
                reason = f"replacing {physical}: {', '.join(replaced)} cannot change in place"
                run.set(name, f"{act(made=False)}_IN_PROGRESS", reason, physical)
                continue
            before_apply = None if current is None else current["metadata"].get("generation")
            if changed:
                current = await api_client.apply(manifest)
            assert current is not None
            # Changed in Heat's words when the apply moved its generation: a list the API server
            # fills with defaults (a group's rules) is applied again, and changes nothing.
            updated = current["metadata"].get("generation") != before_apply
            applying = act(made=before_apply is not None, changed=updated)
            run.refs[name] = physical
            run.attrs[name] = observed.attributes(kind, current)
            outcome = observed.ready(current)
            if outcome is True:
                run.complete(name, applying, physical)
            elif isinstance(outcome, str):
                run.set(name, f"{applying}_FAILED", outcome, physical)
            else:
                run.set(name, f"{applying}_IN_PROGRESS", "state changed", physical)
    await _remove_dropped(api_client, view, plan, store)
    return run


async def _converge_assign(
    api_client: client.Client,
    namespace: str,
    run: Pass,
    store: Store,
    name: str,
    made: resources.Assign,
    act: functools.partial[str],
) -> None:
    """Set the fields a resource assigns (after unsetting them on the object it named before,
    if it names another now); its status says what became of it."""
    record = dataclasses.asdict(made)
    previous = store.assigned.get(name)
    assigning = act(made=previous is not None, changed=previous != record)
    if previous is not None and (previous["kind"], previous["name"]) != (made.kind, made.name):
        await changes.unassign(api_client, namespace, previous)  # Heat's order: the old one first
    try:
        target = await changes.assign(api_client, namespace, made)
    except client.ApiError as error:
        if error.status not in (400, 403, 422):  # the API server's or admission's refusal
            raise
        run.set(name, f"{assigning}_FAILED", error.message)
        return
    if target is None:
        run.set(name, f"{assigning}_IN_PROGRESS", f"waiting for {made.name}")
        return
    store.assigned[name] = record
    run.refs[name] = made.reference
    run.complete(name, assigning, made.reference)


def _external(
    run: Pass, view: cache.View, plan: Plan, name: str, kind: str, external: str, action: str
) -> None:
    """external_id: the resource is an object that exists already; Heat checks it and reads
    its attributes, and neither changes nor deletes it."""
    kind_name = resources.KINDS.get(kind)
    if kind_name is None:
        run.set(name, f"{action}_FAILED", f"external_id is not supported for {kind}")
        return
    found_kind = plan_.KIND[kind_name]
    namespace = plan.stack.namespace if found_kind.scope == "Namespaced" else None
    found = view.get(found_kind.plural, external, namespace)
    if found is None:
        reason = f"Invalid external resource: the {kind_name} ({external}) could not be found."
        run.set(name, f"{action}_FAILED", reason)
        return
    run.refs[name] = external
    run.attrs[name] = observed.attributes(kind, found)
    run.complete(name, action, external)


def _listed(plan: Plan, run: Pass) -> list[dict[str, Any]]:
    required_by: dict[str, list[str]] = {n: [] for n in plan.definitions}
    for name, needs in plan.graph.items():
        for need in needs:
            required_by[need].append(name)
    return [
        {
            "resourceName": name,
            "resourceType": plan.definitions[name]["type"],
            "physicalResourceID": physical,
            "resourceStatus": word,
            "resourceStatusReason": reason,
            "requiredBy": sorted(required_by[name]),
        }
        for name, (word, reason, physical) in sorted(run.states.items())
    ]


def _failure(run: Pass, action: str) -> str:
    name, (_word, reason, _physical) = next(
        (n, s) for n, s in sorted(run.states.items()) if s[0].endswith("FAILED")
    )
    return f"Resource {action} failed: resources.{name}: {reason}"


@handling.reconciler(api.Stack)
async def stack(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    if body["metadata"].get("deletionTimestamp"):
        return
    api_client: client.Client = memo.api
    view = cache.View.of(kwargs, memo)
    status = body.get("status") or {}
    before = status.get("stackStatus") or ""
    # A change of spec after the stack was made (or failed) is an update, until it is done.
    changed = status.get("observedGeneration") not in (None, body["metadata"].get("generation"))
    if before.startswith("ROLLBACK") and not changed:
        await _rollback(api_client, view, body)
        return
    updating = before.startswith("UPDATE") or (before.endswith(("COMPLETE", "FAILED")) and changed)
    action = "UPDATE" if updating else "CREATE"
    try:
        plan = Plan(body, view)
    except hot_template.HotError as error:
        await _report(api_client, body, f"{action}_FAILED", str(error), [], [], observed=True)
        raise kopf.PermanentError(str(error)) from None

    refusal = await _refusal(api_client, body, plan)
    if refusal is not None:
        message = f"Resource {action} failed: Forbidden: {refusal}"
        await _report(api_client, body, f"{action}_FAILED", message, [], [], observed=True)
        raise kopf.TemporaryError(message, delay=60)  # rights may be granted later
    store = await Store.load(api_client, body)
    run = await _converge(api_client, view, body, plan, action, store)
    listed = _listed(plan, run)
    if run.failed:
        message = _failure(run, action)
        if not body["spec"].get("disableRollback", True):  # Heat's ROLLBACK_*, on request
            await store.save(api_client, body)
            await _report(
                api_client, body, "ROLLBACK_IN_PROGRESS", message, listed, None, observed=True
            )
            raise kopf.TemporaryError("stack rollback in progress", delay=1)
        await store.save(api_client, body)
        await _report(api_client, body, f"{action}_FAILED", message, listed, [], observed=True)
        return
    if len(run.done) < len(plan.definitions):
        await store.save(api_client, body)
        reason = f"Stack {action} started"
        await _report(
            api_client, body, f"{action}_IN_PROGRESS", reason, listed, None, observed=False
        )
        raise kopf.TemporaryError(f"stack {action.lower()} in progress", delay=AGAIN)
    store.complete = {k: body["spec"].get(k) for k in _REPLAYED}
    await store.save(api_client, body)
    await _report(
        api_client,
        body,
        f"{action}_COMPLETE",
        f"Stack {action} completed successfully",
        listed,
        _outputs(plan, run),
        observed=True,
    )


async def _refusal(api_client: client.Client, body: Mapping[str, Any], plan: Plan) -> str | None:
    """Whether the stack's requester may make what it makes: the stack makes its objects with
    the operator's rights, so only what the user who last changed it may make themselves. The
    admission webhook asked already; asked again here since rights change and a webhook can be
    bypassed, at most every RIGHTS_SECONDS for one spec and requester. The record is the
    webhook's, so it is trusted only where this operator serves one."""
    metadata = body["metadata"]
    annotation = (metadata.get("annotations") or {}).get(authz.REQUESTER)
    key = (metadata["uid"], metadata.get("generation"), annotation)
    now = time.monotonic()
    cached = _RIGHTS.get(key)
    if cached is not None and cached[0] > now:
        return cached[1]
    requester = authz.Requester.recorded(body) if _RECORDED else None
    refusal = await plan.refusal(api_client, requester)
    for stale in [k for k, (until, _) in _RIGHTS.items() if until <= now]:
        del _RIGHTS[stale]
    _RIGHTS[key] = (now + RIGHTS_SECONDS, refusal)
    return refusal


_REPLAYED = ("template", "parameters", "files", "environment")  # what a rollback goes back to


async def _rollback(api_client: client.Client, view: cache.View, body: kopf.Body) -> None:
    """Heat's rollback: a failed create deletes what it made; a failed update goes back to the
    stack's last complete template and parameters."""
    store = await Store.load(api_client, body)
    reason = (body.get("status") or {}).get("stackStatusReason") or "Stack ROLLBACK started"
    if store.complete is None:
        try:
            plan: Plan | None = Plan(body, view)
        except hot_template.HotError:
            plan = None
        left = await _delete_made(api_client, view, body, plan, store)
        if left:
            await _report(
                api_client, body, "ROLLBACK_IN_PROGRESS", reason, None, None, observed=True
            )
            raise kopf.TemporaryError("stack rollback in progress", delay=AGAIN)
        await _report(
            api_client,
            body,
            "ROLLBACK_COMPLETE",
            "Stack ROLLBACK completed successfully",
            [],
            [],
            observed=True,
        )
        return
    previous = {**body, "spec": {**body["spec"], **store.complete}}
    plan = Plan(previous, view)
    run = await _converge(api_client, view, body, plan, "ROLLBACK", store)
    await store.save(api_client, body)
    listed = _listed(plan, run)
    if run.failed:
        message = _failure(run, "ROLLBACK")
        await _report(api_client, body, "ROLLBACK_FAILED", message, listed, [], observed=True)
    elif len(run.done) < len(plan.definitions):
        await _report(api_client, body, "ROLLBACK_IN_PROGRESS", reason, listed, None, observed=True)
        raise kopf.TemporaryError("stack rollback in progress", delay=AGAIN)
    else:
        await _report(
            api_client,
            body,
            "ROLLBACK_COMPLETE",
            "Stack ROLLBACK completed successfully",
            listed,
            _outputs(plan, run),
            observed=True,
        )


def _outputs(plan: Plan, run: Pass) -> list[Any]:
    out = []
    ctx = plan.context(run.refs, run.attrs)
    for key, output in sorted(plan.template.outputs.items()):
        condition = output.get("condition")
        if condition is not None and not functions.evaluate_condition(condition, ctx):
            continue
        entry: dict[str, Any] = {"outputKey": key, "description": output.get("description")}
        try:
            entry["outputValue"] = functions.evaluate(output.get("value"), ctx)
        except hot_template.HotError as error:
            entry["outputError"] = str(error)
        out.append({k: v for k, v in entry.items() if v is not None})
    return out


def _made(view: cache.View, stack: resources.Stack) -> dict[str, list[tuple[Any, Any]]]:
    """The objects a stack made, by resource name (found by the stack's labels)."""
    made: dict[str, list[tuple[Any, Any]]] = {}
    for kind in kinds.ALL:
        if kind.plural not in cache.INDEXED_PLURALS:
            continue
        namespace = stack.namespace if kind.scope == "Namespaced" else None
        for obj in view.list(kind.plural, namespace):
            labels = obj["metadata"].get("labels") or {}
            if labels.get(resources.STACK_LABEL) == stack.name:
                made.setdefault(labels.get(resources.RESOURCE_LABEL, ""), []).append((kind, obj))
    return made


async def _remove_dropped(
    api_client: client.Client, view: cache.View, plan: Plan, store: Store
) -> None:
    """What an update dropped from the template goes (but what it retains), and so do the
    items its dropped attachments and rules added and the fields its dropped gateways and
    associations set."""
    for resource, found in _made(view, plan.stack).items():
        if resource in plan.definitions:
            continue
        for kind, obj in found:
            await api_client.delete(
                kind.api_version_name(),
                kind.kind_name(),
                obj["metadata"]["name"],
                obj["metadata"].get("namespace"),
            )
    for resource in list(store.appended):
        if resource not in plan.definitions:
            await changes.unappend(api_client, plan.stack.namespace, store.appended.pop(resource))
    for resource in list(store.assigned):
        if resource not in plan.definitions:
            await changes.unassign(api_client, plan.stack.namespace, store.assigned[resource])
            del store.assigned[resource]


async def _report(
    api_client: client.Client,
    body: Mapping[str, Any],
    word: str,
    reason: str,
    listed: list[Any] | None,
    outputs: list[Any] | None,
    *,
    observed: bool,
) -> None:
    """The stack's status; `listed` and `outputs` are left as they are when None."""
    fields: dict[str, Any] = {"stackStatus": word, "stackStatusReason": reason}
    if listed is not None:
        fields["resources"] = listed
    if outputs is not None:
        fields["outputs"] = outputs
    if reporting.unchanged(dict(body), fields):
        return
    ok = word.endswith("COMPLETE") and not word.startswith("ROLLBACK")
    wanted = [
        Condition("Complete", "True" if ok else "False", word.title().replace("_", ""), reason)
    ]
    await reporting.report(api_client, dict(body), fields=fields, wanted=wanted, observed=observed)


async def _delete_made(
    api_client: client.Client,
    view: cache.View,
    body: Mapping[str, Any],
    plan: Plan | None,
    store: Store,
) -> int:
    """Delete what the stack made, last wave first, a wave after the one before is gone; what a
    resource's deletion_policy retains stays. The items its attachments and rules added are
    taken out first, and the fields its gateways and associations set unset. The number of
    objects still to go (0: all gone)."""
    namespace = body["metadata"]["namespace"]
    retained: set[str] = set()
    order: list[list[str]] = [[]]
    if plan is not None:
        retained = {n for n, d in plan.definitions.items() if _retained(d)}
        order = list(reversed(plan.waves))
    if store.appended or store.assigned:
        for resource, record in list(store.appended.items()):
            if resource not in retained:
                await changes.unappend(api_client, namespace, record)
                del store.appended[resource]
        for resource, record in list(store.assigned.items()):
            if resource not in retained:
                await changes.unassign(api_client, namespace, record)
                del store.assigned[resource]
        await store.save(api_client, body)
    made = _made(view, resources.Stack(body["metadata"]["name"], namespace, ""))
    for wave in order:
        names = wave or list(made)
        left = [(k, o) for n in names if n not in retained for k, o in made.get(n, [])]
        if not left:
            continue
        for kind, obj in left:
            if not obj["metadata"].get("deletionTimestamp"):
                await api_client.delete(
                    kind.api_version_name(),
                    kind.kind_name(),
                    obj["metadata"]["name"],
                    obj["metadata"].get("namespace"),
                )
        return len(left)
    return 0


@kopf.on.delete(api.GROUP, meta.VERSION, "stacks")
async def delete_stack(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """Delete what the stack made, last wave first; what deletion_policy retains stays."""
    api_client: client.Client = memo.api
    view = cache.View.of(kwargs, memo)
    try:
        plan: Plan | None = Plan(body, view)
    except hot_template.HotError:
        plan = None
    store = await Store.load(api_client, body)
    left = await _delete_made(api_client, view, body, plan, store)
    if left:
        await reporting.report(
            api_client,
            dict(body),
            fields={
                "stackStatus": "DELETE_IN_PROGRESS",
                "stackStatusReason": "Stack DELETE started",
            },
            wanted=[Condition("Complete", "False", "DeleteInProgress", f"{left} left")],
            observed=False,
        )
        raise kopf.TemporaryError("stack delete in progress", delay=AGAIN)
