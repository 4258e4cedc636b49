"""Floating IPs per router against the time to render and to apply the router's data path.

    python bench/l3.py [--sizes 1,100,1000] [--runs 5]        (add 10000 to --sizes for more)

For N floating IPs on a router with a subnet leg (qr-) and a gateway (qg-), in a fresh pair of
network namespaces per run (deleted after it; every address stays in them), it times rendering
the plan (l3.ruleset, l3.addresses, l3.routes), its first apply (DataPath.apply), a re-apply that
changes nothing, and an apply with one of the N floating IPs changed; each apply also by step
(sysctl, the agent's `ip -j` reads, its `ip -batch`, `nft -f`) through the DataPath's runner.
Once per N it checks the kernel holds N elements in each map and N /32s on the qg- device.
Medians and minimums, and each median as a ratio of the smallest N's in the same run: figures,
not pass/fail (bench/README.md keeps them).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import ipaddress
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence

from nimbus.network import agent, l3

SUBNET = l3.Leg(l3.internal_device("bench/subnet"), "10.0.0.1", "10.0.0.0/16")
# RFC 2544's benchmarking range, large enough for 10,000 floating IPs
GATEWAY = l3.Gateway(l3.external_device("bench", "ext"), "198.18.0.2", "198.18.0.0/15",
                     nexthop="198.18.0.1")  # fmt: skip
STEPS = ("sysctl", "ip reads", "ip batch", "nft -f")
KINDS = ("first apply", "re-apply", "change one")
TIMED = ("render", *KINDS)


def plan_with(count: int, changed: bool = False) -> l3.Plan:
    """A router with `count` floating IPs (198.19.0.1 on) for 10.0.1.0 on; `changed` moves the
    last one to another floating IP."""
    floating = [(str(ipaddress.ip_address("198.19.0.1") + i),
                 str(ipaddress.ip_address("10.0.1.0") + i)) for i in range(count)]  # fmt: skip
    if changed:
        floating[-1] = ("198.19.255.254", floating[-1][1])
    return l3.Plan(legs=(SUBNET,), gateway=GATEWAY, floating=tuple(sorted(floating)))


def run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


@contextlib.contextmanager
def router_namespace() -> Iterator[str]:
    """A fresh router namespace with the plan's two devices, each a veth whose peer is in a
    second namespace; both deleted after, whatever happened."""
    prefix = f"nl3{uuid.uuid4().hex[:6]}"
    router, outside = f"{prefix}-r", f"{prefix}-x"
    made: list[str] = []
    try:
        for name in (router, outside):
            run("ip", "netns", "add", name)
            made.append(name)
        for i, leg in enumerate((SUBNET, GATEWAY)):
            run("ip", "-n", router, "link", "add", leg.device, "type", "veth",
                "peer", "name", f"peer{i}", "netns", outside)  # fmt: skip
            run("ip", "-n", outside, "link", "set", f"peer{i}", "up")
        yield router
    finally:
        for name in reversed(made):
            subprocess.run(["ip", "netns", "del", name], check=False)


class StepTimes:
    """A DataPath runner that runs each command as the agent does and adds its time to its step."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = collections.defaultdict(float)

    def __call__(self, argv: Sequence[str], stdin: str | None = None) -> str:
        command = list(argv[4:])  # after `ip netns exec NAME`
        step = ("nft -f" if command[0] == "nft" else "sysctl" if command[0] == "sysctl"
                else "ip batch" if "-batch" in command else "ip reads")  # fmt: skip
        started = time.perf_counter()
        try:
            return agent.run_command(argv, stdin)
        finally:
            self.seconds[step] += time.perf_counter() - started


def timed_apply(netns: str, plan: l3.Plan) -> tuple[float, dict[str, float]]:
    steps = StepTimes()
    started = time.perf_counter()
    agent.DataPath(netns=netns, runner=steps).apply(plan)
    return time.perf_counter() - started, dict(steps.seconds)


def render(plan: l3.Plan) -> None:
    l3.ruleset(plan)
    l3.addresses(plan)
    l3.routes(plan)


