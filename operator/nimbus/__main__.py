"""The `nimbus` command: run the operator, generate the CRDs, drive the local cloud."""

from __future__ import annotations

import argparse
import logging
import os
import pathlib
import sys
from typing import TYPE_CHECKING

from nimbus.generate import crdgen

if TYPE_CHECKING:
    from nimbus.devcloud import cluster

REPO = pathlib.Path(__file__).resolve().parents[2]


def _generate(args: argparse.Namespace) -> int:
    from nimbus.generate import chart, docgen

    directory = pathlib.Path(args.output)
    charted = pathlib.Path(args.chart)
    if args.check:
        # rendering the CRDs, the chart and the reference takes seconds: say so first
        print(f"checking {directory}, {charted} and docs/reference against the models ...",
              flush=True)  # fmt: skip
        expected = crdgen.rendered()
        actual = {p.name: p.read_text() for p in directory.glob("*.yaml")}
        status = 0
        if expected != actual:
            stale = sorted(set(expected) ^ set(actual) | {
                n for n in expected if n in actual and expected[n] != actual[n]
            })  # fmt: skip
            print(f"{directory} is stale ({', '.join(stale)}): run `make generate`")
            status = 1
        stale_chart = chart.stale(charted)
        if stale_chart:
            print(f"{charted} is stale ({', '.join(stale_chart)}): run `make generate`")
            status = 1
        stale_docs = docgen.stale()
        if stale_docs:
            print(f"docs/reference is stale ({', '.join(stale_docs)}): run `make generate`")
            status = 1
        if status == 0:
            print("up to date")
        return status
    for path in [*crdgen.write(directory), *chart.write(charted), *docgen.write()]:
        print(path)
    return 0


DEVCLOUD_ACTIONS = ["build", "up", "down", "destroy", "status", "kubeconfig", "env", "kubectl",
                    "helm", "metrics-url", "openstack-env", "simulate", "upstream"]  # fmt: skip
# The actions that pass the rest of the command line to a pinned tool, pointed at the cloud.
PASSTHROUGH = ("kubectl", "helm")


def _exports(cloud: cluster.DevCloud) -> list[str]:
    """The shell lines that point kubectl at the cloud: its kubeconfig, and the pinned kubectl
    first on PATH (another one already there would be used silently, and may be too old)."""
    from nimbus.devcloud import build

    return [
        f"export KUBECONFIG={cloud.kubeconfig}",
        f"export PATH={build.binary('kubectl').parent}:$PATH",
    ]


def _devcloud(args: argparse.Namespace) -> int:
    from nimbus.devcloud import build, cluster

    cloud = cluster.DevCloud(pathlib.Path(args.dir) if args.dir else None)
    if args.action == "build":
        for name, path in build.ensure(list(build.COMPONENTS)).items():
            print(f"{name}: {path}")
    elif args.action == "upstream":
        from nimbus.devcloud import manifests

        for path in manifests.write():
            print(path)
    elif args.action == "simulate":
        from nimbus.devcloud import simulators

        simulators.run()
    elif args.action == "up":
        ready_after = cloud.up(operator=not args.no_operator)
        started = f"apiserver ready in {ready_after:.1f}s" if ready_after else "already running"
        print(f"devcloud up ({started}); kubeconfig: {cloud.kubeconfig}")
        for line in _exports(cloud):
            print(f"  {line}")
        metrics = cloud.metrics_url()
        if metrics is not None:
            print(f"  operator metrics: {metrics}")
        dashboard = cloud.dashboard_url()
        if dashboard is not None:
            print(f"  dashboard: {dashboard}")
    elif args.action == "down":
        # each component is given up to 15 s to stop: say what is under way
        print(f"stopping the local cloud in {cloud.run_dir} (its data stays) ...", flush=True)
        cloud.down()
        print("devcloud down")
    elif args.action == "destroy":
        print(f"stopping the local cloud and deleting {cloud.run_dir} ...", flush=True)
        cloud.destroy()
        print(f"devcloud destroyed ({cloud.run_dir})")
    elif args.action == "status":
        status = cloud.status()
        for name, state in status.items():
            print(f"{name:24} {state}")
        return 0 if cloud.running(operator=True) else 3
    elif args.action == "kubeconfig":
        print(cloud.kubeconfig)
    elif args.action == "env":
        print("\n".join(_exports(cloud)))
    elif args.action == "openstack-env":
        url = cloud.openstack_url()
        if url is None:
            print(f"no OpenStack API runs in {cloud.run_dir}: nimbus devcloud up",
                  file=sys.stderr)  # fmt: skip
            return 3
        print(f"export OS_CLIENT_CONFIG_FILE={cloud.clouds_yaml}\nexport OS_CLOUD=nimbus-demo")
    elif args.action == "metrics-url":
        metrics = cloud.metrics_url()
        if metrics is None:
            print(f"no operator runs in {cloud.run_dir}: nimbus devcloud up", file=sys.stderr)
            return 3
        print(metrics)
    elif args.action in PASSTHROUGH:
        tool = str(build.ensure([args.action])[args.action])  # built on first use
        os.execv(tool, [tool, f"--kubeconfig={cloud.kubeconfig}", *args.kubectl_args])
    return 0


