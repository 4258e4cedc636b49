"""Ceilometer's part, the Kubernetes way: Prometheus metrics with controller-runtime's names,
per-project usage gauges, and the endpoint that serves them with /healthz.

- `controller_runtime_reconcile_total{controller, result}`: result is success, error or
  requeue_after (a reconciliation that waits for something and tries again);
- `controller_runtime_reconcile_errors_total{controller}`;
- `controller_runtime_reconcile_time_seconds{controller}` (a histogram);
- `nimbus_handler_retries_total{handler}` and `nimbus_handler_failures_total{handler}`: an
  event handler's failures tried again, and given up on after their retries;
- `nimbus_project_usage{project, resource}` and `nimbus_project_quota{project, resource}`:
  vcpus, ram_mb, disk_gb (the servers' flavors), instances, volumes and gigabytes.

`controller` is the kind in lower case, as controller-runtime names a kind's controller.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Mapping

import kopf
import prometheus_client
from aiohttp import web

RECONCILE_TOTAL = prometheus_client.Counter(
    "controller_runtime_reconcile_total",
    "Total number of reconciliations per controller",
    ["controller", "result"],
)
RECONCILE_ERRORS = prometheus_client.Counter(
    "controller_runtime_reconcile_errors_total",
    "Total number of reconciliation errors per controller",
    ["controller"],
)
RECONCILE_TIME = prometheus_client.Histogram(
    "controller_runtime_reconcile_time_seconds",
    "Length of time per reconciliation per controller",
    ["controller"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
HANDLER_RETRIES = prometheus_client.Counter(
    "nimbus_handler_retries_total",
    "Event handlers' failures that were tried again (the API server away, a conflict)",
    ["handler"],
)
HANDLER_FAILURES = prometheus_client.Counter(
    "nimbus_handler_failures_total",
    "Event handlers given up on after their retries",
    ["handler"],
)
PROJECT_USAGE = prometheus_client.Gauge(
    "nimbus_project_usage", "What a project uses, per resource", ["project", "resource"]
)
PROJECT_QUOTA = prometheus_client.Gauge(
    "nimbus_project_quota",
    "A project's limit per resource (-1: unlimited)",
    ["project", "resource"],
)
# status.usage names -> the gauges' resource names
GAUGED = {
    "cores": "vcpus",
    "ramMB": "ram_mb",
    "instances": "instances",
    "volumes": "volumes",
    "gigabytes": "gigabytes",
}


@contextlib.asynccontextmanager
async def reconciling(controller: str) -> AsyncIterator[None]:
    """Count and time one reconciliation of `controller`."""
    started = time.perf_counter()
    result = "success"
    try:
        yield
    except kopf.TemporaryError:
        result = "requeue_after"
        raise
    except BaseException:
        result = "error"
        RECONCILE_ERRORS.labels(controller).inc()
        raise
    finally:
        RECONCILE_TOTAL.labels(controller, result).inc()
        RECONCILE_TIME.labels(controller).observe(time.perf_counter() - started)


def project_usage(
    project: str, usage: Mapping[str, Mapping[str, int]], disk_gb: int | None = None
) -> None:
    """Set a project's gauges from its status.usage (and the disk its servers' flavors use)."""
    for name, resource in GAUGED.items():
        if name in usage:
            PROJECT_USAGE.labels(project, resource).set(usage[name]["inUse"])
            PROJECT_QUOTA.labels(project, resource).set(usage[name]["limit"])
    if disk_gb is not None:
        PROJECT_USAGE.labels(project, "disk_gb").set(disk_gb)


def forget_project(project: str) -> None:
    for resource in (*GAUGED.values(), "disk_gb"):
        with contextlib.suppress(KeyError):
            PROJECT_USAGE.remove(project, resource)
        with contextlib.suppress(KeyError):
            PROJECT_QUOTA.remove(project, resource)


async def serve(address: str) -> web.AppRunner:
    """/metrics (Prometheus' text format) and /healthz on `address` (host:port)."""

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=prometheus_client.generate_latest(),
            headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST},
        )

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, _, port = address.rpartition(":")
    await web.TCPSite(runner, host or "127.0.0.1", int(port)).start()
    return runner
