"""Build the control plane's binaries from the Go module proxy once, into a cache by version."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).parent
KUBERNETES_VERSION = "v1.36.3"
KWOK_VERSION = "v0.8.0"
HELM_VERSION = "v4.3.1"


def required(module: str, path: str) -> str:
    """The version of `path` that devcloud/go/<module>/go.mod requires: where KubeVirt and CDI
    are pinned (e2e/versions.env names the same, a test holds it so)."""
    text = (HERE / "go" / module / "go.mod").read_text()
    match = re.search(rf"^(?:require\s+|\t){re.escape(path)} (v\S+)$", text, re.MULTILINE)
    if match is None:
        raise LookupError(f"devcloud/go/{module}/go.mod requires no {path}")
    return match.group(1)


KUBEVIRT_VERSION = required("kubevirt", "kubevirt.io/kubevirt")
CDI_VERSION = required("cdi", "kubevirt.io/containerized-data-importer")
TOFU_VERSION = required("tofu", "github.com/opentofu/opentofu")
OPENSTACK_PROVIDER_VERSION = required(
    "terraform-provider-openstack",
    "github.com/terraform-provider-openstack/terraform-provider-openstack/v3",
)


@dataclasses.dataclass(frozen=True)
class Component:
    """One binary, built from one of the pinned Go modules in devcloud/go/."""

    name: str
    module: str  # folder under devcloud/go/
    package: str
    version: str
    ldflags: str = "-s -w"
    # Built by `nimbus devcloud build` and by whoever asks for it, never by starting the cloud.
    on_demand: bool = False

    @property
    def key(self) -> str:
        return f"{self.module}-{self.version}"


def _kubernetes_ldflags(version: str) -> str:
    major, minor = version.lstrip("v").split(".")[:2]
    flags = ["-s", "-w"]
    for package in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
        flags += [
            f"-X {package}.gitVersion={version}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
            f"-X {package}.gitTreeState=clean",
        ]
    return " ".join(flags)


_K8S_LDFLAGS = _kubernetes_ldflags(KUBERNETES_VERSION)
_KUBEVIRT_LDFLAGS = f"-s -w -X kubevirt.io/client-go/version.gitVersion={KUBEVIRT_VERSION}"

COMPONENTS = {
    c.name: c
    for c in (
        Component(
            "kube-apiserver",
            "kubernetes",
            "k8s.io/kubernetes/cmd/kube-apiserver",
            KUBERNETES_VERSION,
            _K8S_LDFLAGS,
        ),
        Component(
            "kube-controller-manager",
            "kubernetes",
            "k8s.io/kubernetes/cmd/kube-controller-manager",
            KUBERNETES_VERSION,
            _K8S_LDFLAGS,
        ),
        Component(
            "kube-scheduler",
            "kubernetes",
            "k8s.io/kubernetes/cmd/kube-scheduler",
            KUBERNETES_VERSION,
            _K8S_LDFLAGS,
        ),
        Component(
            "kubectl",
            "kubernetes",
            "k8s.io/kubernetes/cmd/kubectl",
            KUBERNETES_VERSION,
            _K8S_LDFLAGS,
        ),
        Component("kwok", "kwok", "sigs.k8s.io/kwok/cmd/kwok", KWOK_VERSION),
        Component(
            "helm",
            "helm",
            "helm.sh/helm/v4/cmd/helm",
            HELM_VERSION,
            f"-s -w -X helm.sh/helm/v4/internal/version.version={HELM_VERSION}",
        ),
        # KubeVirt's control plane, and what virt-operator would install (printed by KubeVirt's
        # own generators); the node side (virt-handler, virt-launcher) is simulated.
        *(
            Component(name, "kubevirt", package, KUBEVIRT_VERSION, _KUBEVIRT_LDFLAGS)
            for name, package in (
                ("virt-api", "kubevirt.io/kubevirt/cmd/virt-api"),
                ("virt-controller", "kubevirt.io/kubevirt/cmd/virt-controller"),
                ("kubevirt-manifests", "nimbus.dev/devcloud/kubevirt/cmd/kubevirt-manifests"),
            )
        ),
        # CDI's, through small mains of ours (a port and paths of our choosing); its importer,
        # cloner and upload pods are finished by KWOK stages.
        *(
            Component(name, "cdi", f"nimbus.dev/devcloud/cdi/cmd/{name}", CDI_VERSION)
            for name in ("cdi-apiserver", "cdi-controller", "cdi-manifests")
        ),
        # What the tests drive the OpenStack API with, as a user of Terraform would.
        Component(
            "tofu",
            "tofu",
            "github.com/opentofu/opentofu/cmd/tofu",
            TOFU_VERSION,
            "-s -w -X github.com/opentofu/opentofu/version.dev=no",
            on_demand=True,
        ),
        Component(
            "terraform-provider-openstack",
            "terraform-provider-openstack",
            "github.com/terraform-provider-openstack/terraform-provider-openstack/v3",
            OPENSTACK_PROVIDER_VERSION,
            "-s -w -X github.com/terraform-provider-openstack/terraform-provider-openstack/v3/"
            f"openstack.version={OPENSTACK_PROVIDER_VERSION.lstrip('v')}",
            on_demand=True,
        ),
    )
}


class BuildError(RuntimeError):
    """A binary could not be built; the message says what to do."""


def cache_dir() -> pathlib.Path:
    """Where built binaries live: $NIMBUS_CACHE, or ~/.cache/nimbus."""
    default = pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache"))
    return pathlib.Path(os.environ.get("NIMBUS_CACHE", default / "nimbus"))


def binary(name: str) -> pathlib.Path:
    """The cached path of one component (it may not be built yet)."""
    component = COMPONENTS[name]
    return cache_dir() / component.key / name


def kwok_stages() -> pathlib.Path:
    """KWOK's node and pod stages (node-fast, pod-fast), taken from its module at build time."""
    return cache_dir() / COMPONENTS["kwok"].key / "stages.yaml"


