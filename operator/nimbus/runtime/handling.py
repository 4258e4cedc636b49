"""How a Nimbus kind's handler is registered with kopf: one reconciler, level-triggered."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import kopf

from nimbus.api import meta
from nimbus.k8s import client
from nimbus.runtime import cache, metrics, retrying

Handler = TypeVar("Handler", bound=Callable[..., Any])


logger = logging.getLogger(__name__)


def reconciler(
    kind: type[meta.Resource], *, poll: float | None = None
) -> Callable[[Handler], Handler]:
    """Run the handler when the operator starts (resume), on create and on every update; with
    `poll`, also every `poll` seconds while the object is quiet, to follow children that send
    the object no event of their own."""

    group, plural = kind.group, kind.plural
    controller = kind.kind_name().lower()  # controller-runtime's name for a kind's controller

    def register(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def measured(**kwargs: Any) -> Any:
            async with metrics.reconciling(controller):
                return await handler(**kwargs)

        registered: Any = measured
        for on in (kopf.on.resume, kopf.on.create, kopf.on.update):
            registered = on(group, meta.VERSION, plural)(registered)
        if poll is not None:
            registered = kopf.timer(group, meta.VERSION, plural, interval=poll, idle=poll)(
                registered
            )
        return handler

    return register


Reconcile = Callable[..., Awaitable[None]]
WATCHED_KINDS: set[str] = set()  # Nimbus kinds reconciled by `watched`, not by kopf's causes


class Essences(kopf.AnnotationsDiffBaseStorage):
    """kopf's last-handled state in annotations, with one saving: kopf builds the essence of
    every event it sees (a deep copy of the object) to tell creations from updates, which only
    kinds with create/update handlers need. For the rest (VMs and their instances, DataVolumes,
    servers and ports: most events by far) it is skipped. At a thousand servers it was the
    operator's largest cost."""

    @staticmethod
    def _needed(body: kopf.Body) -> bool:
        group = str(body.get("apiVersion", "")).split("/")[0]
        return group.endswith("nimbus.dev") and body.get("kind") not in WATCHED_KINDS

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence | None:  # type: ignore[override]
        return super().build(body=body, extra_fields=extra_fields) if self._needed(body) else None

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return super().fetch(body=body) if self._needed(body) else None


def watched(
    resource: type[meta.Resource], *, wants: Callable[[dict[str, Any]], Any] = lambda _: None
) -> Callable[[Reconcile], Reconcile]:
    """Run the handler as a controller-runtime reconciler runs, on kopf's watch alone: for each
    object once when the operator starts, then whenever its generation (or what `wants` picks
    from it) changes, never for the status it writes itself. kopf keeps no state of its own in
    the object (no annotations to write, no essence to compute for every event), which is what
    lets a hundred new objects through at once.

    The handler is called as `handler(body=..., memo=..., view=...)`. A `kopf.TemporaryError`
    tries it again after its delay (with the object read afresh), a `kopf.PermanentError` gives
    up until the object changes, a 404 from an object deleted meanwhile ends it quietly (its
    delete is its last event), anything else is logged and tried again after 10 s."""
    group, plural, kind = resource.group, resource.plural, resource.kind_name()
    api_version = resource.api_version_name()
    WATCHED_KINDS.add(kind)
    controller = kind.lower()

    def register(handler: Reconcile) -> Reconcile:
        attempted: dict[str, Any] = {}  # uid -> the (generation, wants) last acted on
        locks: dict[str, asyncio.Lock] = {}
        retries: dict[str, asyncio.Task[None]] = {}

        def forget(uid: str) -> None:
            attempted.pop(uid, None)
            locks.pop(uid, None)
            retry = retries.pop(uid, None)
            if retry is not None and retry is not asyncio.current_task():
                retry.cancel()

        def again(memo: kopf.Memo, view: cache.View, body: dict[str, Any], delay: float) -> None:
            uid, name = body["metadata"]["uid"], body["metadata"]["name"]
            namespace = body["metadata"].get("namespace")

            async def later() -> None:
                await asyncio.sleep(delay)
                retries.pop(uid, None)
                try:
                    fresh = await memo.api.get(api_version, kind, name, namespace)
                except Exception as error:  # the API server busy or away: the retry stays
                    metrics.HANDLER_RETRIES.labels(controller).inc()
                    logger.warning("%s %s could not be read (%s); trying again in 10s", kind,
                                   name, error.__class__.__name__)  # fmt: skip
                    again(memo, view, body, 10)
                    return
                if fresh is not None and fresh["metadata"]["uid"] == uid:
                    await run(memo, view, fresh)

            pending = retries.pop(uid, None)
            if pending is not None:
                pending.cancel()
            retries[uid] = asyncio.create_task(later())

        async def run(memo: kopf.Memo, view: cache.View, body: dict[str, Any]) -> None:
            if body["metadata"].get("deletionTimestamp"):
                return
            uid = body["metadata"]["uid"]
            async with locks.setdefault(uid, asyncio.Lock()):
                try:
                    async with metrics.reconciling(controller):
                        try:
                            await handler(body=body, memo=memo, view=view)
                        except client.ApiError as error:
                            if error.status != 404 or await _present(
                                memo.api, api_version, kind, body
                            ):
                                raise
                            forget(uid)  # deleted while this pass wrote to it: nothing to do
                except kopf.TemporaryError as error:
                    again(memo, view, body, error.delay or 10)
                except kopf.PermanentError:
                    pass  # reported by the handler; the next change tries again
                except Exception:
                    logger.exception(
                        "%s %s failed; trying again in 10s", kind, body["metadata"]["name"]
                    )
                    again(memo, view, body, 10)

        @follows(group, meta.VERSION, plural)
        async def on_event(
            type: str | None, body: dict[str, Any], memo: kopf.Memo, view: cache.View
        ) -> None:
            uid = body["metadata"]["uid"]
            if type == "DELETED":
                forget(uid)
                return
            key = (body["metadata"].get("generation"), wants(body))
            if attempted.get(uid) == key:
                return  # our own status write, or kopf's: nothing asked of us
            attempted[uid] = key
            await run(memo, view, body)

        return handler

    return register


