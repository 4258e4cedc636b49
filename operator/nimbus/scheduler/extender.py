"""The kube-scheduler extender (v1): Nova's filter scheduler over the nodes kube-scheduler asks
about. `nimbus extender` serves it:

- `POST /filter` and `POST /prioritize` take kube-scheduler's ExtenderArgs (`Pod`, and
  `NodeNames` with nodeCacheCapable, else `Nodes`) and answer an ExtenderFilterResult or a
  HostPriorityList, with the Go field names kube-scheduler reads;
- `GET /healthz` (alive) and `GET /readyz` (the nodes, pods and server groups are listed).

Nodes, the Servers' pods and ServerGroups come from watches into an Inventory. The
configuration file (Nova's option names, placement/config.py) is read again when it changes,
as a mounted ConfigMap does.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import pathlib
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import yaml
from aiohttp import web

from nimbus.api import kinds
from nimbus.k8s import client
from nimbus.placement import config as placement_config
from nimbus.placement import engine
from nimbus.scheduler import inventory, request

log = logging.getLogger("nimbus.extender")


class Settings:
    """The configuration file, read again when its modification time changes."""

    def __init__(self, path: pathlib.Path | None) -> None:
        self.path = path
        self._stamp: float | None = None
        self._checked = 0.0
        self.config, self.defaults = placement_config.parse(None)
        self.reload()

    def reload(self) -> None:
        now = time.monotonic()
        if self.path is None or now - self._checked < 1.0:
            return
        self._checked = now
        try:
            stamp = self.path.stat().st_mtime
        except OSError:
            return
        if stamp == self._stamp:
            return
        try:
            document = yaml.safe_load(self.path.read_text()) or {}
            self.config, self.defaults = placement_config.parse(document)
        except (OSError, yaml.YAMLError, placement_config.ConfigError) as error:
            log.error("placement configuration %s not used: %s", self.path, error)
        else:
            log.info("placement configuration %s loaded", self.path)
        self._stamp = stamp


def _names(args: Mapping[str, Any]) -> tuple[list[str], dict[str, Any] | None]:
    """The node names asked about, and the Nodes list when kube-scheduler sent whole nodes."""
    names = args.get("NodeNames")
    if names is not None:
        try:
            "".join(names)  # every one a string already (JSON's), as join finds quickly
        except TypeError:
            return list(map(str, names)), None
        return list(names), None
    nodes = args.get("Nodes") or {}
    items = nodes.get("items") or []
    return [n["metadata"]["name"] for n in items], {n["metadata"]["name"]: n for n in items}


class Writer:
    """The verbs' answers as JSON, written out: the node names, the same thousand in every
    request, each escaped once and kept; a score 0..10 one of eleven endings. json.dumps of the
    thousand dicts of a HostPriorityList, made for it, cost as much as the decision it reports."""

    # A score, the end of its item and the beginning of the next one.
    _SCORES = {score: f',"Score":{score}}},{{"Host":' for score in range(11)}

    def __init__(self) -> None:
        self._quoted: dict[str, str] = {}

    def _quote(self, names: Iterable[str]) -> list[str]:
        """Each name as a JSON string."""
        quoted = self._quoted
        try:
            return list(map(quoted.__getitem__, names))
        except KeyError:  # a name not written before
            if len(quoted) > 16384:  # nodes come and go, or a request names many: begin again
                quoted.clear()
            for name in [name for name in names if name not in quoted]:
                quoted[name] = json.encoder.encode_basestring_ascii(name)
            return list(map(quoted.__getitem__, names))

    def filter_result(self, result: Mapping[str, Any]) -> str:
        """An ExtenderFilterResult: its NodeNames from the names kept, the rest by json.dumps."""
        fields = []
        for key, value in result.items():
            if key == "NodeNames" and value is not None:
                text = "[" + ",".join(self._quote(value)) + "]"
            else:
                text = json.dumps(value)
            fields.append(f"{json.dumps(key)}:{text}")
        return "{" + ",".join(fields) + "}"

    def priorities(self, scores: Mapping[str, int]) -> str:
        """A HostPriorityList: `{"Host":<name>,"Score":<score>}` for each node, in order."""
        if not scores:
            return "[]"
        try:
            ends = list(map(self._SCORES.__getitem__, scores.values()))
        except KeyError:  # not a score 0..10: written out each
            ends = [f',"Score":{int(score)}}},{{"Host":' for score in scores.values()]
        ends[-1] = ends[-1].removesuffix(',{"Host":') + "]"
        pieces = [""] * (2 * len(ends))  # each name, then its ending: one join
        pieces[::2] = self._quote(scores)
        pieces[1::2] = ends
        return '[{"Host":' + "".join(pieces)


class Extender:
    def __init__(self, api: client.Client | None, settings: Settings) -> None:
        self.api = api
        self.settings = settings
        self.inventory = inventory.Inventory(settings.defaults)
        self.listed: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []

    # -- the watches -------------------------------------------------------------------------

    async def _reflect(
        self,
        api_version: str,
        kind: str,
        replace: Callable[[list[dict[str, Any]]], None],
        event: Callable[[str, dict[str, Any]], None],
        label_selector: str | None = None,
    ) -> None:
        """List, then watch from the list's version; list again when the watch fails."""
        assert self.api is not None
        while True:
            try:
                items, version = await self.api.list_with_version(
                    api_version, kind, label_selector=label_selector
                )
                replace(items)
                self.listed.add(kind)
                if self.ready:
                    self.inventory.warm()
                while True:
                    async for kind_of_change, obj in self.api.watch(
                        api_version, kind, resource_version=version, label_selector=label_selector
                    ):
                        version = obj.get("metadata", {}).get("resourceVersion", version)
                        if kind_of_change == "ERROR":
                            raise client.ApiError(int(obj.get("code", 500)), "", str(obj))
                        if kind_of_change != "BOOKMARK":
                            event(kind_of_change, obj)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a watch must outlive any failure
                log.warning("watch of %s failed (%s); listing again", kind, error)
                await asyncio.sleep(1)

    def start(self) -> None:
        inv, groups = self.inventory, "compute.nimbus.dev/v1alpha1"
        self._tasks = [
            asyncio.create_task(self._reflect("v1", "Node", inv.replace_nodes, inv.node_event)),
            # Every pod: each one's requests count against its node (placement serves only
            # Servers' pods; the others pass through if they are sent).
            asyncio.create_task(self._reflect("v1", "Pod", inv.replace_pods, inv.pod_event)),
            asyncio.create_task(
                self._reflect(groups, "ServerGroup", inv.replace_groups, inv.group_event)
            ),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def ready(self) -> bool:
        return self.api is None or self.listed >= {"Node", "Pod", "ServerGroup"}

    # -- the verbs ---------------------------------------------------------------------------

    def _current(self) -> engine.Config:
        self.settings.reload()
        self.inventory.set_defaults(self.settings.defaults)
        return self.settings.config

    def filter(self, args: Mapping[str, Any]) -> dict[str, Any]:
        pod = args.get("Pod") or {}
        names, nodes = _names(args)
        verdict = self.inventory.filter(pod, names, self._current())
        if verdict.decision is not None and not verdict.passed:
            server = request.server(pod.get("metadata") or {})
            results = inventory.filter_results(len(names), verdict.decision, self.settings.config)
            log.info(
                "Filtering removed all hosts for the request with instance %s. "
                "Filter results: %s", server, results,
            )  # fmt: skip
        result: dict[str, Any] = {
            "NodeNames": verdict.passed if nodes is None else None,
            "Nodes": None if nodes is None else {"items": [nodes[n] for n in verdict.passed]},
            "FailedNodes": verdict.failed,
            "FailedAndUnresolvableNodes": verdict.unresolvable,
            "Error": "",
        }
        return result

    def prioritize(self, args: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [{"Host": host, "Score": score} for host, score in self.scores(args).items()]

    def scores(self, args: Mapping[str, Any]) -> dict[str, int]:
        """prioritize's answer as scores by node, in the order the nodes were asked."""
        names, _ = _names(args)
        return self.inventory.scores(args.get("Pod") or {}, names, self._current())

    # -- HTTP --------------------------------------------------------------------------------

    def app(self) -> web.Application:
        writer = Writer()

        async def verb(
            request_: web.Request, answer: Callable[[Mapping[str, Any]], str], empty: Any
        ) -> web.Response:
            try:
                args = json.loads(await request_.read())
            except ValueError as error:
                return web.json_response(empty | {"Error": f"not JSON: {error}"}, status=400)
            try:
                return web.Response(text=answer(args), content_type="application/json")
            except Exception as error:  # kube-scheduler gets the error
                log.exception("%s failed", request_.path)
                if isinstance(empty, dict):
                    return web.json_response(empty | {"Error": f"placement failed: {error}"})
                raise web.HTTPInternalServerError(text=str(error)) from error

        def route(
            answer: Callable[[Mapping[str, Any]], str], empty: Any
        ) -> Callable[[web.Request], Awaitable[web.Response]]:
            async def handle(request_: web.Request) -> web.Response:
                return await verb(request_, answer, empty)

            return handle

        async def healthz(_: web.Request) -> web.Response:
            return web.Response(text="ok")

        async def readyz(_: web.Request) -> web.Response:
            if self.ready:
                return web.Response(text="ok")
            return web.Response(status=503, text="listing nodes, pods and server groups")

        app = web.Application(client_max_size=64 * 2**20)  # 10,000 whole nodes fit
        app.router.add_post(
            "/filter",
            route(lambda args: writer.filter_result(self.filter(args)), {"NodeNames": None}),
        )
        app.router.add_post(
            "/prioritize", route(lambda args: writer.priorities(self.scores(args)), [])
        )
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
        return app


def settle() -> None:
    """Take what starting made (modules, classes, the API's schemas: some 60,000 objects) out of
    the garbage collector's full passes: each walked them all, 20 to 35 ms in which no request
    is answered, every few hundred requests: a p99 of its own. What comes later (the inventory,
    the decisions) is collected as before; what startup made lives as long as the process."""
    gc.collect()
    gc.freeze()


async def serve(host: str, port: int, config_path: pathlib.Path | None) -> None:
    credentials = client.load_credentials()
    async with client.Client(credentials, kinds=kinds.table()) as api:
        extender = Extender(api, Settings(config_path))
        settle()
        extender.start()
        runner = web.AppRunner(extender.app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        log.info("placement extender on http://%s:%d", host, port)
        try:
            await asyncio.Event().wait()
        finally:
            await extender.stop()
            await runner.cleanup()


def run(listen: str, config_path: str | None) -> None:
    logging.basicConfig(
        level=os.environ.get("NIMBUS_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    host, _, port = listen.rpartition(":")
    path = pathlib.Path(config_path) if config_path else None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(host or "127.0.0.1", int(port), path))
