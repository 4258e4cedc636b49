"""The operator process: kopf's settings, the API client, and the handler modules."""

from __future__ import annotations

import importlib
import logging
from typing import Any

import kopf

from nimbus import handling
from nimbus.k8s import client

HANDLER_MODULES = (
    "nimbus.compute.handlers",
    "nimbus.network.handlers",
    "nimbus.blockstorage.handlers",
    "nimbus.image.handlers",
)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    # Kopf keeps its own state in annotations: the structural status schemas would prune a
    # status.kopf field, and users should not see kopf's bookkeeping in their status.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="nimbus.dev")
    settings.persistence.diffbase_storage = handling.Essences(prefix="nimbus.dev")
    settings.persistence.finalizer = "nimbus.dev/finalizer"
    settings.posting.level = logging.WARNING  # Nimbus posts its own events
    settings.watching.server_timeout = 300
    # An object's events are gathered for this long before its handlers run: long enough to
    # take a burst (our own status write and kopf's bookkeeping) as one, short enough not to
    # hold a hundred new servers back.
    settings.batching.batch_window = 0.02
    memo.api = client.Client(client.load_credentials())


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    await memo.api.close()


def load_handlers() -> None:
    for module in HANDLER_MODULES:
        importlib.import_module(module)


def run(*, namespaces: list[str] | None = None, liveness: str | None = None) -> None:
    """Run the operator until interrupted: all namespaces unless some are named."""
    load_handlers()
    kopf.run(
        standalone=True,
        clusterwide=not namespaces,
        namespaces=namespaces or [],
        liveness_endpoint=liveness,
    )
