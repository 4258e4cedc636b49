"""The local cloud's components as commands: what each runs, with which flags, given the cloud's
directory, ports and PKI, and the content of the configuration files they read. Pure: nothing
here starts a process or writes a file (cluster.py supervises)."""

from __future__ import annotations

import base64
import copy
import pathlib
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from nimbus.devcloud import pki
from nimbus.openstack import rbac
from nimbus.scheduler import configuration

# Nimbus's own processes, each a `python -m nimbus` command: the simulators, the placement
# extender, and the operator (optional: tests run their own).
PYTHON_COMPONENTS = {
    "simulators": ("devcloud", "simulate"),
    "extender": ("extender",),
    "operator": ("run",),
    "openstack-api": ("api",),
}
# Python processes that are not `nimbus` commands: Horizon, over the OpenStack API.
PYTHON_MODULES = {"dashboard": ("nimbus.dashboard", "serve")}
# Components that run a binary of another name.
BINARIES = {"nimbus-scheduler": "kube-scheduler"}
# The ports a cloud listens on (all on 127.0.0.1), picked free at each start.
PORTS = ("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler", "kwok",
         "extender", "nimbus-scheduler", "webhook", "operator-metrics", "virt-api",
         "virt-controller", "virt-handler", "cdi-apiserver", "cdi-controller",
         "cdi-controller-health", "openstack-api", "dashboard")  # fmt: skip

# The names virt-api's certificate is for: the API server checks the one of the APIService's
# Service (<service>.<namespace>.svc), and calls the webhooks at 127.0.0.1.
VIRT_API_NAMES = ("virt-api.kubevirt.svc", "localhost")
KUBEVIRT_NAMESPACE = "kubevirt"
# And cdi-apiserver's; CDI's packages take their namespace from the service account's file, or
# "cdi" (it cannot be another, outside a pod).
CDI_API_NAMES = ("cdi-api.cdi.svc", "localhost")
CDI_NAMESPACE = "cdi"
SYSTEM_NAMESPACE = "nimbus-system"  # Nimbus's own: the API's keys, password hashes

# Who each of KubeVirt's and CDI's processes is to the API server: the service accounts
# virt-operator and cdi-operator would run them as (the names their webhooks trust, and the
# subjects of their RBAC), with the groups a service account's token carries. The simulated
# virt-handler writes as the handler.
IDENTITIES = {
    "virt-api": (KUBEVIRT_NAMESPACE, "kubevirt-apiserver"),
    "virt-controller": (KUBEVIRT_NAMESPACE, "kubevirt-controller"),
    "virt-handler": (KUBEVIRT_NAMESPACE, "kubevirt-handler"),
    "cdi-apiserver": (CDI_NAMESPACE, "cdi-apiserver"),
    "cdi-controller": (CDI_NAMESPACE, "cdi-sa"),
    # Nimbus's OpenStack API, held to nimbus.openstack.rbac as the chart holds it.
    "nimbus-api": (SYSTEM_NAMESPACE, "nimbus-api"),
}


def service_account_user(namespace: str, name: str) -> tuple[str, list[str]]:
    """The user name and groups of a service account, as the API server authenticates it."""
    groups = [
        "system:serviceaccounts",
        f"system:serviceaccounts:{namespace}",
        "system:authenticated",
    ]
    return f"system:serviceaccount:{namespace}:{name}", groups


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
        # aggregated API servers (virt-api, cdi-apiserver), presenting the front-proxy client
        # certificate.
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


def kwok_stages(kwok: str, ours: str) -> str:
    """KWOK's configuration: its own node and pod stages (node-fast, pod-fast), then ours, which
    finish CDI's worker pods (devcloud/stages/)."""
    return f"{kwok.rstrip()}\n---\n{ours}"


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
    if name in PYTHON_MODULES:
        return [sys.executable, "-m", *PYTHON_MODULES[name], *args]
    return [sys.executable, "-m", "nimbus", *PYTHON_COMPONENTS[name], *args]