def check(netns: str, plan: l3.Plan) -> tuple[int, int]:
    """That the kernel holds the plan's floating IPs; the table's size in bytes and rules."""
    exec_ = ("ip", "netns", "exec", netns)
    count = len(plan.floating)
    for name in ("floating_dnat", "floating_snat"):
        listed = json.loads(run(*exec_, "nft", "-j", "list", "map", "ip", l3.TABLE, name))
        elements = next(o["map"] for o in listed["nftables"] if "map" in o).get("elem", [])
        assert len(elements) == count, f"{name}: {len(elements)} elements, not {count}"
    held = json.loads(run("ip", "-n", netns, "-j", "-4", "address", "show", "dev", GATEWAY.device))
    singles = {a["local"] for a in held[0]["addr_info"] if a["prefixlen"] == 32}
    assert singles == {f for f, _ in plan.floating}, f"{GATEWAY.device}: {len(singles)} /32s"
    table = json.loads(run(*exec_, "nft", "-j", "list", "table", "ip", l3.TABLE))
    rules = sum("rule" in o for o in table["nftables"])
    return len(l3.ruleset(plan).encode()), rules


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:9.2f} ({min(values) * 1000:8.2f})"


@dataclasses.dataclass
class Figures:
    """One N's seconds, by what was timed ("render" and KINDS) and by kind and step."""

    seconds: dict[str, list[float]]
    steps: dict[str, dict[str, list[float]]]
    size: int = 0
    rules: int = 0

    def median(self, timed: str) -> float:
        return statistics.median(self.seconds[timed])


def measure(count: int, runs: int) -> Figures:
    plan, changed = plan_with(count), plan_with(count, changed=True)
    got = Figures({t: [] for t in TIMED}, {k: collections.defaultdict(list) for k in KINDS})
    repeats = max(1, 10_000 // count)  # a render of a few floating IPs takes microseconds
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(repeats):
            render(plan)
        got.seconds["render"].append((time.perf_counter() - started) / repeats)
    for i in range(runs):
        with router_namespace() as netns:
            for kind, applied in zip(KINDS, (plan, plan, changed), strict=True):
                seconds, by_step = timed_apply(netns, applied)
                got.seconds[kind].append(seconds)
                for step in STEPS:
                    got.steps[kind][step].append(by_step.get(step, 0.0))
                if i == 0 and kind != "re-apply":
                    got.size, got.rules = check(netns, applied)
    return got


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,100,1000", help="floating IPs per router, each")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"):
        print("bench/l3.py: skipped; it needs root, nftables and iproute2 (make deps installs")
        print("them), to make network namespaces")
        return 0  # `make bench` goes on: the other benches need none of it
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so that the namespaces go
    sizes = [int(n) for n in args.sizes.split(",")]
    figures: dict[int, Figures] = {}
    measure(sizes[0], 1)  # untimed: the first nft and ip of a run load their libraries cold
    print(f"floating IPs per router: median (min) of {args.runs} runs, ms", flush=True)
    print(f"{'N':>7}  {'render':>20}  {'first apply':>20}  {'re-apply':>20}  "
          f"{'change one':>20}  {'ruleset':>8}  rules")  # fmt: skip
    for count in sizes:
        got = figures[count] = measure(count, args.runs)
        cells = "  ".join(ms(got.seconds[timed]) for timed in TIMED)
        print(f"{count:>7}  {cells}  {got.size:>6} B  {got.rules:>5}", flush=True)
    print(f"growth against N = {sizes[0]} (medians)")
    for count in sizes[1:]:
        base = figures[sizes[0]]
        ratios = "  ".join(f"{figures[count].median(t) / base.median(t):>20.1f}" for t in TIMED)
        print(f"{count:>7}  {ratios}")
    print("each apply by step, ms (medians)")
    print(f"{'N':>7}  {'':<12}" + "".join(f"{step:>10}" for step in STEPS))
    for count in sizes:
        for kind in KINDS:
            steps = figures[count].steps[kind]
            cells = "".join(f"{statistics.median(steps[s]) * 1000:>10.2f}" for s in STEPS)
            print(f"{count:>7}  {kind:<12}{cells}")
    print("checked at each N: N elements in floating_dnat and floating_snat, N /32s on qg-")
    return 0


if __name__ == "__main__":
    sys.exit(main())
