"""Heat resource types as Nimbus objects: table tests of the pure mapping, validated by the
kinds' own models, attributes with Heat's names, completion, ResourceGroup, and which real
templates use types Nimbus has no kind for yet."""

from __future__ import annotations

import pathlib
import re
from typing import Any

import pytest

from nimbus.k8s import client
from nimbus.orchestration import observed, resources
from nimbus.orchestration.hot import template as hot_template

STACK = resources.Stack(name="web", namespace="demo", uid="0b7a5c8e-0000-4000-8000-000000000001")
FIXTURES = pathlib.Path(__file__).parents[1] / "fixtures" / "heat-templates"


def applied(kind: str, properties: dict[str, Any], name: str = "res") -> dict[str, Any]:
    made = resources.render(kind, name, properties, STACK)
    assert isinstance(made, resources.Apply)
    return made.manifest


def test_a_server_with_networks_keys_hints_and_user_data() -> None:
    manifest = applied(
        "OS::Nova::Server",
        {
            "name": "Web_1",
            "image": "cirros",
            "flavor": "m1.small",
            "key_name": "ops",
            "networks": [
                {"network": "web-net"},
                {"port": "web-port"},
                {"network": "data", "fixed_ip": "10.1.0.5"},
            ],
            "security_groups": ["web"],
            "user_data": "#!/bin/sh\necho hi",
            "user_data_format": "RAW",
            "metadata": {"tier": "web", "n": 1},
            "scheduler_hints": {"different_host": "db"},
            "availability_zone": "zone-a",
        },
        name="server",
    )
    assert manifest["apiVersion"] == "compute.nimbus.dev/v1alpha1"
    assert manifest["metadata"] == {
        "name": "web-server",
        "namespace": "demo",
        "labels": {
            "orchestration.nimbus.dev/stack": "web",
            "orchestration.nimbus.dev/resource": "server",
        },
    }
    spec = manifest["spec"]
    assert spec["image"] == {"name": "cirros"}
    assert spec["networks"] == [
        {"network": "web-net"},
        {"port": "web-port"},
        {"network": "data", "fixedIP": "10.1.0.5"},
    ]
    assert spec["keyName"] == "ops"
    assert spec["metadata"] == {"tier": "web", "n": "1"}
    assert spec["schedulerHints"] == {"differentHost": ["db"]}
    assert spec["hostname"] == "web-1"


def test_a_server_booting_from_a_volume_of_block_device_mapping_v2() -> None:
    spec = applied(
        "OS::Nova::Server",
        {
            "flavor": "m1.small",
            "block_device_mapping_v2": [
                {"volume_id": "web-root", "boot_index": 0, "delete_on_termination": True}
            ],
        },
    )["spec"]
    assert spec["bootVolume"] == {"name": "web-root", "deleteOnTermination": True}


@pytest.mark.parametrize(
    ("kind", "properties", "spec"),
    [
        ("OS::Neutron::Net", {"shared": True}, {"shared": True}),
        (
            "OS::Neutron::Subnet",
            {
                "network": "web-net",
                "cidr": "10.0.0.0/24",
                "dns_nameservers": ["8.8.8.8"],
                "gateway_ip": "10.0.0.1",
            },
            {
                "network": "web-net",
                "cidr": "10.0.0.0/24",
                "dnsNameservers": ["8.8.8.8"],
                "gatewayIP": "10.0.0.1",
            },
        ),
        (
            "OS::Neutron::Port",
            {
                "network": "web-net",
                "fixed_ips": [{"subnet": "web-subnet", "ip_address": "10.0.0.9"}],
            },
            {"network": "web-net", "fixedIPs": [{"subnet": "web-subnet", "ipAddress": "10.0.0.9"}]},
        ),
        (
            "OS::Neutron::SecurityGroup",
            {
                "rules": [
                    {
                        "protocol": "tcp",
                        "port_range_min": 22,
                        "port_range_max": 22,
                        "remote_ip_prefix": "0.0.0.0/0",
                    }
                ]
            },
            {
                "rules": [
                    {
                        "protocol": "tcp",
                        "portRangeMin": 22,
                        "portRangeMax": 22,
                        "remoteIPPrefix": "0.0.0.0/0",
                    }
                ]
            },
        ),
        (
            "OS::Cinder::Volume",
            {"size": 10, "image": "cirros"},
            {"sizeGB": 10, "source": {"image": {"name": "cirros"}}},
        ),
        ("OS::Nova::ServerGroup", {"policies": ["affinity"]}, {"policy": "affinity"}),
        (
            "OS::Glance::WebImage",
            {
                "location": "https://example.com/cirros.img",
                "disk_format": "qcow2",
                "container_format": "bare",
            },
            {
                "source": {"http": {"url": "https://example.com/cirros.img"}},
                "diskFormat": "qcow2",
                "containerFormat": "bare",
            },
        ),
    ],
)
def test_each_type_becomes_its_kind(
    kind: str, properties: dict[str, Any], spec: dict[str, Any]
) -> None:
    got = applied(kind, properties)["spec"]
    assert {k: v for k, v in got.items() if k in spec} == spec


