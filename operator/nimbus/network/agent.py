"""`nimbus router-agent`: programs a router pod's data path from its Router, as Neutron's L3
agent programs a router namespace. The kernel does the work: nftables for NAT and filtering,
the routing table and `ip rule` for forwarding; the agent only makes them say what
nimbus.network.l3 renders, and reports the plan it applied in the Router's status.

It runs in the network namespace it programs (the router pod's; in tests, one the test made)
and needs CAP_NET_ADMIN there and nothing else.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json
import logging
import os
import pathlib
import signal
import socket
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

from nimbus.network import l3

API_VERSION = "network.nimbus.dev/v1alpha1"
FORWARDING = pathlib.Path("/proc/sys/net/ipv4/ip_forward")

logger = logging.getLogger(__name__)

Runner = Callable[[Sequence[str], str | None], str]


class AgentError(RuntimeError):
    """The data path could not be programmed: what failed and why, in the kernel's words."""


def run_command(argv: Sequence[str], stdin: str | None = None) -> str:
    result = subprocess.run(
        list(argv), input=stdin, capture_output=True, text=True, check=False, timeout=60
    )
    if result.returncode != 0:
        raise AgentError(f"{' '.join(argv[:3])} failed: {result.stderr.strip()}")
    return result.stdout


@dataclasses.dataclass
class DataPath:
    """The kernel's side of one network namespace: the agent's own (a router pod's), or the
    named one (`ip netns`) when `netns` is given, as Neutron's L3 agent drives its qrouter-
    namespaces from outside. Changed only through `runner`."""

    netns: str | None = None
    runner: Runner = run_command
    # An HA router: the VRRP speaker's name (the pod's) and where keepalived keeps its files.
    speaker: str | None = None
    run_dir: pathlib.Path = pathlib.Path("/run/nimbus-router")
    keepalived: subprocess.Popen[bytes] | None = None

    def run(self, argv: Sequence[str], stdin: str | None = None) -> str:
        inside = ["ip", "netns", "exec", self.netns] if self.netns else []
        return self.runner([*inside, *argv], stdin)

    def ip_json(self, *argv: str) -> list[dict[str, Any]]:
        out = self.run(["ip", "-j", *argv], None).strip()
        return list(json.loads(out)) if out else []

    def apply(self, plan: l3.Plan) -> None:
        """Make the namespace's data path the plan's: forwarding on, the legs' addresses,
        the rules and routes of the legs' table, then the nftables ruleset (one transaction).
        Idempotent: applying a plan twice changes nothing the second time."""
        self._forwarding()
        links = {link["ifname"]: link for link in self.ip_json("link", "show")}
        missing = [d for d in plan.devices if d not in links]
        if missing:
            raise AgentError(
                f"interfaces {', '.join(missing)} are not in the router's network namespace "
                "yet (Multus attaches them when the pod starts)"
            )
        batch = [f"link set dev {d} up" for d in plan.devices]
        batch += self._addresses(plan, links)
        if plan.ha:
            device = l3.vrrp_device(plan)
            batch.append(f"address replace {l3.ha_address(self.speaker or '')} dev {device}")
        batch += self._rules(plan)
        batch += self._routes(plan)
        if batch:
            self.run(["ip", "-force", "-batch", "-"], "\n".join(batch) + "\n")
        self.run(["nft", "-f", "-"], l3.ruleset(plan))
        if plan.ha:
            self._keepalived(plan)
        elif self.keepalived is not None:
            self.stop()

    def _keepalived(self, plan: l3.Plan) -> None:
        """Write keepalived's configuration; start it, or make it read the new one (SIGHUP)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config = self.run_dir / "keepalived.conf"
        config.write_text(l3.keepalived_config(plan))
        if self.keepalived is not None and self.keepalived.poll() is None:
            self.keepalived.send_signal(signal.SIGHUP)
            return
        files = {"-p": "keepalived.pid", "-r": "vrrp.pid", "-c": "checkers.pid"}
        argv = ["keepalived", "--dont-fork", "--log-console", "--vrrp", "-f", str(config)]
        for flag, name in files.items():
            argv += [flag, str(self.run_dir / name)]
        inside = ["ip", "netns", "exec", self.netns] if self.netns else []
        self.keepalived = subprocess.Popen(
            [*inside, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def stop(self) -> None:
        if self.keepalived is not None and self.keepalived.poll() is None:
            self.keepalived.terminate()
            try:
                self.keepalived.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.keepalived.kill()
                self.keepalived.wait()
        self.keepalived = None

    def _forwarding(self) -> None:
        if self.netns:
            self.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
            return
        try:
            if FORWARDING.read_text().strip() != "1":
                FORWARDING.write_text("1\n")
        except OSError as error:
            raise AgentError(
                f"cannot turn on IPv4 forwarding ({error.strerror}): give the router pod the "
                "sysctl net.ipv4.ip_forward=1"
            ) from error

    def _addresses(self, plan: l3.Plan, links: dict[str, Any]) -> list[str]:
        """The legs' addresses, and the floating IPs on the gateway leg. An HA router's are
        keepalived's to add and remove (only the master holds them): the agent only takes away
        what is in no plan."""
        wanted = l3.addresses(plan)
        if plan.ha:
            speaker = l3.ha_address(self.speaker or "")
            device = l3.vrrp_device(plan) or ""
            wanted.setdefault(device, set()).add(speaker)
        batch = []
        for entry in self.ip_json("-4", "address", "show"):
            name = entry.get("ifname", "")
            if not name.startswith((l3.INTERNAL_PREFIX, l3.EXTERNAL_PREFIX)):
                continue  # the pod's own interfaces are not the agent's
            for info in entry.get("addr_info", []):
                held = f"{info['local']}/{info['prefixlen']}"
                if held not in wanted.get(name, set()):
                    batch.append(f"address del {held} dev {name}")
                else:
                    wanted[name].discard(held)
        if plan.ha:
            return batch
        for name, missing in sorted(wanted.items()):
            batch += [f"address add {a} dev {name}" for a in sorted(missing)]
        return batch

    def _rules(self, plan: l3.Plan) -> list[str]:
        held = {
            str(rule["iif"])
            for rule in self.ip_json("-4", "rule", "show")
            if rule.get("priority") == l3.RULE_PRIORITY and rule.get("iif")
        }
        wanted = set(plan.devices)
        rule = f"priority {l3.RULE_PRIORITY} table {l3.ROUTE_TABLE}"
        return [f"rule del iif {d} {rule}" for d in sorted(held - wanted)] + [
            f"rule add iif {d} {rule}" for d in sorted(wanted - held)
        ]

    def _routes(self, plan: l3.Plan) -> list[str]:
        wanted = l3.routes(plan)
        keys = {(r.destination, r.unreachable) for r in wanted}
        table = f"table {l3.ROUTE_TABLE}"
        batch = []
        try:
            held_routes = self.ip_json("-4", "route", "show", "table", str(l3.ROUTE_TABLE))
        except AgentError as error:
            if "does not exist" not in str(error):
                raise
            held_routes = []  # the table is made by its first route
        for held in held_routes:
            unreachable = held.get("type") == "unreachable"
            if (held["dst"], unreachable) not in keys:
                kind = "unreachable " if unreachable else ""
                batch.append(f"route del {kind}{held['dst']} {table}")
        return batch + [f"route replace {' '.join(r.arguments())} {table}" for r in wanted]


async def run(
    namespace: str,
    router: str,
    *,
    interval: float = 2.0,
    once: bool = False,
    kubeconfig: str | None = None,
    netns: str | None = None,
    speaker: str | None = None,
    run_dir: pathlib.Path | None = None,
) -> int:
    """Follow the Router and its FloatingIPs; apply each new plan and report it applied."""
    from nimbus.api import kinds
    from nimbus.k8s import client

    agent = speaker or os.environ.get("POD_NAME") or socket.gethostname()
    data_path = DataPath(netns=netns, speaker=agent)
    # SIGTERM (the pod deleted) ends the loop through `finally`: keepalived goes too, and its
    # last advertisement hands the addresses to the other pod at once.
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    if run_dir is not None:
        data_path.run_dir = run_dir
    applied: str | None = None
    try:
        async with client.Client(client.load_credentials(kubeconfig), kinds=kinds.table()) as api:
            while True:
                body = await api.get(API_VERSION, "Router", router, namespace)
                if body is None:
                    logger.warning("router %s/%s not found", namespace, router)
                else:
                    floating = await api.list(API_VERSION, "FloatingIP", namespace)
                    plan = l3.plan_of(body, floating)
                    digest = plan.digest()
                    reported = ((body.get("status") or {}).get("dataPath") or {}).get("plan")
                    if digest != applied:
                        try:
                            data_path.apply(plan)
                        except AgentError as error:
                            logger.error("router %s/%s: %s", namespace, router, error)
                            if once:
                                return 1
                        else:
                            applied = digest
                            logger.info("router %s/%s: applied plan %s", namespace, router, digest)
                    if applied == digest and reported != digest:
                        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                        await api.patch_status(
                            API_VERSION,
                            "Router",
                            router,
                            namespace,
                            {"dataPath": {"plan": digest, "agent": agent, "appliedAt": now}},
                        )
                if once:
                    return 0
                await asyncio.sleep(interval)
    except asyncio.CancelledError:
        logger.info("router %s/%s: stopping", namespace, router)
        return 0
    finally:
        if not once:
            data_path.stop()  # keepalived goes with the agent: the other pod takes over
