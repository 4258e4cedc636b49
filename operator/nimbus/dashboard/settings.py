"""Horizon's local settings for a Nimbus cloud, read from the environment. Horizon's own
openstack_dashboard/settings.py star-imports them (through overlay/local/local_settings.py) and
derives the rest; every value here is one Horizon documents in openstack_dashboard/defaults.py.

The environment (docs/dashboard.md):
  NIMBUS_DASHBOARD_KEYSTONE_URL       Keystone v3 of `nimbus api` (default http://127.0.0.1:5000/v3)
  NIMBUS_DASHBOARD_SECRET_KEY         Django's secret key, or
  NIMBUS_DASHBOARD_SECRET_KEY_FILE    a file holding it (a mounted Secret)
  NIMBUS_DASHBOARD_ALLOWED_HOSTS      comma-separated host names (default 127.0.0.1,localhost)
  NIMBUS_DASHBOARD_SESSION_ENGINE     signed-cookies (default) or cache
  NIMBUS_DASHBOARD_MEMCACHED          host:port[,host:port]: the cache in memcached, not per process
  NIMBUS_DASHBOARD_STATIC_ROOT        where `collect` writes the static files and WhiteNoise serves
  NIMBUS_DASHBOARD_SECURE_COOKIES     true behind TLS: cookies only over HTTPS
  NIMBUS_DASHBOARD_CSRF_TRUSTED_ORIGINS  comma-separated origins, e.g. https://cloud.example.com
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

import heat_dashboard
import openstack_dashboard.local.enabled as _enabled
from openstack_dashboard import defaults as _defaults

from nimbus.dashboard import static as _static

ENVIRONMENT_PREFIX = "NIMBUS_DASHBOARD_"
SESSION_ENGINES = {
    # The session in a cookie signed with SECRET_KEY: every worker and replica reads it, and
    # nothing needs to run beside the dashboard.
    "signed-cookies": "django.contrib.sessions.backends.signed_cookies",
    # The session in the cache: with memcached, shared by the workers and replicas.
    "cache": "django.contrib.sessions.backends.cache",
}


def _env(name: str, default: str = "") -> str:
    return os.environ.get(ENVIRONMENT_PREFIX + name, default).strip()


def _listed(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in _env(name, default).split(",") if item.strip()]


def _truth(name: str) -> bool:
    value = _env(name, "false").lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"{ENVIRONMENT_PREFIX}{name}: {value!r} is not true or false")
    return value in ("true", "1", "yes")


def _secret_key() -> str:
    """The key from the environment or its file; never Horizon's fallback, which writes a key
    store into Horizon's own directory (read-only in the image, and one per replica)."""
    key = _env("SECRET_KEY")
    path = _env("SECRET_KEY_FILE")
    if not key and path:
        key = pathlib.Path(path).read_text().strip()
    if not key:
        raise ValueError(
            f"{ENVIRONMENT_PREFIX}SECRET_KEY or {ENVIRONMENT_PREFIX}SECRET_KEY_FILE must be set: "
            "Django signs the sessions with it, and every replica needs the same one"
        )
    return key


def _session_engine() -> str:
    name = _env("SESSION_ENGINE", "signed-cookies")
    if name not in SESSION_ENGINES:
        raise ValueError(
            f"{ENVIRONMENT_PREFIX}SESSION_ENGINE: {name!r}; accepted: {', '.join(SESSION_ENGINES)}"
        )
    return SESSION_ENGINES[name]


