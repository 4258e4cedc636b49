"""Nova's server groups, quota sets and simple tenant usage as documents, and the server group
create and quota set update requests (hypervisors and aggregates in nova_host_documents).

Pure: ServerGroup, Project, Server and Flavor bodies in, the documents Nova would answer at a
microversion out, or Nova's 400 in its words."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from typing import Any

from nimbus.compute import api as compute
from nimbus.identity import api as identity_api
from nimbus.openstack import documents, faults

Version = tuple[int, int]


def policy_refused(rule: str) -> faults.Fault:
    """Nova's 403 for what its policy (here: Kubernetes RBAC, asked as the caller) refuses."""
    return faults.Fault(403, f"Policy doesn't allow os_compute_api:{rule} to be performed.")


def by_creation(bodies: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(bodies, key=lambda b: (str(b["metadata"].get("creationTimestamp") or ""),
                                         documents.uid(b)))  # fmt: skip


def _integer(value: Any, path: str, minimum: int) -> int:
    """Nova's integers in a body: a number or a string of digits, at least `minimum`."""
    number = value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, int):
        raise faults.invalid(path, value, f"{value!r} is not of type 'integer', 'string'")
    if number < minimum:
        raise faults.invalid(path, value, f"{number} is less than the minimum of {minimum}")
    if number > 2**31 - 1:
        raise faults.invalid(path, value, f"{number} is greater than the maximum of {2**31 - 1}")
    return number


def _only(container: Mapping[str, Any], allowed: Sequence[str], path: str) -> None:
    extra = [k for k in container if k not in allowed]
    if extra:
        listed = ", ".join(repr(k) for k in extra)
        verb = "were" if len(extra) > 1 else "was"
        why = f"Additional properties are not allowed ({listed} {verb} unexpected)"
        raise faults.invalid(path, dict(container), why)


# -- server groups ----------------------------------------------------------------------------

POLICIES = ("anti-affinity", "affinity", "soft-anti-affinity", "soft-affinity")


def members(group: Mapping[str, Any], servers: Sequence[Mapping[str, Any]]) -> list[str]:
    """The ids of the servers in the group, in the order they joined it."""
    name = group["metadata"]["name"]
    return [documents.uid(s) for s in by_creation(servers)
            if (s.get("spec") or {}).get("serverGroup") == name]  # fmt: skip


def server_group(
    body: Mapping[str, Any], *, members: list[str], project_id: str, user_id: str,
    version: Version,
) -> dict[str, Any]:  # fmt: skip
    """Nova's server group at `version`: `policies` and `metadata` before 2.64, `policy` and
    `rules` from it; the owner from 2.13. user_id is the caller's (Nimbus records no creator)."""
    spec = compute.ServerGroupSpec.model_validate(body.get("spec") or {})
    document: dict[str, Any] = {"id": documents.uid(body), "name": documents.display_name(body),
                                "members": members}  # fmt: skip
    if version >= (2, 64):
        most = spec.rules.max_server_per_host if spec.rules else None
        document.update(policy=spec.policy, rules={"max_server_per_host": most} if most else {})
    else:
        document.update(policies=[spec.policy], metadata={})
    if version >= (2, 13):
        document.update(project_id=project_id, user_id=user_id)
    return document


def server_group_create(request: Any, version: Version) -> tuple[str, dict[str, Any]]:
    """Nova's POST /os-server-groups body -> (the group's name, its ServerGroup spec)."""
    group = request.get("server_group") if isinstance(request, dict) else None
    if not isinstance(group, dict):
        raise faults.invalid("server_group", group, "'server_group' is a required property")
    new = version >= (2, 64)
    _only(group, ("name", "policy", "rules") if new else ("name", "policies"), "server_group")
    name = group.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise faults.invalid("server_group/name", name, "a name is 1 to 255 characters")
    if name.strip() != name:
        raise faults.invalid("server_group/name", name, "Leading/trailing whitespace is not "
                             "allowed")  # fmt: skip
    allowed = POLICIES if version >= (2, 15) else POLICIES[:2]
    if new:
        policy, path = group.get("policy"), "server_group/policy"
    else:
        policies = group.get("policies")
        if not isinstance(policies, list) or len(policies) != 1:
            raise faults.invalid("server_group/policies", policies,
                                 f"{policies!r} is not an array of exactly one policy")  # fmt: skip
        policy, path = policies[0], "server_group/policies/0"
    if policy not in allowed:
        raise faults.invalid(path, policy, f"{policy!r} is not one of {list(allowed)}")
    spec: dict[str, Any] = {"policy": policy}
    rules = group.get("rules") or {}
    if not isinstance(rules, dict):
        raise faults.invalid("server_group/rules", rules, f"{rules!r} is not of type 'object'")
    _only(rules, ("max_server_per_host",), "server_group/rules")
    if rules:
        if policy != "anti-affinity":
            raise faults.Fault(400, "Only anti-affinity policy supports rules.")
        most = _integer(rules["max_server_per_host"], "server_group/rules/max_server_per_host", 1)
        if most > 1000:
            raise faults.invalid("server_group/rules/max_server_per_host", most,
                                 "Nimbus allows at most 1000 servers per host")  # fmt: skip
        spec["rules"] = {"maxServerPerHost": most}
    return name, spec


