"""The models read every example and speak the API's names."""

from __future__ import annotations

import pathlib

import pytest
import yaml

from nimbus.api import kinds, meta
from nimbus.compute import api as compute
from tests.conftest import EXAMPLES

KINDS = {kind.__name__: kind for kind in kinds.ALL}


def _examples() -> list[tuple[str, dict[str, object]]]:
    return [
        (f"{path.name}:{doc['metadata']['name']}", doc)
        for path in sorted(EXAMPLES.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc["kind"] in KINDS
    ]


@pytest.mark.parametrize(("name", "doc"), _examples(), ids=[n for n, _ in _examples()])
def test_examples_parse_into_their_model(name: str, doc: dict[str, object]) -> None:
    kind = KINDS[str(doc["kind"])]
    resource = kind.model_validate(doc)
    assert resource.api_version == kind.api_version_name()
    # What the model writes back is what the user wrote, plus the model's defaults.
    _assert_contains(resource.to_api()["spec"], doc["spec"], "spec")


def _assert_contains(written: object, wrote: object, path: str) -> None:
    if isinstance(wrote, dict):
        assert isinstance(written, dict), path
        for key, value in wrote.items():
            assert key in written, f"{path}.{key} was dropped"
            _assert_contains(written[key], value, f"{path}.{key}")
    elif isinstance(wrote, list):
        assert isinstance(written, list), path
        assert len(written) == len(wrote), path
        for index, (a, b) in enumerate(zip(written, wrote, strict=True)):
            _assert_contains(a, b, f"{path}[{index}]")
    else:
        assert written == wrote, path


def test_server_from_the_design_document() -> None:
    server = compute.Server.model_validate(
        {
            "apiVersion": "compute.nimbus.dev/v1alpha1",
            "kind": "Server",
            "metadata": {"name": "web-1", "namespace": "demo"},
            "spec": {
                "flavor": "m1.small",
                "image": {"name": "cirros"},
                "networks": [{"network": "private"}, {"port": "web-1-port"}],
                "keyName": "ops",
                "schedulerHints": {"differentHost": ["web-2"]},
            },
        }
    )
    assert server.spec.flavor == "m1.small"
    assert server.spec.security_groups == ["default"]
    assert server.spec.power_state == "Running"
    assert server.spec.networks[1].port == "web-1-port"
    assert server.spec.scheduler_hints is not None
    assert server.spec.scheduler_hints.different_host == ["web-2"]
    assert server.status is None


def test_status_round_trips_in_api_names() -> None:
    status = compute.ServerStatus.model_validate(
        {
            "status": "ERROR",
            "fault": {"code": 500, "message": "No valid host was found. "},
            "addresses": {
                "private": [{"addr": "10.0.0.12", "version": 4, "mac": "02:00:00:00:00:01"}]
            },
            "observedGeneration": 3,
        }
    )
    assert status.to_api() == {
        "status": "ERROR",
        "fault": {"code": 500, "message": "No valid host was found. "},
        "addresses": {
            "private": [
                {"addr": "10.0.0.12", "version": 4, "type": "fixed", "mac": "02:00:00:00:00:01"}
            ]
        },
        "observedGeneration": 3,
        "conditions": [],
    }


def test_unknown_fields_from_a_newer_api_do_not_crash_the_operator() -> None:
    flavor = compute.FlavorSpec.model_validate({"vcpus": 1, "ramMB": 64, "fromTheFuture": True})
    assert flavor.vcpus == 1


def test_every_kind_module_is_in_kinds() -> None:
    package = pathlib.Path(compute.__file__).parents[1]
    declared = {
        cls.__name__
        for path in package.glob("*/api.py")
        for cls in vars(__import__(f"nimbus.{path.parent.name}.api", fromlist=["api"])).values()
        if isinstance(cls, type) and hasattr(cls, "plural") and cls.__module__.endswith(".api")
    }
    assert declared == set(KINDS)


@pytest.mark.parametrize("kind", kinds.ALL, ids=lambda k: k.kind_name())
def test_every_kind_is_found_by_its_plural_and_its_name(kind: type[meta.Resource]) -> None:
    assert kinds.by_plural(kind.plural) is kind
    assert kinds.by_kind(kind.kind_name()) is kind


def test_an_unknown_kind_is_refused_with_the_names_known() -> None:
    with pytest.raises(KeyError, match=r"no Nimbus kind has the plural 'virtualmachines'.*servers"):
        kinds.by_plural("virtualmachines")
    with pytest.raises(KeyError, match=r"no Nimbus kind is named 'Pod'.*'Server'"):
        kinds.by_kind("Pod")
