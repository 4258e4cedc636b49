"""Horizon's local settings (nimbus.dashboard): read from the environment, Horizon's own
middleware with WhiteNoise's, the overlay that makes them Horizon's `local.local_settings`,
the policy overrides that hide what Nimbus does not have, and how it is served."""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import importlib.util
import pathlib
from importlib import metadata
from types import ModuleType

import pytest
import yaml
from django.core.cache.backends import memcached as django_memcached

from nimbus.dashboard import __main__ as dashboard_main
from nimbus.dashboard import static
from nimbus.devcloud import components

HORIZON = pathlib.Path(importlib.util.find_spec("openstack_dashboard").origin or "").parent  # type: ignore[union-attr]
HEAT_DASHBOARD = pathlib.Path(importlib.util.find_spec("heat_dashboard").origin or "").parent  # type: ignore[union-attr]
OVERLAY = dashboard_main.OVERLAY


def _settings(monkeypatch: pytest.MonkeyPatch, **environment: str) -> ModuleType:
    """nimbus.dashboard.settings as loaded with exactly these NIMBUS_DASHBOARD_* variables."""
    for name in ("KEYSTONE_URL", "SECRET_KEY", "SECRET_KEY_FILE", "ALLOWED_HOSTS",
                 "SESSION_ENGINE", "MEMCACHED", "STATIC_ROOT", "SECURE_COOKIES",
                 "CSRF_TRUSTED_ORIGINS"):  # fmt: skip
        monkeypatch.delenv(f"NIMBUS_DASHBOARD_{name}", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(f"NIMBUS_DASHBOARD_{name}", value)
    from nimbus.dashboard import settings

    return importlib.reload(settings)


def test_the_defaults_serve_one_host_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch, SECRET_KEY="k")
    assert settings.OPENSTACK_KEYSTONE_URL == "http://127.0.0.1:5000/v3"  # nimbus api's default
    assert settings.OPENSTACK_KEYSTONE_DEFAULT_DOMAIN == "Default"
    assert settings.OPENSTACK_KEYSTONE_MULTIDOMAIN_SUPPORT is False
    assert settings.ALLOWED_HOSTS == ["127.0.0.1", "localhost"]
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.signed_cookies"
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert settings.DEBUG is False
    assert settings.WEBROOT == "/"
    assert settings.COMPRESS_OFFLINE is True
    assert settings.SESSION_COOKIE_SECURE is False


def test_every_setting_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    key = tmp_path / "secret-key"
    key.write_text("from-a-secret\n")
    settings = _settings(
        monkeypatch, KEYSTONE_URL="https://cloud.example.com/v3", SECRET_KEY_FILE=str(key),
        ALLOWED_HOSTS="cloud.example.com, dashboard", SESSION_ENGINE="cache",
        MEMCACHED="memcached-0:11211,memcached-1:11211", STATIC_ROOT=str(tmp_path / "static"),
        SECURE_COOKIES="true", CSRF_TRUSTED_ORIGINS="https://cloud.example.com",
    )  # fmt: skip
    assert settings.OPENSTACK_KEYSTONE_URL == "https://cloud.example.com/v3"
    assert settings.SECRET_KEY == "from-a-secret"
    assert settings.ALLOWED_HOSTS == ["cloud.example.com", "dashboard"]
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cache"
    assert settings.CACHES == {"default": {
        "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
        "LOCATION": ["memcached-0:11211", "memcached-1:11211"]}}  # fmt: skip
    # the backend is there (the dashboard extra's pymemcache) and takes those servers
    backend = django_memcached.PyMemcacheCache(
        settings.CACHES["default"]["LOCATION"], {})  # fmt: skip
    assert backend._servers == ["memcached-0:11211", "memcached-1:11211"]
    assert type(backend._cache).__module__.startswith("pymemcache")
    assert pathlib.Path(settings.STATIC_ROOT) == tmp_path / "static"
    assert settings.SESSION_COOKIE_SECURE is settings.CSRF_COOKIE_SECURE is True
    assert settings.CSRF_TRUSTED_ORIGINS == ["https://cloud.example.com"]


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({}, "NIMBUS_DASHBOARD_SECRET_KEY or NIMBUS_DASHBOARD_SECRET_KEY_FILE must be set"),
        ({"SECRET_KEY": "k", "SESSION_ENGINE": "db"},
         "NIMBUS_DASHBOARD_SESSION_ENGINE: 'db'; accepted: signed-cookies, cache"),
        ({"SECRET_KEY": "k", "SECURE_COOKIES": "maybe"},
         "NIMBUS_DASHBOARD_SECURE_COOKIES: 'maybe' is not true or false"),
    ],
)  # fmt: skip
def test_a_setting_that_cannot_work_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        _settings(monkeypatch, **environment)


