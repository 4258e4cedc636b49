"""kopf handlers of orchestration.nimbus.dev: a Stack's template becomes Nimbus objects, created
in waves as their dependencies complete, with Heat's statuses, resources and outputs; an update
applies the new template; a delete removes what the stack made, last wave first, but what is
retained.

Each pass plans the whole stack from its template and the live objects (level-triggered), and is
tried again every 2 seconds while something is in progress."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import kopf
import yaml

from nimbus import cache, handling, kinds, meta, reporting
from nimbus.conditions import Condition
from nimbus.k8s import client
from nimbus.orchestration import api, hot, parameters, resources

_KIND = {k.kind_name(): k for k in kinds.ALL}
# Heat's custom constraints: the index each looks in, and Heat's message when it is not there.
_CONSTRAINTS = {
    "nova.flavor": ("flavors", False, "The Flavor ({}) could not be found."),
    "glance.image": ("images", True, "The Image ({}) could not be found."),
    "neutron.network": ("networks", True, "The Network ({}) could not be found."),
    "nova.keypair": ("keypairs", True, "The Key ({}) could not be found."),
    "cinder.volume": ("volumes", True, "The Volume ({}) could not be found."),
}


class Plan:
    """A stack's template, evaluated as far as it can be without the cloud."""

    def __init__(self, body: Mapping[str, Any], view: cache.View) -> None:
        spec = body["spec"]
        metadata = body["metadata"]
        self.stack = resources.Stack(metadata["name"], metadata["namespace"], metadata["uid"])
        self.template = hot.load(spec["template"])
        environment = spec.get("environment") or {}
        if isinstance(environment, str):
            environment = yaml.safe_load(environment) or {}
        given = {
            **(environment.get("parameter_defaults") or {}),
            **(environment.get("parameters") or {}),
            **(spec.get("parameters") or {}),
        }
        given = {k: v for k, v in given.items() if k in self.template.parameters}
        namespace = self.stack.namespace

        def lookup(constraint: str, value: str) -> str | None:
            plural, namespaced, message = _CONSTRAINTS[constraint]
            found = view.get(plural, value, namespace if namespaced else None)
            return None if found is not None else message.format(value)

        self.parameters = parameters.resolve(
            self.template,
            given,
            stack_name=self.stack.name,
            stack_id=self.stack.uid,
            project_id=namespace,
            lookup=lookup,
        )
        self.files = dict(spec.get("files") or {})
        ctx = hot.Context(self.template.version, self.parameters, self.files)
        self.conditions = hot.evaluate_conditions(self.template, ctx)
        definitions: dict[str, dict[str, Any]] = {}
        for name, resource in self.template.resources.items():
            condition = resource.get("condition")
            if condition is not None and not hot.evaluate_condition(
                condition,
                hot.Context(self.template.version, self.parameters, self.files, self.conditions),
            ):
                continue
            if resource["type"] == "OS::Heat::ResourceGroup":
                props = hot.evaluate(resource.get("properties") or {}, self.context({}, {}))
                members = resources.expand_group(name, props)
                definitions.update(members)
                definitions[name] = {
                    "type": "OS::Heat::ResourceGroup",
                    "properties": {},
                    "members": list(members),
                }
                continue
            definitions[name] = dict(resource)
        resources.check_types(
            {n: d for n, d in definitions.items() if d["type"] != "OS::Heat::ResourceGroup"},
            self.files,
        )
        self.definitions = definitions
        self.graph = hot.graph(definitions)
        self.waves = hot.order(self.graph)

    def context(self, refs: Mapping[str, Any], attrs: Mapping[str, Any]) -> hot.Context:
        def attribute(name: str, attr: str | None) -> Any:
            definition = self.definitions.get(name, {})
            if definition.get("type") == "OS::Heat::ResourceGroup":
                members = definition["members"]
                values = {m: {**attrs.get(m, {}), "_ref": refs.get(m)} for m in members}
                return resources.group_attribute(members, values, [] if attr is None else [attr])
            found = attrs.get(name) or {}
            return found if attr is None else found.get(attr)

        return hot.Context(
            self.template.version,
            self.parameters,
            self.files,
            self.conditions,
            resource=lambda n: refs.get(n),
            attribute=attribute,
            resources=frozenset(self.definitions),
        )


def _owned(manifest: dict[str, Any], body: Mapping[str, Any], retain: bool) -> dict[str, Any]:
    if not retain and manifest["metadata"].get("namespace"):
        manifest["metadata"]["ownerReferences"] = [client.owner_reference(dict(body))]
    return manifest


def _subset(wanted: Any, current: Any) -> bool:
    if isinstance(wanted, dict):
        return isinstance(current, dict) and all(
            _subset(v, current.get(k)) for k, v in wanted.items()
        )
    return bool(wanted == current)