def test_a_flavor_is_cluster_scoped_and_keeps_its_name() -> None:
    manifest = applied("OS::Nova::Flavor", {"name": "s.tiny", "ram": 512, "vcpus": 1, "disk": 1})
    assert manifest["metadata"]["name"] == "s.tiny"
    assert "namespace" not in manifest["metadata"]
    assert manifest["spec"]["ramMB"] == 512


def test_what_a_kind_refuses_is_a_property_error_naming_the_field() -> None:
    with pytest.raises(
        hot_template.HotError, match=re.escape("Property error: sub.properties: cidr")
    ):
        resources.render("OS::Neutron::Subnet", "sub", {"network": "n"}, STACK)


def test_attachments_and_rules_change_another_object() -> None:
    made = resources.render(
        "OS::Cinder::VolumeAttachment",
        "att",
        {"instance_uuid": "web-server", "volume_id": "web-data", "mountpoint": "/dev/vdb"},
        STACK,
    )
    assert made == resources.Append(
        "Server", "web-server", "volumes", {"volume": "web-data", "device": "/dev/vdb"}
    )
    made = resources.render(
        "OS::Neutron::SecurityGroupRule",
        "r",
        {"security_group": "web-sg", "protocol": "icmp", "direction": "ingress"},
        STACK,
    )
    assert made == resources.Append(
        "SecurityGroup", "web-sg", "rules", {"direction": "ingress", "protocol": "icmp"}
    )


def test_heats_own_types_are_values() -> None:
    value = resources.render("OS::Heat::Value", "v", {"value": [1, 2]}, STACK)
    assert value == resources.Value([1, 2], {"value": [1, 2]})
    random = resources.render(
        "OS::Heat::RandomString",
        "pw",
        {
            "length": 12,
            "character_classes": [{"class": "digits", "min": 2}, {"class": "uppercase", "min": 2}],
        },
        STACK,
    )
    assert isinstance(random, resources.Value)
    assert len(random.value) == 12
    assert sum(c.isdigit() for c in random.value) >= 2
    assert sum(c.isupper() for c in random.value) >= 2
    config = resources.render(
        "OS::Heat::CloudConfig", "cc", {"cloud_config": {"packages": ["nginx"]}}, STACK
    )
    assert isinstance(config, resources.Value)
    assert config.value == "#cloud-config\npackages:\n- nginx\n"
    mime = resources.render(
        "OS::Heat::MultipartMime",
        "mm",
        {"parts": [{"config": config.value}, {"config": "#!/bin/sh\necho hi"}]},
        STACK,
    )
    assert isinstance(mime, resources.Value)
    assert "Content-Type: text/cloud-config" in mime.value
    assert "Content-Type: text/x-shellscript" in mime.value