def _horizon_setting(name: str) -> object:
    """A literal assignment of Horizon's openstack_dashboard/settings.py."""
    tree = ast.parse((HORIZON / "settings.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} is not in Horizon's settings.py")


def test_the_middleware_is_horizon_s_with_whitenoise_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ours replaces Horizon's whole MIDDLEWARE: it fails here when Horizon's changes."""
    settings = _settings(monkeypatch, SECRET_KEY="k")
    assert settings.MIDDLEWARE[0] == "whitenoise.middleware.WhiteNoiseMiddleware"
    assert settings.MIDDLEWARE[1:] == _horizon_setting("MIDDLEWARE")


def test_the_overlay_is_what_horizon_imports_as_its_local_settings() -> None:
    """Horizon star-imports `local.local_settings`, its own directory last on sys.path: the
    overlay, first on the path, answers for `local` before Horizon's package does."""
    assert "from local.local_settings import *" in (HORIZON / "settings.py").read_text()
    spec = importlib.machinery.PathFinder.find_spec("local", [str(OVERLAY)])
    assert spec is not None
    assert spec.origin == str(OVERLAY / "local" / "__init__.py")
    shim = (OVERLAY / "local" / "local_settings.py").read_text()
    assert "from nimbus.dashboard.settings import *" in shim


def test_the_policy_overrides_name_rules_horizon_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each rule refused exists in Horizon's policy file of its service (a renamed rule would
    silently show the panel again), and the directories are where the settings say."""
    settings = _settings(monkeypatch, SECRET_KEY="k")
    files = {"identity": HORIZON / "conf" / "keystone_policy.yaml",
             "volume": HORIZON / "conf" / "cinder_policy.yaml",
             "orchestration": HEAT_DASHBOARD / "conf" / "heat_policy.yaml"}  # fmt: skip
    assert settings.POLICY_FILES["orchestration"] == str(files["orchestration"])
    assert settings.POLICY_FILES["compute"] == "nova_policy.yaml"  # Horizon's own, kept
    assert settings.DEFAULT_POLICY_FILES["orchestration"] == str(
        HEAT_DASHBOARD / "conf" / "default_policies" / "heat.yaml"
    )
    overrides = 0
    for service, policy_file in files.items():
        (directory,) = [d for d in settings.POLICY_DIRS[service] if d.startswith("/")]
        horizon = policy_file.read_text()
        for override in pathlib.Path(directory).glob("*.yaml"):
            for rule, check in yaml.safe_load(override.read_text()).items():
                assert check == "!", rule
                assert f'"{rule}":' in horizon, (service, rule)
                overrides += 1
    assert overrides == 7
    assert settings.POLICY_DIRS["compute"] == ["nova_policy.d"]  # Horizon's own, kept


def test_the_static_root_is_cached_per_horizon_and_plugin_version(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.delenv("NIMBUS_DASHBOARD_STATIC_ROOT", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    versions = f"horizon-{metadata.version('horizon')}-heat-{metadata.version('heat-dashboard')}"
    assert static.root() == tmp_path / "nimbus" / "dashboard" / versions / "static"
    monkeypatch.setenv("NIMBUS_DASHBOARD_STATIC_ROOT", "/opt/static")
    assert static.root() == pathlib.Path("/opt/static")
    ready = tmp_path / "ready"
    (ready / static.MANIFEST).parent.mkdir(parents=True)
    (ready / static.MANIFEST).write_text("{}")
    assert static.collected(ready) == ready  # already collected: nothing is run


def test_gunicorn_serves_horizon_s_application_with_the_overlay_first() -> None:
    options = dashboard_main.gunicorn_options("0.0.0.0:8080", 4, 60)
    assert options[-1] == "openstack_dashboard.wsgi:application"
    assert f"--pythonpath={OVERLAY}" in options
    assert "--env=DJANGO_SETTINGS_MODULE=openstack_dashboard.settings" in options
    assert {"--bind=0.0.0.0:8080", "--workers=4", "--timeout=60", "--preload"} <= set(options)


def test_the_local_cloud_runs_it_over_its_api(tmp_path: pathlib.Path) -> None:
    argv = components.python_argv("dashboard", ("--bind=127.0.0.1:8080",))
    assert argv[1:] == ["-m", "nimbus.dashboard", "serve", "--bind=127.0.0.1:8080"]
    env = components.dashboard_env(5000, tmp_path / "key", tmp_path / "static")
    assert env == {
        "NIMBUS_DASHBOARD_KEYSTONE_URL": "http://127.0.0.1:5000/v3",
        "NIMBUS_DASHBOARD_SECRET_KEY_FILE": str(tmp_path / "key"),
        "NIMBUS_DASHBOARD_STATIC_ROOT": str(tmp_path / "static"),
        "NIMBUS_DASHBOARD_ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    assert "dashboard" in components.PORTS
