"""Heat v1's documents made from Stack custom resources: the status in Heat's words (an update
the operator has not come to, a delete, a no-op update), the stack, its parameters, outputs and
resources, the events derived from them (their ids ordered, a marker that outlives its event),
the create and update requests as specs, template validation and its refusals named as Heat
names them, and the error document python-heatclient reads."""

from __future__ import annotations

import copy
import datetime
import json
import pathlib
import types
from typing import Any

import pytest
from heatclient import exc as heat_exc  # type: ignore[import-untyped]

from nimbus.openstack import (
    documents,
    faults,
    heat_documents,
    heat_events,
    heat_requests,
    heat_templates,
)
from nimbus.orchestration.hot import template as hot_template

PROJECT = "6f1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9"
BASE = f"http://cloud.example/heat/v1/{PROJECT}"
CONTEXT = heat_documents.Context(base_url=BASE, project_id=PROJECT)
NS = "demo"
STACK_UID = "5e6f7a8b-0000-4000-8000-000000000001"
NET_UID, SUBNET_UID, SERVER_UID = (f"5e6f7a8b-0000-4000-8000-00000000001{n}" for n in range(3))
HOT = pathlib.Path(__file__).parents[2] / ".." / "shared" / "hot"
TEMPLATE = {
    "heat_template_version": "2018-08-31",
    "description": "A server on a network of its own.",
    "parameters": {
        "cidr": {"type": "string", "default": "10.9.0.0/24"},
        "password": {"type": "string", "default": "s3cret", "hidden": True},
        "ports": {"type": "comma_delimited_list", "default": "80,443"},
    },
    "resources": {
        "net": {"type": "OS::Neutron::Net"},
        "subnet": {"type": "OS::Neutron::Subnet",
                   "properties": {"network": {"get_resource": "net"},
                                  "cidr": {"get_param": "cidr"}}},
        "server": {"type": "OS::Nova::Server", "metadata": {"role": "web"},
                   "properties": {"image": "cirros", "flavor": "m1.tiny",
                                  "networks": [{"network": {"get_resource": "net"}}]}},
    },
    "outputs": {"ip": {"description": "The server's address",
                       "value": {"get_attr": ["server", "first_address"]}}},
}  # fmt: skip


def _condition(kind: str, status: str, reason: str, when: str) -> dict[str, Any]:
    return {"type": kind, "status": status, "reason": reason, "message": "",
            "lastTransitionTime": when}  # fmt: skip


def _managed(when: str, *, status: bool = False) -> dict[str, Any]:
    fields: dict[str, Any] = {"f:status": {}} if status else {"f:spec": {"f:template": {}}}
    return {"manager": "nimbus" if status else "Python", "operation": "Update", "time": when,
            "fieldsType": "FieldsV1", "fieldsV1": fields,
            **({"subresource": "status"} if status else {})}  # fmt: skip


