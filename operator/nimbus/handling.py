"""How a Nimbus kind's handler is registered with kopf: one reconciler, level-triggered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import kopf

from nimbus import meta

Handler = TypeVar("Handler", bound=Callable[..., Any])


def reconciler(
    group: str, plural: str, *, poll: float | None = None
) -> Callable[[Handler], Handler]:
    """Run the handler when the operator starts (resume), on create and on every update; with
    `poll`, also every `poll` seconds while the object is quiet, to follow children that send
    the object no event of their own."""

    def register(handler: Handler) -> Handler:
        registered: Any = handler
        for on in (kopf.on.resume, kopf.on.create, kopf.on.update):
            registered = on(group, meta.VERSION, plural)(registered)
        if poll is not None:
            registered = kopf.timer(group, meta.VERSION, plural, interval=poll, idle=poll)(
                registered
            )
        return handler

    return register