def _caches() -> dict[str, dict[str, Any]]:
    memcached = _listed("MEMCACHED")
    if memcached:
        return {"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                            "LOCATION": memcached}}  # fmt: skip
    return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


DEBUG = False
WEBROOT = "/"
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = _listed("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = _listed("CSRF_TRUSTED_ORIGINS")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = _truth("SECURE_COOKIES")
SESSION_ENGINE = _session_engine()
CACHES = _caches()

STATIC_ROOT = str(_static.root())
# The static files are collected and compressed once (`python -m nimbus.dashboard collect`, at
# the image's build): no page compresses at request time, and WhiteNoise serves them.
COMPRESS_OFFLINE = True
WHITENOISE_MAX_AGE = 3600
# Horizon's middleware (openstack_dashboard/settings.py, in its order), with WhiteNoise's first
# after Django's security middleware, as WhiteNoise asks; a unit test holds this to Horizon's.
MIDDLEWARE = (
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "openstack_auth.middleware.OpenstackAuthMonkeyPatchMiddleware",
    "debreach.middleware.RandomCommentMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "horizon.middleware.OperationLogMiddleware",
    "horizon.middleware.SimultaneousSessionsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "horizon.middleware.HorizonMiddleware",
    "horizon.themes.ThemeMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "openstack_dashboard.contrib.developer.profiler.middleware.ProfilerClientMiddleware",
    "openstack_dashboard.contrib.developer.profiler.middleware.ProfilerMiddleware",
)

# Keystone: `nimbus api`'s, one domain (Default), users log in with name and password.
OPENSTACK_KEYSTONE_URL = _env("KEYSTONE_URL", "http://127.0.0.1:5000/v3")
OPENSTACK_KEYSTONE_DEFAULT_DOMAIN = "Default"
OPENSTACK_KEYSTONE_MULTIDOMAIN_SUPPORT = False
OPENSTACK_KEYSTONE_DEFAULT_ROLE = "member"
OPENSTACK_KEYSTONE_FEDERATION_MANAGEMENT = False
OPENSTACK_ENDPOINT_TYPE = "publicURL"
OPENSTACK_API_VERSIONS = {"identity": 3, "image": 2, "volume": 3, "compute": 2}

# What Nimbus does not serve, turned off where Horizon has a setting for it (docs/dashboard.md
# lists the panels): Cinder backups, Neutron's distributed and HA router flags, an instance's
# admin password, auto-allocated networks.
OPENSTACK_CINDER_FEATURES = {"enable_backup": False}
OPENSTACK_NEUTRON_NETWORK = {
    "enable_auto_allocated_network": False,
    "enable_distributed_router": False,
    "enable_fip_topology_check": True,
    "enable_ha_router": False,
    "enable_ipv6": True,
    "enable_quotas": True,
    "enable_rbac_policy": False,
    "enable_router": True,
    "default_dns_nameservers": [],
    "supported_provider_types": ["*"],
    "segmentation_id_range": {},
    "extra_provider_types": {},
    "supported_vnic_types": ["*"],
    "physical_networks": [],
    "show_agents_column": False,
}
OPENSTACK_HYPERVISOR_FEATURES = {
    "can_set_mount_point": False,
    "can_set_password": False,
    "enable_quotas": True,
    "requires_keypair": False,
}
OPENSTACK_ENABLE_PASSWORD_RETRIEVE = False
# Add Rule's presets: Horizon's example local_settings' (DevStack's), not only its defaults'
# three "All" rules.
_WELL_KNOWN_PORTS = (
    ("ssh", "SSH", 22), ("smtp", "SMTP", 25), ("dns", "DNS", 53), ("http", "HTTP", 80),
    ("pop3", "POP3", 110), ("imap", "IMAP", 143), ("ldap", "LDAP", 389),
    ("https", "HTTPS", 443), ("smtps", "SMTPS", 465), ("imaps", "IMAPS", 993),
    ("pop3s", "POP3S", 995), ("ms_sql", "MS SQL", 1433), ("mysql", "MYSQL", 3306),
    ("rdp", "RDP", 3389),
)  # fmt: skip
SECURITY_GROUP_RULES = {
    "all_tcp": {"name": "All TCP", "ip_protocol": "tcp", "from_port": "1", "to_port": "65535"},
    "all_udp": {"name": "All UDP", "ip_protocol": "udp", "from_port": "1", "to_port": "65535"},
    "all_icmp": {"name": "All ICMP", "ip_protocol": "icmp", "from_port": "-1", "to_port": "-1"},
    **{key: {"name": name, "ip_protocol": "tcp", "from_port": str(port), "to_port": str(port)}
       for key, name, port in _WELL_KNOWN_PORTS},
}  # fmt: skip
# The Orchestration panels: heat-dashboard, Horizon's own plugin for Heat, unmodified. Horizon
# reads plugins' `enabled/` files only from its own openstack_dashboard.local.enabled package,
# so heat-dashboard's directory is added to that package's path (nothing is copied into
# Horizon); its local_settings.d file, which Horizon would read from its own tree too, is the
# two policy files and OPENSTACK_HEAT_STACK below.
_HEAT_DASHBOARD = pathlib.Path(heat_dashboard.__file__).parent
if str(_HEAT_DASHBOARD / "enabled") not in _enabled.__path__:
    _enabled.__path__.append(str(_HEAT_DASHBOARD / "enabled"))
# Launch Stack asks for no password: Nimbus acts as the token's user (Heat's trusts, which the
# password is for, are not needed).
OPENSTACK_HEAT_STACK = {"enable_user_pass": False}

# Panels of what Nimbus does not have are hidden by policy: Horizon's own policy files, with
# ours (policy/<service>/nimbus.yaml) read after them as oslo.policy's overrides.
_POLICY = pathlib.Path(__file__).resolve().parent / "policy"
POLICY_FILES = {**_defaults.POLICY_FILES,
                "orchestration": str(_HEAT_DASHBOARD / "conf" / "heat_policy.yaml")}  # fmt: skip
DEFAULT_POLICY_FILES = {
    **_defaults.DEFAULT_POLICY_FILES,
    "orchestration": str(_HEAT_DASHBOARD / "conf" / "default_policies" / "heat.yaml"),
}
POLICY_DIRS = {
    "compute": ["nova_policy.d"],
    "volume": ["cinder_policy.d", str(_POLICY / "volume")],
    "identity": [str(_POLICY / "identity")],
    "orchestration": [str(_POLICY / "orchestration")],
}
SITE_BRANDING = "Nimbus"

# Errors to the WSGI server's log; Horizon's and the clients' debug logs (which can hold
# tokens) are not kept.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR",
                                   "propagate": False}},
}  # fmt: skip