async def _values(api_client: client.Client, stack: resources.Stack) -> dict[str, Any]:
    """The values of Heat's own resources (a RandomString is made once): a Secret of the stack."""
    secret = await api_client.get("v1", "Secret", f"{stack.name}-stack-values", stack.namespace)
    raw = ((secret or {}).get("data") or {}).get("values")
    return json.loads(base64.b64decode(raw)) if raw else {}


async def _save_values(
    api_client: client.Client, body: Mapping[str, Any], values: dict[str, Any]
) -> None:
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
            "data": {"values": base64.b64encode(json.dumps(values).encode()).decode()},
        }
    )


async def _append(
    api_client: client.Client, stack: resources.Stack, made: resources.Append, resource: str
) -> dict[str, Any] | None:
    kind = _KIND[made.kind]
    target = await api_client.get(kind.api_version_name(), made.kind, made.name, stack.namespace)
    if target is None:
        return None
    items = list((target.get("spec") or {}).get(made.field) or [])
    if not any(_subset(made.item, item) for item in items):  # the API server adds defaults
        items.append(made.item)
        await api_client.patch(
            kind.api_version_name(),
            made.kind,
            made.name,
            stack.namespace,
            {"spec": {made.field: items}},
        )
    return target


@handling.reconciler(api.GROUP, "stacks")
async def stack(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    if body["metadata"].get("deletionTimestamp"):
        return
    api_client: client.Client = memo.api
    view = cache.View.of(kwargs, memo)
    status = body.get("status") or {}
    before = status.get("stackStatus") or ""
    # A change of spec after the stack was made (or failed) is an update, until it is done.
    changed = status.get("observedGeneration") not in (None, body["metadata"].get("generation"))
    updating = before.startswith("UPDATE") or (before.endswith(("COMPLETE", "FAILED")) and changed)
    action = "UPDATE" if updating else "CREATE"
    try:
        plan = Plan(body, view)
    except hot.HotError as error:
        await _report(api_client, body, f"{action}_FAILED", str(error), [], [], done=True)
        raise kopf.PermanentError(str(error)) from None

    values = await _values(api_client, plan.stack)
    saved = dict(values)
    refs: dict[str, Any] = {}
    attrs: dict[str, Any] = {}
    states: dict[str, tuple[str, str, str | None]] = {}  # name -> (status, reason, physical)
    done: set[str] = set()
    failed = False
    for wave in plan.waves:
        for name in wave:
            definition = plan.definitions[name]
            kind = definition["type"]
            if not plan.graph[name] <= done or failed:
                states[name] = ("INIT_COMPLETE", "", None)
                continue
            if kind == "OS::Heat::ResourceGroup":
                refs[name] = [refs.get(m) for m in definition["members"]]
                states[name] = (f"{action}_COMPLETE", "state changed", name)
                done.add(name)
                continue
            try:
                properties = hot.evaluate(
                    definition.get("properties") or {}, plan.context(refs, attrs)
                )
                made = resources.render(kind, name, properties, plan.stack)
            except hot.HotError as error:
                states[name] = (f"{action}_FAILED", str(error), None)
                failed = True
                continue
            if isinstance(made, resources.Value):
                if name not in values:
                    values[name] = {"value": made.value, "attributes": made.attributes}
                refs[name] = values[name]["value"]
                attrs[name] = values[name]["attributes"]
                states[name] = (f"{action}_COMPLETE", "state changed", None)
                done.add(name)
                continue
            if isinstance(made, resources.Append):
                target = await _append(api_client, plan.stack, made, name)
                if target is None:
                    states[name] = (f"{action}_IN_PROGRESS", f"waiting for {made.name}", None)
                    continue
                refs[name] = f"{made.name}/{name}"
                states[name] = (f"{action}_COMPLETE", "state changed", refs[name])
                done.add(name)
                continue
            retain = str(definition.get("deletion_policy", "Delete")).lower() == "retain"
            manifest = _owned(made.manifest, body, retain)
            meta_ = manifest["metadata"]
            plural = _KIND[manifest["kind"]].plural
            current = view.get(plural, meta_["name"], meta_.get("namespace"))
            if current is None or not _subset(manifest["spec"], current.get("spec")):
                current = await api_client.apply(manifest)
            refs[name] = meta_["name"]
            attrs[name] = resources.attributes(kind, current)
            outcome = resources.ready(current)
            if outcome is True:
                states[name] = (f"{action}_COMPLETE", "state changed", meta_["name"])
                done.add(name)
            elif isinstance(outcome, str):
                states[name] = (f"{action}_FAILED", outcome, meta_["name"])
                failed = True
            else:
                states[name] = (f"{action}_IN_PROGRESS", "state changed", meta_["name"])
    if values != saved:  # a RandomString made in this pass
        await _save_values(api_client, body, values)
    await _remove_dropped(api_client, view, plan)

    required_by: dict[str, list[str]] = {n: [] for n in plan.definitions}
    for name, needs in plan.graph.items():
        for need in needs:
            required_by[need].append(name)
    listed = [
        {
            "resourceName": name,
            "resourceType": plan.definitions[name]["type"],
            "physicalResourceID": physical,
            "resourceStatus": word,
            "resourceStatusReason": reason,
            "requiredBy": sorted(required_by[name]),
        }
        for name, (word, reason, physical) in sorted(states.items())
    ]
    if failed:
        name, (_word, reason, _physical) = next(
            (n, s) for n, s in sorted(states.items()) if s[0].endswith("FAILED")
        )
        message = f"Resource {action} failed: resources.{name}: {reason}"
        await _report(api_client, body, f"{action}_FAILED", message, listed, [], done=True)
        return
    if len(done) < len(plan.definitions):
        await _report(
            api_client,
            body,
            f"{action}_IN_PROGRESS",
            f"Stack {action} started",
            listed,
            [],
            done=False,
        )
        raise kopf.TemporaryError(f"stack {action.lower()} in progress", delay=2)
    outputs = _outputs(plan, refs, attrs)
    await _report(
        api_client,
        body,
        f"{action}_COMPLETE",
        f"Stack {action} completed successfully",
        listed,
        outputs,
        done=True,
    )


def _outputs(plan: Plan, refs: Mapping[str, Any], attrs: Mapping[str, Any]) -> list[Any]:
    out = []
    ctx = plan.context(refs, attrs)
    for key, output in sorted(plan.template.outputs.items()):
        condition = output.get("condition")
        if condition is not None and not hot.evaluate_condition(condition, ctx):
            continue
        entry: dict[str, Any] = {"outputKey": key, "description": output.get("description")}
        try:
            entry["outputValue"] = hot.evaluate(output.get("value"), ctx)
        except hot.HotError as error:
            entry["outputError"] = str(error)
        out.append({k: v for k, v in entry.items() if v is not None})
    return out


async def _remove_dropped(api_client: client.Client, view: cache.View, plan: Plan) -> None:
    """What an update dropped from the template goes (but what it retains)."""
    for kind in kinds.ALL:
        if kind.plural not in cache.INDEXED_PLURALS:
            continue
        namespace = plan.stack.namespace if kind.scope == "Namespaced" else None
        for obj in view.list(kind.plural, namespace):
            labels = obj["metadata"].get("labels") or {}
            if labels.get(resources.STACK_LABEL) != plan.stack.name:
                continue
            if labels.get(resources.RESOURCE_LABEL) not in plan.definitions:
                await api_client.delete(
                    kind.api_version_name(), kind.kind_name(), obj["metadata"]["name"], namespace
                )


async def _report(
    api_client: client.Client,
    body: Mapping[str, Any],
    word: str,
    reason: str,
    listed: list[Any],
    outputs: list[Any],
    *,
    done: bool,
) -> None:
    fields: dict[str, Any] = {"stackStatus": word, "stackStatusReason": reason, "resources": listed}
    if done:
        fields["outputs"] = outputs
    if reporting.unchanged(dict(body), fields):
        return
    ok = word.endswith("COMPLETE")
    wanted = [
        Condition("Complete", "True" if ok else "False", word.title().replace("_", ""), reason)
    ]
    await reporting.report(api_client, dict(body), fields=fields, wanted=wanted, observed=done)


@kopf.on.delete(api.GROUP, meta.VERSION, "stacks")
async def delete_stack(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """Delete what the stack made, last wave first, each after the one before is gone; what a
    resource's deletion_policy retains stays."""
    api_client: client.Client = memo.api
    view = cache.View.of(kwargs, memo)
    name, namespace = body["metadata"]["name"], body["metadata"]["namespace"]
    try:
        plan: Plan | None = Plan(body, view)
    except hot.HotError:
        plan = None
    retained = set()
    order: list[list[str]] = [[]]
    if plan is not None:
        retained = {
            n
            for n, d in plan.definitions.items()
            if str(d.get("deletion_policy", "Delete")).lower() == "retain"
        }
        order = list(reversed(plan.waves))
    made: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
    for kind in kinds.ALL:
        if kind.plural not in cache.INDEXED_PLURALS:
            continue
        ns = namespace if kind.scope == "Namespaced" else None
        for obj in view.list(kind.plural, ns):
            labels = obj["metadata"].get("labels") or {}
            if labels.get(resources.STACK_LABEL) == name:
                made.setdefault(labels.get(resources.RESOURCE_LABEL, ""), []).append((kind, obj))
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
        await reporting.report(
            api_client,
            dict(body),
            fields={
                "stackStatus": "DELETE_IN_PROGRESS",
                "stackStatusReason": "Stack DELETE started",
            },
            wanted=[Condition("Complete", "False", "DeleteInProgress", f"{len(left)} left")],
            observed=False,
        )
        raise kopf.TemporaryError("stack delete in progress", delay=2)
