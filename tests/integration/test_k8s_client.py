"""nimbus.k8s.client on the real API server: apply, get, list, status, events, delete."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from nimbus.api import kinds
from nimbus.k8s import client
from tests.integration.conftest import Cloud


@pytest.fixture
async def api(cloud: Cloud) -> AsyncIterator[client.Client]:
    credentials = client.load_credentials(str(cloud.devcloud.kubeconfig))
    async with client.Client(credentials, kinds=kinds.table()) as api:
        yield api


def volume(namespace: str, size: int) -> dict[str, object]:
    return {
        "apiVersion": "blockstorage.nimbus.dev/v1alpha1",
        "kind": "Volume",
        "metadata": {"name": "data-1", "namespace": namespace},
        "spec": {"sizeGB": size},
    }


async def test_apply_is_idempotent_and_owned_by_nimbus(cloud: Cloud, api: client.Client) -> None:
    ns = cloud.namespace()
    first = await api.apply(volume(ns, 10))
    again = await api.apply(volume(ns, 10))
    # The session's operator may write the volume's status meanwhile (the status subresource,
    # which moves resourceVersion): the spec applied again is no change.
    assert again["metadata"]["generation"] == first["metadata"]["generation"] == 1
    # The operator (kopf) may own its finalizer and annotations; the spec is nimbus's alone.
    assert [f["manager"] for f in again["metadata"]["managedFields"]
            if "f:spec" in f.get("fieldsV1", {})] == ["nimbus"]  # fmt: skip
    grown = await api.apply(volume(ns, 20))
    assert grown["spec"]["sizeGB"] == 20


async def test_refusals_carry_the_api_servers_message(cloud: Cloud, api: client.Client) -> None:
    ns = cloud.namespace()
    await api.apply(volume(ns, 10))
    with pytest.raises(client.ApiError) as refused:
        await api.apply(volume(ns, 5))
    assert refused.value.status == 422
    assert "sizeGB may only grow" in refused.value.message


async def test_get_list_status_event_delete(cloud: Cloud, api: client.Client) -> None:
    ns = cloud.namespace()
    applied = await api.apply(volume(ns, 10))
    api_version, kind = "blockstorage.nimbus.dev/v1alpha1", "Volume"
    got = await api.get(api_version, kind, "data-1", ns)
    assert got is not None
    assert got["metadata"]["uid"] == applied["metadata"]["uid"]
    assert await api.get(api_version, kind, "missing", ns) is None
    assert [v["metadata"]["name"] for v in await api.list(api_version, kind, ns)] == ["data-1"]

    patched = await api.patch_status(api_version, kind, "data-1", ns, {"status": "available"})
    assert patched["status"]["status"] == "available"

    # (The session's operator may reconcile the volume too: its own events are not ours.)
    await api.event(patched, reason="VolumeAvailable", message="volume data-1 is available, said")
    events = cloud.kubectl("get", "events", "-n", ns, "-o", "jsonpath={.items[*].message}")
    assert "volume data-1 is available, said" in events.stdout

    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": ns}}
    await api.apply(config)  # no finalizer of the operator's to wait for
    assert await api.delete("v1", "ConfigMap", "c", ns) is True
    assert await api.delete("v1", "ConfigMap", "c", ns) is False


def test_paths_for_core_group_and_cluster_scoped_kinds() -> None:
    assert client.Client.path("v1", "Secret", "demo", "s") == "/api/v1/namespaces/demo/secrets/s"
    assert client.Client.path("storage.k8s.io/v1", "StorageClass", None, "fast") == (
        "/apis/storage.k8s.io/v1/storageclasses/fast"
    )
    nimbus = {(a, k): client.Resource(p, n) for a, k, p, n in kinds.table()}
    assert client.Client.path("compute.nimbus.dev/v1alpha1", "Flavor", None, table=nimbus) == (
        "/apis/compute.nimbus.dev/v1alpha1/flavors"
    )
    with pytest.raises(KeyError):  # the client knows no Nimbus kind unless it is given them
        client.Client.path("compute.nimbus.dev/v1alpha1", "Flavor", None)
    with pytest.raises(ValueError, match="namespaced"):
        client.Client.path("kubevirt.io/v1", "VirtualMachine", None, "vm")
