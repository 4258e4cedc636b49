"""How long a 100-resource Stack takes to reach CREATE_COMPLETE, against the same 100 objects
applied directly with kubectl.

    python bench/stack.py --servers 32

On a fresh local cloud (control plane, KWOK, simulators, the operator) with a flavor and an
image active, it makes a stack of a network, a subnet, a security group, and per server a port,
a server on that port and a volume, plus one more volume: 100 resources for 32 servers. In the
same run it renders the same objects from the same template (the operator's own rendering) and
applies them with one `kubectl apply --server-side`, then waits until every one is done as the
stack would count it (servers ACTIVE, volumes available, ports bound, the rest Ready).

The runs go direct, stack, stack, direct (so that neither side has the warm cloud to itself),
and the figures are the mean of each side. The ratio is the stack's time over kubectl's: what
the orchestration costs above the objects themselves. Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import statistics
import time
from typing import Any

import cloud  # bench/cloud.py, beside this script
import yaml

from nimbus.api import kinds
from nimbus.devcloud import cluster
from nimbus.k8s import client
from nimbus.orchestration import observed, resources
from nimbus.orchestration import plan as plan_module
from nimbus.orchestration.hot import functions
from nimbus.runtime import cache

STACKS = "orchestration.nimbus.dev/v1alpha1"
FLAVOR = {
    "apiVersion": "compute.nimbus.dev/v1alpha1",
    "kind": "Flavor",
    "metadata": {"name": "bench.tiny"},
    "spec": {"vcpus": 1, "ramMB": 256, "diskGB": 1},
}


def template(servers: int) -> dict[str, Any]:
    """3 + 3 per server + 1 resources: 100 for 32 servers."""
    net = {"get_resource": "net"}
    out: dict[str, Any] = {
        "net": {"type": "OS::Neutron::Net"},
        "subnet": {"type": "OS::Neutron::Subnet",
                   "properties": {"network": net, "cidr": "10.50.0.0/16"}},
        "sg": {"type": "OS::Neutron::SecurityGroup",
               "properties": {"rules": [{"protocol": "tcp", "port_range_min": 22,
                                         "port_range_max": 22}]}},
        "spare": {"type": "OS::Cinder::Volume", "properties": {"size": 1}},
    }  # fmt: skip
    for i in range(servers):
        port = {"network": net, "security_groups": [{"get_resource": "sg"}]}
        out[f"port_{i}"] = {"type": "OS::Neutron::Port", "properties": port}
        server = {"image": "cirros", "flavor": "bench.tiny",
                  "networks": [{"port": {"get_resource": f"port_{i}"}}]}  # fmt: skip
        out[f"server_{i}"] = {"type": "OS::Nova::Server", "properties": server}
        out[f"volume_{i}"] = {"type": "OS::Cinder::Volume", "properties": {"size": 1}}
    return {"heat_template_version": "2018-08-31", "resources": out}


def image(namespace: str) -> dict[str, Any]:
    return {"apiVersion": "image.nimbus.dev/v1alpha1", "kind": "Image",
            "metadata": {"name": "cirros", "namespace": namespace},
            "spec": {"source": {"http": {"url": "https://example.com/cirros.img"}},
                     "minDiskGB": 1}}  # fmt: skip


def direct_manifests(raw: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
    """The objects the stack makes, rendered by the operator's own code from the same template,
    with every reference resolved to its object's name: what someone would kubectl apply."""
    view = cache.View.of_objects([])
    body = {"metadata": {"name": "bench", "namespace": namespace, "uid": "direct"},
            "spec": {"template": raw}}  # fmt: skip
    plan = plan_module.Plan(body, view)
    refs = {name: resources.physical_name("bench", name) for name in plan.definitions}
    out = []
    for name, definition in plan.definitions.items():
        properties = functions.evaluate(definition.get("properties") or {}, plan.context(refs, {}))
        made = resources.render(definition["type"], name, properties, plan.stack)
        assert isinstance(made, resources.Apply)
        del made.manifest["metadata"]["labels"]  # not the stack's
        out.append(made.manifest)
    return out