def _run(args: argparse.Namespace) -> int:
    from nimbus import operator

    operator.run(
        namespaces=args.namespace, liveness=args.liveness, metrics_address=args.metrics_address
    )
    return 0


def _extender(args: argparse.Namespace) -> int:
    from nimbus.scheduler import extender

    extender.run(args.listen, args.config)
    return 0


def _api(args: argparse.Namespace) -> int:
    from nimbus.openstack import server

    server.run(
        args.listen,
        public_url=args.public_url,
        system_namespace=args.system_namespace,
        rotate_keys=args.action == "rotate-keys",
        expiration=args.token_expiration,
        lockout_failure_attempts=args.lockout_failure_attempts,
        lockout_duration=args.lockout_duration,
        tls_cert_file=args.tls_cert_file,
        tls_key_file=args.tls_key_file,
    )
    return 0


def _router_agent(args: argparse.Namespace) -> int:
    import asyncio

    from nimbus.network import agent

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return asyncio.run(
        agent.run(
            args.namespace,
            args.router,
            interval=args.interval,
            once=args.once,
            netns=args.netns,
            speaker=args.speaker,
            run_dir=pathlib.Path(args.run_dir),
        )
    )


def _amphora_agent(args: argparse.Namespace) -> int:
    import asyncio

    from nimbus.loadbalancer import agent

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return asyncio.run(
        agent.run(
            args.namespace,
            args.load_balancer,
            run_dir=pathlib.Path(args.run_dir),
            interval=args.interval,
            netns=args.netns,
        )
    )