@pytest.mark.parametrize(
    ("kind", "properties", "nimbus", "spec"),
    [
        ("OS::Neutron::Router", {}, "network.nimbus.dev/v1alpha1/Router", {}),
        ("OS::Neutron::Router", {"external_gateway_info": {"network": "public"}},
         "network.nimbus.dev/v1alpha1/Router", {"externalGateway": {"network": "public"}}),
        ("OS::Neutron::Router",
         {"name": "r1", "admin_state_up": False, "ha": True, "value_specs": {"x": 1},
          "external_gateway_info": {
              "network": "admin/public", "enable_snat": False,
              "external_fixed_ips": [{"subnet": "public-v4", "ip_address": "203.0.113.10"}]}},
         "network.nimbus.dev/v1alpha1/Router",
         {"adminStateUp": False, "ha": True,
          "externalGateway": {
              "network": "public", "project": "admin", "enableSNAT": False,
              "externalFixedIPs": [{"subnet": "public-v4", "ipAddress": "203.0.113.10"}]}}),
        ("OS::Neutron::FloatingIP",
         {"floating_network": "admin/public", "port_id": "web-port",
          "fixed_ip_address": "10.0.0.5"},
         "network.nimbus.dev/v1alpha1/FloatingIP",
         {"floatingNetwork": {"network": "public", "project": "admin"}, "port": "web-port",
          "fixedIPAddress": "10.0.0.5"}),
        ("OS::Neutron::FloatingIP",
         {"floating_network_id": "public", "floating_ip_address": "203.0.113.7"},
         "network.nimbus.dev/v1alpha1/FloatingIP",
         {"floatingNetwork": {"network": "public"}, "floatingIPAddress": "203.0.113.7"}),
        ("OS::Octavia::LoadBalancer",
         {"vip_subnet": "web-subnet", "vip_address": "10.0.0.100", "provider": "octavia",
          "admin_state_up": False, "description": "web", "flavor": "small"},
         "loadbalancer.nimbus.dev/v1alpha1/LoadBalancer",
         {"vipSubnet": "web-subnet", "vipAddress": "10.0.0.100", "provider": "amphora",
          "adminStateUp": False, "description": "web"}),
        ("OS::Octavia::Listener",
         {"loadbalancer": "web-lb", "protocol": "HTTP", "protocol_port": 80,
          "connection_limit": 100, "default_pool": "web-pool",
          "allowed_cidrs": ["192.0.2.0/24"], "timeout_client_data": 1000,
          "timeout_member_connect": 2000, "timeout_member_data": 3000,
          "admin_state_up": True, "description": "front"},
         "loadbalancer.nimbus.dev/v1alpha1/Listener",
         {"loadBalancer": "web-lb", "protocol": "HTTP", "protocolPort": 80,
          "connectionLimit": 100, "defaultPool": "web-pool", "allowedCIDRs": ["192.0.2.0/24"],
          "timeoutClientData": 1000, "timeoutMemberConnect": 2000, "timeoutMemberData": 3000,
          "adminStateUp": True, "description": "front"}),
        ("OS::Octavia::Pool",
         {"loadbalancer": "web-lb", "protocol": "HTTP", "lb_algorithm": "SOURCE_IP",
          "session_persistence": {"type": "APP_COOKIE", "cookie_name": "sid"},
          "admin_state_up": True, "description": "back"},
         "loadbalancer.nimbus.dev/v1alpha1/Pool",
         {"loadBalancer": "web-lb", "protocol": "HTTP", "lbAlgorithm": "SOURCE_IP",
          "sessionPersistence": {"type": "APP_COOKIE", "cookieName": "sid"},
          "adminStateUp": True, "description": "back"}),
        ("OS::Octavia::PoolMember",
         {"pool": "web-pool", "address": "10.0.0.5", "protocol_port": 8080,
          "subnet": "web-subnet", "weight": 10, "backup": True, "monitor_address": "10.0.0.6",
          "monitor_port": 9000, "admin_state_up": False},
         "loadbalancer.nimbus.dev/v1alpha1/Member",
         {"pool": "web-pool", "address": "10.0.0.5", "protocolPort": 8080, "subnet": "web-subnet",
          "weight": 10, "backup": True, "monitorAddress": "10.0.0.6", "monitorPort": 9000,
          "adminStateUp": False}),
        ("OS::Octavia::HealthMonitor",
         {"pool": "web-pool", "type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3,
          "max_retries_down": 2, "http_method": "HEAD", "url_path": "/health",
          "expected_codes": "200-204", "admin_state_up": True},
         "loadbalancer.nimbus.dev/v1alpha1/HealthMonitor",
         {"pool": "web-pool", "type": "HTTP", "delay": 5, "timeout": 3, "maxRetries": 3,
          "maxRetriesDown": 2, "httpMethod": "HEAD", "urlPath": "/health",
          "expectedCodes": "200-204", "adminStateUp": True}),
    ],
)  # fmt: skip
def test_routers_floating_ips_and_load_balancers_become_their_kinds(
    kind: str, properties: dict[str, Any], nimbus: str, spec: dict[str, Any]
) -> None:
    manifest = applied(kind, properties)
    assert f"{manifest['apiVersion']}/{manifest['kind']}" == nimbus
    assert manifest["metadata"]["name"] == "web-res"
    assert manifest["spec"] == spec


