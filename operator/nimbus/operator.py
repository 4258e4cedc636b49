"""The operator process: kopf's settings, the API client, and the handler modules."""

from __future__ import annotations

import gc
import importlib
import logging
import os
import pathlib
import secrets
from typing import Any

import kopf
from aiohttp import web

from nimbus.api import kinds
from nimbus.k8s import client
from nimbus.runtime import handling, logs, metrics

# Where /metrics and /healthz are served (host:port), when `nimbus run` is asked to.
METRICS_ADDRESS: str | None = None
# The ValidatingWebhookConfiguration kopf keeps, when NIMBUS_WEBHOOK_ADDRESS asks for one.
WEBHOOK_CONFIGURATION = "nimbus-admission.nimbus.dev"

GC_ALLOCATIONS = 50_000  # net allocations between two passes of the young generation

HANDLER_MODULES = (
    "nimbus.runtime.indexing",  # the indexes every handler and admission reads
    "nimbus.identity.handlers",
    "nimbus.compute.handlers",
    "nimbus.network.handlers",
    "nimbus.network.routers",
    "nimbus.loadbalancer.handlers",
    "nimbus.blockstorage.handlers",
    "nimbus.image.handlers",
    "nimbus.orchestration.handlers",
)


# The largest admission review the webhook reads: an update carries the object twice, and the
# API server takes requests of up to 3 MiB. aiohttp's default of 1 MiB answered a large Stack
# with a bare 413 before the webhook could say what the limit is.
MAX_REVIEW_BYTES = 8 * 1024 * 1024


class WebhookServer(kopf.WebhookServer):
    """kopf's webhook server, reading admission reviews up to MAX_REVIEW_BYTES."""

    @staticmethod
    async def _serve(fn: Any, request: web.Request) -> web.Response:
        request._client_max_size = MAX_REVIEW_BYTES
        response: web.Response = await kopf.WebhookServer._serve(fn, request)
        return response


# Each service's admission (importing one registers its webhook handlers).
ADMISSION_MODULES = (
    "nimbus.identity.admission",
    "nimbus.compute.admission",
    "nimbus.blockstorage.admission",
    "nimbus.network.admission",
    "nimbus.loadbalancer.admission",
    "nimbus.image.admission",
    "nimbus.orchestration.admission",
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
    memo.api = client.Client(client.load_credentials(), kinds=kinds.table())
    webhook = os.environ.get("NIMBUS_WEBHOOK_ADDRESS")
    if webhook:  # the admission webhooks (each service's admission.py), over TLS
        certs = pathlib.Path(os.environ.get("NIMBUS_WEBHOOK_CERT_DIR", "/etc/nimbus/webhook"))
        host, _colon, port = webhook.rpartition(":")
        settings.admission.server = WebhookServer(
            addr=host, port=int(port), host=host, certfile=certs / "tls.crt",
            pkeyfile=certs / "tls.key", cafile=certs / "ca.crt",
        )  # fmt: skip
        # Off when the Helm chart ships the configuration (its Service, its CA).
        if os.environ.get("NIMBUS_WEBHOOK_MANAGED", "true").lower() != "false":
            settings.admission.managed = WEBHOOK_CONFIGURATION
    peering = os.environ.get("NIMBUS_PEERING")
    if peering:
        # Replicas peer: the highest priority works, the others stand by. Equal priorities
        # would freeze them all (kopf's rule), so each process draws its own. The peering
        # object is made here: a chart cannot hold an object of a CRD it installs itself.
        settings.peering.priority = secrets.randbelow(2**31 - 1) + 1
        await memo.api.apply(
            {"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering",
             "metadata": {"name": peering}}
        )  # fmt: skip
    memo.metrics = await metrics.serve(METRICS_ADDRESS) if METRICS_ADDRESS else None


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    await memo.api.close()
    if memo.get("metrics") is not None:
        await memo.metrics.cleanup()


def load_handlers() -> None:
    for module in HANDLER_MODULES:
        importlib.import_module(module)
    if os.environ.get("NIMBUS_WEBHOOK_ADDRESS"):
        for module in ADMISSION_MODULES:
            importlib.import_module(module)


def run(
    *,
    namespaces: list[str] | None = None,
    liveness: str | None = None,
    metrics_address: str | None = None,
) -> None:
    """Run the operator until interrupted: all namespaces unless some are named; with
    `metrics_address` (host:port), serve /metrics and /healthz there."""
    global METRICS_ADDRESS
    METRICS_ADDRESS = metrics_address if metrics_address not in (None, "", "0") else None
    logging.basicConfig(  # a handler's failure is worth a line in the operator's log
        level=os.environ.get("NIMBUS_LOG_LEVEL", "WARNING"),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    # Waiting (kopf's TemporaryError) and a webhook's refusal are not errors (runtime/logs.py).
    logs.install()
    load_handlers()
    # Python's collector looks for cycles every 700 net allocations by default; decoding one
    # watch event makes thousands, so a burst of events ran it over the (large, long-lived)
    # indexes again and again. Rarer passes took a fifth off the operator's CPU in bench/.
    gc.set_threshold(GC_ALLOCATIONS, *gc.get_threshold()[1:])
    peering = os.environ.get("NIMBUS_PEERING")  # a ClusterKopfPeering's name (the chart's)
    kopf.run(
        standalone=not peering,
        peering_name=peering or None,
        clusterwide=not namespaces,
        namespaces=namespaces or [],
        liveness_endpoint=liveness,
    )