def _resource(name: str, kind: str, word: str, physical: str | None = None,
              required_by: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    entry: dict[str, Any] = {"resourceName": name, "resourceType": kind, "resourceStatus": word,
                             "resourceStatusReason": "state changed",
                             "requiredBy": required_by or []}  # fmt: skip
    if physical:
        entry["physicalResourceID"] = physical
    return entry


COMPLETE = {
    "apiVersion": "orchestration.nimbus.dev/v1alpha1",
    "kind": "Stack",
    "metadata": {
        "name": "web-stack-1a2b3", "namespace": NS, "uid": STACK_UID, "generation": 1,
        "creationTimestamp": "2026-03-01T10:00:00Z",
        "annotations": {documents.NAME_ANNOTATION: "Web_Stack"},
        "managedFields": [_managed("2026-03-01T10:00:00Z"),
                          _managed("2026-03-01T10:02:00Z", status=True)],
    },
    "spec": {"template": TEMPLATE, "parameters": {"cidr": "10.9.9.0/24"}, "tags": ["web"],
             "disableRollback": True, "timeoutMins": 30},
    "status": {
        "stackStatus": "CREATE_COMPLETE",
        "stackStatusReason": "Stack CREATE completed successfully",
        "observedGeneration": 1,
        "conditions": [_condition("Complete", "True", "CreateComplete", "2026-03-01T10:02:00Z")],
        "outputs": [{"outputKey": "ip", "outputValue": "10.9.9.5",
                     "description": "The server's address"}],
        "resources": [
            _resource("net", "OS::Neutron::Net", "CREATE_COMPLETE", "web-stack-1a2b3-net",
                      ["server", "subnet"]),
            _resource("server", "OS::Nova::Server", "CREATE_COMPLETE", "web-stack-1a2b3-server"),
            _resource("subnet", "OS::Neutron::Subnet", "CREATE_COMPLETE",
                      "web-stack-1a2b3-subnet", ["server"]),
        ],
    },
}  # fmt: skip


def _child(kind: str, name: str, uid: str, made: str, ready: str) -> dict[str, Any]:
    return {"apiVersion": "x/v1alpha1", "kind": kind,
            "metadata": {"name": f"web-stack-1a2b3-{name}", "namespace": NS, "uid": uid,
                         "creationTimestamp": made,
                         "labels": {"orchestration.nimbus.dev/stack": "web-stack-1a2b3",
                                    "orchestration.nimbus.dev/resource": name}},
            "status": {"conditions": [_condition("Ready", "True", "Ready", ready)]}}  # fmt: skip


OBJECTS = {
    "net": _child("Network", "net", NET_UID, "2026-03-01T10:00:01Z", "2026-03-01T10:00:02Z"),
    "subnet": _child("Subnet", "subnet", SUBNET_UID, "2026-03-01T10:00:03Z",
                     "2026-03-01T10:00:04Z"),
    "server": _child("Server", "server", SERVER_UID, "2026-03-01T10:00:05Z",
                     "2026-03-01T10:01:30Z"),
}  # fmt: skip


def _with(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of `body` with `metadata.x`, `status.x` or `spec.x` changed (None: removed)."""
    out = copy.deepcopy(body)
    for path, value in changes.items():
        section, key = path.split("__")
        if value is None:
            out.setdefault(section, {}).pop(key, None)
        else:
            out.setdefault(section, {})[key] = value
    return out


def _at(stamp: str) -> datetime.datetime:
    moment = heat_documents.moment(stamp)
    assert moment is not None
    return moment


# -- status -----------------------------------------------------------------------------------

UPDATING = _with(
    COMPLETE, metadata__generation=2,
    metadata__managedFields=[_managed("2026-03-02T09:00:00Z"),
                             _managed("2026-03-01T10:02:00Z", status=True)],
)  # fmt: skip
NO_OP = _with(COMPLETE, metadata__annotations={
    heat_documents.UPDATED_ANNOTATION: "2026-03-02T09:00:00.500000Z"})  # fmt: skip
FAILED = _with(COMPLETE, status__stackStatus="CREATE_FAILED",
               status__stackStatusReason="Resource CREATE failed: resources.subnet: bad cidr",
               status__conditions=[_condition("Complete", "False", "CreateInProgress",
                                              "2026-03-01T10:00:00Z")])  # fmt: skip


@pytest.mark.parametrize(
    ("body", "word", "reason", "started", "ended"),
    [
        (COMPLETE, "CREATE_COMPLETE", "Stack CREATE completed successfully",
         "2026-03-01T10:00:00Z", "2026-03-01T10:02:00Z"),
        (_with(COMPLETE, status__stackStatus=None), "CREATE_IN_PROGRESS",
         "Stack CREATE started", "2026-03-01T10:00:00Z", None),
        (UPDATING, "UPDATE_IN_PROGRESS", "Stack UPDATE started", "2026-03-02T09:00:00Z", None),
        (_with(COMPLETE, metadata__deletionTimestamp="2026-03-03T08:00:00Z"),
         "DELETE_IN_PROGRESS", "Stack DELETE started", "2026-03-03T08:00:00Z", None),
        (NO_OP, "UPDATE_COMPLETE", "Stack UPDATE completed successfully",
         "2026-03-02T09:00:00.5Z", "2026-03-02T09:00:00.5Z"),
        (FAILED, "CREATE_FAILED", "Resource CREATE failed: resources.subnet: bad cidr",
         "2026-03-01T10:00:00Z", "2026-03-01T10:02:00Z"),
        (_with(FAILED, metadata__annotations={
            heat_documents.UPDATED_ANNOTATION: "2026-03-02T09:00:00Z"}),
         "UPDATE_FAILED", "Resource CREATE failed: resources.subnet: bad cidr",
         "2026-03-02T09:00:00Z", "2026-03-02T09:00:00Z"),
    ],
    ids=["complete", "not-reported", "spec-changed", "deleting", "no-op-update", "failed",
         "no-op-update-of-a-failed-stack"],
)  # fmt: skip
def test_the_status_is_heats_word_with_when_its_action_began_and_ended(
    body: dict[str, Any], word: str, reason: str, started: str, ended: str | None
) -> None:
    state = heat_documents.state(body)
    assert (state.word, state.reason) == (word, reason)
    assert state.started == _at(started)
    assert state.ended == (None if ended is None else _at(ended))


def test_a_stack_is_heats_document_with_its_name_parameters_and_outputs() -> None:
    document = heat_documents.stack(COMPLETE, CONTEXT)
    url = f"{BASE}/stacks/Web_Stack/{STACK_UID}"
    assert document == {
        "id": STACK_UID, "stack_name": "Web_Stack", "links": [{"href": url, "rel": "self"}],
        "creation_time": "2026-03-01T10:00:00Z", "updated_time": None, "deletion_time": None,
        "stack_status": "CREATE_COMPLETE",
        "stack_status_reason": "Stack CREATE completed successfully",
        "description": "A server on a network of its own.",
        "template_description": "A server on a network of its own.",
        "stack_owner": None, "parent": None, "stack_user_project_id": PROJECT, "tags": ["web"],
        "parameters": {"cidr": "10.9.9.0/24", "password": "******", "ports": "80,443",
                       "OS::stack_name": "web-stack-1a2b3", "OS::stack_id": STACK_UID,
                       "OS::project_id": NS},
        "disable_rollback": True, "timeout_mins": 30, "notification_topics": [],
        "capabilities": [],
        "outputs": [{"output_key": "ip", "output_value": "10.9.9.5",
                     "description": "The server's address"}],
    }  # fmt: skip
    short = heat_documents.stack(COMPLETE, CONTEXT, resolve_outputs=False)
    assert "outputs" not in short
    assert heat_documents.stack(UPDATING, CONTEXT)["updated_time"] == "2026-03-02T09:00:00Z"


def test_a_template_kept_as_yaml_text_reads_as_heat_parses_it() -> None:
    text = "heat_template_version: 2018-08-31\ndescription: as text\nresources: {}\n"
    as_text = _with(COMPLETE, spec__template=text)
    assert heat_documents.template_of(as_text) == {
        "heat_template_version": "2018-08-31",
        "description": "as text",
        "resources": {},
    }
    assert heat_documents.stack(as_text, CONTEXT)["description"] == "as text"


def test_outputs_before_the_operator_resolved_them_are_the_templates_without_values() -> None:
    creating = _with(COMPLETE, status__stackStatus=None, status__outputs=None)
    assert heat_documents.outputs_of(creating) == [
        {"output_key": "ip", "output_value": None, "description": "The server's address"}
    ]
    failed = _with(COMPLETE, status__outputs=[{"outputKey": "ip", "outputError": "no attr"}])
    assert heat_documents.outputs_of(failed) == [
        {"output_key": "ip", "output_value": None, "description": "No description given",
         "output_error": "no attr"}
    ]  # fmt: skip


NESTED = _with(COMPLETE, metadata__ownerReferences=[
    {"apiVersion": "orchestration.nimbus.dev/v1alpha1", "kind": "Stack", "name": "parent",
     "uid": "5e6f7a8b-0000-4000-8000-000000000099"}])  # fmt: skip


@pytest.mark.parametrize(
    ("body", "query", "listed"),
    [
        (COMPLETE, {}, True),
        (COMPLETE, {"name": "Web_Stack"}, True),
        (COMPLETE, {"name": "web-stack-1a2b3"}, False),
        (COMPLETE, {"status": "COMPLETE"}, True),
        (COMPLETE, {"status": "CREATE_COMPLETE"}, True),
        (COMPLETE, {"status": "FAILED"}, False),
        (COMPLETE, {"action": "UPDATE"}, False),
        (COMPLETE, {"id": STACK_UID}, True),
        (COMPLETE, {"tags": "web"}, True),
        (COMPLETE, {"tags_any": "db,web"}, True),
        (COMPLETE, {"not_tags": "web"}, False),
        (UPDATING, {"status": "IN_PROGRESS"}, True),
        (NESTED, {}, False),
        (NESTED, {"show_nested": "True"}, True),
    ],
)
def test_the_stack_list_filters_are_heats(body: dict[str, Any], query: dict[str, str],
                                          listed: bool) -> None:  # fmt: skip
    assert heat_documents.matches(body, query) is listed
    if listed and body is NESTED:
        assert heat_documents.stack_summary(body, CONTEXT)["parent"] == (
            "5e6f7a8b-0000-4000-8000-000000000099"
        )


# -- resources --------------------------------------------------------------------------------


def test_a_resource_is_heats_with_the_uid_of_the_object_it_made() -> None:
    (net, server, _subnet) = heat_documents.resources_of(COMPLETE)
    document = heat_documents.resource(net, COMPLETE, CONTEXT, OBJECTS["net"])
    stack_url = f"{BASE}/stacks/Web_Stack/{STACK_UID}"
    assert document == {
        "resource_name": "net", "logical_resource_id": "net", "physical_resource_id": NET_UID,
        "resource_type": "OS::Neutron::Net", "resource_status": "CREATE_COMPLETE",
        "resource_status_reason": "state changed", "required_by": ["server", "subnet"],
        "creation_time": "2026-03-01T10:00:01Z", "updated_time": "2026-03-01T10:00:02Z",
        "links": [{"href": f"{stack_url}/resources/net", "rel": "self"},
                  {"href": stack_url, "rel": "stack"}],
    }  # fmt: skip
    detail = heat_documents.resource(server, COMPLETE, CONTEXT, None, detail=True)
    assert detail["physical_resource_id"] == ""
    assert (detail["metadata"], detail["attributes"]) == ({"role": "web"}, {})
    assert heat_documents.kind_of(server, COMPLETE) == "Server"


def test_before_the_first_report_the_resources_are_the_templates_init_complete() -> None:
    fresh = _with(COMPLETE, status__resources=None)
    listed = [(r["resourceName"], r["resourceStatus"]) for r in heat_documents.resources_of(fresh)]
    assert listed == [("net", "INIT_COMPLETE"), ("server", "INIT_COMPLETE"),
                      ("subnet", "INIT_COMPLETE")]  # fmt: skip


def test_a_nested_stack_resource_links_to_its_stack() -> None:
    entry = _resource("app", "app.yaml", "CREATE_COMPLETE", "web-stack-1a2b3-app")
    body = _with(COMPLETE, spec__files={"app.yaml": "heat_template_version: 2018-08-31"})
    child = {**_with(COMPLETE), "metadata": {"name": "web-stack-1a2b3-app", "uid": "c-uid"}}
    assert heat_documents.kind_of(entry, body) == "Stack"
    links = heat_documents.resource(entry, body, CONTEXT, child)["links"]
    assert links[-1] == {"href": f"{BASE}/stacks/web-stack-1a2b3-app/c-uid", "rel": "nested"}


# -- events -----------------------------------------------------------------------------------


def _log(found: list[heat_events.Event]) -> list[tuple[str, str, str, str]]:
    return [(heat_documents.heat_time(e.moment) or "", e.resource_name, e.status, e.reason)
            for e in found]  # fmt: skip


def test_a_created_stacks_events_come_from_its_status_and_its_objects() -> None:
    found = heat_events.events(COMPLETE, OBJECTS)
    assert _log(found) == [
        ("2026-03-01T10:00:00Z", "Web_Stack", "CREATE_IN_PROGRESS", "Stack CREATE started"),
        ("2026-03-01T10:00:01Z", "net", "CREATE_IN_PROGRESS", "state changed"),
        ("2026-03-01T10:00:02Z", "net", "CREATE_COMPLETE", "state changed"),
        ("2026-03-01T10:00:03Z", "subnet", "CREATE_IN_PROGRESS", "state changed"),
        ("2026-03-01T10:00:04Z", "subnet", "CREATE_COMPLETE", "state changed"),
        ("2026-03-01T10:00:05Z", "server", "CREATE_IN_PROGRESS", "state changed"),
        ("2026-03-01T10:01:30Z", "server", "CREATE_COMPLETE", "state changed"),
        ("2026-03-01T10:02:00Z", "Web_Stack", "CREATE_COMPLETE",
         "Stack CREATE completed successfully"),
    ]  # fmt: skip
    assert [e.id for e in found] == sorted(e.id for e in found)
    assert [e.id for e in heat_events.events(COMPLETE, OBJECTS)] == [e.id for e in found]
    stack_event = heat_events.document(found[-1], COMPLETE, CONTEXT)
    assert stack_event["physical_resource_id"] == STACK_UID
    assert stack_event["links"][2] == {"href": f"{BASE}/stacks/Web_Stack/{STACK_UID}",
                                       "rel": "stack"}  # fmt: skip
    assert heat_events.document(found[2], COMPLETE, CONTEXT)["physical_resource_id"] == NET_UID


def test_a_marker_says_where_the_client_was_even_once_its_event_is_gone() -> None:
    before = heat_events.events(COMPLETE, OBJECTS)
    last = heat_events.select(before, {"sort_dir": "desc", "limit": "1"})
    assert last[0].status == "CREATE_COMPLETE"  # what `stack update --wait` takes as its marker
    after = heat_events.events(UPDATING, OBJECTS)
    assert "CREATE_COMPLETE" not in [e.status for e in after if e.resource_name == "Web_Stack"]
    new = heat_events.select(after, {"sort_dir": "asc", "marker": last[0].id})
    assert _log(new) == [("2026-03-02T09:00:00Z", "Web_Stack", "UPDATE_IN_PROGRESS",
                          "Stack UPDATE started")]  # fmt: skip
    done = heat_events.select(heat_events.events(NO_OP, OBJECTS), {"marker": last[0].id})
    assert [e.status for e in done] == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]
    assert heat_events.select(before, {"resource_name": "net", "resource_status": "COMPLETE"})[
        0].status == "CREATE_COMPLETE"  # fmt: skip


def test_a_rolled_back_create_logs_its_failure_first() -> None:
    """What `stack create --enable-rollback --wait` stops at: the create's failure."""
    rolling = _with(COMPLETE, status__stackStatus="ROLLBACK_IN_PROGRESS",
                    status__stackStatusReason="Resource CREATE failed: resources.subnet: bad",
                    status__conditions=[_condition("Complete", "False", "RollbackInProgress",
                                                   "2026-03-01T10:00:00Z")])  # fmt: skip
    stack = [e for e in heat_events.events(rolling, {}) if e.resource_name == "Web_Stack"]
    assert _log(stack) == [
        ("2026-03-01T10:00:00Z", "Web_Stack", "CREATE_IN_PROGRESS", "Stack CREATE started"),
        ("2026-03-01T10:00:00Z", "Web_Stack", "CREATE_FAILED",
         "Resource CREATE failed: resources.subnet: bad"),
        ("2026-03-01T10:00:00Z", "Web_Stack", "ROLLBACK_IN_PROGRESS", "Stack ROLLBACK started"),
    ]  # fmt: skip
    done = _with(rolling, status__stackStatus="ROLLBACK_COMPLETE",
                 status__stackStatusReason="Stack ROLLBACK completed successfully")  # fmt: skip
    assert [e.status for e in heat_events.events(done, {}) if e.resource_name == "Web_Stack"][
        -3:] == ["CREATE_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]  # fmt: skip


def test_the_stacks_kubernetes_events_add_the_history_its_status_no_longer_holds() -> None:
    def event(reason: str, message: str, when: str, uid: str = STACK_UID) -> dict[str, Any]:
        return {"metadata": {"uid": f"ev-{reason}-{when}"}, "reason": reason, "message": message,
                "involvedObject": {"uid": uid}, "lastTimestamp": when}  # fmt: skip

    kubernetes = [
        event("CreateInProgress", "Stack CREATE started", "2026-03-01T10:00:00Z"),
        event("Ready", "Stack web is ready", "2026-03-01T10:02:00Z"),
        event("UpdateInProgress", "Stack UPDATE started", "2026-03-01T11:00:00Z"),
        event("Ready", "Stack web is ready", "2026-03-01T11:00:30Z"),
        event("Ready", "another stack", "2026-03-01T11:00:30Z", uid="other"),
        event("UpdateInProgress", "Stack UPDATE started", "2026-03-02T09:00:01Z"),  # this one
    ]
    updated = _with(UPDATING, status__stackStatus="UPDATE_COMPLETE",
                    status__stackStatusReason="Stack UPDATE completed successfully",
                    status__observedGeneration=2,
                    status__conditions=[_condition("Complete", "True", "UpdateComplete",
                                                   "2026-03-02T09:00:30Z")])  # fmt: skip
    stack = [e for e in heat_events.events(updated, {}, kubernetes)
             if e.resource_name == "Web_Stack"]  # fmt: skip
    assert _log(stack) == [
        ("2026-03-01T10:00:00Z", "Web_Stack", "CREATE_IN_PROGRESS", "Stack CREATE started"),
        ("2026-03-01T10:02:00Z", "Web_Stack", "CREATE_COMPLETE",
         "Stack CREATE completed successfully"),
        ("2026-03-01T11:00:00Z", "Web_Stack", "UPDATE_IN_PROGRESS", "Stack UPDATE started"),
        ("2026-03-01T11:00:30Z", "Web_Stack", "UPDATE_COMPLETE",
         "Stack UPDATE completed successfully"),
        ("2026-03-02T09:00:00Z", "Web_Stack", "UPDATE_IN_PROGRESS", "Stack UPDATE started"),
        ("2026-03-02T09:00:30Z", "Web_Stack", "UPDATE_COMPLETE",
         "Stack UPDATE completed successfully"),
    ]  # fmt: skip


# -- requests ---------------------------------------------------------------------------------


def test_a_create_request_is_the_stacks_spec() -> None:
    name, spec = heat_requests.create({
        "stack_name": "Web_Stack", "template": TEMPLATE, "parameters": {"cidr": "10.1.0.0/24"},
        "files": {"app.yaml": "heat_template_version: 2018-08-31"},
        "environment": {"parameter_defaults": {"ports": "22"}, "resource_registry": {}},
        "timeout_mins": "15", "disable_rollback": False, "tags": "web,db,web",
    })  # fmt: skip
    assert name == "Web_Stack"
    assert spec == {
        "template": TEMPLATE, "parameters": {"cidr": "10.1.0.0/24"},
        "files": {"app.yaml": "heat_template_version: 2018-08-31"},
        "environment": {"parameter_defaults": {"ports": "22"}}, "timeoutMins": 15,
        "disableRollback": False, "tags": ["web", "db"],
    }  # fmt: skip
    assert heat_requests.create({"stack_name": "s", "template": "heat_template_version: x"})[
        1] == {"template": "heat_template_version: x", "parameters": {},
               "disableRollback": True}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message", "kind"),
    [
        ({"template": TEMPLATE}, "No stack name specified", "HTTPBadRequest"),
        ({"stack_name": "9lives", "template": TEMPLATE},
         'Invalid stack name 9lives must contain only alphanumeric or "_-." characters, must '
         "start with alpha and must be 255 characters or less.", "StackValidationFailed"),
        ({"stack_name": "s"}, "No template specified", "HTTPBadRequest"),
        ({"stack_name": "s", "template": TEMPLATE, "timeout_mins": "soon"},
         "Only integer is acceptable by 'timeout_mins'.", "HTTPBadRequest"),
        ({"stack_name": "s", "template": TEMPLATE, "timeout_mins": 0},
         "Value '0' is invalid for 'timeout_mins' which only accepts an integer from 1 to "
         "10080.", "HTTPBadRequest"),
        ({"stack_name": "s", "template": TEMPLATE, "disable_rollback": "maybe"},
         'Unrecognized value "maybe" for "disable_rollback", acceptable values are: true, '
         "false.", "HTTPBadRequest"),
        ({"stack_name": "s", "template": TEMPLATE, "adopt_stack_data": "{}"},
         "Stack Adopt is not supported.", "NotSupported"),
        ({"stack_name": "s", "template_url": "http://example.org/t.yaml"},
         "template_url is not supported: Nimbus fetches no URL; send the template itself "
         "(openstack stack create -t FILE does)", "NotSupported"),
    ],
)  # fmt: skip
def test_a_create_heat_refuses_is_refused_in_its_words(
    body: dict[str, Any], message: str, kind: str
) -> None:
    with pytest.raises(heat_requests.Refused) as refused:
        heat_requests.create(body)
    assert (refused.value.code, refused.value.message, refused.value.kind) == (400, message, kind)


CURRENT = {"template": TEMPLATE, "parameters": {"cidr": "10.1.0.0/24", "ports": "22"},
           "files": {"a.yaml": "A"}, "environment": {"parameter_defaults": {"ports": "80"}},
           "timeoutMins": 15, "disableRollback": False, "tags": ["web"]}  # fmt: skip
NEW = {**TEMPLATE, "description": "v2"}


@pytest.mark.parametrize(
    ("body", "existing", "spec"),
    [
        # PUT: what is given, the timeout and rollback kept, the tags cleared
        ({"template": NEW, "parameters": {"cidr": "10.2.0.0/24"}}, False,
         {"template": NEW, "parameters": {"cidr": "10.2.0.0/24"}, "timeoutMins": 15,
          "disableRollback": False}),
        # PATCH: merged into what the stack has; cleared parameters out of both sections
        ({"parameters": {"cidr": "10.3.0.0/24"}, "clear_parameters": ["ports"],
          "files": {"b.yaml": "B"}, "environment": {"parameter_defaults": {"extra": "1"}}},
         True,
         {"template": TEMPLATE, "parameters": {"cidr": "10.3.0.0/24"},
          "files": {"a.yaml": "A", "b.yaml": "B"},
          "environment": {"parameter_defaults": {"extra": "1"}}, "timeoutMins": 15,
          "disableRollback": False, "tags": ["web"]}),
        ({"template": NEW, "disable_rollback": True, "tags": ["db"], "timeout_mins": 5}, True,
         {"template": NEW, "parameters": {"cidr": "10.1.0.0/24", "ports": "22"},
          "files": {"a.yaml": "A"}, "environment": {"parameter_defaults": {"ports": "80"}},
          "timeoutMins": 5, "disableRollback": True, "tags": ["db"]}),
    ],
    ids=["put", "patch", "patch-template-and-settings"],
)  # fmt: skip
def test_an_update_is_heats_put_or_patch(body: dict[str, Any], existing: bool,
                                         spec: dict[str, Any]) -> None:  # fmt: skip
    assert heat_requests.update(CURRENT, body, existing=existing) == spec


def test_a_put_without_a_template_is_refused() -> None:
    with pytest.raises(heat_requests.Refused, match="No template specified"):
        heat_requests.update(CURRENT, {"parameters": {}}, existing=False)


# -- templates --------------------------------------------------------------------------------


def test_validate_answers_heats_description_and_parameters() -> None:
    answer = heat_templates.validate({
        "template": TEMPLATE, "parameters": {"cidr": "10.0.0.0/8"},
        "environment": {"parameter_defaults": {"ports": "22"}},
    })  # fmt: skip
    assert answer["Description"] == "A server on a network of its own."
    assert answer["Parameters"] == {
        "cidr": {"Type": "String", "Description": "", "NoEcho": "false", "Label": "cidr",
                 "Default": "10.0.0.0/8", "Value": "10.0.0.0/8"},
        "password": {"Type": "String", "Description": "", "NoEcho": "true", "Label": "password",
                     "Default": "s3cret"},
        "ports": {"Type": "CommaDelimitedList", "Description": "", "NoEcho": "false",
                  "Label": "ports", "Default": ["22"]},
    }  # fmt: skip
    assert answer["Environment"]["parameter_defaults"] == {"ports": "22"}


def test_validate_takes_the_real_hello_world_template() -> None:
    source = HOT / "ht__hot__hello_world.yaml"
    if not source.exists():
        pytest.skip("the shared HOT templates are not beside this checkout")
    answer = heat_templates.validate({"template": source.read_text()})
    assert answer["Parameters"]["admin_pass"] == {
        "Type": "String", "Description": "Admin password", "NoEcho": "true",
        "Label": "admin_pass", "MinLength": 6, "MaxLength": 8,
        "AllowedPattern": "[A-Z]+[a-zA-Z0-9]*",
        "ConstraintDescription": "Password length must be between 6 and 8 characters Password "
        "must consist of characters and numbers only Password must start with an uppercase "
        "character",
    }  # fmt: skip
    assert "Default" not in answer["Parameters"]["image"]  # no value, and no refusal for it


def _refusal(request: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(hot_template.HotError) as error:
        heat_templates.validate(request)
    return heat_templates.error_type(str(error.value)), str(error.value)


@pytest.mark.parametrize(
    ("template", "kind", "message"),
    [
        ({"resources": {}}, "InvalidTemplateVersion", "Template format version not found."),
        ({"heat_template_version": "2018-08-31", "outputz": {}}, "InvalidTemplateSection",
         '"outputz" is not a valid template section'),
        ({"heat_template_version": "2018-08-31",
          "resources": {"a": {"type": "OS::Heat::Value", "depends_on": "b"}}},
         "InvalidTemplateReference", 'The specified reference "b" (in a) is incorrect.'),
        ({"heat_template_version": "2018-08-31",
          "resources": {"a": {"type": "OS::Heat::None", "depends_on": "b"},
                        "b": {"type": "OS::Heat::None", "depends_on": "a"}}},
         "CircularDependencyException", "Circular Dependency Found: a, b"),
        ({"heat_template_version": "2018-08-31",
          "parameters": {"n": {"type": "number", "default": "x"}}},
         "StackValidationFailed", "Parameter 'n' is invalid: Value 'x' is not an integer"),
    ],
    ids=["version", "section", "reference", "cycle", "parameter"],
)  # fmt: skip
def test_validate_refuses_as_heat_names_it(template: dict[str, Any], kind: str,
                                           message: str) -> None:  # fmt: skip
    assert _refusal({"template": template}) == (kind, message)


def test_validate_refuses_an_unknown_type_and_a_parameter_the_template_lacks() -> None:
    policy = {"heat_template_version": "2018-08-31",
              "resources": {"lb": {"type": "OS::Octavia::L7Policy"}}}  # fmt: skip
    kind, message = _refusal({"template": policy})
    assert (kind, message.split(";")[0]) == (
        "StackValidationFailed",
        'Resource lb: the resource type "OS::Octavia::L7Policy" is not supported',
    )
    assert _refusal({"template": TEMPLATE, "parameters": {"flavour": "x"}}) == (
        "UnknownUserParameter", "The Parameter (flavour) was not defined in template.")  # fmt: skip


def test_the_resource_types_are_those_a_stack_makes() -> None:
    served = heat_templates.resource_types()
    assert {"OS::Nova::Server", "OS::Neutron::Net", "OS::Cinder::Volume",
            "OS::Heat::ResourceGroup", "OS::Heat::RandomString"} <= set(served)  # fmt: skip
    assert {"OS::Neutron::Router", "OS::Neutron::FloatingIP", "OS::Octavia::Pool"} <= set(served)
    assert "OS::Neutron::FloatingIPAssociation" in served
    assert "OS::Neutron::RouterGateway" not in served  # made, but hidden, as Heat hides it
    assert heat_templates.resource_type_list({"name": "OS::Cinder"}) == [
        "OS::Cinder::Volume", "OS::Cinder::VolumeAttachment"]  # fmt: skip
    described = heat_templates.resource_type_list({"name": "OS::Neutron::Net$",
                                                   "with_description": "true"})  # fmt: skip
    assert described == [{"resource_type": "OS::Neutron::Net",
                          "description": "Makes a Nimbus Network."}]  # fmt: skip


# -- errors -----------------------------------------------------------------------------------


def test_heats_error_document_is_what_heatclient_reads() -> None:
    fault = faults.Fault(404, "The Stack (web) could not be found.", style="heat",
                         kind="EntityNotFound")  # fmt: skip
    document = fault.document()
    assert document == {"code": 404, "title": "Not Found",
                        "explanation": "The resource could not be found.",
                        "error": {"type": "EntityNotFound",
                                  "message": "The Stack (web) could not be found.",
                                  "traceback": None}}  # fmt: skip
    response = types.SimpleNamespace(status_code=404, content=json.dumps(document).encode())
    error = heat_exc.from_response(response)
    assert isinstance(error, heat_exc.HTTPNotFound)
    assert str(error) == "ERROR: The Stack (web) could not be found."
    refused = faults.Fault(403, "You are not authorized to use stacks:create.", style="heat")
    assert refused.document()["error"]["type"] == "Forbidden"


def test_template_versions_are_the_engine_s_with_their_aliases() -> None:
    versions = heat_templates.template_versions()
    assert versions[0] == {"version": "heat_template_version.2013-05-23", "type": "hot",
                           "aliases": []}  # fmt: skip
    assert versions[-1] == {"version": "heat_template_version.2021-04-16", "type": "hot",
                            "aliases": ["heat_template_version.wallaby"]}  # fmt: skip


@pytest.mark.parametrize(
    ("version", "has", "lacks"),
    [
        ("heat_template_version.2013-05-23", {"get_param", "Fn::Join", "Ref"}, {"repeat"}),
        ("heat_template_version.2016-10-14", {"yaql", "if", "map_replace"}, {"Fn::Join"}),
        ("heat_template_version.newton", {"yaql"}, {"filter"}),  # an alias
        ("heat_template_version.2021-04-16", {"contains", "filter"}, {"Fn::Select"}),
    ],
)  # fmt: skip
def test_a_version_s_functions_are_those_the_engine_allows(
    version: str, has: set[str], lacks: set[str]
) -> None:
    listed = heat_templates.template_functions(version)
    assert listed is not None
    names = {f["functions"] for f in listed}
    assert has <= names
    assert not lacks & names
    assert all(f["description"] for f in listed)


def test_condition_functions_only_when_asked_and_unknown_versions_none() -> None:
    plain = heat_templates.template_functions("heat_template_version.2016-10-14")
    with_conditions = heat_templates.template_functions(
        "heat_template_version.2016-10-14", conditions=True
    )
    assert plain is not None
    assert with_conditions is not None
    assert {f["functions"] for f in with_conditions} - {f["functions"] for f in plain} == {
        "equals", "not", "and", "or"}  # fmt: skip
    assert heat_templates.template_functions("heat_template_version.1999-01-01") is None
    assert heat_templates.template_functions("2016-10-14") is None  # Heat's full name only


def test_every_type_served_has_heats_schema() -> None:
    """Each type a Stack makes has Heat's own schema (upstream/heat-resource-types.json): a
    type added to the engine without one fails here."""
    schemas = heat_templates.resource_type_schemas()
    assert set(heat_templates.resource_types()) <= set(schemas)
    server = heat_templates.resource_type_schema("OS::Nova::Server", with_description=False)
    assert server is not None
    assert set(server) == {"resource_type", "properties", "attributes", "support_status"}
    assert server["properties"]["flavor"] == {
        "type": "string", "description": "The ID or name of the flavor to boot onto.",
        "required": True, "update_allowed": True, "immutable": False,
        "constraints": [{"custom_constraint": "nova.flavor"}]}  # fmt: skip
    assert "first_address" not in server["attributes"]  # hidden in Heat, so not shown
    assert "networks" in server["attributes"]
    assert "show" in server["attributes"]
    described = heat_templates.resource_type_schema("OS::Neutron::Net", with_description=True)
    assert described is not None
    assert described["description"] == "Makes a Nimbus Network."
    assert heat_templates.resource_type_schema("OS::Trove::Instance", with_description=True) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("", 29),  # no filter: every type served
        ("OS::Cinder", ["OS::Cinder::Volume", "OS::Cinder::VolumeAttachment"]),
        ("Cinder", []),  # Heat matches at the start of the name (re.match)
        (".*Cinder", ["OS::Cinder::Volume", "OS::Cinder::VolumeAttachment"]),  # Horizon's filter
        (".*FloatingIP$", ["OS::Neutron::FloatingIP"]),
        ("OS::Nova::(Server|Flavor)$", ["OS::Nova::Flavor", "OS::Nova::Server"]),
        ("[", []),  # not a regular expression: nothing, as Heat answers
        ("(a+)+$", []),  # a group quantified again could backtrack for ever: nothing
        (".*.*.*.*.*.*.*.*.*.*Z", []),  # so could many quantifiers (23 s of one core)
        ("x" * 256, []),
    ],
)
def test_the_resource_type_name_filter_is_heats_regular_expression(
    name: str, expected: int | list[str]
) -> None:
    found = heat_templates.resource_type_list({"name": name})
    assert (len(found) if isinstance(expected, int) else found) == expected


def test_the_resource_types_filter_by_support_status_and_version() -> None:
    assert heat_templates.resource_type_list({"support_status": "DEPRECATED"}) == []
    supported = heat_templates.resource_type_list({"support_status": "SUPPORTED"})
    assert supported == list(heat_templates.resource_types())
    # the release a type appeared in, as Heat records it
    assert "OS::Octavia::LoadBalancer" in heat_templates.resource_type_list({"version": "10.0.0"})
    assert "OS::Nova::Server" not in heat_templates.resource_type_list({"version": "10.0.0"})