def operator_env(
    kubeconfig: pathlib.Path,
    placement_config: pathlib.Path,
    webhook_port: int,
    certs: pathlib.Path,
    metrics_port: int | None = None,
) -> dict[str, str]:
    """The operator as the chart runs it: placement on, the admission webhook on 127.0.0.1 with
    the certificate in `certs`, and (given a port) /metrics and /healthz on 127.0.0.1."""
    env = {
        "KUBECONFIG": str(kubeconfig),
        "NIMBUS_PLACEMENT": "true",
        "NIMBUS_PLACEMENT_CONFIG": str(placement_config),
        "NIMBUS_WEBHOOK_ADDRESS": f"127.0.0.1:{webhook_port}",
        "NIMBUS_WEBHOOK_CERT_DIR": str(certs),
    }
    if metrics_port is not None:
        env["NIMBUS_METRICS_BIND_ADDRESS"] = f"127.0.0.1:{metrics_port}"
    return env


def kubeconfig(port: int, ca: bytes, token: str, user: str = "nimbus-admin") -> str:
    """A kubeconfig for the API server on 127.0.0.1:`port`, trusting `ca` (PEM), as the user
    of `token` (the admin's by default)."""
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
                "name": user,
                "user": {
                    "token": token,
                },
            }
        ],
        "contexts": [
            {
                "name": "nimbus-devcloud",
                "context": {"cluster": "nimbus-devcloud", "user": user},
            }
        ],
        "current-context": "nimbus-devcloud",
    }
    return yaml.safe_dump(config)


def virt_api_args(
    kubeconfig: pathlib.Path, certs: pathlib.Path, kubevirt_pki: pathlib.Path, ports: dict[str, int]
) -> list[str]:
    """KubeVirt's virt-api on 127.0.0.1: its webhooks and the aggregated subresources API with
    the certificate in `certs`, calling the (simulated) virt-handler with KubeVirt's client
    certificate at the port it serves."""
    return [
        f"--kubeconfig={kubeconfig}",
        "--listen=127.0.0.1",
        f"--port={ports['virt-api']}",
        f"--tls-cert-file={certs / 'tls.crt'}",
        f"--tls-key-file={certs / 'tls.key'}",
        f"--handler-cert-file={kubevirt_pki / 'client.crt'}",
        f"--handler-key-file={kubevirt_pki / 'client.key'}",
        f"--console-server-port={ports['virt-handler']}",
    ]


def virt_controller_args(
    kubeconfig: pathlib.Path, certs: pathlib.Path, ports: dict[str, int], version: str
) -> list[str]:
    """KubeVirt's virt-controller on 127.0.0.1 (its health and metrics port, with a serving
    certificate); the launcher image it names is never pulled (pods run on KWOK nodes). It
    always elects a leader and exits when it loses the lease; with one replica, a lease that
    outlives an API server restart (the others here run without leader election)."""
    return [
        f"--kubeconfig={kubeconfig}",
        "--leader-elect-lease-duration=120s",
        "--leader-elect-renew-deadline=100s",
        "--listen=127.0.0.1",
        f"--port={ports['virt-controller']}",
        f"--prom-cert-file={certs / 'tls.crt'}",
        f"--prom-key-file={certs / 'tls.key'}",
        f"--launcher-image=quay.io/kubevirt/virt-launcher:{version}",
        f"--exporter-image=quay.io/kubevirt/virt-exportserver:{version}",
    ]


def virt_handler_env(
    port: int, kubevirt_pki: pathlib.Path, kubeconfig: pathlib.Path
) -> dict[str, str]:
    """Where the simulated virt-handler serves virt-api (pause, unpause) and as whom it writes."""
    return {
        "NIMBUS_VIRT_HANDLER_ADDRESS": f"127.0.0.1:{port}",
        "NIMBUS_VIRT_HANDLER_PKI": str(kubevirt_pki),
        "NIMBUS_VIRT_HANDLER_KUBECONFIG": str(kubeconfig),
    }


# What the local cloud's KubeVirt resource enables, as a cluster running Nimbus must: Nimbus
# attaches and detaches a volume by editing the VM's template (a hotpluggable volume), which
# virt-controller carries to the running instance only with this gate on (and KubeVirt's
# HotplugVolumes gate, for the imperative addvolume API, off).
KUBEVIRT_FEATURE_GATES = ("DeclarativeHotplugVolumes",)


def kubevirt_resource() -> dict[str, Any]:
    """The KubeVirt resource virt-operator would deploy from, whose configuration virt-api and
    virt-controller read (once its status has a phase: KUBEVIRT_DEPLOYED, which `up` writes)."""
    return {
        "apiVersion": "kubevirt.io/v1", "kind": "KubeVirt",
        "metadata": {"name": "kubevirt", "namespace": KUBEVIRT_NAMESPACE},
        "spec": {"configuration": {"developerConfiguration": {
            "featureGates": list(KUBEVIRT_FEATURE_GATES)}}},
    }  # fmt: skip


