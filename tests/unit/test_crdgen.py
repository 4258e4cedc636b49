"""crds/ is generated from the models, is current, and is a structural schema Kubernetes accepts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from nimbus.api import kinds, meta
from nimbus.generate import crdgen
from tests.conftest import CRDS


def test_crds_are_not_stale() -> None:
    expected = crdgen.rendered()
    actual = {path.name: path.read_text() for path in CRDS.glob("*.yaml")}
    assert sorted(actual) == sorted(expected), "crds/ has other files: run `make generate`"
    for name, text in expected.items():
        assert actual[name] == text, f"crds/{name} is stale: run `make generate`"


def test_generate_check_reports_staleness(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from nimbus import __main__ as cli

    crdgen.write(tmp_path)
    assert cli.main(["generate", "--check", "--output", str(tmp_path)]) == 0
    # the seconds of rendering are announced first, and the outcome said at the end
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith(f"checking {tmp_path}, ")
    assert printed[-1] == "up to date"
    (tmp_path / "servers.compute.nimbus.dev.yaml").write_text("stale")
    assert cli.main(["generate", "--check", "--output", str(tmp_path)]) == 1
    printed = capsys.readouterr().out.splitlines()
    assert printed[1] == (
        f"{tmp_path} is stale (servers.compute.nimbus.dev.yaml): run `make generate`"
    )


def _nodes(schema: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(schema, dict):
        return
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from _nodes(sub, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _nodes(schema[key], f"{path}[]")


def _schema(kind: type[meta.Resource]) -> dict[str, Any]:
    crd = crdgen.crd(kind)
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


@pytest.mark.parametrize("kind", kinds.ALL, ids=lambda k: k.__name__)
def test_schema_is_structural(kind: type[meta.Resource]) -> None:
    for path, node in _nodes(_schema(kind)):
        forbidden = {"$ref", "$defs", "anyOf", "oneOf", "allOf", "title", "const"} & set(node)
        assert not forbidden, f"{path}: {forbidden}"
        assert node.get("additionalProperties") is not False, path
        if not node.get("x-kubernetes-preserve-unknown-fields"):
            assert node.get("type") in {"object", "array", "string", "integer", "number",
                                        "boolean"}, path  # fmt: skip
        if "exclusiveMinimum" in node:
            assert node["exclusiveMinimum"] is True, path


@pytest.mark.parametrize("kind", kinds.ALL, ids=lambda k: k.__name__)
def test_lists_and_maps_that_rules_walk_are_bounded(kind: type[meta.Resource]) -> None:
    """The API server estimates CEL cost from bounds: every spec list and map has one."""
    spec = _schema(kind)["properties"]["spec"]
    for path, node in _nodes(spec):
        if node.get("type") == "array":
            assert "maxItems" in node, f"{kind.__name__} spec{path} has no maxItems"
        if node.get("type") == "object" and "additionalProperties" in node:
            assert "maxProperties" in node, f"{kind.__name__} spec{path} has no maxProperties"


@pytest.mark.parametrize("kind", kinds.ALL, ids=lambda k: k.__name__)
def test_lists_say_how_server_side_apply_merges_them(kind: type[meta.Resource]) -> None:
    for path, node in _nodes(_schema(kind)):
        if node.get("type") == "array":
            assert node.get("x-kubernetes-list-type") in {"atomic", "set", "map"}, path
            if node["x-kubernetes-list-type"] == "map":
                required = set(node["items"].get("required", []))
                assert set(node["x-kubernetes-list-map-keys"]) <= required, path


def test_status_carries_no_cel_rules() -> None:
    for kind in kinds.ALL:
        status = _schema(kind)["properties"]["status"]
        assert all("x-kubernetes-validations" not in node for _, node in _nodes(status))


def test_names_and_categories() -> None:
    short_names = [name for kind in kinds.ALL for name in kind.short_names]
    assert short_names == [
        "osproject", "osuser", "osflavor", "oskeypair", "osservergroup", "osserver", "osimage",
        "osnet", "ossubnet", "osport", "ossg", "osrouter", "osfip", "oslb",
        "oslistener", "ospool", "osmember", "oshm", "osvoltype", "osvol", "ossnap",
        "osstack",
    ]  # fmt: skip
    for kind in kinds.ALL:
        names = crdgen.crd(kind)["spec"]["names"]
        assert names["categories"] == ["nimbus"]
        assert names["kind"] == kind.__name__
        assert kind.group.endswith(".nimbus.dev")
    groups = {kind.__name__: kind.group.split(".")[0] for kind in kinds.ALL}
    assert groups == {
        "Project": "identity", "User": "identity", "Flavor": "compute", "KeyPair": "compute",
        "ServerGroup": "compute", "Server": "compute", "Image": "image", "Network": "network",
        "Subnet": "network", "Port": "network", "SecurityGroup": "network",
        "Router": "network", "FloatingIP": "network", "LoadBalancer": "loadbalancer",
        "Listener": "loadbalancer", "Pool": "loadbalancer", "Member": "loadbalancer",
        "HealthMonitor": "loadbalancer",
        "VolumeType": "blockstorage", "Volume": "blockstorage", "Snapshot": "blockstorage",
        "Stack": "orchestration",
    }  # fmt: skip


def test_cluster_scoped_kinds_are_keystones_and_the_admins() -> None:
    cluster_scoped = {k.__name__ for k in kinds.ALL if k.scope == "Cluster"}
    assert cluster_scoped == {"Project", "User", "Flavor", "VolumeType"}


def test_server_columns_are_openstack_server_list() -> None:
    version = crdgen.crd(kinds.by_kind("Server"))["spec"]["versions"][0]
    columns = version["additionalPrinterColumns"]
    assert [c["name"] for c in columns] == ["Status", "Networks", "Image", "Flavor", "Host", "Age"]


def test_generated_yaml_has_no_anchors() -> None:
    for text in crdgen.rendered().values():
        assert "&id" not in text
        assert "*id" not in text
        yaml.safe_load(text)


@pytest.mark.parametrize(
    ("snake", "api"),
    [
        ("ram_mb", "ramMB"),
        ("disk_gb", "diskGB"),
        ("fixed_ips", "fixedIPs"),
        ("gateway_ip", "gatewayIP"),
        ("remote_ip_prefix", "remoteIPPrefix"),
        ("segmentation_id", "segmentationID"),
        ("enable_dhcp", "enableDHCP"),
        ("ip_version", "ipVersion"),
        ("key_name", "keyName"),
        ("flavor", "flavor"),
    ],
)
def test_api_names(snake: str, api: str) -> None:
    assert meta.camel(snake) == api


@given(st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True), min_size=1, max_size=5))
def test_api_names_never_keep_underscores(words: list[str]) -> None:
    name = meta.camel("_".join(words))
    assert "_" not in name
    assert name.lower() == "".join(words)
    assert name[0].islower()


def test_default_objects_carry_their_nested_defaults() -> None:
    """CEL rules see a `default: {}` as written, so it is written out in full."""
    network = _schema(kinds.by_kind("Network"))["properties"]["spec"]
    assert network["default"]["provider"] == {"networkType": "local", "cni": "bridge"}
    assert network["properties"]["provider"]["default"] == {"networkType": "local", "cni": "bridge"}
    project = _schema(kinds.by_kind("Project"))["properties"]["spec"]
    assert project["properties"]["quota"]["default"]["cores"] == 20


def test_structural_refuses_unions_it_cannot_express() -> None:
    with pytest.raises(ValueError, match="cannot make a structural schema"):
        crdgen.structural({"anyOf": [{"type": "string"}, {"type": "integer"}]}, {})


def test_structural_rewrites_json_schema_into_openapi() -> None:
    defs = {"Thing": {"title": "Thing", "type": "object", "properties": {"a": {"const": 4}},
                      "additionalProperties": False}}  # fmt: skip
    node = {
        "anyOf": [{"$ref": "#/$defs/Thing"}, {"type": "null"}],
        "default": None,
        "x-kubernetes-validations": [{"rule": "true", "message": "m"}],
    }
    assert crdgen.structural(node, defs) == {
        "type": "object",
        "properties": {"a": {"enum": [4], "type": "integer"}},
        "x-kubernetes-validations": [{"rule": "true", "message": "m"}],
    }
    assert crdgen.structural({"type": "number", "exclusiveMinimum": 0}, {}) == {
        "type": "number", "minimum": 0, "exclusiveMinimum": True,
    }  # fmt: skip
