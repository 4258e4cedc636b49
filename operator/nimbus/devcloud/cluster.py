"""The local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, KWOK,
and Nimbus's own processes beside it. This module supervises them (start in order, wait until
ready, restart, stop, logs, ports); what each runs, with which flags, is in components.py."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any

import yaml

from nimbus.dashboard import static
from nimbus.devcloud import build, components, manifests, pki
from nimbus.generate import crdgen

UPSTREAM_CRDS = pathlib.Path(__file__).parent / "upstream"
# The KWOK stages that finish CDI's worker pods (importer, clone source, upload server).
CDI_STAGES = pathlib.Path(__file__).parent / "stages" / "cdi.yaml"

# Start order; stopped in reverse.
CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
# KubeVirt's and CDI's control planes: the API servers (their webhooks judge every VM and
# DataVolume) before the Kubernetes controllers, their controllers after them.
KUBEVIRT = ("cdi-apiserver", "virt-api", "cdi-controller", "virt-controller")
# The nimbus-scheduler: a second kube-scheduler, calling the extender (after the extender).
PLACEMENT = ("extender", "nimbus-scheduler")
# Every component, as `status` lists them; `down` stops them in reverse.
COMPONENTS = (
    *CONTROL_PLANE,
    *KUBEVIRT,
    "simulators",
    *PLACEMENT,
    "operator",
    "openstack-api",
    "dashboard",
)

# The simulated nodes: capacity as node labels, as placement reads them.
NODES = (
    {"name": "compute-1", "zone": "zone-a", "vcpus": 16, "memory_mb": 65536, "disk_gb": 500},
    {"name": "compute-2", "zone": "zone-a", "vcpus": 16, "memory_mb": 65536, "disk_gb": 500},
    {"name": "compute-3", "zone": "zone-b", "vcpus": 32, "memory_mb": 131072, "disk_gb": 1000},
)


# The default storage, served by the simulated CSI driver (simulators/csi.py).
SIMULATED_DRIVER = "simulated.csi.nimbus.dev"
DEFAULT_STORAGE_CLASS = "standard"
STORAGE = (
    {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": DEFAULT_STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": SIMULATED_DRIVER,
        "allowVolumeExpansion": True,
        "volumeBindingMode": "Immediate",
        "reclaimPolicy": "Delete",
    },
    {
        "apiVersion": "snapshot.storage.k8s.io/v1",
        "kind": "VolumeSnapshotClass",
        "metadata": {
            "name": "standard",
            "annotations": {"snapshot.storage.kubernetes.io/is-default-class": "true"},
        },
        "driver": SIMULATED_DRIVER,
        "deletionPolicy": "Delete",
    },
)


class DevCloudError(RuntimeError):
    """The local control plane could not be brought up; the message says why and where to look."""


def default_run_dir() -> pathlib.Path:
    """$NIMBUS_DEVCLOUD_DIR, or ~/.local/state/nimbus/devcloud."""
    state = pathlib.Path(os.environ.get("XDG_STATE_HOME", pathlib.Path.home() / ".local/state"))
    return pathlib.Path(os.environ.get("NIMBUS_DEVCLOUD_DIR", state / "nimbus" / "devcloud"))


def _free_ports(count: int) -> list[int]:
    """`count` distinct free ports on 127.0.0.1: every socket stays bound until all are picked,
    so no two picks can be the same port."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def _stat(pid: int) -> tuple[str, str] | None:
    """The name and state letter of a process, or None when it is gone."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    return name, stat[stat.rindex(")") + 2]


def _alive(pid: int, name: str) -> bool:
    """True when `pid` runs and is still the component we started (pids get reused).

    The kernel's name of the process (15 characters at most) is set early in exec, before
    Popen returns; /proc/<pid>/cmdline is not yet, so it cannot tell. Python components all
    have the interpreter's name, and are told apart by their command line.
    """
    stat = _stat(pid)
    if stat is None or stat[1] == "Z":
        return False
    if name in components.PYTHON_COMPONENTS:
        try:
            argv = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        words = [w.decode(errors="replace") for w in argv]
        python_command = " ".join(components.PYTHON_COMPONENTS[name])
        return "nimbus" in words and python_command in " ".join(words)
    if name in components.PYTHON_MODULES:
        try:
            argv = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        module_command = " ".join(components.PYTHON_MODULES[name])
        return module_command in " ".join(w.decode(errors="replace") for w in argv)
    return stat[0] == components.BINARIES.get(name, name)[:15]


class DevCloud:
    """One local control plane, living in a run directory (state, PKI, etcd data, logs)."""

    def __init__(self, run_dir: pathlib.Path | None = None) -> None:
        self.run_dir = (run_dir or default_run_dir()).resolve()
        self.pki_dir = self.run_dir / "pki"
        self.log_dir = self.run_dir / "logs"
        self.state_file = self.run_dir / "state.json"
        self.kubeconfig = self.run_dir / "kubeconfig"

    # -- state -------------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        if not self.state_file.exists():
            return {"ports": {}, "pids": {}}
        state: dict[str, Any] = json.loads(self.state_file.read_text())
        return state

    def _save(self, state: dict[str, Any]) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(state, indent=2))

    def status(self) -> dict[str, str]:
        """Each component with `running (pid N)` or `stopped`."""
        pids = self._state()["pids"]
        return {
            name: f"running (pid {pids[name]})"
            if name in pids and _alive(pids[name], name)
            else "stopped"
            for name in COMPONENTS
        }

    def running(self, *, operator: bool = False) -> bool:
        """True when the control planes, the simulators (and the operator, if asked) run."""
        wanted = [*CONTROL_PLANE, *KUBEVIRT, "simulators", *PLACEMENT]
        wanted += ["operator", "openstack-api", "dashboard"] if operator else []
        status = self.status()
        return all(status[name].startswith("running") for name in wanted) and self._ready()

    # -- up / down ---------------------------------------------------------------------------

    def up(self, *, log: bool = True, operator: bool = False) -> float:
        """Start what is not running, install the CRDs and nodes, start the simulators (and the
        operator, if asked); return seconds to /readyz, 0 when it was running already."""
        if self.running(operator=operator):
            self.install()
            self.configure()
            return 0.0
        self.down()
        binaries = build.ensure(log=log)
        etcd = shutil.which("etcd")
        if etcd is None:
            raise DevCloudError("etcd is not on PATH: install it (apt-get install etcd-server)")
        binaries["etcd"] = pathlib.Path(etcd)
        if not (self.pki_dir / "ca.crt").exists():
            pki.write_control_plane_pki(self.pki_dir)
        pki.write_front_proxy_pki(self.pki_dir)
        pki.write_serving_pki(
            self.virt_api_pki, "virt-api", components.VIRT_API_NAMES, ("127.0.0.1",)
        )
        pki.write_serving_pki(self.virt_controller_pki, "virt-controller", (), ("127.0.0.1",))
        pki.write_kubevirt_pki(self.kubevirt_pki)
        pki.write_serving_pki(self.cdi_api_pki, "cdi-api", components.CDI_API_NAMES, ("127.0.0.1",))
        pki.write_cdi_pki(self.cdi_pki)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        state = self._state()
        free = _free_ports(len(components.PORTS))
        state["ports"] = dict(zip(components.PORTS, free, strict=True))
        state["pids"] = {}
        self._save(state)
        ports = state["ports"]

        self._tokens()  # before the API server, which reads them
        started = time.monotonic()
        etcd_args = components.etcd_args(self.run_dir / "etcd", ports)
        self._start(state, "etcd", [str(binaries["etcd"]), *etcd_args])
        self._wait(f"http://127.0.0.1:{ports['etcd']}/health", "etcd", tls=False)
        self._start(state, "kube-apiserver", self._apiserver(binaries["kube-apiserver"], ports))
        self._wait(f"https://127.0.0.1:{ports['apiserver']}/readyz", "kube-apiserver")
        ready_after = time.monotonic() - started
        self._write_kubeconfig(ports["apiserver"])
        # The CRDs before kube-controller-manager: its quota controller counts only the kinds
        # it discovers at start (it looks again every 30 s, and a quota it could not count
        # waits for its next resync, 5 minutes on). CDI's before KubeVirt's processes: virt-api
        # and virt-controller start again when CDI's API appears.
        self.install()
        # The API servers before the controllers: they serve aggregated APIs, and a controller
        # that discovers one unavailable says so (and the namespace controller waits for it).
        cdi_apiserver_args = components.cdi_apiserver_args(
            self.identity_kubeconfig("cdi-apiserver"), self.cdi_api_pki, ports["cdi-apiserver"]
        )
        self._start(state, "cdi-apiserver", [str(binaries["cdi-apiserver"]), *cdi_apiserver_args])
        virt_api_args = components.virt_api_args(
            self.identity_kubeconfig("virt-api"), self.virt_api_pki, self.kubevirt_pki, ports
        )
        self._start(state, "virt-api", [str(binaries["virt-api"]), *virt_api_args])
        self._wait(
            f"https://127.0.0.1:{ports['virt-api']}/healthz", "virt-api",
            cafile=self.virt_api_pki / "ca.crt",
        )  # fmt: skip
        self._wait(
            f"https://127.0.0.1:{ports['cdi-apiserver']}/healthz", "cdi-apiserver",
            cafile=self.cdi_api_pki / "ca.crt",
        )  # fmt: skip
        self.configure()
        handler_env = components.virt_handler_env(
            ports["virt-handler"], self.kubevirt_pki, self.identity_kubeconfig("virt-handler")
        )
        self._start_python(state, "simulators", env=handler_env)
        controller_manager_args = components.controller_manager_args(
            self.kubeconfig, self.pki_dir, ports
        )
        self._start(
            state,
            "kube-controller-manager",
            [str(binaries["kube-controller-manager"]), *controller_manager_args],
        )
        scheduler_args = components.scheduler_args(self.kubeconfig, ports)
        self._start(state, "kube-scheduler", [str(binaries["kube-scheduler"]), *scheduler_args])
        stages = self.run_dir / "kwok-stages.yaml"
        stages.write_text(
            components.kwok_stages(build.kwok_stages().read_text(), CDI_STAGES.read_text())
        )
        kwok_args = components.kwok_args(self.kubeconfig, ports, stages)
        self._start(state, "kwok", [str(binaries["kwok"]), *kwok_args])
        cdi_controller_args = components.cdi_controller_args(
            self.identity_kubeconfig("cdi-controller"), self.cdi_pki, self.run_dir, ports
        )
        self._start(
            state, "cdi-controller", [str(binaries["cdi-controller"]), *cdi_controller_args]
        )
        virt_controller_args = components.virt_controller_args(
            self.identity_kubeconfig("virt-controller"), self.virt_controller_pki,
            ports, build.KUBEVIRT_VERSION,
        )  # fmt: skip
        self._start(
            state, "virt-controller", [str(binaries["virt-controller"]), *virt_controller_args]
        )
        self._start_placement(state, binaries["kube-scheduler"])
        self._wait(
            f"https://127.0.0.1:{ports['virt-controller']}/healthz", "virt-controller",
            cafile=self.virt_controller_pki / "ca.crt",
        )  # fmt: skip
        self._wait(
            f"http://127.0.0.1:{ports['cdi-controller-health']}/readyz", "cdi-controller",
            tls=False,
        )  # fmt: skip
        if operator:
            env = self.operator_env(ports["webhook"], ports["operator-metrics"])
            self._start_python(state, "operator", env=env)
            self.start_openstack_api(state)
            self.start_dashboard(state)
        return ready_after

    def _start_python(
        self,
        state: dict[str, Any],
        name: str,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        argv = components.python_argv(name, args)
        self._start(state, name, argv, env={"KUBECONFIG": str(self.kubeconfig), **(env or {})})

    def operator_env(self, webhook_port: int, metrics_port: int | None = None) -> dict[str, str]:
        """How this cloud runs the operator: placement on, the admission webhook on
        127.0.0.1 with a self-signed CA of its own (made once, in `webhook/`), and its
        /metrics on 127.0.0.1:`metrics_port` when given."""
        certs = self.run_dir / "webhook"
        pki.write_webhook_pki(certs)
        return components.operator_env(
            self.kubeconfig, self.placement_config, webhook_port, certs, metrics_port
        )

    def start_openstack_api(self, state: dict[str, Any]) -> None:
        """`nimbus api` as its own identity (components.IDENTITIES), and a clouds.yaml for
        it in the run directory."""
        port = state["ports"]["openstack-api"]
        env = components.openstack_api_env(self.identity_kubeconfig("nimbus-api"), port)
        args = (f"--listen=127.0.0.1:{port}",)
        self._start_python(state, "openstack-api", args, env=env)
        self.clouds_yaml.write_text(components.clouds_yaml(port))

    def start_dashboard(self, state: dict[str, Any]) -> None:
        """Horizon over the OpenStack API, its static files collected once per Horizon version
        (a few seconds, the first time) and its secret key made once in the run directory."""
        key = self.run_dir / "dashboard-secret-key"
        if not key.exists():
            key.write_text(secrets.token_urlsafe(48))
            key.chmod(0o600)
        port = state["ports"]["dashboard"]
        env = components.dashboard_env(state["ports"]["openstack-api"], key, static.collected())
        self._start_python(state, "dashboard", (f"--bind=127.0.0.1:{port}",), env=env)
        self._wait(f"http://127.0.0.1:{port}/auth/login/", "dashboard", tls=False)

    def dashboard_url(self) -> str | None:
        """Where the cloud's dashboard (Horizon) answers, or None when it does not run."""
        return self._served("dashboard", "dashboard", "/")

    @property
    def clouds_yaml(self) -> pathlib.Path:
        return self.run_dir / "clouds.yaml"

    def _served(self, component: str, port: str, path: str = "") -> str | None:
        """http://127.0.0.1:<port><path> while `component` runs, else None."""
        state = self._state()
        number, pid = state["ports"].get(port), state["pids"].get(component)
        if number is None or pid is None or not _alive(pid, component):
            return None
        return f"http://127.0.0.1:{number}{path}"

    def openstack_url(self) -> str | None:
        """Where the cloud's OpenStack API answers, or None when it does not run."""
        return self._served("openstack-api", "openstack-api")

    def metrics_url(self) -> str | None:
        """Where the cloud's operator serves Prometheus' /metrics, or None when none runs."""
        return self._served("operator", "operator-metrics", "/metrics")

    @property
    def virt_api_pki(self) -> pathlib.Path:
        return self.run_dir / "virt-api"

    @property
    def virt_controller_pki(self) -> pathlib.Path:
        """virt-controller's serving CA and certificate (its health and metrics port)."""
        return self.run_dir / "virt-controller"

    @property
    def kubevirt_pki(self) -> pathlib.Path:
        """KubeVirt's own CA, and the certificates virt-api and virt-handler talk with."""
        return self.run_dir / "kubevirt-pki"

    @property
    def cdi_api_pki(self) -> pathlib.Path:
        """cdi-apiserver's serving CA and certificate."""
        return self.run_dir / "cdi-api"

    @property
    def cdi_pki(self) -> pathlib.Path:
        """The CAs cdi-controller signs its upload servers' certificates with."""
        return self.run_dir / "cdi-pki"

    def _cdi_objects(self) -> list[dict[str, Any]]:
        """What cdi-operator would install, as CDI's generators print it (CRDs, RBAC, webhooks,
        the upload APIService), pointed at this cloud's cdi-apiserver."""
        port = self._state().get("ports", {}).get("cdi-apiserver")
        if port is None:
            return []
        signers = {name: (self.cdi_pki / f"{name}.crt").read_bytes()
                   for name in ("uploadserver-signer", "uploadserver-client-signer")}  # fmt: skip
        return components.cdi_objects(
            manifests.printed("cdi-manifests"), port=port,
            ca=(self.cdi_api_pki / "ca.crt").read_bytes(), upload_signers=signers,
        )  # fmt: skip

    def _kubevirt_objects(self) -> list[dict[str, Any]]:
        """What virt-operator would install, as KubeVirt's generators print it (CRDs, RBAC,
        webhooks, APIServices), pointed at this cloud's virt-api."""
        port = self._state().get("ports", {}).get("virt-api")
        if port is None:
            return []
        return components.kubevirt_objects(
            manifests.printed("kubevirt-manifests"),
            port=port,
            ca=(self.virt_api_pki / "ca.crt").read_bytes(),
            kubevirt_ca=(self.kubevirt_pki / "ca.crt").read_bytes(),
            version=build.KUBEVIRT_VERSION,
        )  # fmt: skip

    @property
    def placement_config(self) -> pathlib.Path:
        """Placement's configuration (Nova's option names); the extender reads it on change."""
        return self.run_dir / "placement.yaml"

    def _start_placement(self, state: dict[str, Any], kube_scheduler: pathlib.Path) -> None:
        """The extender, then the nimbus-scheduler calling it."""
        ports = state["ports"]
        if not self.placement_config.exists():
            self.placement_config.write_text(components.PLACEMENT_CONFIG)
        listen = f"127.0.0.1:{ports['extender']}"
        self._start_python(
            state, "extender", components.extender_args(listen, self.placement_config)
        )
        self._wait(f"http://{listen}/readyz", "extender", tls=False)
        config = self.run_dir / "nimbus-scheduler.yaml"
        config.write_text(components.nimbus_scheduler_config(f"http://{listen}/", self.kubeconfig))
        scheduler_args = components.nimbus_scheduler_args(config, self.kubeconfig, ports)
        self._start(state, "nimbus-scheduler", [str(kube_scheduler), *scheduler_args])

    def restart_apiserver(self) -> float:
        """Stop kube-apiserver and start it again on the same port and etcd, as an upgrade or
        a crash would; return the seconds it was away (until /readyz answered again)."""
        state = self._state()
        binaries = build.ensure(log=False)
        started = time.monotonic()
        pid = state["pids"].pop("kube-apiserver", None)
        if pid is not None and _alive(pid, "kube-apiserver"):
            _stop(pid)
        self._start(
            state, "kube-apiserver", self._apiserver(binaries["kube-apiserver"], state["ports"])
        )
        self._wait(f"https://127.0.0.1:{state['ports']['apiserver']}/readyz", "kube-apiserver")
        return time.monotonic() - started

    def down(self) -> None:
        """Stop every component (etcd data, PKI and logs stay in the run directory)."""
        state = self._state()
        for name in reversed(COMPONENTS):
            pid = state["pids"].pop(name, None)
            if pid is not None and _alive(pid, name):
                _stop(pid)
        if self.state_file.exists():
            self._save(state)

    def destroy(self) -> None:
        """Stop everything and delete the run directory."""
        self.down()
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def _start(
        self,
        state: dict[str, Any],
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
    ) -> None:
        log = (self.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            argv,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # the control plane outlives `nimbus devcloud up`
            cwd=self.run_dir,
        )
        log.close()
        state["pids"][name] = process.pid
        self._save(state)

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.pki_dir / "ca.crt"))
        context.load_cert_chain(self.pki_dir / "admin.crt", self.pki_dir / "admin.key")
        return context

    def _ready(self) -> bool:
        ports = self._state()["ports"]
        if "apiserver" not in ports:
            return False
        try:
            with urllib.request.urlopen(
                f"https://127.0.0.1:{ports['apiserver']}/readyz",
                context=self._ssl_context(),
                timeout=5,
            ) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def _wait(
        self,
        url: str,
        name: str,
        *,
        tls: bool = True,
        cafile: pathlib.Path | None = None,
        timeout: float = 90,
    ) -> None:
        """Wait until `url` answers 200: over TLS as the admin (or trusting `cafile` alone)."""
        deadline = time.monotonic() + timeout
        context = self._ssl_context() if tls and cafile is None else None
        if cafile is not None:
            context = ssl.create_default_context(cafile=str(cafile))
        pid = self._state()["pids"][name]
        last = ""
        while time.monotonic() < deadline:
            if _zombie(pid):  # just started by us: no pid reuse to fear
                raise DevCloudError(f"{name} exited; see {self.log_dir / (name + '.log')}")
            try:
                with urllib.request.urlopen(url, context=context, timeout=5) as response:
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as error:
                last = f"{error.code} {error.read()[-500:].decode(errors='replace')}"
            except (OSError, urllib.error.URLError) as error:
                last = str(error)
            time.sleep(0.2)
        raise DevCloudError(
            f"{name} not ready after {timeout:.0f}s ({last}); see {self.log_dir / (name + '.log')}"
        )

    def _apiserver(self, binary: pathlib.Path, ports: dict[str, int]) -> list[str]:
        """kube-apiserver's command line, the same at its start and at a restart;
        $NIMBUS_PROFILING serves /debug/pprof."""
        profiling = bool(os.environ.get("NIMBUS_PROFILING"))
        return [str(binary), *components.apiserver_args(self.pki_dir, ports, profiling=profiling)]

    def admin_token(self) -> str:
        """The admin's bearer token, made once (tokens.csv). Clients use it rather than the
        admin certificate: the API server checks a token with a map lookup, a certificate with an
        ECDSA verification on every request (8 % of its CPU under load, in a profile)."""
        return self._tokens()["nimbus-admin"]

    def _tokens(self) -> dict[str, str]:
        """Each identity's bearer token, made once (tokens.csv, which the API server reads at
        its start): the admin's, and the service accounts KubeVirt's processes run as."""
        path = self.pki_dir / "tokens.csv"
        lines = path.read_text().splitlines() if path.exists() else []
        tokens = {line.split(",")[2]: line.split(",", 1)[0] for line in lines if line}
        wanted = {"nimbus-admin": ("nimbus-admin", ["system:masters"])}
        for component, (namespace, account) in components.IDENTITIES.items():
            wanted[component] = components.service_account_user(namespace, account)
        for name, (user, groups) in wanted.items():
            if name not in tokens:
                tokens[name] = secrets.token_hex(24)
                lines.append(f'{tokens[name]},{user},{name},"{",".join(groups)}"')
        self.pki_dir.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
        return tokens

    def identity_kubeconfig(self, component: str) -> pathlib.Path:
        """The kubeconfig `component` (one of components.IDENTITIES) runs with."""
        return self.run_dir / "identities" / f"{component}.kubeconfig"

    def _write_kubeconfig(self, port: int) -> None:
        ca = (self.pki_dir / "ca.crt").read_bytes()
        tokens = self._tokens()
        self.kubeconfig.write_text(components.kubeconfig(port, ca, tokens["nimbus-admin"]))
        self.kubeconfig.chmod(0o600)
        for component in components.IDENTITIES:
            path = self.identity_kubeconfig(component)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(components.kubeconfig(port, ca, tokens[component], user=component))
            path.chmod(0o600)

    # -- what the cloud holds ----------------------------------------------------------------

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run the pinned kubectl against this cloud."""
        result = subprocess.run(
            [str(build.binary("kubectl")), f"--kubeconfig={self.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise DevCloudError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def install(self) -> None:
        """Install (server-side apply) every Nimbus and upstream CRD and the simulated nodes."""
        documents = list(crdgen.rendered().values())
        documents += [p.read_text() for p in sorted(UPSTREAM_CRDS.rglob("*.yaml"))]
        manifest = "\n---\n".join(documents)
        self.kubectl(
            "apply", "--server-side", "--force-conflicts", "--field-manager=nimbus-devcloud",
            "-f", "-", stdin=manifest,
        )  # fmt: skip
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
        # --force-conflicts: the local cloud's nodes are as it declares them, even after a
        # `kubectl label --overwrite` (docs/how-to/node-labels.md) took a label from it.
        self.kubectl(
            "apply", "--server-side", "--force-conflicts", "--field-manager=nimbus-devcloud",
            "-f", "-",
            stdin=yaml.safe_dump_all(
                [*(_node(n) for n in NODES), *STORAGE, *self._cdi_objects(),
                 *self._kubevirt_objects(), *components.openstack_api_objects()]
            ),
        )  # fmt: skip
        self.kubectl(
            "patch", "kubevirts.kubevirt.io", "kubevirt", "-n", components.KUBEVIRT_NAMESPACE,
            "--subresource=status", "--type=merge",
            "-p", json.dumps(components.KUBEVIRT_DEPLOYED),
        )  # fmt: skip

    def configure(self) -> None:
        """Apply what CDI's webhooks judge, once cdi-apiserver runs (components.cdi_resources)."""
        self.kubectl(
            "apply", "--server-side", "--field-manager=nimbus-devcloud", "-f", "-",
            stdin=yaml.safe_dump_all(components.cdi_resources(DEFAULT_STORAGE_CLASS)),
        )  # fmt: skip

    def add_nodes(self, nodes: list[dict[str, Any]]) -> None:
        """More KWOK nodes, shaped as NODES' entries (name, zone, vcpus, memory_mb, disk_gb, and
        optional labels), and wait until they are Ready."""
        self.kubectl(
            "apply", "--server-side", "--field-manager=nimbus-devcloud", "-f", "-",
            stdin=yaml.safe_dump_all([_node(n) for n in nodes]),
        )  # fmt: skip
        names = [f"node/{n['name']}" for n in nodes]
        self.kubectl("wait", "--for=condition=Ready", "--timeout=60s", *names)


