"""The local cloud's components as commands: what each runs, with which flags, given the cloud's
directory, ports and PKI, and the content of the configuration files they read. Pure: nothing
here starts a process or writes a file (cluster.py supervises)."""

from __future__ import annotations

import base64
import pathlib
import sys
from collections.abc import Sequence

import yaml

from nimbus.devcloud import pki
from nimbus.scheduler import configuration

# Nimbus's own processes, each a `python -m nimbus` command: the simulators, the placement
# extender, and the operator (optional: tests run their own).
PYTHON_COMPONENTS = {
    "simulators": ("devcloud", "simulate"),
    "extender": ("extender",),
    "operator": ("run",),
}
# Components that run a binary of another name.
BINARIES = {"nimbus-scheduler": "kube-scheduler"}
# The ports a cloud listens on (all on 127.0.0.1), picked free at each start.
PORTS = ("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler", "kwok",
         "extender", "nimbus-scheduler", "webhook", "virt-api")  # fmt: skip

# The names the simulated virt-api's certificate is for: the API server checks the one of the
# APIService's Service (<service>.<namespace>.svc).
VIRT_API_NAMES = ("virt-api.kubevirt.svc", "localhost")

PLACEMENT_CONFIG = """\
# Placement's configuration, in nova.conf's option names (docs/placement.md). The extender
# reads this file again when it changes. Unset options are Nova's defaults.
filter_scheduler: {}
compute: {}
"""


def etcd_args(data_dir: pathlib.Path, ports: dict[str, int]) -> list[str]:
    client = f"http://127.0.0.1:{ports['etcd']}"
    peer = f"http://127.0.0.1:{ports['etcd-peer']}"
    return [
        "--name=nimbus",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=nimbus={peer}",
        "--unsafe-no-fsync",  # a throw-away dev cloud: speed over durability
        "--quota-backend-bytes=4294967296",
        "--log-level=warn",
    ]


def apiserver_args(pki_dir: pathlib.Path, ports: dict[str, int], *, profiling: bool) -> list[str]:
    return [
        f"--etcd-servers=http://127.0.0.1:{ports['etcd']}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={ports['apiserver']}",
        "--endpoint-reconciler-type=none",
        f"--tls-cert-file={pki_dir / 'apiserver.crt'}",
        f"--tls-private-key-file={pki_dir / 'apiserver.key'}",
        f"--client-ca-file={pki_dir / 'ca.crt'}",
        "--authorization-mode=RBAC",
        f"--token-auth-file={pki_dir / 'tokens.csv'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki_dir / 'sa.pub'}",
        f"--service-account-signing-key-file={pki_dir / 'sa.key'}",
        "--api-audiences=https://kubernetes.default.svc.cluster.local",
        "--service-cluster-ip-range=10.96.0.0/16",
        "--allow-privileged=true",
        # The aggregation layer: the API server proxies KubeVirt's subresources to the
        # simulated virt-api, presenting the front-proxy client certificate.
        f"--requestheader-client-ca-file={pki_dir / 'front-proxy-ca.crt'}",
        f"--requestheader-allowed-names={pki.FRONT_PROXY_CLIENT}",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={pki_dir / 'front-proxy-client.crt'}",
        f"--proxy-client-key-file={pki_dir / 'front-proxy-client.key'}",
        "--profiling=" + ("true" if profiling else "false"),
        # Debian's etcd 3.4 lacks RequestWatchProgress, which streaming lists need: served,
        # they fail mid-stream and a client such as KWOK retries them forever instead of
        # falling back to a plain list. Not served, every client lists.
        "--feature-gates=WatchList=false",
        "--v=1",
    ]


def _serving_args(kubeconfig: pathlib.Path) -> list[str]:
    """A Kubernetes component's secure port: on 127.0.0.1, its callers checked by the API server."""
    return [
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
    ]


def _component_kubeconfig_args(kubeconfig: pathlib.Path) -> list[str]:
    return [f"--kubeconfig={kubeconfig}", *_serving_args(kubeconfig), "--leader-elect=false"]