async def _present(api: Any, api_version: str, kind: str, body: Mapping[str, Any]) -> bool:
    """Whether the object is still there (the same one: its uid), read afresh."""
    metadata = body["metadata"]
    found = await api.get(api_version, kind, metadata["name"], metadata.get("namespace"))
    return found is not None and found["metadata"].get("uid") == metadata["uid"]


Follower = Callable[..., Awaitable[None]]
_FOLLOWERS: dict[tuple[str, str, str], list[Follower]] = {}
# The one kopf handler of each followed kind, as registered (what a test drives).
DISPATCHERS: dict[tuple[str, str, str], Any] = {}


def follows(group: str, version: str, plural: str) -> Callable[[Follower], Follower]:
    """Run the function on every event of the kind, as
    `follower(type=..., body=..., memo=..., view=...)`, `body` a plain copy of the object.

    The followers of a kind share one kopf handler, called once per event, and run one after
    the other in the order they were registered, as kopf runs handlers; one's failure is
    logged and does not keep the others from running. kopf's cost of calling a handler (its
    arguments, its logger, its outcome) is then paid once per event rather than once per
    follower: a server's events have four."""
    key = (group, version, plural)

    def register(follower: Follower) -> Follower:
        if key not in _FOLLOWERS:
            _FOLLOWERS[key] = []

            @kopf.on.event(group, version, plural, id=f"{plural}/followers")
            async def dispatch(
                type: str | None, body: kopf.Body, memo: kopf.Memo, **kwargs: Any
            ) -> None:
                raw, view = dict(body), cache.View.of(kwargs, memo)
                for each in list(_FOLLOWERS[key]):
                    try:
                        await each(type=type, body=raw, memo=memo, view=view)
                    except Exception as error:  # tried again later; the others run now
                        arguments = {"type": type, "body": raw, "memo": memo, "view": view}
                        retrying.again(each, arguments, error, 0)

            DISPATCHERS[key] = dispatch

        _FOLLOWERS[key].append(follower)
        return follower

    return register


OwnerReconcile = Callable[[Any, dict[str, Any]], Awaitable[None]]


def children(
    group: str, version: str, plural: str, *, label: str, owner: type[meta.Resource]
) -> Callable[[OwnerReconcile], OwnerReconcile]:
    """Run `reconcile(api, owner_body)` on every event of a child of the kind (a DataVolume, a
    VolumeSnapshot) whose `label` names its owner: the owner read afresh, skipped when gone or
    going. A failure is tried again (nimbus.runtime.retrying)."""

    def register(reconcile: OwnerReconcile) -> OwnerReconcile:
        async def child_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
            found = await owner_of(
                memo.api, body, label, owner.api_version_name(), owner.kind_name()
            )
            if found is not None:
                await reconcile(memo.api, found)

        child_changed.__name__ = f"{plural}_of_{owner.plural}"
        kopf.on.event(group, version, plural, labels={label: kopf.PRESENT},
                      id=child_changed.__name__)(retrying.retried(child_changed))  # fmt: skip
        return reconcile

    return register


async def owner_of(
    api: Any, child: Mapping[str, Any], label: str, api_version: str, kind: str
) -> dict[str, Any] | None:
    """The Nimbus object a child's label names (a Snapshot's VolumeSnapshot, an Image's
    DataVolume), read afresh; None when it is gone or going. A child's event calls its owner's
    reconciliation with it."""
    name = (child["metadata"].get("labels") or {}).get(label)
    if not name:
        return None
    found: dict[str, Any] | None = await api.get(
        api_version, kind, name, child["metadata"].get("namespace")
    )
    if found is None or found["metadata"].get("deletionTimestamp"):
        return None
    return found