# -- quota sets -------------------------------------------------------------------------------

# Nova's quotas: its name -> the Project's quota field, or None for one Nimbus does not keep
# (fixed_ips: not limited, -1; injected files: Nimbus injects none, 0); the microversion that
# took it out of the API (network ones 2.36, injected files 2.57), if one did.
_QUOTAS: tuple[tuple[str, str | None, int, Version | None], ...] = (
    ("instances", "instances", 0, None), ("cores", "cores", 0, None),
    ("ram", "ram_mb", 0, None), ("metadata_items", "metadata_items", 0, None),
    ("key_pairs", "key_pairs", 0, None), ("server_groups", "server_groups", 0, None),
    ("server_group_members", "server_group_members", 0, None),
    ("fixed_ips", None, -1, (2, 36)), ("floating_ips", "floating_ips", 0, (2, 36)),
    ("security_groups", "security_groups", 0, (2, 36)),
    ("security_group_rules", "security_group_rules", 0, (2, 36)),
    ("injected_files", None, 0, (2, 57)), ("injected_file_content_bytes", None, 0, (2, 57)),
    ("injected_file_path_bytes", None, 0, (2, 57)),
)  # fmt: skip


def _quotas(version: Version) -> list[tuple[str, str | None, int]]:
    return [(name, field, fixed) for name, field, fixed, until in _QUOTAS
            if until is None or version < until]  # fmt: skip


def _in_use(project: Mapping[str, Any] | None) -> dict[str, int]:
    """What the project uses, by quota field, as the operator last counted it."""
    status = identity_api.ProjectStatus.model_validate((project or {}).get("status") or {})
    return {field: status.usage[info.alias or field].in_use
            for field, info in identity_api.Quota.model_fields.items()
            if (info.alias or field) in status.usage}  # fmt: skip