def test_a_router_interface_is_added_to_its_routers_interfaces() -> None:
    by_subnet = resources.render(
        "OS::Neutron::RouterInterface", "ri", {"router": "web-router", "subnet": "web-sub"}, STACK
    )
    assert by_subnet == resources.Append(
        "Router", "web-router", "interfaces", {"subnet": "web-sub"}
    )
    # the names Heat deprecated, as older templates write them
    by_port = resources.render(
        "OS::Neutron::RouterInterface", "ri", {"router_id": "web-router", "port_id": "p"}, STACK
    )
    assert by_port == resources.Append("Router", "web-router", "interfaces", {"port": "p"})


@pytest.mark.parametrize(
    ("kind", "properties", "message"),
    [
        ("OS::Neutron::RouterInterface", {"router": "r", "subnet": "s", "port": "p"},
         "ri.properties: Cannot define the following properties at the same time: subnet, port."),
        ("OS::Neutron::RouterInterface", {"router": "r"},
         "ri.properties: At least one of the following properties must be specified: subnet, "
         "port."),
        ("OS::Neutron::RouterInterface", {"subnet": "s"},
         "ri.properties: Property router not assigned"),
        ("OS::Neutron::Router", {"external_gateway_info": {"enable_snat": True}},
         "ri.properties.external_gateway_info: Property network not assigned"),
        ("OS::Neutron::FloatingIP", {"port_id": "p"},
         "ri.properties: Property floating_network not assigned"),
        ("OS::Neutron::FloatingIP", {"floating_network": "public", "fixed_ip_address": "10.0.0.5"},
         "ri.properties: fixed_ip_address cannot be specified without port_id."),
        ("OS::Octavia::Pool", {"listener": "web-listener", "protocol": "HTTP",
                               "lb_algorithm": "ROUND_ROBIN"},
         "ri.properties: listener: web-listener: a pool is made the default pool only of an "
         "OS::Octavia::Listener of this template"),
        ("OS::Octavia::Pool", {"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"},
         "ri.properties: At least one of the following properties must be specified: listener, "
         "loadbalancer."),
        # what the kind cannot do is refused by its model, naming its field
        ("OS::Octavia::HealthMonitor", {"pool": "p", "type": "PING", "delay": 3, "timeout": 3,
                                        "max_retries": 3},
         "ri.properties: type: Input should be 'HTTP', 'HTTPS', 'TCP' or 'TLS-HELLO'"),
        ("OS::Octavia::LoadBalancer", {"vip_subnet": "s", "provider": "ovn"},
         "ri.properties: provider: Input should be 'amphora'"),
    ],
)  # fmt: skip
def test_what_heat_or_the_kind_refuses_is_a_property_error(
    kind: str, properties: dict[str, Any], message: str
) -> None:
    with pytest.raises(hot_template.HotError, match=re.escape(f"Property error: {message}")):
        resources.render(kind, "ri", properties, STACK)