async def until(api: client.Client, namespace: str, wanted: dict[str, set[str]]) -> None:
    """Until every named object (kind -> names) has been done once, by watches."""

    async def kind_done(api_version: str, kind: str, names: set[str]) -> None:
        left = set(names)
        version = await api.resource_version(api_version, kind, namespace)
        for obj in await api.list(api_version, kind, namespace):
            if observed.ready(obj) is True:
                left.discard(obj["metadata"]["name"])
        while left:
            async for _type, obj in api.watch(api_version, kind, namespace,
                                              resource_version=version):  # fmt: skip
                version = obj["metadata"].get("resourceVersion", version)
                if observed.ready(obj) is True:
                    left.discard(obj["metadata"]["name"])
                if not left:
                    return

    versions = {m.kind_name(): m.api_version_name() for m in kinds.ALL}
    await asyncio.gather(*(kind_done(versions[k], k, n) for k, n in wanted.items()))


async def ready_image(api: client.Client, namespace: str) -> None:
    await api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    await api.apply(image(namespace))
    deadline = time.monotonic() + 120
    while True:
        got = await api.get("image.nimbus.dev/v1alpha1", "Image", "cirros", namespace)
        if ((got or {}).get("status") or {}).get("status") == "active":
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"image in {namespace} not active within 120s")
        await asyncio.sleep(0.25)


async def run_direct(
    api: client.Client, devcloud: cluster.DevCloud, raw: dict[str, Any], namespace: str
) -> float:
    await ready_image(api, namespace)
    manifests = direct_manifests(raw, namespace)
    wanted: dict[str, set[str]] = {}
    for m in manifests:
        wanted.setdefault(m["kind"], set()).add(m["metadata"]["name"])
    text = yaml.safe_dump_all(manifests)
    started = time.monotonic()
    waiting = asyncio.create_task(until(api, namespace, wanted))
    await asyncio.to_thread(devcloud.kubectl, "apply", "--server-side", "-f", "-", stdin=text)
    await waiting
    return time.monotonic() - started


async def run_stack(api: client.Client, raw: dict[str, Any], namespace: str) -> float:
    await ready_image(api, namespace)
    metadata = {"name": "bench", "namespace": namespace}
    stack = {"apiVersion": STACKS, "kind": "Stack", "metadata": metadata, "spec": {"template": raw}}
    version = await api.resource_version(STACKS, "Stack", namespace)
    started = time.monotonic()
    await api.apply(stack)
    while True:
        async for _type, obj in api.watch(STACKS, "Stack", namespace, resource_version=version):
            version = obj["metadata"].get("resourceVersion", version)
            word = (obj.get("status") or {}).get("stackStatus")
            if word == "CREATE_COMPLETE":
                return time.monotonic() - started
            if word == "CREATE_FAILED":
                raise RuntimeError(obj["status"].get("stackStatusReason"))


async def bench(devcloud: cluster.DevCloud, servers: int, limit: float) -> None:
    raw = template(servers)
    count = len(plan_module.Plan(
        {"metadata": {"name": "bench", "namespace": "x", "uid": "u"}, "spec": {"template": raw}},
        cache.View.of_objects([]),
    ).definitions)  # fmt: skip
    credentials = client.load_credentials(str(devcloud.kubeconfig))
    async with client.Client(credentials, kinds=kinds.table()) as api:
        await api.apply(FLAVOR)
        direct = [await asyncio.wait_for(run_direct(api, devcloud, raw, "direct-1"), limit)]
        stack = [await asyncio.wait_for(run_stack(api, raw, "stack-1"), limit)]
        stack.append(await asyncio.wait_for(run_stack(api, raw, "stack-2"), limit))
        direct.append(await asyncio.wait_for(run_direct(api, devcloud, raw, "direct-2"), limit))
    kubectl, stacked = statistics.mean(direct), statistics.mean(stack)
    print(f"resources: {count} ({servers} servers, ports and volumes; a network, a subnet, "
          f"a security group, a spare volume)")  # fmt: skip
    print(f"  kubectl apply, every object done  {kubectl:8.2f} s   "
          f"(runs {', '.join(f'{d:.2f}' for d in direct)})")  # fmt: skip
    print(f"  Stack CREATE_COMPLETE             {stacked:8.2f} s   "
          f"(runs {', '.join(f'{s:.2f}' for s in stack)})")  # fmt: skip
    print(f"  ratio stack / kubectl             {stacked / kubectl:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=32, help="32 makes 100 resources")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--logs", type=pathlib.Path, help="keep the cloud's logs here")
    args = parser.parse_args()
    # Four runs of the servers: room for all of them at once.
    with cloud.local_cloud(args.servers * 4, args.logs) as (devcloud, _operator):
        asyncio.run(bench(devcloud, args.servers, args.timeout))


if __name__ == "__main__":
    main()