# What virt-operator writes in the resource's status once KubeVirt is deployed: virt-api and
# virt-controller read the configuration only then, and the default architecture from here.
KUBEVIRT_DEPLOYED = {"status": {"phase": "Deployed", "defaultArchitecture": "amd64"}}


def kubevirt_objects(
    printed: list[dict[str, Any]], *, port: int, ca: bytes, kubevirt_ca: bytes, version: str
) -> list[dict[str, Any]]:
    """What virt-operator would install besides the CRDs, from what KubeVirt's generators
    printed (devcloud/manifests.py): virt-api's
    webhooks called at 127.0.0.1:`port` and its APIServices through an ExternalName Service
    (no Service of a cluster IP can lead to a loopback address), both trusting `ca`; KubeVirt's
    CA for virt-api and virt-handler; and virt-handler's DaemonSet, whose pods on the KWOK nodes
    (on the host network, so at 127.0.0.1) are where virt-api finds a node's handler."""
    bundle = base64.b64encode(ca).decode()
    namespace = KUBEVIRT_NAMESPACE
    objects: list[dict[str, Any]] = [
        *_served_on_loopback(namespace, "virt-api", port),
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "kubevirt-ca", "namespace": namespace},
         "data": {"ca-bundle": kubevirt_ca.decode()}},
        _virt_handler_daemon_set(namespace, version),
        kubevirt_resource(),
    ]  # fmt: skip
    return objects + _served_at(printed, port, bundle)


def _served_on_loopback(namespace: str, service: str, port: int) -> list[dict[str, Any]]:
    """The namespace, and the Service an APIService names, as an ExternalName naming 127.0.0.1
    (no Service of a cluster IP can lead to a loopback address)."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": service, "namespace": namespace},
         "spec": {"type": "ExternalName", "externalName": "127.0.0.1",
                  "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}},
    ]  # fmt: skip


def _served_at(printed: list[dict[str, Any]], port: int, bundle: str) -> list[dict[str, Any]]:
    """The printed objects but the CRDs (kept under upstream/, installed with the others), with
    the webhooks called at 127.0.0.1:`port` and the APIServices' Service port set, both
    trusting the CA `bundle` (base64)."""
    objects = []
    for original in printed:
        if original["kind"] == "CustomResourceDefinition":
            continue
        obj = copy.deepcopy(original)
        obj["metadata"].pop("creationTimestamp", None)
        obj.pop("status", None)
        kind = obj["kind"]
        if kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
            for webhook in obj["webhooks"]:
                service = webhook["clientConfig"].pop("service")
                webhook["clientConfig"] = {
                    "url": f"https://127.0.0.1:{port}{service.get('path', '')}",
                    "caBundle": bundle,
                }
        elif kind == "APIService":
            obj["spec"]["service"]["port"] = port
            obj["spec"]["caBundle"] = bundle
        objects.append(obj)
    return objects


def cdi_objects(
    printed: list[dict[str, Any]],
    *,
    port: int,
    ca: bytes,
    upload_signers: dict[str, bytes],
) -> list[dict[str, Any]]:
    """What cdi-operator would install besides the CRDs, from what CDI's generators printed:
    cdi-apiserver's webhooks at 127.0.0.1:`port` and its upload APIService through an
    ExternalName Service, trusting `ca`; and the upload signers' CA bundles (`upload_signers`:
    server and client, PEM)."""
    namespace = CDI_NAMESPACE
    objects: list[dict[str, Any]] = [
        *_served_on_loopback(namespace, "cdi-api", port),
        *({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": f"cdi-{signer}-bundle", "namespace": namespace},
           "data": {"ca-bundle.crt": upload_signers[signer].decode()}}
          for signer in ("uploadserver-signer", "uploadserver-client-signer")),
    ]  # fmt: skip
    return objects + _served_at(printed, port, base64.b64encode(ca).decode())


def cdi_resources(storage_class: str) -> list[dict[str, Any]]:
    """What CDI's API server admits once it runs: the CDI resource (without which no importer
    runs), and the StorageProfile of the local storage class, whose simulated provisioner CDI
    cannot know the access modes and volume mode of."""
    return [
        {"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "CDI", "metadata": {"name": "cdi"},
         "spec": {}},
        {"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "StorageProfile",
         "metadata": {"name": storage_class},
         "spec": {"claimPropertySets": [
             {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"}]}},
    ]  # fmt: skip


def cdi_apiserver_args(kubeconfig: pathlib.Path, certs: pathlib.Path, port: int) -> list[str]:
    """cdi-apiserver (through our main: CDI's listens on every interface) on 127.0.0.1."""
    return [
        f"--kubeconfig={kubeconfig}",
        f"--listen=127.0.0.1:{port}",
        f"--tls-cert-file={certs / 'tls.crt'}",
        f"--tls-private-key-file={certs / 'tls.key'}",
    ]


def cdi_controller_args(
    kubeconfig: pathlib.Path, cdi_pki: pathlib.Path, run_dir: pathlib.Path, ports: dict[str, int]
) -> list[str]:
    """cdi-controller (through our main: CDI's hard-codes a port on every interface and paths
    under /var/run and /tmp) on 127.0.0.1, with its clone-token keys from the Secret
    cdi-apiserver makes, and the upload signers in `cdi_pki`. The images it names are never
    pulled (its pods run on KWOK nodes, finished by KWOK stages)."""
    return [
        f"--kubeconfig={kubeconfig}",
        "--leader-elect=false",
        f"--metrics-bind-address=127.0.0.1:{ports['cdi-controller']}",
        f"--health-probe-bind-address=127.0.0.1:{ports['cdi-controller-health']}",
        f"--ready-file={run_dir / 'cdi-controller.ready'}",
        "--token-key-secret=cdi-api-signing-key",
        f"--uploadserver-signer-cert={cdi_pki / 'uploadserver-signer.crt'}",
        f"--uploadserver-signer-key={cdi_pki / 'uploadserver-signer.key'}",
        f"--uploadserver-client-signer-cert={cdi_pki / 'uploadserver-client-signer.crt'}",
        f"--uploadserver-client-signer-key={cdi_pki / 'uploadserver-client-signer.key'}",
    ]


def _virt_handler_daemon_set(namespace: str, version: str) -> dict[str, Any]:
    labels = {"kubevirt.io": "virt-handler"}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "virt-handler", "namespace": namespace, "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": "kubevirt-handler",
                    "hostNetwork": True,
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [
                        {
                            "name": "virt-handler",
                            "image": f"quay.io/kubevirt/virt-handler:{version}",
                        }
                    ],
                },
            },
        },
    }