@pytest.mark.parametrize(
    ("kind", "properties", "assigned"),
    [
        # Heat's deprecated RouterGateway: its router's gateway; Heat's reference router:network
        ("OS::Neutron::RouterGateway", {"router_id": "web-router", "network": "public"},
         resources.Assign("Router", "web-router", {"externalGateway": {"network": "public"}},
                          "web-router:public")),
        ("OS::Neutron::RouterGateway", {"router_id": "edge", "network_id": "admin/public"},
         resources.Assign("Router", "edge",
                          {"externalGateway": {"network": "public", "project": "admin"}},
                          "edge:admin/public")),
        # an association with no fixed IP unsets one an earlier association left
        ("OS::Neutron::FloatingIPAssociation", {"floatingip_id": "web-fip", "port_id": "web-port"},
         resources.Assign("FloatingIP", "web-fip", {"port": "web-port", "fixedIPAddress": None},
                          "web-fip/gw")),
        ("OS::Neutron::FloatingIPAssociation",
         {"floatingip_id": "web-fip", "port_id": "web-port", "fixed_ip_address": "10.0.0.7"},
         resources.Assign("FloatingIP", "web-fip",
                          {"port": "web-port", "fixedIPAddress": "10.0.0.7"}, "web-fip/gw")),
    ],
)  # fmt: skip
def test_a_gateway_and_an_association_set_a_field_of_the_object_they_name(
    kind: str, properties: dict[str, Any], assigned: resources.Assign
) -> None:
    assert resources.render(kind, "gw", properties, STACK) == assigned


@pytest.mark.parametrize(
    ("kind", "properties", "message"),
    [
        ("OS::Neutron::RouterGateway", {"network": "public"},
         "gw.properties: Property router_id not assigned"),
        ("OS::Neutron::RouterGateway", {"router_id": "r"},
         "gw.properties: Property network not assigned"),
        ("OS::Neutron::FloatingIPAssociation", {"port_id": "p"},
         "gw.properties: Property floatingip_id not assigned"),
        ("OS::Neutron::FloatingIPAssociation", {"floatingip_id": "f"},
         "gw.properties: Property port_id not assigned"),
        # what the kind's field would refuse, by the Heat property it comes from
        ("OS::Neutron::FloatingIPAssociation", {"floatingip_id": "f", "port_id": "Web_Port"},
         "gw.properties: port_id: String should match pattern"),
        ("OS::Neutron::RouterGateway", {"router_id": "r", "network": "Public Net"},
         "gw.properties: network: String should match pattern"),
        # the object changed is the stack's project's: never a path into another project
        ("OS::Neutron::FloatingIPAssociation",
         {"floatingip_id": "../../victim/floatingips/theirs", "port_id": "p"},
         "the FloatingIP '../../victim/floatingips/theirs' is not the name of an object of the "
         "stack's project"),
        ("OS::Neutron::RouterGateway", {"router_id": "../../victim/routers/r", "network": "n"},
         "the Router '../../victim/routers/r' is not the name of an object"),
        ("OS::Neutron::RouterInterface", {"router": "../x", "subnet": "s"},
         "the Router '../x' is not the name of an object"),
        ("OS::Neutron::SecurityGroupRule", {"security_group": "../../victim/securitygroups/d"},
         "the SecurityGroup '../../victim/securitygroups/d' is not the name of an object"),
    ],
)  # fmt: skip
def test_a_gateway_or_association_heat_would_refuse_is_a_property_error(
    kind: str, properties: dict[str, Any], message: str
) -> None:
    with pytest.raises(hot_template.HotError, match=re.escape(f"Property error: {message}")):
        resources.render(kind, "gw", properties, STACK)


@pytest.mark.parametrize(
    ("kind", "fields", "spec", "holds"),
    [
        # the API server's defaults are the kind's: still what the stack set
        ("Router", {"externalGateway": {"network": "public"}},
         {"externalGateway": {"network": "public", "enableSNAT": True, "externalFixedIPs": []}},
         True),
        # someone else's change since: not the stack's to unset
        ("Router", {"externalGateway": {"network": "public"}},
         {"externalGateway": {"network": "public", "enableSNAT": False}}, False),
        ("Router", {"externalGateway": {"network": "public"}},
         {"externalGateway": {"network": "public", "project": "admin"}}, False),
        ("Router", {"externalGateway": {"network": "public"}}, {}, False),
        ("FloatingIP", {"port": "web-port", "fixedIPAddress": None}, {"port": "web-port"}, True),
        ("FloatingIP", {"port": "web-port", "fixedIPAddress": None},
         {"port": "web-port", "fixedIPAddress": "10.0.0.9"}, False),
        ("FloatingIP", {"port": "web-port", "fixedIPAddress": None}, {"port": "db-port"}, False),
        ("FloatingIP", {"port": "web-port", "fixedIPAddress": "10.0.0.7"},
         {"port": "web-port", "fixedIPAddress": "10.0.0.7"}, True),
    ],
)  # fmt: skip
def test_an_object_holds_what_was_assigned_with_its_kinds_defaults(
    kind: str, fields: dict[str, Any], spec: dict[str, Any], holds: bool
) -> None:
    assert observed.holds(kind, fields, spec) is holds


