"""How handlers are registered: what kopf is spared."""

from __future__ import annotations


def test_only_nimbus_kinds_kopf_reconciles_get_an_essence() -> None:
    """kopf's per-event essence (a deep copy) is built only where create/update handlers use it."""
    from nimbus import handling
    from nimbus.compute import handlers  # noqa: F401 - registers the watched kinds

    def needed(api_version: str, kind: str) -> bool:
        return handling.Essences._needed({"apiVersion": api_version, "kind": kind})  # type: ignore[arg-type]

    assert needed("compute.nimbus.dev/v1alpha1", "Flavor")
    assert needed("blockstorage.nimbus.dev/v1alpha1", "Volume")
    assert not needed("compute.nimbus.dev/v1alpha1", "Server")
    assert not needed("network.nimbus.dev/v1alpha1", "Port")
    assert not needed("kubevirt.io/v1", "VirtualMachine")
    assert not needed("v1", "Node")
