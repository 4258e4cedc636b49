"""A stack's plan: the environment's resource_registry, template resources and nested stacks,
update_policy, the implicit edges Heat adds, Octavia's pools made with a listener, which changes
replace a resource, and how a nested stack reports back. Pure: the plan is made over indexes in
memory (empty, but for the custom constraints' test)."""

from __future__ import annotations

import pathlib
import re
from typing import Any

import pytest

from nimbus.identity import authz
from nimbus.orchestration import observed, resources
from nimbus.orchestration import plan as planning
from nimbus.orchestration.hot import graph
from nimbus.orchestration.hot import template as hot_template
from nimbus.runtime import cache

STACK = resources.Stack(name="web", namespace="demo", uid="0b7a5c8e-0000-4000-8000-000000000002")
SERVER_YAML = """
heat_template_version: 2018-08-31
parameters:
  flavor: {type: string}
  index: {type: number, default: 0}
resources:
  server:
    type: OS::Nova::Server
    properties: {image: cirros, flavor: {get_param: flavor}}
outputs:
  ip: {value: {get_attr: [server, first_address]}}
"""


def plan(template: dict[str, Any], **spec: Any) -> planning.Plan:
    view = cache.View.of_objects([])
    body = {
        "metadata": {"name": STACK.name, "namespace": STACK.namespace, "uid": STACK.uid},
        "spec": {"template": {"heat_template_version": "2018-08-31", **template}, **spec},
    }
    return planning.Plan(body, view)


def test_the_resource_registry_maps_types_to_types_and_to_templates() -> None:
    made = plan(
        {"resources": {"a": {"type": "My::Server", "properties": {"flavor": "m1.tiny"}},
                       "b": {"type": "My::Value", "properties": {"value": 1}}}},
        files={"server.yaml": SERVER_YAML},
        environment={"resource_registry": {"My::Server": "server.yaml",
                                           "My::Value": "OS::Heat::Value",
                                           "resources": {"a": {"hooks": "pre-create"}}}},
    )  # fmt: skip
    assert made.definitions["a"]["type"] == "server.yaml"
    assert made.definitions["b"]["type"] == "OS::Heat::Value"
    with pytest.raises(hot_template.HotError, match='"A::B" in a circle'):
        resources.resolve_type("A::B", {"A::B": "C::D", "C::D": "A::B"})
    assert resources.resolve_type("OS::Nova::Server", {"OS::Nova::Server": "OS::Nova::Server"}) == (
        "OS::Nova::Server"
    )


def test_a_template_resource_is_a_nested_stack_of_its_file() -> None:
    files = {"server.yaml": SERVER_YAML}
    registry = {"resource_registry": {"My::Server": "server.yaml"}}
    made = resources.render("server.yaml", "app", {"flavor": "m1.tiny"}, STACK, files, registry)
    assert isinstance(made, resources.Apply)
    manifest = made.manifest
    assert manifest["kind"] == "Stack"
    assert manifest["metadata"]["name"] == "web-app"
    assert manifest["spec"] == {"template": SERVER_YAML, "parameters": {"flavor": "m1.tiny"},
                                "files": files, "environment": registry}  # fmt: skip
    with pytest.raises(hot_template.HotError, match=r"app.properties: Unknown Property size"):
        resources.render("server.yaml", "app", {"size": 1}, STACK, files)
    nested = resources.render(
        "OS::Heat::Stack", "inner", {"template": SERVER_YAML, "parameters": {"flavor": "x"}}, STACK
    )
    assert isinstance(nested, resources.Apply)
    assert nested.manifest["spec"]["parameters"] == {"flavor": "x"}
    with pytest.raises(hot_template.HotError, match="Property template not assigned"):
        resources.render("OS::Heat::Stack", "inner", {}, STACK)


def test_a_template_resource_with_a_broken_template_is_refused_by_the_plan() -> None:
    with pytest.raises(
        hot_template.HotError, match=r"Resource a: the template bad.yaml: .*not a valid"
    ):
        plan(
            {"resources": {"a": {"type": "bad.yaml"}}},
            files={"bad.yaml": "heat_template_version: 2018-08-31\nbogus: {}\n"},
        )


