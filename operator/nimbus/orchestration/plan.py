"""A Stack's plan: its template evaluated as far as it can be without the cloud (parameters,
conditions, resource types, the dependency graph and its waves), and what each resource asks
of the cloud, for whom. Used by the Stack's controller and its admission alike; no kopf here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import yaml

from nimbus.api import kinds
from nimbus.identity import authz
from nimbus.orchestration import neutron_resources, observed, parameters, resources
from nimbus.orchestration.hot import functions, graph
from nimbus.orchestration.hot import template as hot_template
from nimbus.runtime import cache

KIND = kinds.BY_KIND
# The object a type changes rather than makes: appending an item to one of its lists
# (SecurityGroupRule, RouterInterface, VolumeAttachment) or setting fields of it (RouterGateway,
# FloatingIPAssociation).
_CHANGES = {
    "OS::Neutron::SecurityGroupRule": "SecurityGroup",
    "OS::Neutron::RouterInterface": "Router",
    "OS::Cinder::VolumeAttachment": "Server",
    "OS::Neutron::RouterGateway": "Router",
    "OS::Neutron::FloatingIPAssociation": "FloatingIP",
}
# Heat's custom constraints: the index each looks in, and Heat's message when it is not there.
_CONSTRAINTS = {
    "nova.flavor": ("flavors", False, "The Flavor ({}) could not be found."),
    "glance.image": ("images", True, "The Image ({}) could not be found."),
    "neutron.network": ("networks", True, "The Network ({}) could not be found."),
    "neutron.subnet": ("subnets", True, "The Subnet ({}) could not be found."),
    "neutron.port": ("ports", True, "The Port ({}) could not be found."),
    "neutron.router": ("routers", True, "The Router ({}) could not be found."),
    "nova.keypair": ("keypairs", True, "The Key ({}) could not be found."),
    "cinder.volume": ("volumes", True, "The Volume ({}) could not be found."),
}


_PUBLIC = {"flavors", "volumetypes"}  # read by every signed-in user (nimbus-public-reader)


# Kinds a stack may name in another project (project/name): public and shared images, shared
# and external networks.
_OTHERS = frozenset({"images", "networks"})


def _reachable(plural: str, body: Mapping[str, Any], namespace: str) -> bool:
    """Another project's object a stack of `namespace` may name: a public image or one shared
    with the project, a shared or external network."""
    spec = body.get("spec") or {}
    if plural == "images":
        return spec.get("visibility") == "public" or (
            spec.get("visibility") == "shared" and namespace in (spec.get("members") or ())
        )
    return plural == "networks" and bool(spec.get("shared") or spec.get("external"))


def named(view: cache.View, constraint: str, value: Any, namespace: str) -> Any:
    """Heat takes a name or an id wherever a template names a flavor, an image, a network and
    the rest; Nimbus's objects are named, so an id (the uid the OpenStack API shows, which
    Horizon's Launch Stack sends) becomes the name: `project/name` for another project's image
    or network the stack may use. Anything else stays as it is (and is not found)."""
    known = _CONSTRAINTS.get(constraint)
    if known is None or not isinstance(value, str) or len(value) != 36 or value.count("-") != 4:
        return value
    plural, namespaced, _ = known
    for body in view.list(plural, namespace if namespaced and plural not in _OTHERS else None):
        metadata = body["metadata"]
        if metadata.get("uid") != value:
            continue
        where = metadata.get("namespace")
        if not namespaced or where == namespace:
            return metadata["name"]
        if _reachable(plural, body, namespace):
            return f"{where}/{metadata['name']}"
    return value


def _function(value: Any) -> bool:
    """An intrinsic function (get_param, map_merge, if, ...): what it gives is known only later."""
    return (
        isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in functions.FUNCTIONS
    )


def _set(value: Any) -> bool:
    """A property a template may set: given, and not false (a function counts: it may be)."""
    return value is not None and value is not False


def _router_admin_only(p: Mapping[str, Any]) -> bool:
    gateway = p.get("external_gateway_info")
    if gateway is not None and (not isinstance(gateway, Mapping) or _function(gateway)):
        return True  # what the function gives may hold enable_snat or external_fixed_ips
    gateway = gateway or {}
    return (
        _set(p.get("ha"))
        or gateway.get("enable_snat", True) is not True
        or bool(gateway.get("external_fixed_ips"))
    )


# Neutron's policy: the properties only an admin sets (network.admission's admin-only fields,
# which admission checks against the requester; the operator's own writes pass there, so the
# stack asks for the verb `administer` on the kind: cluster-wide for a network's, in the project
# for a router's and a floating IP's). Properties given by a function as a whole count as set.
_ADMIN_ONLY: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "OS::Neutron::Net": lambda p: _set(p.get("shared")),
    "OS::Neutron::Router": _router_admin_only,
    "OS::Neutron::FloatingIP": lambda p: _set(p.get("floating_ip_address")),
}
_CLUSTER_WIDE = frozenset({"networks"})


def a_member_may(access: authz.Access, namespace: str) -> bool:
    """What the nimbus-project-member role grants in `namespace`: every Nimbus kind there, and
    reading the public kinds."""
    if access.namespace is None:
        return access.verb == "get" and access.resource in _PUBLIC
    return (
        access.namespace == namespace
        and access.group.endswith(".nimbus.dev")
        and access.verb != "administer"  # Neutron's admin-only attributes: the admin's
    )


class Plan:
    """A stack's template, evaluated as far as it can be without the cloud."""

    def _by_name(self, view: cache.View, parameter: str, value: Any, namespace: str) -> Any:
        """A parameter's value with an id its custom constraint names turned into the name."""
        schema = self.template.parameters.get(parameter)
        constraints = (schema.get("constraints") or []) if isinstance(schema, dict) else []
        for constraint in constraints:
            if isinstance(constraint, Mapping) and "custom_constraint" in constraint:
                value = named(view, str(constraint["custom_constraint"]), value, namespace)
        return value

    def __init__(self, body: Mapping[str, Any], view: cache.View) -> None:
        spec = body["spec"]
        metadata = body["metadata"]
        self.stack = resources.Stack(metadata["name"], metadata["namespace"], metadata["uid"])
        self.template = hot_template.load(spec["template"])
        environment = spec.get("environment") or {}
        if isinstance(environment, str):
            environment = yaml.safe_load(environment) or {}
        if not isinstance(environment, dict):
            raise hot_template.HotError("The environment is not a YAML mapping.")
        self.environment: dict[str, Any] = environment
        registry = environment.get("resource_registry") or {}
        # Per-resource entries (`resources:`) and hooks are Heat's; a type mapping is a string.
        self.registry = {k: v for k, v in registry.items() if isinstance(v, str)}
        given = {
            **(environment.get("parameter_defaults") or {}),
            **(environment.get("parameters") or {}),
            **(spec.get("parameters") or {}),
        }
        namespace = self.stack.namespace
        given = {
            k: self._by_name(view, k, v, namespace)
            for k, v in given.items()
            if k in self.template.parameters
        }

        def lookup(constraint: str, value: str) -> str | None:
            plural, namespaced, message = _CONSTRAINTS[constraint]
            name, where = value, namespace if namespaced else None
            if plural in _OTHERS:  # `admin/public`: another project's network or image
                ref = neutron_resources.external_network(value)
                name, where = ref["network"], ref.get("project", namespace)
            found = view.get(plural, name, where)
            if found is not None and where not in (namespace, None):
                found = found if _reachable(plural, found, namespace) else None
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
        ctx = functions.Context(self.template.version, self.parameters, self.files)
        self.conditions = functions.evaluate_conditions(self.template, ctx)
        definitions: dict[str, dict[str, Any]] = {}
        self.definitions = definitions  # filled below; a group's count is read with context()
        self.group_of: dict[str, str] = {}  # a group's member -> the group
        for name, resource in self.template.resources.items():
            condition = resource.get("condition")
            if condition is not None and not functions.evaluate_condition(
                condition,
                functions.Context(
                    self.template.version, self.parameters, self.files, self.conditions
                ),
            ):
                continue
            kind = resources.resolve_type(resource["type"], self.registry)
            if kind == resources.GROUP:
                props = functions.evaluate(resource.get("properties") or {}, self.context({}, {}))
                members = resources.expand_group(name, props)
                for member, definition in members.items():
                    definition["type"] = resources.resolve_type(definition["type"], self.registry)
                    self.group_of[member] = name
                definitions.update(members)
                definitions[name] = {
                    "type": resources.GROUP,
                    "properties": {},
                    "members": list(members),
                    "update_policy": functions.evaluate(
                        resource.get("update_policy") or {}, self.context({}, {})
                    ),
                }
                continue
            definitions[name] = {**resource, "type": kind}
        definitions.update(resources.listener_pools(definitions))
        resources.check_types(definitions, self.files)
        for name, definition in definitions.items():
            if definition["type"] in self.files:  # a template resource's template is checked too
                try:
                    hot_template.load(self.files[definition["type"]])
                except hot_template.HotError as error:
                    raise hot_template.HotError(
                        f"Resource {name}: the template {definition['type']}: {error}"
                    ) from None
        self.graph = graph.graph(definitions)
        self.waves = graph.order(self.graph)

    def accesses(self) -> dict[str, set[authz.Access]]:
        """What each resource asks of the cloud, by resource: creating (and so changing and
        deleting) its kind, changing the object it appends to or sets fields of, reading an
        external one."""
        namespace = self.stack.namespace
        out: dict[str, set[authz.Access]] = {}
        for name, definition in self.definitions.items():
            kind_type = definition["type"]
            if kind_type == resources.GROUP:
                continue  # its members are listed themselves
            if kind_type in self.files:
                kind_type = resources.NESTED
            wanted: set[authz.Access] = set()
            if kind_type in resources.KINDS:
                kind = KIND[resources.KINDS[kind_type]]
                where = namespace if kind.scope == "Namespaced" else None
                verb = "get" if definition.get("external_id") is not None else "create"
                wanted.add(authz.Access(verb, kind.group, kind.plural, where))
            if kind_type in _CHANGES:
                kind = KIND[_CHANGES[kind_type]]
                wanted.add(authz.Access("patch", kind.group, kind.plural, namespace))
            admin_only = _ADMIN_ONLY.get(kind_type)
            properties = definition.get("properties") or {}
            if admin_only is not None and (_function(properties) or admin_only(properties)):
                kind = KIND[resources.KINDS[kind_type]]
                where = None if kind.plural in _CLUSTER_WIDE else namespace
                wanted.add(authz.Access("administer", kind.group, kind.plural, where))
            if wanted:
                out[name] = wanted
        return out

    async def refusal(self, api_client: Any, requester: authz.Requester | None) -> str | None:
        """Heat's words for the first resource whose type the requester may not use, or None.

        With no requester (a stack made while no admission webhook recorded one), only what
        every member of the project may do is done: Nimbus objects in the stack's own
        namespace, and reading the public flavors and volume types."""
        wanted = self.accesses()
        every = set().union(*wanted.values())
        if requester is not None:
            denied = set(await authz.denied(api_client, requester, every))
            who = f"user {requester.username} may not"
        else:
            denied = {a for a in every if not a_member_may(a, self.stack.namespace)}
            who = "the stack records no requester (it was made with no admission webhook to "
            who += "record one), so it does only what any project member may; not"
        for name, accesses in sorted(wanted.items()):
            refused = sorted(accesses & denied)
            if refused:
                return (
                    f"You are not authorized to use {self.definitions[name]['type']}. "
                    f"(resources.{name}: {who} {'; '.join(map(str, refused))})"
                )
        return None

    def context(self, refs: Mapping[str, Any], attrs: Mapping[str, Any]) -> functions.Context:
        def attribute(name: str, attr: str | None) -> Any:
            definition = self.definitions.get(name, {})
            if definition.get("type") == resources.GROUP:
                members = definition["members"]
                values = {m: {**attrs.get(m, {}), "_ref": refs.get(m)} for m in members}
                return observed.group_attribute(members, values, [] if attr is None else [attr])
            found = attrs.get(name) or {}
            return found if attr is None else found.get(attr)

        return functions.Context(
            self.template.version,
            self.parameters,
            self.files,
            self.conditions,
            resource=lambda n: refs.get(n),
            attribute=attribute,
            resources=frozenset(self.definitions),
        )
