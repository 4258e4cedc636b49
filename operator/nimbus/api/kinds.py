"""Every Nimbus kind, in the order of DESIGN.md's table."""

from __future__ import annotations

from nimbus.api import meta
from nimbus.blockstorage import api as blockstorage
from nimbus.compute import api as compute
from nimbus.identity import api as identity
from nimbus.image import api as image
from nimbus.network import api as network
from nimbus.orchestration import api as orchestration

ALL: tuple[type[meta.Resource], ...] = (
    identity.Project,
    compute.Flavor,
    compute.KeyPair,
    compute.ServerGroup,
    compute.Server,
    image.Image,
    network.Network,
    network.Subnet,
    network.Port,
    network.SecurityGroup,
    blockstorage.VolumeType,
    blockstorage.Volume,
    blockstorage.Snapshot,
    orchestration.Stack,
)


def table() -> list[tuple[str, str, str, bool]]:
    """(apiVersion, kind, plural, namespaced) of every kind: what an API client is given to
    address them (nimbus.k8s.client knows no service of its own)."""
    return [(k.api_version_name(), k.kind_name(), k.plural, k.scope == "Namespaced") for k in ALL]