def test_a_group_of_template_resources_and_its_update_policy() -> None:
    made = plan(
        {"resources": {"group": {
            "type": "OS::Heat::ResourceGroup",
            "update_policy": {"batch_create": {"max_batch_size": 2},
                              "rolling_update": {"max_batch_size": 1}},
            "properties": {"count": 3, "resource_def": {
                "type": "My::Server", "properties": {"flavor": "m1.tiny", "index": "%index%"}}},
        }}},
        files={"server.yaml": SERVER_YAML},
        environment={"resource_registry": {"My::Server": "server.yaml"}},
    )  # fmt: skip
    assert made.definitions["group-2"]["type"] == "server.yaml"
    assert made.group_of == {"group-0": "group", "group-1": "group", "group-2": "group"}
    assert made.definitions["group"]["update_policy"]["batch_create"] == {"max_batch_size": 2}


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ({"type": "OS::Heat::ResourceGroup", "update_policy": {"rolling_updates": {}},
          "properties": {"resource_def": {"type": "OS::Heat::None"}}}, "rolling_updates"),
        ({"type": "OS::Heat::ResourceGroup", "update_policy": {"batch_create": {"max": 1}},
          "properties": {"resource_def": {"type": "OS::Heat::None"}}}, "max"),
        ({"type": "OS::Nova::Server", "update_policy": {"rolling_update": {}}}, "rolling_update"),
    ],
)  # fmt: skip
def test_an_update_policy_heat_does_not_know_is_refused(
    resource: dict[str, Any], message: str
) -> None:
    expected = f"Resource r: update_policy: Unknown Property {message}"
    with pytest.raises(hot_template.HotError, match=expected):
        plan({"resources": {"r": resource}})


def test_ports_and_servers_on_a_network_wait_for_its_subnets() -> None:
    net = {"get_resource": "net"}
    made = plan({"resources": {
        "net": {"type": "OS::Neutron::Net"},
        "other": {"type": "OS::Neutron::Net"},
        "subnet": {"type": "OS::Neutron::Subnet",
                   "properties": {"network": net, "cidr": "10.0.0.0/24"}},
        "subnet6": {"type": "OS::Neutron::Subnet",
                    "properties": {"network_id": net, "cidr": "fd00::/64", "ip_version": 6}},
        "elsewhere": {"type": "OS::Neutron::Subnet",
                      "properties": {"network": {"get_resource": "other"}, "cidr": "10.1.0.0/24"}},
        "port": {"type": "OS::Neutron::Port", "properties": {"network": net}},
        "server": {"type": "OS::Nova::Server", "properties": {
            "networks": [{"network": net}, {"port": {"get_resource": "port"}}]}},
        "on_port": {"type": "OS::Nova::Server",
                    "properties": {"networks": [{"port": {"get_resource": "port"}}]}},
    }})  # fmt: skip
    assert made.graph["port"] == {"net", "subnet", "subnet6"}
    assert made.graph["server"] == {"net", "port", "subnet", "subnet6"}
    assert made.graph["on_port"] == {"port"}
    assert made.waves == [["net", "other"], ["elsewhere", "subnet", "subnet6"], ["port"],
                          ["on_port", "server"]]  # fmt: skip


FIXTURES = pathlib.Path(__file__).parents[1] / "fixtures" / "heat-templates"


def test_floating_ips_wait_for_the_router_and_interface_that_route_them() -> None:
    """Heat's own example (hot/servers_in_new_neutron_net.yaml): each floating IP waits for
    the router with its gateway on the floating network, and for the interface on its port's
    subnet (FloatingIP.add_dependencies), as the router waits for its interface's subnet."""
    template = (FIXTURES / "ht__hot__servers_in_new_neutron_net.yaml").read_text()
    parameters = {"key_name": "ops", "image": "cirros", "flavor": "m1.tiny",
                  "public_net": "admin/public", "private_net_name": "web",
                  "private_net_cidr": "10.0.0.0/24", "private_net_gateway": "10.0.0.1",
                  "private_net_pool_start": "10.0.0.10",
                  "private_net_pool_end": "10.0.0.99"}  # fmt: skip
    made = planning.Plan(
        {"metadata": {"name": STACK.name, "namespace": STACK.namespace, "uid": STACK.uid},
         "spec": {"template": template, "parameters": parameters}},
        cache.View.of_objects([]),
    )  # fmt: skip
    assert made.graph["server1_floating_ip"] == {"server1_port", "router", "router_interface"}
    assert made.graph["server2_floating_ip"] == {"server2_port", "router", "router_interface"}
    assert made.graph["router_interface"] == {"router", "private_subnet"}
    assert made.waves[-1] == ["server1", "server1_floating_ip", "server2", "server2_floating_ip"]
    assert made.accesses()["router_interface"] == {
        authz.Access("patch", "network.nimbus.dev", "routers", "demo")
    }
    assert made.accesses()["router"] == {
        authz.Access("create", "network.nimbus.dev", "routers", "demo")
    }