def _check(args: argparse.Namespace) -> int:
    from nimbus import check

    return check.run(args.namespace, args.webhook)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="nimbus", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the operator (kopf) against $KUBECONFIG")
    run.add_argument("--namespace", "-n", action="append", help="watch only this namespace")
    run.add_argument("--liveness", help="serve /healthz, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument(
        "--metrics-bind-address",
        dest="metrics_address",
        default=os.environ.get("NIMBUS_METRICS_BIND_ADDRESS"),
        help="serve Prometheus /metrics and /healthz there, e.g. 127.0.0.1:8080 (default: "
        "$NIMBUS_METRICS_BIND_ADDRESS; unset or 0: not served)",
    )
    run.set_defaults(func=_run)

    extender = commands.add_parser(
        "extender", help="serve placement (Nova's filter scheduler) to kube-scheduler"
    )
    extender.add_argument("--listen", default="127.0.0.1:8888", help="default: %(default)s")
    extender.add_argument(
        "--config", help="placement configuration (YAML, Nova's option names); read on change"
    )
    extender.set_defaults(func=_extender)

    api = commands.add_parser(
        "api", help="serve the OpenStack API (Keystone v3, Nova, Glance, Neutron) over Nimbus"
    )
    api.add_argument(
        "action", nargs="?", default="serve", choices=("serve", "rotate-keys"),
        help="serve (default), or rotate the Fernet keys once, as keystone-manage fernet_rotate",
    )  # fmt: skip
    api.add_argument("--listen", default="127.0.0.1:5000", help="default: %(default)s")
    api.add_argument(
        "--public-url",
        default=os.environ.get("NIMBUS_API_PUBLIC_URL"),
        help="where clients reach the API, the catalog's base (default: "
        "$NIMBUS_API_PUBLIC_URL, else http://<listen>)",
    )
    api.add_argument(
        "--system-namespace",
        default=os.environ.get("NIMBUS_SYSTEM_NAMESPACE", "nimbus-system"),
        help="where the Fernet keys, password hashes and revocations are (default: "
        "$NIMBUS_SYSTEM_NAMESPACE, else %(default)s)",
    )
    api.add_argument(
        "--token-expiration", type=int,
        default=int(os.environ.get("NIMBUS_API_TOKEN_EXPIRATION", "3600")),
        help="seconds a token lasts, Keystone's [token] expiration (default: "
        "$NIMBUS_API_TOKEN_EXPIRATION, else %(default)s)",
    )  # fmt: skip
    api.add_argument(
        "--lockout-failure-attempts", type=int,
        default=int(os.environ.get("NIMBUS_API_LOCKOUT_FAILURE_ATTEMPTS", "6")),
        help="failed logins in a row that lock a user out, Keystone's lockout_failure_attempts;"
        " 0: never (default: $NIMBUS_API_LOCKOUT_FAILURE_ATTEMPTS, else %(default)s)",
    )  # fmt: skip
    api.add_argument(
        "--lockout-duration", type=int,
        default=int(os.environ.get("NIMBUS_API_LOCKOUT_DURATION", "1800")),
        help="seconds a locked-out user stays locked, Keystone's lockout_duration (default: "
        "$NIMBUS_API_LOCKOUT_DURATION, else %(default)s)",
    )  # fmt: skip
    api.add_argument("--tls-cert-file", help="serve HTTPS with this certificate (PEM)")
    api.add_argument("--tls-key-file", help="the certificate's key (PEM)")
    api.set_defaults(func=_api)

    agent = commands.add_parser(
        "router-agent",
        help="program this network namespace as a Router's data path (the router pod's agent)",
    )
    agent.add_argument("--namespace", required=True, help="the router's project (namespace)")
    agent.add_argument("--router", required=True, help="the Router's name")
    agent.add_argument("--once", action="store_true", help="apply once and exit (1: failed)")
    agent.add_argument("--interval", type=float, default=2.0, help="seconds between reads")
    agent.add_argument(
        "--netns", help="program this named network namespace (ip netns) instead of its own"
    )
    agent.add_argument(
        "--speaker", help="an HA router's VRRP speaker name (default: $POD_NAME, else the host)"
    )
    agent.add_argument(
        "--run-dir", default="/run/nimbus-router", help="keepalived's files (default: %(default)s)"
    )
    agent.set_defaults(func=_router_agent)

    amphora = commands.add_parser(
        "amphora-agent",
        help="run HAProxy for a LoadBalancer in this network namespace (the amphora pod's agent)",
    )
    amphora.add_argument("--namespace", required=True, help="the load balancer's project")
    amphora.add_argument("--load-balancer", required=True, help="the LoadBalancer's name")
    amphora.add_argument("--run-dir", default="/run/amphora", help="HAProxy's configuration "
                         "and stats socket (default: %(default)s)")  # fmt: skip
    amphora.add_argument("--interval", type=float, default=2.0, help="seconds between reads")
    amphora.add_argument(
        "--netns", help="hold the VIP and run HAProxy in this named network namespace (ip netns)"
    )
    amphora.set_defaults(func=_amphora_agent)

    checking = commands.add_parser(
        "check", help="check an installed Nimbus: CRDs, schema, webhook (the chart's helm test)"
    )
    checking.add_argument("--namespace", default="default", help="where the dry-run Server goes")
    checking.add_argument("--webhook", action="store_true", help="check the admission webhook")
    checking.set_defaults(func=_check)

    generate = commands.add_parser(
        "generate", help="write crds/*.yaml and the chart's generated files from the models"
    )
    generate.add_argument("--output", default=str(REPO / "crds"), help="default: %(default)s")
    generate.add_argument(
        "--chart", default=str(REPO / "charts" / "nimbus"), help="default: %(default)s"
    )
    generate.add_argument("--check", action="store_true", help="fail if the files are stale")
    generate.set_defaults(func=_generate)

    devcloud = commands.add_parser("devcloud", help="the local control plane")
    devcloud.add_argument(
        "action",
        choices=DEVCLOUD_ACTIONS,
    )
    devcloud.add_argument(
        "--no-operator", action="store_true", help="with up: start no operator (tests run theirs)"
    )
    devcloud.add_argument("--dir", help="run directory (default: $NIMBUS_DEVCLOUD_DIR or "
                          "~/.local/state/nimbus/devcloud)")  # fmt: skip
    devcloud.set_defaults(func=_devcloud)
    return root


def main(argv: list[str] | None = None) -> int:
    root = parser()
    args, rest = root.parse_known_args(argv)
    if rest and not (args.command == "devcloud" and args.action in PASSTHROUGH):
        root.error(f"unrecognized arguments: {' '.join(rest)}")
    args.kubectl_args = rest
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
