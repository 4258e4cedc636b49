"""The control plane's build: pinned versions, version stamps, the Go 1.27 workaround, the cache."""

from __future__ import annotations

import pathlib

import pytest

from nimbus.devcloud import build, components

GO = pathlib.Path(build.__file__).parent / "go"


@pytest.mark.parametrize(
    ("go_version", "experiment"),
    [
        ("go version go1.26.8 linux/amd64", None),
        ("go version go1.27.0 linux/amd64", "nojsonv2"),
        ("go version go1.28rc1 linux/arm64", "nojsonv2"),
        ("go version devel +abc", None),
    ],
)
def test_go_127_builds_without_json_v2(go_version: str, experiment: str | None) -> None:
    env = build.go_environment(go_version)
    assert env.get("GOEXPERIMENT") == experiment
    assert env["CGO_ENABLED"] == "0"
    assert "-mod=readonly" in env["GOFLAGS"]


def test_binaries_report_the_pinned_version() -> None:
    flags = build.COMPONENTS["kube-apiserver"].ldflags
    assert "-X k8s.io/component-base/version.gitVersion=v1.36.3" in flags
    assert "-X k8s.io/component-base/version.gitMinor=36" in flags
    assert "-X k8s.io/client-go/pkg/version.gitVersion=v1.36.3" in flags


def test_go_modules_pin_what_the_cache_is_keyed_by() -> None:
    kubernetes = (GO / "kubernetes" / "go.mod").read_text()
    assert f"require k8s.io/kubernetes {build.KUBERNETES_VERSION}" in kubernetes
    # k8s.io/kubernetes requires its staging modules at v0.0.0: each is replaced by its release.
    staging = build.KUBERNETES_VERSION.replace("v1.", "v0.")
    assert f"k8s.io/client-go => k8s.io/client-go {staging}" in kubernetes
    assert f"k8s.io/api => k8s.io/api {staging}" in kubernetes
    assert f"require sigs.k8s.io/kwok {build.KWOK_VERSION}" in (GO / "kwok" / "go.mod").read_text()
    for module in ("kubernetes", "kwok"):
        assert (GO / module / "go.sum").stat().st_size > 10_000


def test_cache_is_keyed_by_version(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.setenv("NIMBUS_CACHE", str(tmp_path))
    assert build.binary("kube-apiserver") == tmp_path / "kubernetes-v1.36.3" / "kube-apiserver"
    assert build.binary("kwok") == tmp_path / "kwok-v0.8.0" / "kwok"
    assert build.kwok_stages() == tmp_path / "kwok-v0.8.0" / "stages.yaml"


def test_control_plane_listens_on_loopback_only(tmp_path: pathlib.Path) -> None:
    kubeconfig, pki_dir = tmp_path / "kubeconfig", tmp_path / "pki"
    ports = {"etcd": 1, "etcd-peer": 2, "apiserver": 3, "controller-manager": 4, "scheduler": 5,
             "kwok": 6, "nimbus-scheduler": 7}  # fmt: skip
    args = [
        *components.etcd_args(tmp_path / "etcd", ports),
        *components.apiserver_args(pki_dir, ports, profiling=False),
        *components.controller_manager_args(kubeconfig, pki_dir, ports),
        *components.scheduler_args(kubeconfig, ports),
        *components.kwok_args(kubeconfig, ports, tmp_path / "stages.yaml"),
        *components.nimbus_scheduler_args(tmp_path / "nimbus-scheduler.yaml", kubeconfig, ports),
    ]
    urls = [a.split("=", 1)[1] for a in args if "-url" in a or "address=" in a]
    assert urls
    assert all("127.0.0.1" in url for url in urls), urls


def test_kubevirt_and_cdi_are_pinned_once_with_the_kind_end_to_end() -> None:
    """go.mod pins what the local cloud builds; e2e/versions.env names the same releases, so
    the local cloud and kind run the same KubeVirt and CDI."""
    versions = dict(
        line.split("=", 1)
        for line in (GO.parents[3] / "e2e" / "versions.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert versions["KUBEVIRT_VERSION"] == build.KUBEVIRT_VERSION == "v1.8.2"
    assert versions["VIRTCTL_VERSION"] == build.KUBEVIRT_VERSION
    assert versions["CDI_VERSION"] == build.CDI_VERSION == "v1.65.0"
    assert build.COMPONENTS["virt-api"].key == "kubevirt-v1.8.2"
    assert build.COMPONENTS["cdi-controller"].key == "cdi-v1.65.0"


def test_a_go_mod_without_the_requirement_says_which() -> None:
    with pytest.raises(LookupError, match=r"requires no example\.com/absent"):
        build.required("kubevirt", "example.com/absent")


def test_opentofu_and_the_openstack_provider_are_pinned_and_built_only_on_demand(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    """What the Terraform test drives the API with is built by `nimbus devcloud build`, never by
    starting the cloud: with every other binary in the cache, ensure() builds nothing."""
    assert (build.TOFU_VERSION, build.OPENSTACK_PROVIDER_VERSION) == ("v1.12.6", "v3.4.0")
    tofu = (GO / "tofu" / "go.mod").read_text()
    # OpenTofu's own replace line, which a module requiring it must repeat.
    assert "github.com/hashicorp/hcl/v2 v2.20.1 => github.com/opentofu/hcl/v2 " in tofu
    for module in ("tofu", "terraform-provider-openstack"):
        assert (GO / module / "go.sum").stat().st_size > 10_000
    monkeypatch.setenv("NIMBUS_CACHE", str(tmp_path))
    assert build.binary("tofu") == tmp_path / "tofu-v1.12.6" / "tofu"
    provider = tmp_path / "terraform-provider-openstack-v3.4.0" / "terraform-provider-openstack"
    assert build.binary("terraform-provider-openstack") == provider
    for component in build.COMPONENTS.values():
        if not component.on_demand:
            build.binary(component.name).parent.mkdir(exist_ok=True)
            build.binary(component.name).touch()
    build.kwok_stages().touch()
    monkeypatch.setenv("PATH", "")  # no go: a build would fail
    built = build.ensure(log=False)
    assert {"tofu", "terraform-provider-openstack"} & set(built) == set()
    assert {"kube-apiserver", "helm"} <= set(built)
