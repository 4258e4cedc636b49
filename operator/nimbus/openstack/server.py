"""Running the API: `nimbus api` on an address, against $KUBECONFIG (or in-cluster); and
`nimbus api rotate-keys`, which rotates the Fernet keys once."""

from __future__ import annotations

import asyncio
import datetime
import gc
import logging
import ssl

from aiohttp import web

from nimbus.api import kinds
from nimbus.k8s import client
from nimbus.openstack import app, tokens
from nimbus.openstack.service import KEYS_SECRET, Config, Services

logger = logging.getLogger(__name__)
GC_THRESHOLDS = (50_000, 50, 50)  # gc's defaults are (700, 10, 10) in 3.11


def _client() -> client.Client:
    return client.Client(client.load_credentials(), kinds=kinds.table())


async def rotate(services: Services) -> dict[int, bytes]:
    """`keystone-manage fernet_rotate`, on the key Secret (made first if missing)."""
    before = await services.keys()
    keys = tokens.rotate(before)
    gone: dict[str, str | None] = {str(i): None for i in before if i not in keys}
    await services.api.patch(
        "v1", "Secret", KEYS_SECRET, services.config.system_namespace,
        {"data": {**tokens.encode_keys(keys), **gone}},
    )  # fmt: skip
    return keys


def run(
    listen: str,
    *,
    public_url: str | None,
    system_namespace: str,
    rotate_keys: bool = False,
    expiration: int = 3600,
    lockout_failure_attempts: int = 6,
    lockout_duration: int = 1800,
    tls_cert_file: str | None = None,
    tls_key_file: str | None = None,
) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    host, _, port = listen.rpartition(":")
    config = Config(
        public_url=public_url or f"http://{listen}",
        system_namespace=system_namespace,
        expiration=datetime.timedelta(seconds=expiration),
        lockout_failure_attempts=lockout_failure_attempts,
        lockout_duration=datetime.timedelta(seconds=lockout_duration),
    )
    api = _client()
    if rotate_keys:

        async def once() -> None:
            keys = await rotate(Services(config, api))
            await api.close()
            print(f"rotated: primary key {max(keys)}, {len(keys)} keys")

        asyncio.run(once())
        return
    logger.info("OpenStack API on %s, public at %s", listen, config.public_url)
    context = None
    if tls_cert_file:  # HTTPS served here, end to end (the chart's openstackApi.tlsSecretName)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls_cert_file, tls_key_file)
    # What the process has made by now (its modules, classes, models) lives as long as it: the
    # collector no longer walks it, and runs less often — a request makes thousands of
    # short-lived objects (bench/README.md: the p99 of a show under load).
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    web.run_app(app.application(config, api), host=host or "127.0.0.1", port=int(port),
                print=None, access_log=None, ssl_context=context)  # fmt: skip
