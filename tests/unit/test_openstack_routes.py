"""The API's application is built with every service's routes, none shadowing another."""

from __future__ import annotations

import ssl

from nimbus.k8s import client
from nimbus.openstack import app
from nimbus.openstack.service import Config

PREFIXES = ("/v3", "/compute", "/image", "/network", "/volume", "/heat", "/load-balancer")


def test_the_application_registers_every_route_once() -> None:
    api = client.Client(client.Credentials("https://127.0.0.1:1", ssl.create_default_context()))
    application = app.application(Config(public_url="http://127.0.0.1:5000"), api)
    routes = [(r.method, r.resource.canonical) for r in application.router.routes()
              if r.resource is not None]  # fmt: skip
    assert len(routes) == len(set(routes))
    assert all(path == "/" or path.startswith(PREFIXES) for _, path in routes), routes
    assert ("PUT", "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}") in routes
    assert ("POST", "/v3/users/{user_id}/application_credentials") in routes
    assert ("DELETE", "/load-balancer/{version}/lbaas/loadbalancers/{lb_id}") in routes
