"""`nimbus api`: the OpenStack API, an aiohttp application. Stateless: run as many replicas as
needed; any of them verifies any token (service.py).

Every service's routes answer errors in that service's own shape (faults.py); a failure of our
own is a 500 in the same shape, logged without the request's secrets (no token, no password
ever reaches the log)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from nimbus.k8s import client
from nimbus.openstack import (
    cinder,
    cinder_extensions,
    glance,
    glance_images,
    glance_members,
    heat,
    heat_resources,
    keystone,
    keystone_admin,
    keystone_credentials,
    keystone_roles,
    neutron,
    neutron_ports,
    neutron_routers,
    neutron_security,
    nova,
    nova_admin,
    nova_extensions,
    nova_flavors,
    nova_hosts,
    nova_metadata,
    nova_volumes,
    octavia,
    octavia_objects,
)
from nimbus.openstack.faults import Fault
from nimbus.openstack.service import Config, Services

logger = logging.getLogger(__name__)
_ADMISSION = re.compile(r'^admission webhook "[^"]+" denied the request: ')
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _response(fault: Fault) -> web.Response:
    return web.json_response(fault.document(), status=fault.code)


def _style(path: str) -> str:
    if path.startswith("/v3") or path == "/":
        return "keystone"
    if path.startswith("/network"):
        return "neutron"
    if path.startswith("/heat"):
        return "heat"
    if path.startswith("/load-balancer"):
        return "octavia"
    # Cinder (/volume) and Glance answer Nova's fault documents: {"<faultName>": {...}}.
    return "nova"


@web.middleware
async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors in the shape the service's clients parse."""
    try:
        return await handler(request)
    except Fault as fault:
        if fault.style == "keystone" and _style(request.path) != "keystone":
            fault.style = _style(request.path)  # a service's 401 in its own shape
        return _response(fault)
    except client.ApiError as error:  # what Kubernetes refused, as the service says it
        code = error.status if error.status in (400, 403, 404, 409, 422) else 500
        # The admission webhook's words are the service's: without Kubernetes' preamble.
        said = _ADMISSION.sub("", error.message)
        message = said if code != 500 else "The server has either erred or is " \
            "incapable of performing the requested operation."  # fmt: skip
        if code == 500:
            logger.error("%s %s: Kubernetes answered %s", request.method, request.path,
                         error.status)  # fmt: skip
        return _response(Fault(400 if code == 422 else code, message, style=_style(request.path)))
    except web.HTTPException:
        raise
    except Exception:
        logger.exception("%s %s failed", request.method, request.path)
        return _response(Fault(500, "Unexpected API Error. Please report this at the Nimbus "
                               "project's issue tracker and attach the API's log if possible.",
                               style=_style(request.path)))  # fmt: skip


@web.middleware
async def not_found(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A route we do not serve: the service's own 404 (a 404 in another shape breaks Horizon)."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        raise Fault(404, f"The resource could not be found: {request.path}",
                    style=_style(request.path)) from None  # fmt: skip
    except web.HTTPMethodNotAllowed:
        raise Fault(405, f"The method {request.method} is not allowed on {request.path}",
                    style=_style(request.path)) from None  # fmt: skip


def application(config: Config, api: client.Client) -> web.Application:
    app = web.Application(middlewares=[faults, not_found], client_max_size=2**20)
    app["services"] = Services(config, api)
    for module in (
        keystone,
        keystone_admin,
        keystone_credentials,
        keystone_roles,
        nova,
        nova_flavors,
        nova_extensions,
        nova_volumes,
        nova_metadata,
        nova_admin,
        nova_hosts,
        glance,
        glance_images,
        glance_members,
        neutron,
        neutron_ports,
        neutron_security,
        neutron_routers,
        cinder,
        cinder_extensions,
        heat,
        heat_resources,
        octavia,
        octavia_objects,
    ):
        app.add_routes(module.routes)

    services: Services = app["services"]

    async def start(_: web.Application) -> None:
        services.start()

    async def close(_: web.Application) -> None:
        await services.stop()
        await api.close()

    app.on_startup.append(start)
    app.on_cleanup.append(close)
    return app