@pytest.mark.parametrize(
    ("kind", "properties", "administers"),
    [
        ("OS::Neutron::Net", {"shared": True}, True),
        ("OS::Neutron::Net", {"shared": False, "admin_state_up": True}, False),
        ("OS::Neutron::Router", {"ha": True}, True),
        ("OS::Neutron::Router", {"external_gateway_info": {"network": "admin/public"}}, False),
        ("OS::Neutron::Router", {"external_gateway_info": {"network": "admin/public",
                                                           "enable_snat": False}}, True),
        ("OS::Neutron::Router", {"external_gateway_info": {
            "network": "admin/public", "enable_snat": {"get_param": "snat"}}}, True),
        ("OS::Neutron::Router", {"external_gateway_info": {
            "network": "admin/public", "external_fixed_ips": [{"ip_address": "10.9.0.9"}]}},
         True),
        ("OS::Neutron::FloatingIP", {"floating_network": "admin/public"}, False),
        ("OS::Neutron::FloatingIP", {"floating_network": "admin/public",
                                     "floating_ip_address": "10.9.0.7"}, True),
        # a function's value is known only later: it may set them
        ("OS::Neutron::Router", {"external_gateway_info": {"get_param": "gw"}}, True),
        ("OS::Neutron::Router", {"external_gateway_info": {
            "map_merge": [{"network": "admin/public"}, {"get_param": "gw"}]}}, True),
        ("OS::Neutron::Router", {"get_param": "props"}, True),
    ],
)  # fmt: skip
def test_neutron_s_admin_only_properties_ask_for_the_admin_s_right(
    kind: str, properties: dict[str, Any], administers: bool
) -> None:
    """A stack's objects are made by the operator, which admission lets set Neutron's
    admin-only fields: the stack asks for them as its requester's right (`administer`)."""
    made = plan({"parameters": {"snat": {"type": "boolean", "default": True},
                                "gw": {"type": "json", "default": {}},
                                "props": {"type": "json", "default": {}}},
                 "resources": {"it": {"type": kind, "properties": properties}}})  # fmt: skip
    plural = {"OS::Neutron::Net": "networks", "OS::Neutron::Router": "routers",
              "OS::Neutron::FloatingIP": "floatingips"}[kind]  # fmt: skip
    # a network's is the cloud admin's (every project sees it); the others the project admin's
    where = None if plural == "networks" else "demo"
    wanted = authz.Access("administer", "network.nimbus.dev", plural, where)
    assert (wanted in made.accesses()["it"]) is administers
    assert not planning.a_member_may(wanted, "demo")