def quota_set(
    project: Mapping[str, Any] | None, version: Version, *, project_id: str | None,
    usage: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Nova's quota set: the project's spec.quota (None: the defaults) with the fields of
    `version`; with `usage`, each as {in_use, limit, reserved}; `id` unless project_id is None
    (the answer to a PUT)."""
    quota = identity_api.Quota.model_validate(((project or {}).get("spec") or {}).get("quota")
                                              or {})  # fmt: skip
    used = _in_use(project)
    document: dict[str, Any] = {} if project_id is None else {"id": project_id}
    for name, field, fixed in _quotas(version):
        limit = getattr(quota, field) if field else fixed
        document[name] = ({"in_use": used.get(field or "", 0), "limit": limit, "reserved": 0}
                          if usage else limit)  # fmt: skip
    return {"quota_set": document}


def quota_update(request: Any, version: Version, project: Mapping[str, Any]) -> dict[str, int]:
    """Nova's PUT /os-quota-sets/{id} body -> the merge patch of the Project's spec.quota, or
    Nova's 400: a limit below what is in use (unless `force`), a quota Nimbus does not keep."""
    body = request.get("quota_set") if isinstance(request, dict) else None
    if not isinstance(body, dict):
        raise faults.invalid("quota_set", body, "'quota_set' is a required property")
    known = {name: (field, fixed) for name, field, fixed in _quotas(version)}
    _only(body, [*known, "force"], "quota_set")
    force = body.get("force", False)
    if isinstance(force, str) and force.lower() in ("true", "false"):
        force = force.lower() == "true"
    if not isinstance(force, bool):
        raise faults.invalid("quota_set/force", force, f"{force!r} is not of type 'boolean'")
    used = _in_use(project)
    patch: dict[str, int] = {}
    for name, value in body.items():
        if name == "force":
            continue
        limit = _integer(value, f"quota_set/{name}", -1)
        field, fixed = known[name]
        if field is None:
            if limit != fixed:
                raise faults.invalid(f"quota_set/{name}", value, f"Nimbus keeps no {name} "
                                     f"quota: it is always {fixed}")  # fmt: skip
            continue
        if not force and limit != -1 and limit < used.get(field, 0):
            raise faults.Fault(400, f"Quota limit {limit} for {name} must be greater than or "
                               f"equal to already used and reserved {used[field]}.")  # fmt: skip
        patch[identity_api.Quota.model_fields[field].alias or field] = limit
    return patch


# -- simple tenant usage ----------------------------------------------------------------------

_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f")


def _moment(text: str | None, now: datetime.datetime) -> datetime.datetime:
    if not text:
        return now
    for form in _FORMATS:
        try:
            return datetime.datetime.strptime(text, form).replace(tzinfo=datetime.UTC)
        except ValueError:
            continue
    raise faults.Fault(400, "Invalid datetime string: Datetime is in invalid format")


def period(
    query: Mapping[str, str], now: datetime.datetime
) -> tuple[datetime.datetime, datetime.datetime]:
    """The start and end a request asks for (each now when not given), as Nova reads them."""
    start, stop = _moment(query.get("start"), now), _moment(query.get("end"), now)
    if not start < stop:
        raise faults.Fault(400, "Invalid start time. The start time cannot occur after the end "
                           "time.")  # fmt: skip
    return start, stop


def size(flavor: Mapping[str, Any] | None) -> tuple[int, int, int, int]:
    """A flavor's vCPUs, RAM (MB), root and ephemeral disk (GB); nothing for one since deleted."""
    if flavor is None:
        return 0, 0, 0, 0
    spec = compute.FlavorSpec.model_validate(flavor.get("spec") or {})
    return spec.vcpus, spec.ram_mb, spec.disk_gb, spec.ephemeral_gb


def stamp(moment: datetime.datetime) -> str:
    """Nova's usage times: a naive UTC datetime to the microsecond."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def _parse(stamp: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def server_usage(
    server: Mapping[str, Any], flavor: Mapping[str, Any] | None, *, tenant_id: str,
    start: datetime.datetime, stop: datetime.datetime, now: datetime.datetime,
) -> dict[str, Any] | None:  # fmt: skip
    """One entry of server_usages, as Nova's simple tenant usage counts it: hours within the
    period from its launch to its deletion (or the period's end); None for a server that never
    launched, or not in the period."""
    status = compute.ServerStatus.model_validate(server.get("status") or {})
    if not status.launched_at:
        return None
    launched = _parse(status.launched_at)
    deleting = (server.get("metadata") or {}).get("deletionTimestamp")
    ended = _parse(deleting) if deleting else None
    if launched >= stop or (ended is not None and ended <= start):
        return None
    hours = ((min(stop, ended) if ended else stop) - max(launched, start)).total_seconds() / 3600
    vcpus, ram, disk, ephemeral = size(flavor)
    word = status.status or "BUILD"
    return {
        "instance_id": documents.uid(server), "name": documents.display_name(server),
        "tenant_id": tenant_id, "flavor": documents.display_name(flavor) if flavor else "",
        "hours": hours, "memory_mb": ram, "vcpus": vcpus, "local_gb": disk + ephemeral,
        "started_at": stamp(launched), "ended_at": stamp(ended) if ended else None,
        "state": "terminated" if ended else documents.vm_state(word, status.power_state or ""),
        "uptime": int(((ended or now) - launched).total_seconds()),
    }  # fmt: skip


def tenant_usage(
    tenant_id: str, usages: Sequence[Mapping[str, Any]], *, start: datetime.datetime,
    stop: datetime.datetime, detailed: bool,
) -> dict[str, Any]:  # fmt: skip
    """One tenant's usage: the totals of its server usages (with them when `detailed`)."""
    document: dict[str, Any] = {
        "tenant_id": tenant_id, "start": stamp(start), "stop": stamp(stop),
        "total_hours": sum(u["hours"] for u in usages),
        "total_local_gb_usage": sum(u["local_gb"] * u["hours"] for u in usages),
        "total_memory_mb_usage": sum(u["memory_mb"] * u["hours"] for u in usages),
        "total_vcpus_usage": sum(u["vcpus"] * u["hours"] for u in usages),
    }  # fmt: skip
    if detailed:
        document["server_usages"] = [dict(u) for u in usages]
    return document