def test_unknown_types_are_refused_listing_the_supported() -> None:
    with pytest.raises(
        hot_template.HotError,
        match='Resource w: the resource type "OS::Heat::WaitCondition"'
        " is not supported; supported are OS::Cinder::Volume",
    ):
        resources.check_types({"w": {"type": "OS::Heat::WaitCondition"}})


def test_attributes_have_heats_names() -> None:
    server = {
        "metadata": {"name": "web-server"},
        "status": {
            "addresses": {
                "private": [{"addr": "10.0.0.5", "version": 4}, {"addr": "fd00::5", "version": 6}]
            }
        },
    }
    attrs = observed.attributes("OS::Nova::Server", server)
    assert attrs["first_address"] == "10.0.0.5"
    assert attrs["networks"] == {"private": ["10.0.0.5", "fd00::5"]}
    port = {
        "metadata": {"name": "p"},
        "spec": {"network": "n"},
        "status": {
            "macAddress": "02:00:00:00:00:01",
            "fixedIPs": [{"subnet": "s", "ipAddress": "10.0.0.9"}],
        },
    }
    assert observed.attributes("OS::Neutron::Port", port)["fixed_ips"] == [
        {"subnet_id": "s", "ip_address": "10.0.0.9"}
    ]
    volume = {"metadata": {"name": "v"}, "spec": {"sizeGB": 10}, "status": {"status": "available"}}
    assert observed.attributes("OS::Cinder::Volume", volume)["size"] == 10


def test_routers_floating_ips_and_load_balancers_have_heats_attributes() -> None:
    router = {
        "metadata": {"name": "web-router"},
        "spec": {"externalGateway": {"network": "public", "project": "admin"}},
        "status": {"status": "ACTIVE", "externalGateway": {
            "device": "qg-0", "network": "public", "project": "admin", "subnet": "public-v4",
            "ipAddress": "203.0.113.2", "cidr": "203.0.113.0/24"}},
    }  # fmt: skip
    attrs = observed.attributes("OS::Neutron::Router", router)
    assert {k: v for k, v in attrs.items() if k != "show"} == {
        "name": "web-router",
        "status": "ACTIVE",
        "admin_state_up": True,
        "external_gateway_info": {
            "network_id": "admin/public",
            "enable_snat": True,
            "external_fixed_ips": [{"subnet_id": "public-v4", "ip_address": "203.0.113.2"}],
        },
    }
    assert (
        observed.attributes("OS::Neutron::Router", {"metadata": {"name": "r"}})[
            "external_gateway_info"
        ]
        is None
    )
    floating = {
        "metadata": {"name": "web-fip"},
        "spec": {"floatingNetwork": {"network": "public"}, "port": "web-port"},
        "status": {"status": "ACTIVE", "floatingIPAddress": "203.0.113.7",
                   "fixedIPAddress": "10.0.0.5", "port": "web-port", "router": "web-router"},
    }  # fmt: skip
    attrs = observed.attributes("OS::Neutron::FloatingIP", floating)
    assert {k: v for k, v in attrs.items() if k != "show"} == {
        "floating_ip_address": "203.0.113.7",
        "fixed_ip_address": "10.0.0.5",
        "port_id": "web-port",
        "router_id": "web-router",
        "floating_network_id": "public",
    }
    balancer = {
        "metadata": {"name": "web-lb"},
        "spec": {"vipSubnet": "web-sub"},
        "status": {"vipAddress": "10.0.0.100", "vipPort": "octavia-lb-web-lb",
                   "provisioningStatus": "ACTIVE", "operatingStatus": "ONLINE"},
    }  # fmt: skip
    attrs = observed.attributes("OS::Octavia::LoadBalancer", balancer)
    assert {k: v for k, v in attrs.items() if k != "show"} == {
        "name": "web-lb",
        "vip_address": "10.0.0.100",
        "vip_port_id": "octavia-lb-web-lb",
        "vip_subnet_id": "web-sub",
        "provisioning_status": "ACTIVE",
        "operating_status": "ONLINE",
    }
    listener = {"metadata": {"name": "l"}, "spec": {"loadBalancer": "web-lb", "defaultPool": "p"}}
    attrs = observed.attributes("OS::Octavia::Listener", listener)
    assert attrs["loadbalancers"] == [{"id": "web-lb"}]
    assert attrs["default_pool_id"] == "p"
    member = {"metadata": {"name": "m"}, "spec": {"pool": "p", "address": "10.0.0.5"},
              "status": {"provisioningStatus": "PENDING_CREATE"}}  # fmt: skip
    attrs = observed.attributes("OS::Octavia::PoolMember", member)
    assert (attrs["address"], attrs["pool_id"], attrs["provisioning_status"]) == (
        "10.0.0.5", "p", "PENDING_CREATE")  # fmt: skip
    monitor = {"metadata": {"name": "hm"}, "spec": {"pool": "p"}}
    assert observed.attributes("OS::Octavia::HealthMonitor", monitor)["pools"] == [{"id": "p"}]