def test_the_edges_heat_adds_for_routers_and_floating_ips() -> None:
    public, lan = {"get_resource": "public"}, {"get_resource": "lan"}
    made = plan({"resources": {
        "public": {"type": "OS::Neutron::Net"},
        "public_v4": {"type": "OS::Neutron::Subnet",
                      "properties": {"network": public, "cidr": "203.0.113.0/24"}},
        "lan": {"type": "OS::Neutron::Net"},
        "lan_v4": {"type": "OS::Neutron::Subnet",
                   "properties": {"network": lan, "cidr": "10.0.0.0/24"}},
        "other": {"type": "OS::Neutron::Net"},
        "other_v4": {"type": "OS::Neutron::Subnet",
                     "properties": {"network": {"get_resource": "other"}, "cidr": "10.1.0.0/24"}},
        # a router waits for the subnets of its gateway's network (Router.add_dependencies)
        "router": {"type": "OS::Neutron::Router",
                   "properties": {"external_gateway_info": {"network": public}}},
        "on_lan": {"type": "OS::Neutron::RouterInterface",
                   "properties": {"router": {"get_resource": "router"},
                                  "subnet": {"get_resource": "lan_v4"}}},
        "on_other": {"type": "OS::Neutron::RouterInterface",
                     "properties": {"router": {"get_resource": "router"},
                                    "subnet": {"get_resource": "other_v4"}}},
        # no fixed_ips: on a subnet of its network, as Heat asks Neutron
        "port": {"type": "OS::Neutron::Port", "properties": {"network": lan}},
        "fip": {"type": "OS::Neutron::FloatingIP",
                "properties": {"floating_network": public, "port_id": {"get_resource": "port"}}},
        # on another floating network, with no port: no edge
        "elsewhere": {"type": "OS::Neutron::FloatingIP", "properties": {"floating_network": lan}},
    }})  # fmt: skip
    assert made.graph["router"] == {"public", "public_v4"}
    assert made.graph["fip"] == {"public", "port", "router", "on_lan"}
    assert made.graph["elsewhere"] == {"lan"}


def test_the_edges_heat_adds_for_a_router_gateway_and_a_floating_ip_association() -> None:
    """Heat's RouterGateway.add_dependencies (its router's interfaces, the subnets of its
    network), FloatingIP's (the gateways to its floating network) and
    FloatingIPAssociation's (the interfaces on its port's subnet)."""
    public, lan = {"get_resource": "public"}, {"get_resource": "lan"}
    router = {"get_resource": "router"}
    made = plan({"resources": {
        "public": {"type": "OS::Neutron::Net"},
        "public_v4": {"type": "OS::Neutron::Subnet",
                      "properties": {"network": public, "cidr": "203.0.113.0/24"}},
        "lan": {"type": "OS::Neutron::Net"},
        "lan_v4": {"type": "OS::Neutron::Subnet",
                   "properties": {"network": lan, "cidr": "10.0.0.0/24"}},
        "router": {"type": "OS::Neutron::Router"},
        "on_lan": {"type": "OS::Neutron::RouterInterface",
                   "properties": {"router_id": router, "subnet": {"get_resource": "lan_v4"}}},
        # another router's interface: not this gateway's
        "other": {"type": "OS::Neutron::Router"},
        "on_other": {"type": "OS::Neutron::RouterInterface",
                     "properties": {"router": {"get_resource": "other"}, "port": "p1"}},
        "gateway": {"type": "OS::Neutron::RouterGateway",
                    "properties": {"router_id": router, "network": public}},
        "port": {"type": "OS::Neutron::Port",
                 "properties": {"network": lan,
                                "fixed_ips": [{"subnet": {"get_resource": "lan_v4"}}]}},
        "fip": {"type": "OS::Neutron::FloatingIP", "properties": {"floating_network": public}},
        "association": {"type": "OS::Neutron::FloatingIPAssociation",
                        "properties": {"floatingip_id": {"get_resource": "fip"},
                                       "port_id": {"get_resource": "port"}}},
        # an association of a floating IP the template does not make: its port's interface
        "outside": {"type": "OS::Neutron::FloatingIPAssociation",
                    "properties": {"floatingip_id": "fip-1", "port_id": {"get_resource": "port"}}},
    }})  # fmt: skip
    assert made.graph["gateway"] == {"router", "public", "public_v4", "on_lan"}
    assert made.graph["fip"] == {"public", "gateway"}
    assert made.graph["association"] == {"fip", "port", "on_lan"}
    assert made.graph["outside"] == {"port", "on_lan"}
    assert made.waves[-2:] == [["fip"], ["association"]]
    assert made.accesses()["gateway"] == {
        authz.Access("patch", "network.nimbus.dev", "routers", "demo")
    }
    assert made.accesses()["association"] == {
        authz.Access("patch", "network.nimbus.dev", "floatingips", "demo")
    }


