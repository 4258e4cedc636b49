"""The integration tier: one real local control plane for the whole session."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from nimbus.api import kinds
from nimbus.devcloud import cluster

CLUSTER_KINDS = {k.kind_name() for k in kinds.ALL if k.scope == "Cluster"} | {"Namespace"}
# The image the tests boot (the simulated CDI downloads nothing).
CIRROS = """
apiVersion: image.nimbus.dev/v1alpha1
kind: Image
metadata: {name: cirros}
spec:
  source: {http: {url: "https://download.cirros-cloud.net/0.6.2/cirros-0.6.2-x86_64-disk.img"}}
  minDiskGB: 1
"""


def flavors(*sizes: tuple[str, int, int, int]) -> str:
    """Flavor documents from (name, vCPUs, RAM MB, disk GB)."""
    return "---".join(
        "\napiVersion: compute.nimbus.dev/v1alpha1\nkind: Flavor\n"
        f"metadata: {{name: {name}}}\nspec: {{vcpus: {vcpus}, ramMB: {ram}, diskGB: {disk}}}\n"
        for name, vcpus, ram, disk in sizes
    )


class Cloud:
    """The session's control plane, driven the way a user drives it: with kubectl."""

    def __init__(self, devcloud: cluster.DevCloud, ready_after: float) -> None:
        self.devcloud = devcloud
        self.ready_after = ready_after
        self.metrics_address = ""  # the operator's /metrics, once it runs

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.devcloud.kubectl(*args, stdin=stdin, check=check)

    def apply(self, *objects: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        """Server-side apply, as a user would; raises on refusal."""
        return self.kubectl(
            "apply", "--server-side", "--field-manager=tests", "-f", "-",
            stdin=yaml.safe_dump_all(objects),
        )  # fmt: skip

    def apply_text(self, text: str, namespace: str | None = None) -> None:
        """Apply YAML documents, the namespaced ones into `namespace` when one is given."""
        docs = [d for d in yaml.safe_load_all(text) if d]
        for doc in docs:
            if namespace and doc["kind"] not in CLUSTER_KINDS:
                doc["metadata"]["namespace"] = namespace
        self.apply(*docs)

    def refusal(self, obj: dict[str, Any], *, dry_run: bool = True) -> str:
        """Create `obj` and return the API server's refusal; fails the test if it is accepted."""
        args = ["create", "-f", "-"] + (["--dry-run=server"] if dry_run else [])
        result = self.kubectl(*args, stdin=yaml.safe_dump(obj), check=False)
        assert result.returncode != 0, f"accepted: {yaml.safe_dump(obj)}"
        return result.stderr

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        args = ["get", kind, name, "-o", "json"] + (["-n", namespace] if namespace else [])
        got: dict[str, Any] = json.loads(self.kubectl(*args).stdout)
        return got

    def namespace(self) -> str:
        """A fresh namespace for one test."""
        name = f"t-{uuid.uuid4().hex[:8]}"
        self.kubectl("create", "namespace", name)
        return name


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    run_dir: pathlib.Path = tmp_path_factory.mktemp("devcloud")
    devcloud = cluster.DevCloud(run_dir)
    try:
        ready_after = devcloud.up(log=False)
        yield Cloud(devcloud, ready_after)
    finally:
        devcloud.destroy()


@pytest.fixture(scope="session")
def operator(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[pathlib.Path]:
    """The Nimbus operator, running as `nimbus run` against the session's control plane."""
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    port, webhook = cluster._free_ports(2)
    env = dict(os.environ, **cloud.devcloud.operator_env(webhook))
    cloud.metrics_address = f"127.0.0.1:{port}"
    argv = [
        sys.executable,
        "-m",
        "nimbus",
        "run",
        f"--metrics-bind-address={cloud.metrics_address}",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_for_webhooks(cloud, process, log)
        yield log
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_webhooks(cloud: Cloud, process: subprocess.Popen[bytes], log: pathlib.Path) -> None:
    """Until the operator serves its admission webhooks (kopf writes their configuration once
    it listens): a test may count on refusals from its first create. Fails, with the log, if the
    operator dies or never gets there."""
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, f"the operator exited:\n{log.read_text()[-4000:]}"
        got = cloud.kubectl("get", "validatingwebhookconfigurations,mutatingwebhookconfigurations",
                            "-o", "name", check=False).stdout  # fmt: skip
        if got.count("nimbus-admission") == 2:
            return
        assert time.monotonic() < deadline, f"no webhooks after 60 s:\n{log.read_text()[-4000:]}"
        time.sleep(0.5)


def wait_for(
    cloud: Cloud,
    kind: str,
    name: str,
    namespace: str | None,
    jsonpath: str,
    expected: str,
    timeout: float = 60,
) -> dict[str, Any]:
    """Poll until `jsonpath` of the object prints `expected`; return the object."""
    deadline = time.monotonic() + timeout
    args = ["-n", namespace] if namespace else []
    seen = ""
    while time.monotonic() < deadline:
        result = cloud.kubectl("get", kind, name, *args, "-o", f"jsonpath={jsonpath}", check=False)
        seen = result.stdout
        if result.returncode == 0 and seen == expected:
            return cloud.get(kind, name, namespace)
        time.sleep(0.5)
    got = cloud.kubectl("get", kind, name, *args, "-o", "json", check=False).stdout
    state = (json.loads(got).get("status") if got else None) or {}
    raise AssertionError(
        f"{kind}/{name} {jsonpath}: {seen!r}, not {expected!r}; status: {json.dumps(state)}"
        + (_machine_state(cloud, name, namespace) if kind.startswith("servers.") else "")
    )


def _machine_state(cloud: Cloud, name: str, namespace: str | None) -> str:
    """A server's VM, instance and launcher pod, for a failure's message."""
    args = ["-n", namespace] if namespace else []
    out = cloud.kubectl("get", "vm,vmi,pods", "-l", f"compute.nimbus.dev/server={name}", *args,
                        "-o", "wide", check=False)  # fmt: skip
    vmi = cloud.kubectl("get", "vmi", name, *args, "-o", "jsonpath={.status}", check=False)
    return f"\n{out.stdout}{out.stderr}\nvmi status: {vmi.stdout}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.integration)


# The OpenStack API's fixtures, for every module that drives it.
from tests.integration.openstack import api, tenants  # noqa: E402, F401