def controller_manager_args(
    kubeconfig: pathlib.Path, pki_dir: pathlib.Path, ports: dict[str, int]
) -> list[str]:
    return [
        *_component_kubeconfig_args(kubeconfig),
        f"--secure-port={ports['controller-manager']}",
        f"--service-account-private-key-file={pki_dir / 'sa.key'}",
        f"--root-ca-file={pki_dir / 'ca.crt'}",
        f"--cluster-signing-cert-file={pki_dir / 'ca.crt'}",
        f"--cluster-signing-key-file={pki_dir / 'ca.key'}",
        "--use-service-account-credentials=false",
        "--v=1",
    ]


def scheduler_args(kubeconfig: pathlib.Path, ports: dict[str, int]) -> list[str]:
    return [*_component_kubeconfig_args(kubeconfig), f"--secure-port={ports['scheduler']}", "--v=1"]


def kwok_args(kubeconfig: pathlib.Path, ports: dict[str, int], stages: pathlib.Path) -> list[str]:
    return [
        f"--kubeconfig={kubeconfig}",
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        f"--server-address=127.0.0.1:{ports['kwok']}",
        "--node-ip=127.0.0.1",
        f"--config={stages}",
        "--node-lease-duration-seconds=40",
    ]


def extender_args(listen: str, config: pathlib.Path) -> tuple[str, ...]:
    return ("--listen", listen, "--config", str(config))


def nimbus_scheduler_config(extender_url: str, kubeconfig: pathlib.Path) -> str:
    """The nimbus-scheduler's KubeSchedulerConfiguration, calling the extender at `extender_url`."""
    return yaml.safe_dump(configuration.kube_scheduler_configuration(
        extender_url, kubeconfig=str(kubeconfig), leader_elect=False,
    ))  # fmt: skip


def nimbus_scheduler_args(
    config: pathlib.Path, kubeconfig: pathlib.Path, ports: dict[str, int]
) -> list[str]:
    return [
        f"--config={config}",
        *_serving_args(kubeconfig),
        f"--secure-port={ports['nimbus-scheduler']}",
        "--v=1",
    ]


def python_argv(name: str, args: Sequence[str] = ()) -> list[str]:
    """The command line of one of Nimbus's own processes, with this interpreter."""
    return [sys.executable, "-m", "nimbus", *PYTHON_COMPONENTS[name], *args]


def operator_env(
    kubeconfig: pathlib.Path, placement_config: pathlib.Path, webhook_port: int, certs: pathlib.Path
) -> dict[str, str]:
    """The operator with placement on, the admission webhook on 127.0.0.1 with the certificate
    in `certs`."""
    return {
        "KUBECONFIG": str(kubeconfig),
        "NIMBUS_PLACEMENT": "true",
        "NIMBUS_PLACEMENT_CONFIG": str(placement_config),
        "NIMBUS_WEBHOOK_ADDRESS": f"127.0.0.1:{webhook_port}",
        "NIMBUS_WEBHOOK_CERT_DIR": str(certs),
    }


def virt_api_env(port: int, certs: pathlib.Path, client_ca: pathlib.Path) -> dict[str, str]:
    """Where the simulated virt-api listens, with its certificate and the CA it trusts the
    API server's proxied requests by."""
    return {
        "NIMBUS_VIRT_API_ADDRESS": f"127.0.0.1:{port}",
        "NIMBUS_VIRT_API_CERT_DIR": str(certs),
        "NIMBUS_VIRT_API_CLIENT_CA": str(client_ca),
    }


def kubeconfig(port: int, ca: bytes, token: str) -> str:
    """The admin's kubeconfig for the API server on 127.0.0.1:`port`, trusting `ca` (PEM)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "nimbus-devcloud",
                "cluster": {
                    "server": f"https://127.0.0.1:{port}",
                    "certificate-authority-data": base64.b64encode(ca).decode(),
                },
            }
        ],
        "users": [
            {
                "name": "nimbus-admin",
                "user": {
                    "token": token,
                },
            }
        ],
        "contexts": [
            {
                "name": "nimbus-devcloud",
                "context": {"cluster": "nimbus-devcloud", "user": "nimbus-admin"},
            }
        ],
        "current-context": "nimbus-devcloud",
    }
    return yaml.safe_dump(config)