@pytest.mark.parametrize(
    ("resources_", "message"),
    [
        ({"router": {"type": "OS::Neutron::Router",
                     "properties": {"external_gateway_info": {"network": "public"}}},
          "gw": {"type": "OS::Neutron::RouterGateway",
                 "properties": {"router_id": {"get_resource": "router"}, "network": "public"}}},
         "Resource gw: router has external_gateway_info already, which sets its externalGateway "
         "as this OS::Neutron::RouterGateway does: write one of them"),
        ({"fip": {"type": "OS::Neutron::FloatingIP",
                  "properties": {"floating_network": "public", "port_id": "p1"}},
          "assoc": {"type": "OS::Neutron::FloatingIPAssociation",
                    "properties": {"floatingip_id": {"get_resource": "fip"}, "port_id": "p2"}}},
         "Resource assoc: fip has port_id already, which sets its port as this "
         "OS::Neutron::FloatingIPAssociation does: write one of them"),
    ],
)  # fmt: skip
def test_one_field_set_two_ways_is_refused(resources_: dict[str, Any], message: str) -> None:
    with pytest.raises(hot_template.HotError, match=re.escape(message)):
        plan({"resources": resources_})


LOAD_BALANCED: dict[str, dict[str, Any]] = {
    "lb": {"type": "OS::Octavia::LoadBalancer", "properties": {"vip_subnet": "web-sub"}},
    "listener": {"type": "OS::Octavia::Listener",
                 "properties": {"loadbalancer": {"get_resource": "lb"}, "protocol": "HTTP",
                                "protocol_port": 80}},
    "pool": {"type": "OS::Octavia::Pool", "depends_on": ["listener"],
             "properties": {"listener": {"get_resource": "listener"}, "protocol": "HTTP",
                            "lb_algorithm": "ROUND_ROBIN"}},
    "member": {"type": "OS::Octavia::PoolMember",
               "properties": {"pool": {"get_resource": "pool"}, "address": "10.0.0.5",
                              "protocol_port": 8080}},
}  # fmt: skip


def test_a_pool_made_with_a_listener_is_its_default_pool_on_its_load_balancer() -> None:
    """As Octavia: the pool is on the listener's load balancer, and the listener's default pool
    is the pool, which it waits for."""
    made = plan({"resources": LOAD_BALANCED})
    assert made.definitions["pool"]["properties"] == {
        "loadbalancer": {"get_resource": "lb"}, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"
    }  # fmt: skip
    assert made.definitions["listener"]["properties"]["default_pool"] == {"get_resource": "pool"}
    assert made.graph["pool"] == {"lb"}
    assert made.graph["listener"] == {"lb", "pool"}
    assert made.waves == [["lb"], ["pool"], ["listener", "member"]]
    evaluated = {**made.definitions["pool"]["properties"], "loadbalancer": "web-lb"}
    pool = resources.render("OS::Octavia::Pool", "pool", evaluated, STACK)
    assert isinstance(pool, resources.Apply)
    assert pool.manifest["spec"]["loadBalancer"] == "web-lb"
    taken = {**LOAD_BALANCED, "listener": {**LOAD_BALANCED["listener"], "properties": {
        **LOAD_BALANCED["listener"]["properties"], "default_pool": "legacy"}}}  # fmt: skip
    with pytest.raises(hot_template.HotError, match="Resource pool: listener listener has a "
                       "default_pool already"):  # fmt: skip
        plan({"resources": taken})


def test_heats_octavia_example_orders_as_octavia_needs() -> None:
    """hot/octavia/servers_with_octavia.yaml: its pool names the listener."""
    template = hot_template.load(
        (FIXTURES / "ht__hot__octavia__servers_with_octavia.yaml").read_text()
    )
    definitions = dict(template.resources)
    definitions.update(resources.listener_pools(definitions))
    dependencies = graph.graph(definitions)
    assert dependencies["pool"] == {"loadbalancer"}
    assert dependencies["listener"] == {"loadbalancer", "pool"}
    assert dependencies["monitor"] == {"pool"}
    assert dependencies["pool_member1"] == {"pool", "server1"}


