"""Stack custom resources as Heat v1 documents: a stack's status in Heat's words (with the moments
its action began and ended), the stack, its parameters, outputs and resources.

Pure: a Stack body (as the API server stores it) in, the document Heat would answer out. A
stack's id is its metadata.uid and its name documents.display_name. The events, derived from
the same body, are in heat_events; the create and update requests in heat_requests; template
validation and the resource types in heat_templates."""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Mapping
from typing import Any

import yaml

from nimbus.openstack import documents
from nimbus.orchestration import observed
from nimbus.orchestration import parameters as hot_parameters
from nimbus.orchestration import resources as hot_resources
from nimbus.orchestration.hot import template as hot_template

# When the API last asked for an update of the stack (RFC 3339, microseconds): what an update
# that changes nothing is seen by, and the stack's updated_time.
UPDATED_ANNOTATION = "openstack.nimbus.dev/update-requested"
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
TERMINAL = ("COMPLETE", "FAILED")


def truthy(value: object) -> bool:
    """A boolean query parameter as Heat's API reads it (`true`, `1`, `yes`)."""
    return str(value or "").lower() in ("true", "1", "yes")


# -- times ------------------------------------------------------------------------------------


def moment(stamp: Any) -> datetime.datetime | None:
    """An RFC 3339 timestamp as an aware datetime (None for none or a malformed one)."""
    if not stamp:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)).astimezone(
        datetime.UTC
    )


def heat_time(when: datetime.datetime | None) -> str | None:
    """Heat's timestamps: to the second, with a Z."""
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


def created_at(body: Mapping[str, Any]) -> datetime.datetime:
    return moment((body.get("metadata") or {}).get("creationTimestamp")) or EPOCH


def _managed(body: Mapping[str, Any], *, status: bool) -> datetime.datetime | None:
    """When the status was last written (`status`), or the spec last changed: the managed
    fields' times of those who own it."""
    times = []
    for entry in (body.get("metadata") or {}).get("managedFields") or []:
        if (entry.get("subresource") == "status") != status:
            continue
        if not status and "f:spec" not in (entry.get("fieldsV1") or {}):
            continue
        times.append(moment(entry.get("time")))
    found = [t for t in times if t is not None]
    return max(found) if found else None


def update_requested(body: Mapping[str, Any]) -> datetime.datetime | None:
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    return moment(annotations.get(UPDATED_ANNOTATION))


