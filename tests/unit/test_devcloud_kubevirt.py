"""What the local cloud installs in place of virt-operator and cdi-operator, from what their
generators print: pure tests of components.kubevirt_objects, cdi_objects, the identities and
the KWOK stages that finish CDI's pods."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from nimbus.devcloud import cluster, components
from nimbus.devcloud.simulators import kubevirt as kubevirt_simulator

CDI_STAGES = cluster.CDI_STAGES

PRINTED: list[dict[str, Any]] = [
    {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
     "metadata": {"name": "virtualmachines.kubevirt.io"}, "spec": {}},
    {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
     "metadata": {"name": "virt-api-validator", "creationTimestamp": None},
     "webhooks": [{"name": "virtualmachine-validator.kubevirt.io",
                   "clientConfig": {"service": {"namespace": "kubevirt", "name": "virt-api",
                                                "path": "/virtualmachines-validate"}}}]},
    {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
     "metadata": {"name": "v1.subresources.kubevirt.io"},
     "spec": {"service": {"namespace": "kubevirt", "name": "virt-api"}, "group":
              "subresources.kubevirt.io", "version": "v1"}, "status": {}},
    {"apiVersion": "v1", "kind": "ServiceAccount",
     "metadata": {"name": "kubevirt-handler", "namespace": "kubevirt"}},
]  # fmt: skip


def _installed() -> dict[str, dict[str, Any]]:
    objects = components.kubevirt_objects(
        PRINTED, port=4443, ca=b"CA", kubevirt_ca=b"KUBEVIRT CA", version="v1.8.2"
    )
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}


def test_webhooks_are_called_at_virt_api_on_loopback_trusting_its_ca() -> None:
    webhook = _installed()["ValidatingWebhookConfiguration/virt-api-validator"]["webhooks"][0]
    assert webhook["clientConfig"] == {
        "url": "https://127.0.0.1:4443/virtualmachines-validate",
        "caBundle": base64.b64encode(b"CA").decode(),
    }


def test_the_subresources_api_goes_through_a_service_naming_loopback() -> None:
    installed = _installed()
    spec = installed["APIService/v1.subresources.kubevirt.io"]["spec"]
    assert spec["service"] == {"namespace": "kubevirt", "name": "virt-api", "port": 4443}
    assert spec["caBundle"] == base64.b64encode(b"CA").decode()
    assert "status" not in installed["APIService/v1.subresources.kubevirt.io"]
    service = installed["Service/virt-api"]["spec"]
    assert (service["type"], service["externalName"]) == ("ExternalName", "127.0.0.1")
    assert service["ports"][0]["port"] == 4443


def test_crds_are_left_to_upstream_and_the_rest_is_kept_unchanged() -> None:
    installed = _installed()
    assert "CustomResourceDefinition/virtualmachines.kubevirt.io" not in installed
    assert installed["ServiceAccount/kubevirt-handler"] == PRINTED[3]
    assert PRINTED[1]["webhooks"][0]["clientConfig"]["service"]  # the input is not changed
    assert installed["ConfigMap/kubevirt-ca"]["data"] == {"ca-bundle": "KUBEVIRT CA"}


def test_every_kwok_node_gets_a_virt_handler_on_its_host_network() -> None:
    handler = _installed()["DaemonSet/virt-handler"]["spec"]["template"]
    assert handler["metadata"]["labels"] == {"kubevirt.io": "virt-handler"}
    assert handler["spec"]["hostNetwork"] is True
    assert handler["spec"]["containers"][0]["image"] == "quay.io/kubevirt/virt-handler:v1.8.2"


def test_kubevirt_is_configured_for_declarative_hotplug_once_deployed() -> None:
    """virt-api and virt-controller read the KubeVirt resource's configuration only once its
    status has a phase (and take the default architecture from there)."""
    resource = _installed()["KubeVirt/kubevirt"]
    assert resource["metadata"]["namespace"] == "kubevirt"
    gates = resource["spec"]["configuration"]["developerConfiguration"]["featureGates"]
    assert gates == ["DeclarativeHotplugVolumes"]  # and not HotplugVolumes, which turns it off
    assert components.KUBEVIRT_DEPLOYED["status"] == {
        "phase": "Deployed", "defaultArchitecture": "amd64"
    }  # fmt: skip


def _volume(name: str, phase: str, target: str = "", pod_uid: str = "p1") -> dict[str, Any]:
    return {"name": name, "phase": phase, "target": target,
            "hotplugVolume": {"attachPodName": "hp-volume-x", "attachPodUID": pod_uid}}  # fmt: skip


@pytest.mark.parametrize(
    ("in_spec", "statuses", "expected"),
    [
        # Attached to the node, its attachment pod ready: in the domain, at the first free target.
        (["a"], [_volume("a", "AttachedToNode")], [("a", "Ready", "sda")]),
        (["a", "b"], [_volume("a", "Ready", "sda"), _volume("b", "AttachedToNode")],
         [("a", "Ready", "sda"), ("b", "Ready", "sdb")]),
        # Its attachment pod not ready yet: left as it is.
        (["a"], [_volume("a", "AttachedToNode", pod_uid="")], [("a", "AttachedToNode", "")]),
        (["a"], [_volume("a", "Bound")], [("a", "Bound", "")]),
        # Gone from the spec: unmounted (virt-controller then deletes its pod and status).
        ([], [_volume("a", "Ready", "sda")], [("a", "UnMountedFromPod", "")]),
        ([], [_volume("a", "Detaching")], [("a", "Detaching", "")]),
        # A volume the launcher mounts itself is not the handler's to move.
        ([], [{"name": "root", "target": ""}], [("root", None, "")]),
    ],
)  # fmt: skip
def test_the_handler_s_part_of_a_hotplug(
    in_spec: list[str],
    statuses: list[dict[str, Any]],
    expected: list[tuple[str, str | None, str]],
) -> None:
    vmi = {"spec": {"volumes": [{"name": n} for n in in_spec]},
           "status": {"volumeStatus": statuses}}  # fmt: skip
    after = kubevirt_simulator.hotplugged(vmi)
    assert [(v["name"], v.get("phase"), v["target"]) for v in after] == expected


@pytest.mark.parametrize(
    ("component", "user"),
    [
        ("virt-api", "system:serviceaccount:kubevirt:kubevirt-apiserver"),
        ("virt-controller", "system:serviceaccount:kubevirt:kubevirt-controller"),
        ("virt-handler", "system:serviceaccount:kubevirt:kubevirt-handler"),
    ],
)
def test_they_run_as_the_service_accounts_their_webhooks_trust(component: str, user: str) -> None:
    name, groups = components.service_account_user(*components.IDENTITIES[component])
    assert name == user
    assert "system:serviceaccounts:kubevirt" in groups


def test_kubevirt_listens_on_loopback_only(tmp_path: Any) -> None:
    ports = {"virt-api": 1, "virt-controller": 2, "virt-handler": 3}
    args = [
        *components.virt_api_args(tmp_path / "kc", tmp_path, tmp_path, ports),
        *components.virt_controller_args(tmp_path / "kc", tmp_path, ports, "v1.8.2"),
    ]
    assert args.count("--listen=127.0.0.1") == 2
    assert "--console-server-port=3" in args


CDI_PRINTED: list[dict[str, Any]] = [
    {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
     "metadata": {"name": "cdi-api-datavolume-mutate"},
     "webhooks": [{"name": "datavolume-mutate.cdi.kubevirt.io",
                   "clientConfig": {"service": {"namespace": "cdi", "name": "cdi-api",
                                                "path": "/datavolume-mutate", "port": 443}}}]},
    {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
     "metadata": {"name": "v1beta1.upload.cdi.kubevirt.io"},
     "spec": {"service": {"namespace": "cdi", "name": "cdi-api"}}},
]  # fmt: skip


def test_cdi_is_served_at_its_api_server_on_loopback_with_its_signers() -> None:
    objects = components.cdi_objects(
        CDI_PRINTED, port=8443, ca=b"CDI CA",
        upload_signers={"uploadserver-signer": b"S", "uploadserver-client-signer": b"C"},
    )  # fmt: skip
    installed = {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}
    webhook = installed["MutatingWebhookConfiguration/cdi-api-datavolume-mutate"]["webhooks"][0]
    assert webhook["clientConfig"]["url"] == "https://127.0.0.1:8443/datavolume-mutate"
    assert installed["APIService/v1beta1.upload.cdi.kubevirt.io"]["spec"]["service"]["port"] == 8443
    assert installed["Service/cdi-api"]["spec"]["externalName"] == "127.0.0.1"
    assert installed["ConfigMap/cdi-uploadserver-signer-bundle"]["data"] == {"ca-bundle.crt": "S"}
    bundle = installed["ConfigMap/cdi-uploadserver-client-signer-bundle"]["data"]
    assert bundle == {"ca-bundle.crt": "C"}


def test_cdi_gets_its_resource_and_the_local_class_s_access_modes() -> None:
    cdi, profile = components.cdi_resources("standard")
    assert (cdi["kind"], cdi["metadata"]["name"]) == ("CDI", "cdi")
    assert profile["metadata"]["name"] == "standard"
    assert profile["spec"]["claimPropertySets"] == [
        {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"}
    ]


def test_cdi_stages_follow_kwok_s_own() -> None:
    stages = list(yaml.safe_load_all(components.kwok_stages(
        "kind: Stage\nmetadata: {name: pod-ready}\n", CDI_STAGES.read_text()
    )))  # fmt: skip
    names = [s["metadata"]["name"] for s in stages]
    assert names == ["pod-ready", "cdi-import-complete", "cdi-import-unreachable",
                     "cdi-clone-source-complete", "cdi-upload-complete"]  # fmt: skip
    for stage in stages[1:]:
        assert stage["spec"]["resourceRef"] == {"apiGroup": "v1", "kind": "Pod"}