def test_a_network_of_another_project_is_named_project_slash_network() -> None:
    public = {"apiVersion": "network.nimbus.dev/v1alpha1", "kind": "Network",
              "metadata": {"name": "public", "namespace": "admin"},
              "spec": {"external": True}}  # fmt: skip
    template = {
        "heat_template_version": "2018-08-31",
        "parameters": {"public_net": {"type": "string", "constraints": [
            {"custom_constraint": "neutron.network"}]}},
        "resources": {"fip": {"type": "OS::Neutron::FloatingIP",
                              "properties": {"floating_network": {"get_param": "public_net"}}}},
    }  # fmt: skip

    def planned(value: str) -> planning.Plan:
        body = {"metadata": {"name": STACK.name, "namespace": STACK.namespace, "uid": STACK.uid},
                "spec": {"template": template, "parameters": {"public_net": value}}}  # fmt: skip
        return planning.Plan(body, cache.View.of_objects([public]))

    assert planned("admin/public").parameters["public_net"] == "admin/public"
    with pytest.raises(hot_template.HotError, match=re.escape(
            "The Network (admin/nowhere) could not be found.")):  # fmt: skip
        planned("admin/nowhere")
    with pytest.raises(hot_template.HotError, match=re.escape(
            "The Network (public) could not be found.")):  # fmt: skip
        planned("public")  # the stack's project has none of that name


def _uid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def _object(plural: str, name: str, namespace: str | None, n: int, **spec: Any) -> dict[str, Any]:
    group = {"flavors": "compute", "images": "image", "networks": "network"}[plural]
    return {"apiVersion": f"{group}.nimbus.dev/v1alpha1", "kind": plural[:-1].capitalize(),
            "metadata": {"name": name, "namespace": namespace, "uid": _uid(n)},
            "spec": spec}  # fmt: skip


IDS_VIEW = cache.View.of_objects([
    _object("flavors", "m1.tiny", None, 1),
    _object("images", "own", "demo", 2),
    _object("images", "cirros", "admin", 3, visibility="public"),
    _object("images", "theirs", "other", 4, visibility="private"),
    _object("images", "offered", "other", 5, visibility="shared", members=["demo"]),
    _object("networks", "private", "demo", 6),
    _object("networks", "public", "admin", 7, external=True),
    _object("networks", "secret", "other", 8),
])  # fmt: skip


@pytest.mark.parametrize(
    ("constraint", "value", "expected"),
    [
        ("nova.flavor", _uid(1), "m1.tiny"),  # flavors are the cloud's
        ("nova.flavor", "m1.tiny", "m1.tiny"),  # a name stays a name
        ("glance.image", _uid(2), "own"),
        ("glance.image", _uid(3), "admin/cirros"),  # a public image of another project
        ("glance.image", _uid(5), "other/offered"),  # shared with the stack's project
        ("glance.image", _uid(4), _uid(4)),  # another project's private image: not named
        ("neutron.network", _uid(6), "private"),
        ("neutron.network", _uid(7), "admin/public"),  # external
        ("neutron.network", _uid(8), _uid(8)),  # another project's own network: not named
        ("glance.image", _uid(99), _uid(99)),  # no such object: left to be not found
        ("nova.keypair", _uid(2), _uid(2)),  # Heat names key pairs by name only
        ("glance.image", 42, 42),
    ],
)  # fmt: skip
def test_an_id_launch_stack_sends_is_the_object_s_name(
    constraint: str, value: Any, expected: Any
) -> None:
    """Horizon's Launch Stack fills flavor, image and network parameters with ids; Heat takes
    a name or an id, and Nimbus's objects are named."""
    assert planning.named(IDS_VIEW, constraint, value, "demo") == expected