def _stop(pid: int, timeout: float = 15) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            waited, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            waited = 0
        if waited == pid or not pathlib.Path(f"/proc/{pid}").exists():
            return
        if _zombie(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    """True when the process is gone or only waits to be reaped."""
    stat = _stat(pid)
    return stat is None or stat[1] == "Z"


def _node(node: dict[str, Any]) -> dict[str, Any]:
    """A KWOK node: its capacity both as node status and as the labels placement reads."""
    capacity = {
        "cpu": str(node["vcpus"]),
        "memory": f"{node['memory_mb']}Mi",
        "ephemeral-storage": f"{node['disk_gb']}Gi",
        "pods": "110",
        # What virt-handler's device plugins advertise on a node that can run VMs.
        **{f"devices.kubevirt.io/{device}": "1k" for device in ("kvm", "tun", "vhost-net")},
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node["name"],
            "annotations": {"kwok.x-k8s.io/node": "fake"},
            "labels": {
                "kubernetes.io/hostname": node["name"],
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                "topology.kubernetes.io/zone": node["zone"],
                "compute.nimbus.dev/vcpus": str(node["vcpus"]),
                "compute.nimbus.dev/memory-mb": str(node["memory_mb"]),
                "compute.nimbus.dev/disk-gb": str(node["disk_gb"]),
                # What virt-handler and its node-labeller put on a node that can run VMs.
                "kubevirt.io/schedulable": "true",
                "machine-type.node.kubevirt.io/q35": "true",
                **node.get("labels", {}),
            },
        },
        "status": {"capacity": capacity, "allocatable": capacity},
    }
