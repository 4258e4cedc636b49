"""Event handlers that try again: kopf ignores an event handler's failure, so an event lost
while the API server was away (a restart) left a status behind until some other event came.
Here the failure is tried again after RETRY_DELAYS, counted, and logged in one line.

No kopf handler is registered by importing this (the simulators use it too)."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from nimbus.runtime import metrics

Handler = TypeVar("Handler", bound=Callable[..., Any])

# Seconds before each new try; then the failure is given up on, with a line of log.
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0)
_RETRIES: set[asyncio.Task[None]] = set()
logger = logging.getLogger(__name__)


def retried(handler: Handler) -> Handler:
    """An event handler whose failure is tried again (RETRY_DELAYS), counted in
    `nimbus_handler_retries_total{handler}` and logged in one line, instead of ignored. What
    it reads is read again then (the indexes are live)."""

    @functools.wraps(handler)
    async def wrapper(**kwargs: Any) -> None:
        try:
            await handler(**kwargs)
        except Exception as error:
            again(handler, kwargs, error, 0)

    return wrapper  # type: ignore[return-value]


def again(handler: Callable[..., Any], kwargs: dict[str, Any], error: Exception, n: int) -> None:
    name = handler.__name__
    body = kwargs.get("body") or {}
    what = f"{body.get('kind', '')} {body.get('metadata', {}).get('name', '')}".strip()
    if n >= len(RETRY_DELAYS):
        metrics.HANDLER_FAILURES.labels(name).inc()
        logger.error("%s on %s failed %d times, giving up: %s", name, what, n + 1, error)
        return
    metrics.HANDLER_RETRIES.labels(name).inc()
    logger.warning("%s on %s failed (%s); trying again in %g s", name, what,
                   error.__class__.__name__, RETRY_DELAYS[n])  # fmt: skip

    async def later() -> None:
        await asyncio.sleep(RETRY_DELAYS[n])
        try:
            await handler(**kwargs)
        except Exception as failed:
            again(handler, kwargs, failed, n + 1)

    task = asyncio.create_task(later())
    _RETRIES.add(task)
    task.add_done_callback(_RETRIES.discard)