def test_a_stack_launched_with_ids_makes_its_server_of_the_named_objects() -> None:
    template = {
        "heat_template_version": "2018-08-31",
        "parameters": {
            "flavor": {"type": "string", "constraints": [{"custom_constraint": "nova.flavor"}]},
            "image": {"type": "string", "constraints": [{"custom_constraint": "glance.image"}]},
        },
        "resources": {"server": {"type": "OS::Nova::Server", "properties": {
            "flavor": {"get_param": "flavor"}, "image": {"get_param": "image"}}}},
    }  # fmt: skip

    def body(parameters: dict[str, str]) -> dict[str, Any]:
        return {"metadata": {"name": STACK.name, "namespace": STACK.namespace, "uid": STACK.uid},
                "spec": {"template": template, "parameters": parameters}}  # fmt: skip

    made = planning.Plan(body({"flavor": _uid(1), "image": _uid(3)}), IDS_VIEW)
    assert made.parameters["flavor"] == "m1.tiny"
    assert made.parameters["image"] == "admin/cirros"
    with pytest.raises(hot_template.HotError, match=re.escape(
            f"The Image ({_uid(4)}) could not be found.")):  # fmt: skip
        planning.Plan(body({"flavor": "m1.tiny", "image": _uid(4)}), IDS_VIEW)
    with pytest.raises(hot_template.HotError, match=re.escape(
            "The Image (other/theirs) could not be found.")):  # fmt: skip
        planning.Plan(body({"flavor": "m1.tiny", "image": "other/theirs"}), IDS_VIEW)


def test_a_server_of_another_project_s_image_names_its_project() -> None:
    properties = {"flavor": "m1.tiny", "image": "admin/cirros"}
    made = resources.TYPES["OS::Nova::Server"]("server", properties, STACK)
    assert made.manifest["spec"]["image"] == {"name": "cirros", "project": "admin"}  # type: ignore[union-attr]
    volume = resources.TYPES["OS::Cinder::Volume"]("disk", {"size": 1, "image": "admin/cirros"},
                                                   STACK)  # fmt: skip
    assert volume.manifest["spec"]["source"] == {"image": {"name": "cirros", "project": "admin"}}  # type: ignore[union-attr]


