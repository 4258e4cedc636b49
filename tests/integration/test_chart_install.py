"""The Helm chart on a real control plane of its own: `helm install` with every object accepted
and the CRDs Established, `helm test`, and least privilege proven: the operator runs with a
token of the chart's ServiceAccount (its ClusterRole and nothing else) and reconciles every
example, servers ACTIVE and the stack complete, without a single Forbidden. Then `helm
uninstall` keeps the CRDs.

A fresh local cloud (not the session's): no other operator may do the work, and the chart's
cluster-wide objects must not outlive this module."""

from __future__ import annotations

import os
import pathlib
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from nimbus.api import kinds
from nimbus.devcloud import build, cluster
from nimbus.generate import chart

pytestmark = pytest.mark.timeout(600)
REPO = pathlib.Path(__file__).parents[2]
NAMESPACE = "nimbus-system"


@pytest.fixture(scope="module")
def devcloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cluster.DevCloud]:
    cloud = cluster.DevCloud(tmp_path_factory.mktemp("chart-cloud"))
    try:
        cloud.up(log=False)
        yield cloud
    finally:
        cloud.destroy()


def helm(cloud: cluster.DevCloud, *args: str) -> subprocess.CompletedProcess[str]:
    binary = build.ensure(["helm"], log=False)["helm"]
    result = subprocess.run([str(binary), f"--kubeconfig={cloud.kubeconfig}", *args],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result


def documented_install() -> list[str]:
    """The words of docs/helm.md's `nimbus devcloud helm install` (its section on the local
    cloud), the line's continuations joined."""
    text = (REPO / "docs" / "helm.md").read_text().replace("\\\n", " ")
    section = text[text.index("## Try it on the local cloud") :]
    line = next(ln for ln in section.splitlines() if ln.startswith("nimbus devcloud helm install"))
    return shlex.split(line)


@pytest.fixture(scope="module")
def release(devcloud: cluster.DevCloud) -> Iterator[str]:
    # docs/helm.md's command, as written: the local cloud installed the CRDs already (the
    # release takes them over), and the webhook's Service has no real pod behind it here (KWOK
    # only pretends to run pods), so the API server is told to go on without it. The test adds
    # the scheduler and an image tag.
    words = documented_install()
    assert words[:4] == ["nimbus", "devcloud", "helm", "install"], words
    env = dict(os.environ, NIMBUS_DEVCLOUD_DIR=str(devcloud.run_dir))
    extra = ["--set", "placement.enabled=true", "--set", "image.tag=test"]
    installed = subprocess.run([sys.executable, "-m", *words, *extra], capture_output=True,
                               text=True, env=env, cwd=REPO, timeout=300)  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    try:
        yield installed.stdout
    finally:
        helm(devcloud, "uninstall", "nimbus", "-n", NAMESPACE, "--wait")


def test_helm_install_is_accepted_with_crds_established(
    devcloud: cluster.DevCloud, release: str
) -> None:
    assert "STATUS: deployed" in release
    assert "A first project and server" in release  # NOTES.txt
    manifest = helm(devcloud, "get", "manifest", "nimbus", "-n", NAMESPACE).stdout
    docs = [d for d in yaml.safe_load_all(manifest) if d]
    kinds_made = {d["kind"] for d in docs}
    assert {"Deployment", "ClusterRole", "ValidatingWebhookConfiguration", "Secret",
            "CustomResourceDefinition", "ConfigMap", "Service"} <= kinds_made  # fmt: skip
    # Every object the release holds exists, as the chart rendered it.
    found = devcloud.kubectl("get", "-f", "-", "-o", "name", stdin=manifest).stdout.split()
    assert len(found) == len(docs)
    for kind in kinds.ALL:
        crd = f"{kind.plural}.{kind.group}"
        got = yaml.safe_load(devcloud.kubectl("get", "crd", crd, "-o", "yaml").stdout)
        conditions = {c["type"]: c["status"] for c in got["status"]["conditions"]}
        assert conditions["Established"] == "True", crd
        assert got["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        assert got["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_an_upgrade_keeps_the_webhooks_certificate(
    devcloud: cluster.DevCloud, release: str
) -> None:
    def pki() -> tuple[str, set[str]]:
        secret = yaml.safe_load(devcloud.kubectl("get", "secret", "nimbus-webhook", "-n",
                                                 NAMESPACE, "-o", "yaml").stdout)  # fmt: skip
        config = yaml.safe_load(
            devcloud.kubectl(
                "get", "validatingwebhookconfiguration", "nimbus-admission", "-o", "yaml"
            ).stdout
        )
        return secret["data"]["ca.crt"], {w["clientConfig"]["caBundle"] for w in config["webhooks"]}

    before, bundles = pki()
    assert bundles == {before}
    upgraded = helm(devcloud, "upgrade", "nimbus", str(chart.CHART), "-n", NAMESPACE,
                    "--reuse-values", "--set", "webhook.timeoutSeconds=5")  # fmt: skip
    assert "has been upgraded" in upgraded.stdout
    after, bundles = pki()
    assert after == before
    assert bundles == {before}


def test_helm_test_runs_its_check(devcloud: cluster.DevCloud, release: str) -> None:
    # KWOK completes the Job's pod without running it, so this proves the hook's objects are
    # accepted and run; the check itself is run here, as the Job would run it.
    tested = helm(devcloud, "test", "nimbus", "-n", NAMESPACE, "--timeout", "120s")
    assert "Phase:          Succeeded" in tested.stdout
    env = dict(os.environ, KUBECONFIG=str(devcloud.kubeconfig))
    checked = subprocess.run([sys.executable, "-m", "nimbus", "check", f"--namespace={NAMESPACE}"],
                             capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert f"ok: {len(kinds.ALL)} CRDs established" in checked.stdout


def _service_account_kubeconfig(cloud: cluster.DevCloud, directory: pathlib.Path) -> pathlib.Path:
    """A kubeconfig with a token of the chart's ServiceAccount: the operator's rights are
    exactly its ClusterRole's."""
    token = cloud.kubectl("create", "token", "nimbus", "-n", NAMESPACE,
                          "--duration=1h").stdout.strip()  # fmt: skip
    config = yaml.safe_load(cloud.kubeconfig.read_text())
    config["users"] = [{"name": "nimbus", "user": {"token": token}}]
    for context in config["contexts"]:
        context["context"]["user"] = "nimbus"
    path = directory / "operator.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def _wait(cloud: cluster.DevCloud, what: str, jsonpath: str, value: str, *args: str) -> None:
    cloud.kubectl("wait", f"--for=jsonpath={jsonpath}={value}", what, *args, "--timeout=100s")


def test_the_operator_needs_no_more_than_the_charts_role(
    devcloud: cluster.DevCloud, release: str, tmp_path: pathlib.Path
) -> None:
    kubeconfig = _service_account_kubeconfig(devcloud, tmp_path)
    denied = devcloud.kubectl("--kubeconfig", str(kubeconfig), "auth", "can-i", "create",
                              "clusterroles", check=False)  # fmt: skip
    assert denied.stdout.strip() == "no"
    log = tmp_path / "operator.log"
    env = dict(os.environ, KUBECONFIG=str(kubeconfig), NIMBUS_CLUSTER_OBJECTS="false",
               NIMBUS_PEERING="nimbus", NIMBUS_PLACEMENT="true")  # fmt: skip
    env.pop("NIMBUS_WEBHOOK_ADDRESS", None)
    with log.open("wb") as out:
        operator = subprocess.Popen([sys.executable, "-m", "nimbus", "run"], stdout=out,
                                    stderr=subprocess.STDOUT, env=env)  # fmt: skip
    failure: Exception | None = None
    try:
        examples = sorted((REPO / "examples").glob("*.yaml"))
        devcloud.kubectl("apply", "--server-side", "-f", str(examples[0]))
        _wait(devcloud, "projects.identity.nimbus.dev/demo", "{.status.status}", "ACTIVE")
        for example in examples[1:]:
            devcloud.kubectl("apply", "--server-side", "-f", str(example))
        _wait(devcloud, "servers.compute.nimbus.dev", "{.status.status}", "ACTIVE", "--all",
              "-n", "demo")  # fmt: skip
        _wait(devcloud, "stacks.orchestration.nimbus.dev", "{.status.stackStatus}",
              "CREATE_COMPLETE", "--all", "-n", "demo")  # fmt: skip
        _wait(devcloud, "volumes.blockstorage.nimbus.dev", "{.status.status}", "in-use",
              "data-1", "-n", "demo")  # fmt: skip
        # alice's password (07-users.yaml): read from her Secret, its hash kept in the
        # release namespace.
        _wait(devcloud, "users.identity.nimbus.dev/alice",
              "{.status.conditions[?(@.type=='Ready')].status}", "True")  # fmt: skip
        devcloud.kubectl("get", "secret", "nimbus-password-alice", "-n", NAMESPACE)
        # Nova's pause: KubeVirt's aggregated API, which the role grants too.
        devcloud.kubectl("patch", "servers.compute.nimbus.dev", "db-1", "-n", "demo",
                         "--type=merge", "-p", '{"spec": {"powerState": "Paused"}}')  # fmt: skip
        _wait(devcloud, "servers.compute.nimbus.dev", "{.status.status}", "PAUSED", "db-1",
              "-n", "demo")  # fmt: skip
        peering: dict[str, Any] = yaml.safe_load(
            devcloud.kubectl("get", "clusterkopfpeering", "nimbus", "-o", "yaml").stdout
        )
        assert peering["status"], "the operator peers through the chart's peering object"
        # Deleting works too: the stack, then the project, drained of everything it holds.
        devcloud.kubectl("delete", "stacks.orchestration.nimbus.dev", "--all", "-n", "demo",
                         "--timeout=100s")  # fmt: skip
        # The webhook is away here (failurePolicy Ignore): the drain itself keeps the volumes
        # until the project says purge.
        devcloud.kubectl("delete", "projects.identity.nimbus.dev", "demo", "--wait=false")
        _wait(devcloud, "projects.identity.nimbus.dev/demo",
              "{.status.conditions[?(@.type=='Drained')].reason}", "VolumesKept")  # fmt: skip
        devcloud.kubectl("get", "volumes.blockstorage.nimbus.dev", "data-1", "-n", "demo")
        devcloud.kubectl("patch", "projects.identity.nimbus.dev", "demo", "--type=merge",
                         "-p", '{"spec": {"purge": true}}')  # fmt: skip
        devcloud.kubectl("wait", "--for=delete", "projects.identity.nimbus.dev/demo",
                         "--timeout=100s")  # fmt: skip
        gone = devcloud.kubectl("get", "namespace", "demo", "-o",
                                "jsonpath={.metadata.deletionTimestamp}", check=False)  # fmt: skip
        assert gone.returncode != 0 or gone.stdout, "the project's namespace goes with it"
    except Exception as error:  # a missing right shows as a Forbidden in the log: say that first
        failure = error
    finally:
        operator.terminate()
        operator.wait(timeout=30)
    text = log.read_text()
    forbidden = [line for line in text.splitlines() if "orbidden" in line]
    assert forbidden == [], "\n".join(forbidden[:20])
    assert failure is None, f"{failure}\n{text[-4000:]}"
    assert "Traceback" not in text, text[-4000:]


def test_replicas_peer_one_works_the_other_stands_by(
    devcloud: cluster.DevCloud, release: str, tmp_path: pathlib.Path
) -> None:
    """Two operators, as two replicas of the chart's Deployment: one pauses in favour of the
    other (each draws its own priority); when the working one stops, the other resumes."""
    kubeconfig = _service_account_kubeconfig(devcloud, tmp_path)
    env = dict(os.environ, KUBECONFIG=str(kubeconfig), NIMBUS_CLUSTER_OBJECTS="false",
               NIMBUS_PEERING="nimbus", NIMBUS_LOG_LEVEL="INFO")  # fmt: skip
    env.pop("NIMBUS_WEBHOOK_ADDRESS", None)
    logs = [tmp_path / "replica-a.log", tmp_path / "replica-b.log"]
    replicas = []
    for log in logs:
        with log.open("wb") as out:
            replicas.append(subprocess.Popen([sys.executable, "-m", "nimbus", "run"], stdout=out,
                                             stderr=subprocess.STDOUT, env=env))  # fmt: skip
        time.sleep(3)
    try:
        # kopf starts paused and resumes when no peer outranks it; a replica that loses its
        # rank later pauses "in favour of" the other. Its last word says which it is doing.
        def working(log: pathlib.Path) -> bool:
            words = [line for line in log.read_text().splitlines()
                     if "Resuming operations" in line or "Pausing" in line]  # fmt: skip
            return bool(words) and "Resuming operations" in words[-1]

        deadline = time.monotonic() + 60
        settled = 0
        while time.monotonic() < deadline and settled < 6:
            started = all("Initial authentication has finished" in log.read_text() for log in logs)
            settled = settled + 1 if started and sum(map(working, logs)) == 1 else 0
            time.sleep(0.5)
        assert [working(log) for log in logs].count(True) == 1, [
            log.read_text()[-2000:] for log in logs
        ]
        active = 0 if working(logs[0]) else 1
        standby = 1 - active
        assert "Pausing all operators" not in logs[standby].read_text()  # no equal priorities
        resumed = logs[standby].read_text().count("Resuming operations")
        replicas[active].terminate()
        replicas[active].wait(timeout=30)
        deadline = time.monotonic() + 90
        while logs[standby].read_text().count("Resuming operations") == resumed:
            assert time.monotonic() < deadline, logs[standby].read_text()[-3000:]
            time.sleep(0.5)
    finally:
        for replica in replicas:
            if replica.poll() is None:
                replica.terminate()
                replica.wait(timeout=30)