def go_environment(go_version: str) -> dict[str, str]:
    """The environment for `go build`: Go 1.27's JSON breaks the apiserver's /openapi/v2."""
    env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=readonly -buildvcs=false")
    match = re.search(r"go1\.(\d+)", go_version)
    if match and int(match.group(1)) >= 27:
        env["GOEXPERIMENT"] = "nojsonv2"
    return env


def ensure(names: list[str] | None = None, *, log: bool = True) -> dict[str, pathlib.Path]:
    """Build every missing component (by default all but the on-demand ones); return the path
    of each."""
    wanted = (
        [COMPONENTS[n] for n in names]
        if names
        else [c for c in COMPONENTS.values() if not c.on_demand]
    )
    missing = [c for c in wanted if not binary(c.name).exists()]
    stages_missing = COMPONENTS["kwok"] in wanted and not kwok_stages().exists()
    if missing or stages_missing:
        go = shutil.which("go")
        if go is None:
            raise BuildError("go is not on PATH: install Go >= 1.26 to build the control plane")
        go_version = subprocess.run(
            [go, "version"], check=True, capture_output=True, text=True
        ).stdout
        env = go_environment(go_version)
        for module in sorted({c.module for c in missing}):
            group = [c for c in missing if c.module == module]
            _build(go, module, group, env, log=log)
        if stages_missing:
            _write_kwok_stages(go, env)
    return {c.name: binary(c.name) for c in wanted}


def _build(go: str, module: str, group: list[Component], env: dict[str, str], *, log: bool) -> None:
    """Build the components of one module in one `go build`, so they share compiled packages."""
    ldflags = {c.ldflags for c in group}
    assert len(ldflags) == 1, "components of one module share their ldflags"
    out = cache_dir() / group[0].key
    partial = out / ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    names = ", ".join(c.name for c in group)
    if log:
        print(f"devcloud: building {names} ({group[0].version}); the first build takes minutes",
              file=sys.stderr, flush=True)  # fmt: skip
    command = [go, "build", "-trimpath", "-ldflags", ldflags.pop(), "-o", f"{partial}/"]
    result = subprocess.run(
        command + [c.package for c in group],
        cwd=HERE / "go" / module,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BuildError(f"go build of {names} failed:\n{result.stderr[-4000:]}")
    for component in group:
        (partial / component.name).rename(out / component.name)
    partial.rmdir()


def _write_kwok_stages(go: str, env: dict[str, str]) -> None:
    module_dir = subprocess.run(
        [go, "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok"],
        cwd=HERE / "go" / "kwok",
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    stage_dir = pathlib.Path(module_dir) / "kustomize" / "stage"
    stages = [
        path.read_text()
        for folder in ("node/fast", "pod/fast")
        for path in sorted((stage_dir / folder).glob("*.yaml"))
        if path.name != "kustomization.yaml"
    ]
    if not stages:
        raise BuildError(f"no KWOK stages found in {stage_dir}")
    kwok_stages().write_text("\n---\n".join(stages))