def _live(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": "x"}, "spec": spec}


@pytest.mark.parametrize(
    ("kind", "wanted", "live", "replaced"),
    [
        ("Subnet", {"network": "n", "cidr": "10.0.1.0/24"},
         {"network": "n", "cidr": "10.0.0.0/24", "ipVersion": 4}, ["cidr"]),
        ("Subnet", {"network": "n", "cidr": "10.0.0.0/24", "dnsNameservers": ["1.1.1.1"]},
         {"network": "n", "cidr": "10.0.0.0/24", "ipVersion": 4}, []),
        ("Server", {"flavor": "m1.large", "image": {"name": "cirros"}},
         {"flavor": "m1.small", "image": {"name": "cirros"}}, []),
        ("Server", {"flavor": "m1.small", "availabilityZone": "zone-b"},
         {"flavor": "m1.small", "availabilityZone": "zone-a"}, ["availabilityZone"]),
        ("Server", {"flavor": "m1.small", "serverGroup": "g"}, {"flavor": "m1.small"},
         ["serverGroup"]),
        ("Volume", {"sizeGB": 2}, {"sizeGB": 1}, []),
        ("Volume", {"sizeGB": 1, "volumeType": "fast"}, {"sizeGB": 1, "volumeType": "slow"},
         ["volumeType"]),
        ("Flavor", {"vcpus": 2, "ramMB": 512}, {"vcpus": 1, "ramMB": 512, "diskGB": 0,
         "ephemeralGB": 0, "swapMB": 0, "rxtxFactor": 1.0, "isPublic": True}, ["vcpus"]),
    ],
)  # fmt: skip
def test_what_cannot_change_in_place_replaces_the_resource(
    kind: str, wanted: dict[str, Any], live: dict[str, Any], replaced: list[str]
) -> None:
    manifest = {"kind": kind, "spec": wanted}
    assert observed.needs_replacement(manifest, _live(kind, live)) == replaced


@pytest.mark.parametrize(
    ("status", "generation", "done"),
    [
        ({"stackStatus": "CREATE_COMPLETE", "observedGeneration": 1}, 1, True),
        ({"stackStatus": "UPDATE_COMPLETE", "observedGeneration": 2}, 2, True),
        ({"stackStatus": "CREATE_COMPLETE", "observedGeneration": 1}, 2, False),
        ({"stackStatus": "CREATE_IN_PROGRESS"}, 1, False),
        ({"stackStatus": "CREATE_FAILED", "stackStatusReason": "Resource CREATE failed: x",
          "observedGeneration": 1}, 1, "Resource CREATE failed: x"),
        ({"stackStatus": "ROLLBACK_COMPLETE", "stackStatusReason": "Stack ROLLBACK completed",
          "observedGeneration": 1}, 1, "Stack ROLLBACK completed"),
    ],
)  # fmt: skip
def test_a_nested_stack_is_done_when_it_completes(
    status: dict[str, Any], generation: int, done: Any
) -> None:
    stack = {"kind": "Stack", "metadata": {"generation": generation}, "status": status}
    assert observed.ready(stack) == done


def test_a_resource_is_not_done_before_its_controller_saw_the_change() -> None:
    server: dict[str, Any] = {"metadata": {"generation": 3},
                              "status": {"status": "ACTIVE", "observedGeneration": 2}}  # fmt: skip
    assert observed.ready(server) is False
    server["status"]["observedGeneration"] = 3
    assert observed.ready(server) is True


def test_a_nested_stacks_outputs_are_its_attributes() -> None:
    stack = {"kind": "Stack", "metadata": {"name": "web-app"},
             "status": {"outputs": [{"outputKey": "ip", "outputValue": "10.0.0.5"}]}}  # fmt: skip
    attrs = observed.attributes("server.yaml", stack)
    assert attrs["ip"] == "10.0.0.5"
    assert attrs["outputs"] == {"ip": "10.0.0.5"}


@pytest.mark.parametrize(
    ("access", "allowed"),
    [
        (authz.Access("create", "compute.nimbus.dev", "servers", "demo"), True),
        (authz.Access("patch", "network.nimbus.dev", "securitygroups", "demo"), True),
        (authz.Access("create", "compute.nimbus.dev", "servers", "other"), False),
        (authz.Access("create", "compute.nimbus.dev", "flavors", None), False),
        (authz.Access("get", "compute.nimbus.dev", "flavors", None), True),
        (authz.Access("create", "", "secrets", "demo"), False),
    ],
)
def test_a_stack_without_a_requester_does_only_what_a_member_may(
    access: authz.Access, allowed: bool
) -> None:
    assert planning.a_member_may(access, "demo") is allowed


@pytest.mark.parametrize(
    ("stack_action", "made", "changed", "before", "word"),
    [
        ("CREATE", False, True, None, "CREATE"),
        ("CREATE", True, False, "CREATE_IN_PROGRESS", "CREATE"),
        # an update makes a new resource (or a replacement): Heat's CREATE
        ("UPDATE", False, True, None, "CREATE"),
        ("UPDATE", False, True, "CREATE_COMPLETE", "CREATE"),
        # ... and goes on calling it so while it completes
        ("UPDATE", True, False, "CREATE_IN_PROGRESS", "CREATE"),
        # an update changes one in place: UPDATE, until it completes
        ("UPDATE", True, True, "CREATE_COMPLETE", "UPDATE"),
        ("UPDATE", True, False, "UPDATE_IN_PROGRESS", "UPDATE"),
        # one the update leaves as it was keeps its word
        ("UPDATE", True, False, "CREATE_COMPLETE", "CREATE"),
        ("UPDATE", True, False, "UPDATE_COMPLETE", "UPDATE"),
        # made, but no word of it in the status: it was made by a create
        ("UPDATE", True, False, None, "CREATE"),
        ("UPDATE", True, False, "INIT_COMPLETE", "CREATE"),
        ("ROLLBACK", True, True, "UPDATE_COMPLETE", "ROLLBACK"),
    ],
)  # fmt: skip
def test_heats_action_for_a_resource_in_a_stack_update(
    stack_action: str, made: bool, changed: bool, before: str | None, word: str
) -> None:
    assert observed.action(stack_action, made=made, changed=changed, before=before) == word


@pytest.mark.parametrize(
    ("before", "word"),
    [(None, "INIT_COMPLETE"), ("INIT_COMPLETE", "INIT_COMPLETE"),
     ("CREATE_COMPLETE", "CREATE_COMPLETE"), ("UPDATE_COMPLETE", "UPDATE_COMPLETE"),
     ("CREATE_IN_PROGRESS", "INIT_COMPLETE"), ("CREATE_FAILED", "INIT_COMPLETE")],
)  # fmt: skip
def test_a_resource_an_update_has_not_reached_keeps_its_complete_word(
    before: str | None, word: str
) -> None:
    assert observed.waiting(before) == word
