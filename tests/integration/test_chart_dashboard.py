"""The chart's dashboard (dashboard.enabled): Horizon's Deployment, Service, optional Ingress and
secret key, its settings from values, rendered by the pinned Helm."""

from __future__ import annotations

import base64
from typing import Any

from tests.integration.test_chart_render import find, helm, render
from tests.unit.test_dashboard_image import DASHBOARD_USER


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"]}


def test_the_dashboard_is_off_by_default() -> None:
    assert not [d for d in render() if "dashboard" in d["metadata"]["name"]]


def test_the_dashboard_runs_horizon_over_the_release_s_api() -> None:
    docs = render("dashboard.enabled=true", namespace="cloud")
    (deployment,) = find(docs, "Deployment", "nimbus-dashboard")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsUser"] == DASHBOARD_USER
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/nimbus-cloud/nimbus-dashboard:0.1.0"
    assert container["args"] == ["serve", "--bind=0.0.0.0:8080", "--workers=2"]
    assert _env(container) == {
        "NIMBUS_DASHBOARD_KEYSTONE_URL": "http://nimbus-api.cloud.svc:5000/v3",
        "NIMBUS_DASHBOARD_SECRET_KEY_FILE": "/etc/nimbus-dashboard/secret-key/secret-key",
        "NIMBUS_DASHBOARD_ALLOWED_HOSTS":
            "nimbus-dashboard,nimbus-dashboard.cloud.svc,localhost,127.0.0.1",
        "NIMBUS_DASHBOARD_SESSION_ENGINE": "signed-cookies",
        "NIMBUS_DASHBOARD_MEMCACHED": "",
        "NIMBUS_DASHBOARD_SECURE_COOKIES": "false",
    }  # fmt: skip
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["readinessProbe"]["httpGet"] == {"path": "/auth/login/", "port": "http"}
    # The secret key: made by the chart, kept on uninstall, mounted as a file.
    (secret,) = find(docs, "Secret", "nimbus-dashboard")
    assert secret["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert len(base64.b64decode(secret["data"]["secret-key"])) == 50
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["secret-key"]["secret"] == {"secretName": "nimbus-dashboard"}
    (service,) = find(docs, "Service", "nimbus-dashboard")
    assert service["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http"}]
    assert not find(docs, "Ingress", "nimbus-dashboard")


def test_the_dashboard_behind_an_ingress_with_tls_memcached_and_its_own_secret() -> None:
    docs = render(
        "dashboard.enabled=true", "dashboard.ingress.enabled=true",
        "dashboard.ingress.host=cloud.example.org", "dashboard.ingress.tlsSecretName=cloud-tls",
        "dashboard.secretKey.existingSecret=horizon", "dashboard.secretKey.key=django",
        "dashboard.sessionEngine=cache",
        "dashboard.memcached={memcached-0:11211,memcached-1:11211}",
        "dashboard.keystoneUrl=https://keystone.example.org/v3", "dashboard.replicas=3",
    )  # fmt: skip
    (ingress,) = find(docs, "Ingress", "nimbus-dashboard")
    assert ingress["spec"]["tls"] == [{"hosts": ["cloud.example.org"], "secretName": "cloud-tls"}]
    (deployment,) = find(docs, "Deployment", "nimbus-dashboard")
    assert deployment["spec"]["replicas"] == 3
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = _env(container)
    assert env["NIMBUS_DASHBOARD_KEYSTONE_URL"] == "https://keystone.example.org/v3"
    assert env["NIMBUS_DASHBOARD_SECRET_KEY_FILE"] == "/etc/nimbus-dashboard/secret-key/django"
    assert env["NIMBUS_DASHBOARD_ALLOWED_HOSTS"].startswith("cloud.example.org,")
    assert env["NIMBUS_DASHBOARD_SESSION_ENGINE"] == "cache"
    assert env["NIMBUS_DASHBOARD_MEMCACHED"] == "memcached-0:11211,memcached-1:11211"
    assert env["NIMBUS_DASHBOARD_SECURE_COOKIES"] == "true"
    assert env["NIMBUS_DASHBOARD_CSRF_TRUSTED_ORIGINS"] == "https://cloud.example.org"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["secret-key"]["secret"] == {"secretName": "horizon"}
    assert not find(docs, "Secret", "nimbus-dashboard")  # the existing one is used


def test_settings_that_cannot_work_are_refused_at_render() -> None:
    args = ["template", "nimbus", "charts/nimbus", "--set", "dashboard.enabled=true"]
    cache = helm(*args, "--set", "dashboard.sessionEngine=cache", check=False)
    assert "dashboard.sessionEngine cache needs dashboard.memcached" in cache.stderr
    no_api = helm(*args, "--set", "openstackApi.enabled=false", check=False)
    assert "dashboard.keystoneUrl is required when openstackApi.enabled is false" in no_api.stderr
    wrong = helm(*args, "--set", "dashboard.sessionEngine=db", check=False)
    assert "sessionEngine" in wrong.stderr  # the schema's enum
