"""The kind end-to-end (e2e/), as far as these machines can take it (no Docker engine): its
script passes shellcheck, and every manifest of this repository it applies (the examples, its
own manifests, the chart with its kind values, the Argo CD Applications) is accepted by a real
API server in a server-side dry run.

Runs before the operator tests start the session's operator (file order): no admission webhook
is registered yet. Namespaces are this test's own: the manifests' namespaces are mapped to it.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from nimbus.devcloud import build
from nimbus.generate import chart
from tests.integration.conftest import Cloud, wait_for

REPO = pathlib.Path(__file__).parents[2]
E2E = REPO / "e2e"
RUN = (E2E / "run.sh").read_text()


def test_the_e2e_script_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: `make deps` installs it"
    result = subprocess.run([shellcheck, "-x", "e2e/run.sh"], cwd=REPO, capture_output=True,
                            text=True)  # fmt: skip
    assert result.returncode == 0, result.stdout
    assert subprocess.run(["bash", "-n", str(E2E / "run.sh")]).returncode == 0


def applied_files() -> list[pathlib.Path]:
    """The repository's files run.sh applies (`-f e2e/...`, `-f examples/...`)."""
    names = re.findall(r"-f ((?:e2e|examples)/[\w./-]*)", RUN)
    paths: list[pathlib.Path] = []
    for name in names:
        if name.startswith("e2e/values-"):
            continue  # the chart's values (helm -f), rendered by the chart test below
        path = REPO / name
        assert path.exists(), f"run.sh applies {name}, which does not exist"
        paths += sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    return sorted(set(paths))


def test_the_script_applies_the_examples_and_its_manifests() -> None:
    files = {str(p.relative_to(REPO)) for p in applied_files()}
    assert {"examples/00-project.yaml", "examples/05-servers.yaml", "e2e/manifests/quota.yaml",
            "e2e/manifests/storage.yaml", "e2e/manifests/attach.yaml"} <= files  # fmt: skip
    assert "helm install nimbus charts/nimbus" in RUN
    assert "-f e2e/values-kind.yaml" in RUN


def _dry_run(cloud: Cloud, docs: list[dict[str, Any]], namespace: str) -> None:
    for doc in docs:
        if doc.get("kind") == "Namespace":
            continue
        metadata = doc["metadata"]
        if metadata.get("namespace"):
            metadata["namespace"] = namespace
        text = yaml.safe_dump(doc)
        # Whether the API server accepts it: who owns which field of an object the session's
        # cloud made already (the OpenStack API's ClusterRole, made by devcloud up) is not asked.
        result = cloud.kubectl("apply", "--dry-run=server", "--server-side", "--force-conflicts",
                               "-f", "-", stdin=text, check=False)  # fmt: skip
        assert result.returncode == 0, f"{doc['kind']} {metadata['name']}: {result.stderr}"


def _docs(path: pathlib.Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.mark.timeout(300)
def test_every_manifest_it_applies_is_accepted_by_the_api_server(cloud: Cloud) -> None:
    ns = cloud.namespace()
    for path in applied_files():
        _dry_run(cloud, _docs(path), ns)


@pytest.mark.timeout(300)
def test_the_chart_with_its_kind_values_is_accepted(cloud: Cloud) -> None:
    ns = cloud.namespace()
    helm = build.ensure(["helm"], log=False)["helm"]
    rendered = subprocess.run(
        [str(helm), "template", "nimbus", str(chart.CHART), "-n", ns,
         "-f", str(E2E / "values-kind.yaml"), "--set", "argocd.healthChecks=true"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    assert {"Deployment", "ValidatingWebhookConfiguration", "ConfigMap"} <= {
        d["kind"] for d in docs
    }
    _dry_run(cloud, docs, ns)


@pytest.mark.timeout(300)
def test_the_argocd_applications_and_health_checks_are_accepted(cloud: Cloud) -> None:
    # Argo CD's own CRDs (tests/fixtures/argocd, from its Go module) for its Applications.
    for crd in sorted((REPO / "tests/fixtures/argocd").glob("*-crd.yaml")):
        cloud.kubectl("apply", "--server-side", "-f", str(crd))
    established = "{.status.conditions[?(@.type=='Established')].status}"
    for name in ("applications.argoproj.io", "appprojects.argoproj.io"):
        wait_for(cloud, "crd", name, None, established, "True")
    ns = cloud.namespace()
    applications = _docs(E2E / "argocd" / "nimbus.yaml")
    waves = {a["metadata"]["name"]: a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
             for a in applications}  # fmt: skip
    assert waves == {"nimbus": "-1", "demo-cloud": "0"}
    assert all("ServerSideApply=true" in a["spec"]["syncPolicy"]["syncOptions"]
               for a in applications)  # fmt: skip
    _dry_run(cloud, applications, ns)
    _dry_run(cloud, _docs(E2E / "argocd" / "argocd-cm-health.yaml"), ns)
    order = {"Project": 0, "Flavor": 0, "Network": 1, "Subnet": 1, "Image": 1, "Volume": 1,
             "Server": 2, "Stack": 2}  # fmt: skip
    for path in sorted((E2E / "argocd" / "cloud").glob("*.yaml")):
        docs = _docs(path)
        for doc in docs:
            wave = doc["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
            assert int(wave) == order[doc["kind"]], (doc["kind"], wave)
        _dry_run(cloud, docs, ns)