@pytest.mark.parametrize(
    ("status", "done"),
    [
        ({"status": "ACTIVE"}, True),
        ({"status": "available"}, True),
        ({"status": "BUILD"}, False),
        (
            {"status": "ERROR", "fault": {"message": "No valid host was found."}},
            "No valid host was found.",
        ),
        ({"conditions": [{"type": "Ready", "status": "True"}]}, True),
    ],
)
def test_a_resource_is_done_when_its_child_is(status: dict[str, Any], done: Any) -> None:
    assert observed.ready({"status": status}) == done


PROVISIONING_FAILED = {
    "provisioningStatus": "ERROR",
    "conditions": [{"type": "Ready", "status": "False", "reason": "InvalidConfiguration",
                    "message": "listeners[web].default_pool: pool 'x' not found"}],
}  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "status", "done"),
    [
        # Heat waits for a router ACTIVE (or DOWN: admin down), and fails it in ERROR
        ("Router", {"status": "BUILD"}, False),
        ("Router", {"status": "ACTIVE"}, True),
        ("Router", {"status": "DOWN"}, True),
        ("Router", {"status": "ERROR", "conditions": [
            {"type": "Ready", "status": "False", "reason": "NotExternalNetwork",
             "message": "Network lan is not a valid external network."}]},
         "Network lan is not a valid external network."),
        # Octavia's objects: their provisioning status, each as Heat's check_create_complete
        ("LoadBalancer", {}, False),
        ("LoadBalancer", {"provisioningStatus": "PENDING_CREATE"}, False),
        ("LoadBalancer", {"provisioningStatus": "ACTIVE", "operatingStatus": "OFFLINE"}, True),
        ("Listener", {"provisioningStatus": "PENDING_UPDATE"}, False),
        ("Member", {"provisioningStatus": "ACTIVE", "operatingStatus": "ERROR"}, True),
        ("Pool", PROVISIONING_FAILED, "listeners[web].default_pool: pool 'x' not found"),
        ("HealthMonitor", {"provisioningStatus": "ERROR"}, "the resource is ERROR"),
        # a floating IP is made once it has its address, as Heat has it at create
        ("FloatingIP", {"status": "DOWN"}, False),
        ("FloatingIP", {"status": "DOWN", "floatingIPAddress": "203.0.113.7"}, True),
        ("FloatingIP", {"status": "ERROR", "floatingIPAddress": "203.0.113.7", "conditions": [
            {"type": "Ready", "status": "False", "reason": "ExternalGatewayForFloatingIPNotFound",
             "message": "External network public is not reachable from subnet s."}]}, True),
        ("FloatingIP", {"status": "ERROR", "conditions": [
            {"type": "Ready", "status": "False", "reason": "NotExternalNetwork",
             "message": "Network lan is not a valid external network."}]},
         "Network lan is not a valid external network."),
        ("FloatingIP", {"floatingIPAddress": "203.0.113.7", "observedGeneration": 1}, False),
    ],
)  # fmt: skip
def test_routers_floating_ips_and_load_balancers_are_done_as_heat_waits_for_them(
    kind: str, status: dict[str, Any], done: Any
) -> None:
    assert observed.ready({"kind": kind, "metadata": {"generation": 2}, "status": status}) == done


