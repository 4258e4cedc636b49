"""The Helm chart, rendered by the pinned Helm (built from its Go module like the control
plane): lint, the generated files fresh, every value documented and in the schema, and the
main toggles (helm-unittest style, with pytest over `helm template`)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from typing import Any

import yaml

from nimbus.api import kinds
from nimbus.devcloud import build
from nimbus.generate import chart, crdgen, rbac
from nimbus.openstack import rbac as openstack_rbac

CHART = chart.CHART


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(build.ensure(["helm"], log=False)["helm"]), *args],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    if check:
        assert result.returncode == 0, result.stderr
    return result


def render(*sets: str, namespace: str = "nimbus-system") -> list[dict[str, Any]]:
    args = ["template", "nimbus", str(CHART), "-n", namespace]
    for value in sets:
        args += ["--set", value]
    return [d for d in yaml.safe_load_all(helm(*args).stdout) if d]


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]


def test_helm_lint_is_clean() -> None:
    result = helm("lint", "--strict", str(CHART))
    assert "0 chart(s) failed" in result.stdout


def test_the_generated_files_are_fresh() -> None:
    assert chart.stale() == [], "run `make generate`"


def _keys(model: type[Any], indent: str = "") -> list[tuple[str, str]]:
    out = []
    for name, field in model.model_fields.items():
        out.append((indent, field.alias or name))
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, chart.Values):
            out += _keys(annotation, indent + "  ")
    return out


def test_every_value_is_documented_with_a_comment_starting_with_its_name() -> None:
    text = (CHART / "values.yaml").read_text()
    keys = _keys(chart.ChartValues)
    for indent, key in keys:
        comment = rf"^{indent}# {key}: \S.*\n(?:{indent}#   .*\n)*{indent}{key}:"
        assert re.search(comment, text, re.M), key
    assert len(keys) >= 40
    values = yaml.safe_load(text)
    assert values["webhook"]["failurePolicy"] == "Fail"
    assert values["placement"]["enabled"] is False


def test_the_schema_is_the_models_and_refuses_what_they_refuse() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["additionalProperties"] is False
    for bad, message in [
        ("operator.replicas=0", "minimum: got 0, want 1"),
        ("webhook.failurePolicy=Maybe", "value must be one of 'Fail', 'Ignore'"),
        ("webhook.timeoutSeconds=31", "maximum: got 31, want 30"),
        ("operator.replica=2", "additional properties 'replica' not allowed"),
        ("placement.enable=true", "additional properties 'enable' not allowed"),
    ]:
        result = helm("template", "x", str(CHART), "--set", bad, check=False)
        assert result.returncode != 0, bad
        assert message in result.stderr, (bad, result.stderr)


def test_defaults_a_secure_operator_with_a_webhook_and_its_generated_ca() -> None:
    docs = render()
    (deployment,) = find(docs, "Deployment", "nimbus-operator")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
        "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
    }  # fmt: skip
    assert container["image"] == "ghcr.io/nimbus-cloud/nimbus:0.1.0"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["NIMBUS_PLACEMENT"] == "false"
    assert env["NIMBUS_WEBHOOK_MANAGED"] == "false"
    assert env["NIMBUS_CLUSTER_OBJECTS"] == "false"
    assert env["NIMBUS_PEERING"] == "nimbus"
    (secret,) = find(docs, "Secret", "nimbus-webhook")
    (config,) = find(docs, "ValidatingWebhookConfiguration")
    bundles = {w["clientConfig"]["caBundle"] for w in config["webhooks"]}
    assert bundles == {secret["data"]["ca.crt"]}  # one CA, made once per render
    assert base64.b64decode(secret["data"]["tls.crt"]).startswith(b"-----BEGIN CERTIFICATE")
    paths = {w["clientConfig"]["service"]["path"] for w in config["webhooks"]}
    assert {"/servers", "/stacks", "/volumes", "/subnets", "/images", "/projects", "/routers",
            "/floatingips", "/members"} <= paths  # fmt: skip
    assert {w["failurePolicy"] for w in config["webhooks"]} == {"Fail"}
    # the mutating step records who asked for a Stack (identity/authz.py), with the same CA
    (mutating,) = find(docs, "MutatingWebhookConfiguration")
    assert {w["clientConfig"]["service"]["path"] for w in mutating["webhooks"]} == {
        "/stacks-requester"
    }
    assert {w["clientConfig"]["caBundle"] for w in mutating["webhooks"]} == bundles
    assert not find(docs, "Deployment", "nimbus-scheduler")
    assert len(find(docs, "CustomResourceDefinition")) == len(crdgen.rendered()) == 24
    (role,) = find(docs, "ClusterRole", "nimbus-operator")
    assert role["rules"] == rbac.operator_rules()
    assert not any("*" in r["verbs"] or "*" in r["resources"] for r in role["rules"])


def test_crds_can_be_left_out_or_not_kept() -> None:
    assert not find(render("crds.enabled=false"), "CustomResourceDefinition")
    kept = find(render(), "CustomResourceDefinition")
    assert all(c["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"} for c in kept)
    loose = find(render("crds.keep=false"), "CustomResourceDefinition")
    assert all("annotations" not in c["metadata"] for c in loose)
    expected = {f"{k.plural}.{k.group}" for k in kinds.ALL}
    assert expected <= {c["metadata"]["name"] for c in kept}


def test_cert_manager_gives_the_webhook_its_certificate() -> None:
    docs = render("webhook.certManager.enabled=true")
    assert not find(docs, "Secret", "nimbus-webhook")
    (certificate,) = find(docs, "Certificate")
    assert certificate["spec"]["dnsNames"][0] == "nimbus-webhook.nimbus-system.svc"
    assert certificate["spec"]["issuerRef"] == {"name": "nimbus-webhook", "kind": "Issuer"}
    (config,) = find(docs, "ValidatingWebhookConfiguration")
    assert config["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": "nimbus-system/nimbus-webhook"
    }
    assert all("caBundle" not in w["clientConfig"] for w in config["webhooks"])
    issued = render("webhook.certManager.enabled=true",
                    "webhook.certManager.issuerRef.name=corp-ca",
                    "webhook.certManager.issuerRef.kind=ClusterIssuer")  # fmt: skip
    assert not find(issued, "Issuer")
    assert find(issued, "Certificate")[0]["spec"]["issuerRef"] == {
        "name": "corp-ca", "kind": "ClusterIssuer"}  # fmt: skip


def test_webhook_policy_and_timeout_and_off() -> None:
    docs = render("webhook.failurePolicy=Ignore", "webhook.timeoutSeconds=5")
    (config,) = find(docs, "ValidatingWebhookConfiguration")
    assert {(w["failurePolicy"], w["timeoutSeconds"]) for w in config["webhooks"]} == {
        ("Ignore", 5)
    }
    off = render("webhook.enabled=false")
    assert not find(off, "ValidatingWebhookConfiguration")
    assert not find(off, "MutatingWebhookConfiguration")
    env = {e["name"] for e in find(off, "Deployment")[0]["spec"]["template"]["spec"]
           ["containers"][0]["env"]}  # fmt: skip
    assert "NIMBUS_WEBHOOK_ADDRESS" not in env


def test_placement_runs_the_nimbus_scheduler_with_its_extender() -> None:
    docs = render(
        "placement.enabled=true", "placement.config.filter_scheduler.ram_weight_multiplier=-1"
    )
    (scheduler,) = find(docs, "Deployment", "nimbus-scheduler")
    containers = {c["name"]: c for c in scheduler["spec"]["template"]["spec"]["containers"]}
    assert containers["kube-scheduler"]["image"].startswith("registry.k8s.io/kube-scheduler:v1.")
    for cluster, tag in [("v1.35.2", "v1.35.2"), ("v1.31.4-eks-a737599", "v1.31.4"),
                         ("v1.33.1+k3s1", "v1.33.1")]:  # fmt: skip
        rendered = helm("template", "nimbus", str(CHART), "--kube-version", cluster,
                        "--set", "placement.enabled=true",
                        "--show-only", "templates/scheduler.yaml").stdout  # fmt: skip
        assert f'image: "registry.k8s.io/kube-scheduler:{tag}"' in rendered, cluster
    pinned = find(render("placement.enabled=true", "placement.schedulerImage.tag=v1.36.0"),
                  "Deployment", "nimbus-scheduler")[0]  # fmt: skip
    assert pinned["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v1.36.0")
    assert containers["extender"]["args"][:2] == ["extender", "--listen=127.0.0.1:8888"]
    (config,) = find(docs, "ConfigMap", "nimbus-scheduler")
    scheduling = yaml.safe_load(config["data"]["scheduler.yaml"])
    assert scheduling["extenders"][0]["urlPrefix"] == "http://127.0.0.1:8888"
    assert scheduling["leaderElection"]["resourceNamespace"] == "nimbus-system"
    assert scheduling["profiles"][0]["schedulerName"] == "nimbus-scheduler"
    assert yaml.safe_load(config["data"]["placement.yaml"]) == {
        "filter_scheduler": {"ram_weight_multiplier": -1}
    }
    bound = {b["roleRef"]["name"] for b in find(docs, "ClusterRoleBinding")
             if b["subjects"][0]["name"] == "nimbus-scheduler"}  # fmt: skip
    assert bound == {"system:kube-scheduler", "system:volume-scheduler", "nimbus-extender"}
    (extender,) = find(docs, "ClusterRole", "nimbus-extender")
    assert extender["rules"] == rbac.extender_rules()
    env = {e["name"]: e["value"] for e in find(docs, "Deployment", "nimbus-operator")[0]
           ["spec"]["template"]["spec"]["containers"][0]["env"]}  # fmt: skip
    assert env["NIMBUS_PLACEMENT"] == "true"


def test_metrics_service_monitor_templates_and_replicas() -> None:
    docs = render("metrics.serviceMonitor.enabled=true",
                  "metrics.serviceMonitor.labels.release=kps",
                  "operator.replicas=3", "operator.templates.virtualmachine\\.yaml\\.j2=x: 1",
                  "operator.priorityClassName=system-cluster-critical")  # fmt: skip
    (monitor,) = find(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kps"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    (deployment,) = find(docs, "Deployment", "nimbus-operator")
    assert deployment["spec"]["replicas"] == 3
    pod = deployment["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == "system-cluster-critical"
    (templates,) = find(docs, "ConfigMap", "nimbus-templates")
    assert templates["data"] == {"virtualmachine.yaml.j2": "x: 1"}
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["NIMBUS_TEMPLATE_DIR"] == "/etc/nimbus/templates"
    assert "checksum/templates" in deployment["spec"]["template"]["metadata"]["annotations"]


def test_users_password_hashes_are_kept_in_the_release_namespace() -> None:
    (deployment,) = find(render(namespace="cloud"), "Deployment", "nimbus-operator")
    env = {e["name"]: e["value"] for e in deployment["spec"]["template"]["spec"]["containers"][0]
           ["env"]}  # fmt: skip
    assert env["NIMBUS_SYSTEM_NAMESPACE"] == "cloud"


def test_the_project_roles_aggregate_into_kubernetes_roles() -> None:
    roles = {r["metadata"]["name"]: r for r in find(render(), "ClusterRole")}
    labels = roles["nimbus-project-member"]["metadata"]["labels"]
    assert labels["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert (
        "rbac.authorization.k8s.io/aggregate-to-view"
        in (roles["nimbus-project-reader"]["metadata"]["labels"])
    )
    assert find(render(), "ValidatingAdmissionPolicy")


def test_the_helm_test_hook_checks_the_crds_and_the_webhook() -> None:
    docs = render()
    (job,) = find(docs, "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "test"
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args == ["check", "--namespace=nimbus-system", "--webhook"]
    (off,) = find(render("webhook.enabled=false"), "Job")
    assert "--webhook" not in off["spec"]["template"]["spec"]["containers"][0]["args"]


def test_notes_tell_how_to_make_a_first_project_and_server() -> None:
    text = (CHART / "templates" / "NOTES.txt").read_text()  # the install test reads them
    assert "examples/00-project.yaml" in text
    assert "get servers" in text


def test_rendered_objects_have_the_charts_labels() -> None:
    for doc in render("placement.enabled=true"):
        labels = doc["metadata"].get("labels") or {}
        assert labels.get("app.kubernetes.io/instance") == "nimbus", doc["metadata"]["name"]


def test_argocd_health_checks_are_a_value() -> None:
    from nimbus.generate import argocd

    assert not find(render(), "ConfigMap", "nimbus-argocd-health")
    (config,) = find(render("argocd.healthChecks=true"), "ConfigMap", "nimbus-argocd-health")
    assert config["data"] == argocd.health_checks()
    snippet = yaml.safe_load(chart.ARGOCD_SNIPPET.read_text())
    assert snippet["metadata"]["name"] == "argocd-cm"
    assert snippet["data"] == argocd.health_checks()


def test_every_namespaced_object_names_the_release_namespace() -> None:
    cluster_wide = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
                    "ValidatingAdmissionPolicy",
                    "ValidatingAdmissionPolicyBinding"}  # fmt: skip
    docs = render("placement.enabled=true", "argocd.healthChecks=true",
                  "operator.templates.a=b", namespace="nimbus-x")  # fmt: skip
    for doc in docs:
        if doc["kind"] not in cluster_wide:
            expected = "kube-system" if doc["metadata"]["name"].endswith("reader") else "nimbus-x"
            assert doc["metadata"].get("namespace") == expected, doc["metadata"]["name"]


def test_the_openstack_api_runs_as_its_own_least_privileged_account() -> None:
    docs = render(namespace="cloud")
    (deployment,) = find(docs, "Deployment", "nimbus-api")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "nimbus-api"
    (container,) = pod["containers"]
    assert container["args"] == ["api", "--listen=0.0.0.0:5000"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {
        "NIMBUS_API_PUBLIC_URL": "http://nimbus-api.cloud.svc:5000",
        "NIMBUS_SYSTEM_NAMESPACE": "cloud", "NIMBUS_API_TOKEN_EXPIRATION": "3600",
        "NIMBUS_API_LOCKOUT_FAILURE_ATTEMPTS": "6", "NIMBUS_API_LOCKOUT_DURATION": "1800",
    }  # fmt: skip
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert deployment["spec"]["replicas"] == 2
    (service,) = find(docs, "Service", "nimbus-api")
    assert service["spec"]["ports"] == [{"name": "api", "port": 5000, "targetPort": "api"}]
    (cron,) = find(docs, "CronJob", "nimbus-api-rotate-keys")
    job = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert job["containers"][0]["args"] == ["api", "rotate-keys"]
    assert job["serviceAccountName"] == "nimbus-api"
    # Its rights are nimbus.openstack.rbac's, in the release namespace.
    account = {"kind": "ServiceAccount", "name": "nimbus-api", "namespace": "cloud"}
    for wanted in openstack_rbac.objects("cloud", account):
        (got,) = find(docs, wanted["kind"], wanted["metadata"]["name"])
        for key in ("rules", "roleRef", "subjects"):
            assert got.get(key) == wanted.get(key), (wanted["metadata"]["name"], key)
    assert not find(docs, "Ingress")
    # Whom it may impersonate: a ClusterRole without rules, which the operator writes.
    (impersonation,) = find(docs, "ClusterRole", "nimbus-api-impersonation")
    assert "rules" not in impersonation


def test_the_openstack_api_behind_an_ingress_with_tls_or_off() -> None:
    docs = render("openstackApi.ingress.enabled=true", "openstackApi.ingress.host=api.example.org",
                  "openstackApi.ingress.tlsSecretName=api-tls",
                  "openstackApi.ingress.className=nginx",
                  "openstackApi.tlsSecretName=api-serving")  # fmt: skip
    (ingress,) = find(docs, "Ingress", "nimbus-api")
    assert ingress["spec"]["tls"] == [{"hosts": ["api.example.org"], "secretName": "api-tls"}]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    (deployment,) = find(docs, "Deployment", "nimbus-api")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["NIMBUS_API_PUBLIC_URL"] == "https://api.example.org"
    assert "--tls-cert-file=/etc/nimbus-api/tls/tls.crt" in container["args"]
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    off = render("openstackApi.enabled=false")
    assert not [d for d in off if "nimbus-api" in d["metadata"]["name"]]