def openstack_api_env(kubeconfig: pathlib.Path, port: int) -> dict[str, str]:
    """`nimbus api` on 127.0.0.1:`port`, as its own identity."""
    return {
        "KUBECONFIG": str(kubeconfig),
        "NIMBUS_SYSTEM_NAMESPACE": SYSTEM_NAMESPACE,
        "NIMBUS_API_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }


def dashboard_env(openstack_port: int, secret_key_file: pathlib.Path,
                  static_root: pathlib.Path) -> dict[str, str]:  # fmt: skip
    """Horizon (nimbus.dashboard.settings) over the API on 127.0.0.1:`openstack_port`."""
    return {
        "NIMBUS_DASHBOARD_KEYSTONE_URL": f"http://127.0.0.1:{openstack_port}/v3",
        "NIMBUS_DASHBOARD_SECRET_KEY_FILE": str(secret_key_file),
        "NIMBUS_DASHBOARD_STATIC_ROOT": str(static_root),
        "NIMBUS_DASHBOARD_ALLOWED_HOSTS": "127.0.0.1,localhost",
    }


def openstack_api_objects() -> list[dict[str, Any]]:
    """The system namespace, and the API's RBAC for its service account."""
    account = {"kind": "ServiceAccount", "name": "nimbus-api", "namespace": SYSTEM_NAMESPACE}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NAMESPACE}},
        *rbac.objects(SYSTEM_NAMESPACE, account),
    ]


def clouds_yaml(port: int) -> str:
    """A clouds.yaml naming the local cloud's API as `nimbus-demo`: the demo project's admin,
    alice (examples/07-users.yaml); the password comes from $OS_PASSWORD."""
    cloud = {
        "auth": {"auth_url": f"http://127.0.0.1:{port}/v3", "username": "alice",
                 "project_name": "demo", "user_domain_name": "Default",
                 "project_domain_name": "Default"},
        "region_name": "RegionOne", "interface": "public", "identity_api_version": 3,
    }  # fmt: skip
    return yaml.safe_dump({"clouds": {"nimbus-demo": cloud}}, sort_keys=False)