def test_a_resource_group_expands_into_indexed_members() -> None:
    definition = {"type": "OS::Nova::Server", "properties": {"name": "web-%index%"}}
    members = resources.expand_group(
        "servers",
        {"count": 3, "removal_policies": [{"resource_list": ["1"]}], "resource_def": definition},
    )
    assert members == {
        "servers-0": {"type": "OS::Nova::Server", "properties": {"name": "web-0"}},
        "servers-2": {"type": "OS::Nova::Server", "properties": {"name": "web-2"}},
        "servers-3": {"type": "OS::Nova::Server", "properties": {"name": "web-3"}},
    }
    values = {
        m: {"_ref": f"web-{m}", "first_address": f"10.0.0.{i}"} for i, m in enumerate(members)
    }
    names = list(members)
    assert observed.group_attribute(names, values, ["first_address"]) == [
        "10.0.0.0",
        "10.0.0.1",
        "10.0.0.2",
    ]
    assert observed.group_attribute(names, values, ["refs"])[0] == "web-servers-0"
    assert observed.group_attribute(names, values, ["resource.1", "first_address"]) == "10.0.0.1"
    assert observed.group_attribute(names, values, ["resource.2.first_address"]) == "10.0.0.2"
    assert observed.group_attribute(names, values, ["attributes", "first_address"]) == {
        "0": "10.0.0.0",
        "1": "10.0.0.1",
        "2": "10.0.0.2",
    }


# Real templates whose types Nimbus has no kind for: they are refused at validation, by name.
NEEDS = {
    "OS::Aodh::EventAlarm",
    "OS::Aodh::GnocchiAggregationByResourcesAlarm",  # telemetry alarms
    "OS::Cinder::EncryptedVolumeType",
    "OS::Cinder::VolumeType",  # VolumeType is cluster-wide
    "OS::Heat::AutoScalingGroup",
    "OS::Heat::ScalingPolicy",  # autoscaling
    "OS::Heat::SoftwareDeployment",
    "OS::Heat::StructuredConfig",
    "OS::Heat::StructuredDeployment",  # in-guest agents (os-collect-config)
    "OS::Heat::TestResource",
    "OS::Heat::WaitCondition",
    "OS::Heat::WaitConditionHandle",
    "OS::Mistral::Workflow",
    "OS::Zaqar::MistralTrigger",
    "OS::Zaqar::Queue",
    "OS::Neutron::Trunk",
    "OS::Swift::Container",
}


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.yaml")), ids=lambda p: p.stem)
def test_real_templates_use_supported_types_or_are_refused_by_name(path: pathlib.Path) -> None:
    template = hot_template.load(path.read_text())
    used = {r["type"] for r in template.resources.values()}
    missing = {
        t
        for t in used
        if t not in resources.TYPES and t != "OS::Heat::ResourceGroup" and not t.endswith(".yaml")
    }
    assert missing <= NEEDS, missing
    if missing:
        with pytest.raises(hot_template.HotError, match="is not supported; supported are"):
            resources.check_types(template.resources)
    else:
        resources.check_types(template.resources, {t: "" for t in used if t.endswith(".yaml")})


@pytest.mark.parametrize("name", ["..", ".", "../../victim/routers/r", "a%2Fb"])
def test_the_api_client_never_builds_a_path_from_a_name_that_is_a_path(name: str) -> None:
    with pytest.raises(ValueError, match="is not the name of a Kubernetes object"):
        client.Client.path("network.nimbus.dev/v1alpha1", "Router", "demo", name)
    with pytest.raises(ValueError, match="is not the name of a Kubernetes object"):
        client.Client.path("network.nimbus.dev/v1alpha1", "Router", name)
