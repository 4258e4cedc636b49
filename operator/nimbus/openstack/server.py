"""Running the API: `nimbus api` on an address, against $KUBECONFIG (or in-cluster); and
`nimbus api rotate-keys`, which rotates the Fernet keys once."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from nimbus.api import kinds
from nimbus.k8s import client
from nimbus.openstack import app, tokens
from nimbus.openstack.service import KEYS_SECRET, Config, Services

logger = logging.getLogger(__name__)


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
    listen: str, *, public_url: str | None, system_namespace: str, rotate_keys: bool = False
) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    host, _, port = listen.rpartition(":")
    config = Config(public_url=public_url or f"http://{listen}", system_namespace=system_namespace)
    api = _client()
    if rotate_keys:

        async def once() -> None:
            keys = await rotate(Services(config, api))
            await api.close()
            print(f"rotated: primary key {max(keys)}, {len(keys)} keys")

        asyncio.run(once())
        return
    logger.info("OpenStack API on %s, public at %s", listen, config.public_url)
    web.run_app(app.application(config, api), host=host or "127.0.0.1", port=int(port),
                print=None, access_log=None)  # fmt: skip
