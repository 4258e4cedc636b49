"""`nimbus amphora-agent`: runs HAProxy for one LoadBalancer, as Octavia's amphora agent does in
its amphora: the configuration rendered from the load balancer's objects
(nimbus.loadbalancer.render, .amphora), HAProxy reloaded when it changes, and the operating
statuses HAProxy's `show stat` gives reported in the LoadBalancer's status.

It runs in the network namespace that holds the VIP (the amphora pod's; in tests, one the test
made, with `--netns`) and needs CAP_NET_ADMIN there, for the VIP's address, and nothing else.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import os
import pathlib
import signal
import socket
import subprocess
import time
from typing import Any

from nimbus.loadbalancer import amphora, render

API_VERSION = "loadbalancer.nimbus.dev/v1alpha1"
CHILDREN = ("Listener", "Pool", "Member", "HealthMonitor")
SECTIONS = ("listeners", "pools", "members")

logger = logging.getLogger(__name__)


class AmphoraError(RuntimeError):
    """HAProxy could not be configured or started: what failed, in its own words."""


class Amphora:
    """HAProxy in master-worker mode, in the foreground, reloaded by SIGUSR2 on a new
    configuration (HAProxy's seamless reload); and the VIP's address on its interface."""

    def __init__(self, run_dir: pathlib.Path, netns: str | None = None) -> None:
        self.run_dir = run_dir
        self.netns = netns
        self.config = run_dir / "haproxy.cfg"
        self.stats_socket = str(run_dir / "stats.sock")
        self.process: subprocess.Popen[bytes] | None = None

    def _inside(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *argv] if self.netns else argv

    def vip(self, address: str, cidr: str, device: str = render.VIP_DEVICE) -> None:
        prefix = ipaddress.ip_network(cidr, strict=False).prefixlen
        up = ["ip", "link", "set", device, "up"]
        held = ["ip", "address", "replace", f"{address}/{prefix}", "dev", device]
        for argv in (up, held):
            result = subprocess.run(self._inside(argv), capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise AmphoraError(f"{' '.join(argv)}: {result.stderr.strip()}")

    def configure(self, text: str) -> None:
        """Check the configuration with `haproxy -c`, then start HAProxy with it or reload it."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        candidate = self.run_dir / "haproxy.cfg.new"
        candidate.write_text(text)
        check = subprocess.run(
            ["haproxy", "-c", "-q", "-f", str(candidate)], capture_output=True, text=True,
            check=False,
        )  # fmt: skip
        if check.returncode != 0:
            raise AmphoraError(f"haproxy refused the configuration: {check.stderr.strip()}")
        candidate.replace(self.config)
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGUSR2)  # the master reloads, workers drain
            return
        # A socket left by an HAProxy that died (the pod's emptyDir outlives its container)
        # would pass for the new one's.
        pathlib.Path(self.stats_socket).unlink(missing_ok=True)
        self.process = subprocess.Popen(
            self._inside(["haproxy", "-W", "-db", "-f", str(self.config)]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not os.path.exists(self.stats_socket):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AmphoraError("haproxy did not start (its stats socket never appeared)")
            time.sleep(0.05)

    def show_stat(self) -> str:
        return amphora.show_stat(self.stats_socket)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def health_patch(
    reported: dict[str, Any] | None, statuses: amphora.OperatingStatuses, config: str
) -> dict[str, Any]:
    """The status patch of a health report: a merge patch, so names no longer reported are
    set to null."""
    patch: dict[str, Any] = {"config": config, "loadBalancer": statuses.loadbalancer}
    for section in SECTIONS:
        now: dict[str, Any] = dict(getattr(statuses, section))
        for gone in set((reported or {}).get(section) or {}) - set(now):
            now[gone] = None
        patch[section] = now
    return patch


def unchanged(reported: dict[str, Any] | None, patch: dict[str, Any]) -> bool:
    if not reported:
        return False
    return all(
        reported.get(k) == ({n: s for n, s in v.items() if s is not None} if isinstance(v, dict)
                            else v)
        for k, v in patch.items()
    )  # fmt: skip


async def run(
    namespace: str,
    load_balancer: str,
    *,
    run_dir: pathlib.Path,
    interval: float = 2.0,
    netns: str | None = None,
    kubeconfig: str | None = None,
) -> int:
    """Follow the load balancer's objects; configure HAProxy when they change; report its
    health."""
    from nimbus.api import kinds
    from nimbus.k8s import client

    engine = Amphora(run_dir, netns)
    running: str | None = None
    # SIGTERM (the pod deleted) ends the loop through `finally`: HAProxy goes with the agent.
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    agent = os.environ.get("POD_NAME") or socket.gethostname()
    try:
        async with client.Client(client.load_credentials(kubeconfig), kinds=kinds.table()) as api:
            while True:
                lb = await api.get(API_VERSION, "LoadBalancer", load_balancer, namespace)
                status = (lb or {}).get("status") or {}
                if lb is None or not status.get("vipAddress"):
                    await asyncio.sleep(interval)
                    continue
                children = {kind: await api.list(API_VERSION, kind, namespace) for kind in CHILDREN}
                wanted = render.model(
                    lb, status["vipAddress"], children["Listener"], children["Pool"],
                    children["Member"], children["HealthMonitor"],
                )  # fmt: skip
                digest = render.digest(wanted)
                off_subnet = render.outside(wanted, status.get("vipCIDR") or "0.0.0.0/32")
                if off_subnet is not None:
                    logger.error("load balancer %s/%s: %s", namespace, load_balancer, off_subnet)
                elif digest != running:
                    try:
                        engine.vip(status["vipAddress"], status["vipCIDR"])
                        engine.configure(
                            amphora.haproxy_config(wanted, stats_socket=engine.stats_socket)
                        )
                    except (ValueError, AmphoraError) as error:
                        logger.error("load balancer %s/%s: %s", namespace, load_balancer, error)
                    else:
                        running = digest
                        logger.info("load balancer %s/%s: HAProxy runs %s (%s)", namespace,
                                    load_balancer, digest, agent)  # fmt: skip
                if running == digest:
                    statuses = amphora.operating_statuses(engine.show_stat(), wanted)
                    reported = status.get("health")
                    patch = health_patch(reported, statuses, digest)
                    if not unchanged(reported, patch):
                        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                        await api.patch_status(
                            API_VERSION, "LoadBalancer", load_balancer, namespace,
                            {"health": {**patch, "reportedAt": now}},
                        )  # fmt: skip
                await asyncio.sleep(interval)
    except asyncio.CancelledError:
        logger.info("load balancer %s/%s: stopping", namespace, load_balancer)
        return 0
    finally:
        engine.stop()