def _completed(body: Mapping[str, Any]) -> datetime.datetime | None:
    """When the stack last became complete: its Complete condition's turn to True."""
    for condition in (body.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Complete" and condition.get("status") == "True":
            return moment(condition.get("lastTransitionTime"))
    return None


def updated_time(body: Mapping[str, Any]) -> datetime.datetime | None:
    """Heat's updated_time: when the last update was asked for (None for a stack never
    updated: its first generation, and no update through the API)."""
    requested = update_requested(body)
    if requested is None and int((body.get("metadata") or {}).get("generation") or 1) <= 1:
        return None
    changed = [t for t in (requested, _managed(body, status=False)) if t is not None]
    return max(changed) if changed else None


# -- status -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class State:
    """A stack's status in Heat's words, when its action began and (once over) ended."""

    word: str
    reason: str
    started: datetime.datetime
    ended: datetime.datetime | None

    @property
    def action(self) -> str:
        return self.word.split("_", 1)[0]


def state(body: Mapping[str, Any]) -> State:
    """The status Heat would show: the operator's, but a spec it has not come to yet is
    UPDATE_IN_PROGRESS, a stack being deleted DELETE_IN_PROGRESS, one not reported yet
    CREATE_IN_PROGRESS, and an update that changed nothing ends at once (from a failed stack,
    failed as it was)."""
    metadata = body.get("metadata") or {}
    status = body.get("status") or {}
    created = created_at(body)
    stored = str(status.get("stackStatus") or "")
    reason = str(status.get("stackStatusReason") or "")
    deleting = moment(metadata.get("deletionTimestamp"))
    if deleting is not None:
        why = reason if stored == "DELETE_IN_PROGRESS" else "Stack DELETE started"
        return State("DELETE_IN_PROGRESS", why, deleting, None)
    if not stored:
        return State("CREATE_IN_PROGRESS", "Stack CREATE started", created, None)
    requested = update_requested(body)
    changed = max([t for t in (requested, _managed(body, status=False), created) if t])
    action, _, outcome = stored.partition("_")
    seen, generation = status.get("observedGeneration"), metadata.get("generation")
    over = outcome in TERMINAL
    if over and None not in (seen, generation) and seen != generation:
        return State("UPDATE_IN_PROGRESS", "Stack UPDATE started", changed, None)
    started = created if action == "CREATE" else changed
    if not over:
        return State(stored, reason, started, None)
    # The end: the Complete condition's turn to True, else the last status written (a failure
    # and a rollback leave the condition False from the start of the action).
    written = _completed(body) or _managed(body, status=True)
    ended = max(started, written or started)
    if requested is not None and requested > ended:  # an update that changed nothing
        if outcome == "COMPLETE":
            return State("UPDATE_COMPLETE", "Stack UPDATE completed successfully", requested,
                         requested)  # fmt: skip
        return State("UPDATE_FAILED", reason, requested, requested)
    return State(stored, reason, started, ended)


# -- the stack --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Context:
    base_url: str  # the endpoint: .../heat/v1/<project id>
    project_id: str

    def stack_url(self, body: Mapping[str, Any]) -> str:
        return f"{self.base_url.rstrip('/')}/stacks/{documents.display_name(body)}/" \
            f"{documents.uid(body)}"  # fmt: skip


def parsed(source: Any) -> dict[str, Any]:
    """A template or environment given as YAML (or JSON) text or as an object, as an object
    ({} when it is neither). YAML's dates stay text, as Heat's parser keeps them
    (`heat_template_version: 2018-08-31`)."""
    if isinstance(source, str):
        try:
            source = json.loads(json.dumps(yaml.safe_load(source), default=str))
        except yaml.YAMLError:
            return {}
    return dict(source) if isinstance(source, dict) else {}


def template_of(body: Mapping[str, Any]) -> dict[str, Any]:
    """The stack's template as an object ({} when it cannot be read)."""
    return parsed((body.get("spec") or {}).get("template"))


def environment_of(body: Mapping[str, Any]) -> dict[str, Any]:
    return parsed((body.get("spec") or {}).get("environment"))


def _as_text(value: Any) -> str:
    """A parameter's value as Heat shows it (its str()): lists joined by commas, maps as JSON."""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def parameters_of(body: Mapping[str, Any]) -> dict[str, str]:
    """The stack's parameters as Heat shows them: each value given (or its default) as text,
    hidden ones as ******, and the pseudo parameters the engine gives the template."""
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    environment = environment_of(body)
    given = {**(environment.get("parameter_defaults") or {}),
             **(environment.get("parameters") or {}), **(spec.get("parameters") or {})}  # fmt: skip
    pseudo = {"OS::stack_name": str(metadata.get("name", "")), "OS::stack_id": documents.uid(body),
              "OS::project_id": str(metadata.get("namespace", ""))}  # fmt: skip
    try:
        template = hot_template.load(spec.get("template") or {})
        given = {k: v for k, v in given.items() if k in template.parameters}
        values = hot_parameters.resolve(template, given, stack_name=pseudo["OS::stack_name"],
                                        stack_id=pseudo["OS::stack_id"],
                                        project_id=pseudo["OS::project_id"])  # fmt: skip
        shown = hot_parameters.shown(template, values)
    except (hot_template.HotError, TypeError, ValueError):
        shown = {**given, **pseudo}
    return {name: _as_text(value) for name, value in shown.items()}


def outputs_of(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Heat's outputs: those the operator resolved last, else the template's, not resolved yet
    (a stack in progress has no values until it completes)."""
    reported = (body.get("status") or {}).get("outputs") or []
    if reported:
        out = []
        for entry in reported:
            output: dict[str, Any] = {
                "output_key": entry.get("outputKey"),
                "output_value": entry.get("outputValue"),
                "description": entry.get("description") or "No description given",
            }
            if entry.get("outputError"):
                output["output_error"] = entry["outputError"]
            out.append(output)
        return out
    outputs = template_of(body).get("outputs") or {}
    return [{"output_key": key, "output_value": None,
             "description": (o or {}).get("description") or "No description given"}
            for key, o in sorted(outputs.items()) if isinstance(o, dict)]  # fmt: skip


def tags_of(body: Mapping[str, Any]) -> list[str] | None:
    tags = list((body.get("spec") or {}).get("tags") or [])
    return tags or None


def parent_of(body: Mapping[str, Any]) -> str | None:
    """A nested stack's parent: the Stack that owns it."""
    for owner in (body.get("metadata") or {}).get("ownerReferences") or []:
        if owner.get("kind") == "Stack" and owner.get("apiVersion", "").startswith(
            "orchestration.nimbus.dev/"
        ):
            return str(owner.get("uid"))
    return None


def stack_summary(body: Mapping[str, Any], context: Context) -> dict[str, Any]:
    """One entry of GET /stacks."""
    now = state(body)
    description = template_of(body).get("description")
    return {
        "id": documents.uid(body),
        "stack_name": documents.display_name(body),
        "links": [{"href": context.stack_url(body), "rel": "self"}],
        "creation_time": heat_time(created_at(body)),
        "updated_time": heat_time(updated_time(body)),
        "deletion_time": None,
        "stack_status": now.word,
        "stack_status_reason": now.reason,
        "description": description if isinstance(description, str) else "",
        "stack_owner": None,
        "parent": parent_of(body),
        "stack_user_project_id": context.project_id,
        "tags": tags_of(body),
    }


def stack(
    body: Mapping[str, Any], context: Context, *, resolve_outputs: bool = True
) -> dict[str, Any]:
    """GET /stacks/{name}/{id}: the summary, with parameters, outputs and settings."""
    spec = body.get("spec") or {}
    document = stack_summary(body, context)
    document.update({
        "template_description": document["description"],
        "parameters": parameters_of(body),
        "disable_rollback": bool(spec.get("disableRollback", True)),
        "timeout_mins": int(spec.get("timeoutMins") or 60),
        "notification_topics": [],
        "capabilities": [],
    })  # fmt: skip
    if resolve_outputs:
        document["outputs"] = outputs_of(body)
    return document


def _words(query: Mapping[str, str], key: str) -> list[str]:
    return [w for w in str(query.get(key) or "").split(",") if w]


def matches(body: Mapping[str, Any], query: Mapping[str, str]) -> bool:
    """Heat's stack list filters: id, name, status (`COMPLETE` or `CREATE_COMPLETE`), action,
    the tag filters; nested stacks only with show_nested."""
    now = state(body)
    tags = set((body.get("spec") or {}).get("tags") or [])
    checks = {
        "id": documents.uid(body),
        "name": documents.display_name(body),
        "action": now.action,
    }
    for key, value in checks.items():
        wanted = query.get(key)
        if wanted and wanted != value:
            return False
    status = query.get("status")
    if status and status not in (now.word, now.word.split("_", 1)[-1]):
        return False
    if _words(query, "tags") and not set(_words(query, "tags")) <= tags:
        return False
    if _words(query, "tags_any") and not set(_words(query, "tags_any")) & tags:
        return False
    if _words(query, "not_tags") and set(_words(query, "not_tags")) <= tags:
        return False
    if _words(query, "not_tags_any") and set(_words(query, "not_tags_any")) & tags:
        return False
    nested = truthy(query.get("show_nested"))
    return nested or parent_of(body) is None


# -- resources --------------------------------------------------------------------------------


def resources_of(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The stack's resources as the operator last listed them (camelCase), or the template's,
    INIT_COMPLETE, before its first report."""
    listed = (body.get("status") or {}).get("resources") or []
    if listed:
        return [dict(entry) for entry in listed]
    template = template_of(body).get("resources") or {}
    return [{"resourceName": name, "resourceType": str((r or {}).get("type", "")),
             "resourceStatus": "INIT_COMPLETE", "resourceStatusReason": "", "requiredBy": []}
            for name, r in sorted(template.items())]  # fmt: skip


def kind_of(entry: Mapping[str, Any], body: Mapping[str, Any]) -> str | None:
    """The Nimbus kind of the object a resource is, if it is one: its type's, or a Stack for a
    template resource."""
    kind = str(entry.get("resourceType") or "")
    if kind in hot_resources.KINDS:
        return hot_resources.KINDS[kind]
    if kind in ((body.get("spec") or {}).get("files") or {}):
        return "Stack"
    return None


def resource(
    entry: Mapping[str, Any],
    body: Mapping[str, Any],
    context: Context,
    found: Mapping[str, Any] | None,
    *,
    detail: bool = False,
) -> dict[str, Any]:
    """One of a stack's resources (`found`: the live object it is); with `detail`, as
    GET .../resources/{name} answers it, with its attributes."""
    name = str(entry.get("resourceName"))
    stack_url = context.stack_url(body)
    made = created_at(found) if found else created_at(body)
    changed = moment(documents.updated(found)) if found else None
    links = [{"href": f"{stack_url}/resources/{name}", "rel": "self"},
             {"href": stack_url, "rel": "stack"}]  # fmt: skip
    if found is not None and found.get("kind") == "Stack":
        nested = f"{context.base_url.rstrip('/')}/stacks/{documents.display_name(found)}/" \
            f"{documents.uid(found)}"  # fmt: skip
        links.append({"href": nested, "rel": "nested"})
    document: dict[str, Any] = {
        "resource_name": name,
        "logical_resource_id": name,
        "physical_resource_id": documents.uid(found) if found else "",
        "resource_type": str(entry.get("resourceType") or ""),
        "resource_status": str(entry.get("resourceStatus") or "INIT_COMPLETE"),
        "resource_status_reason": str(entry.get("resourceStatusReason") or ""),
        "required_by": list(entry.get("requiredBy") or []),
        "creation_time": heat_time(made),
        "updated_time": heat_time(changed or made),
        "links": links,
    }
    if detail:
        definition = (template_of(body).get("resources") or {}).get(name) or {}
        document["description"] = ""
        document["metadata"] = dict(definition.get("metadata") or {})
        document["attributes"] = _attributes(document["resource_type"], found)
    return document


def _attributes(kind: str, found: Mapping[str, Any] | None) -> dict[str, Any]:
    return {} if found is None else observed.attributes(kind, found)
