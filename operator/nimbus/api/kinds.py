"""Every Nimbus kind, in the order of DESIGN.md's table."""

from __future__ import annotations

from nimbus.api import meta
from nimbus.blockstorage import api as blockstorage
from nimbus.compute import api as compute
from nimbus.identity import api as identity
from nimbus.image import api as image
from nimbus.loadbalancer import api as loadbalancer
from nimbus.network import api as network
from nimbus.orchestration import api as orchestration

ALL: tuple[type[meta.Resource], ...] = (
    identity.Project,
    identity.User,
    compute.Flavor,
    compute.KeyPair,
    compute.ServerGroup,
    compute.Server,
    image.Image,
    network.Network,
    network.Subnet,
    network.Port,
    network.SecurityGroup,
    network.Router,
    network.FloatingIP,
    loadbalancer.LoadBalancer,
    loadbalancer.Listener,
    loadbalancer.Pool,
    loadbalancer.Member,
    loadbalancer.HealthMonitor,
    blockstorage.VolumeType,
    blockstorage.Volume,
    blockstorage.Snapshot,
    orchestration.Stack,
)


def table() -> list[tuple[str, str, str, bool]]:
    """(apiVersion, kind, plural, namespaced) of every kind: what an API client is given to
    address them (nimbus.k8s.client knows no service of its own)."""
    return [(k.api_version_name(), k.kind_name(), k.plural, k.scope == "Namespaced") for k in ALL]


BY_PLURAL: dict[str, type[meta.Resource]] = {k.plural: k for k in ALL}
BY_KIND: dict[str, type[meta.Resource]] = {k.kind_name(): k for k in ALL}


def by_plural(plural: str) -> type[meta.Resource]:
    """The kind whose plural this is (`servers` -> Server); KeyError names the plurals known."""
    try:
        return BY_PLURAL[plural]
    except KeyError:
        raise KeyError(f"no Nimbus kind has the plural {plural!r}: {sorted(BY_PLURAL)}") from None


def by_kind(kind: str) -> type[meta.Resource]:
    """The kind of this name (`Server`); KeyError names the kinds known."""
    try:
        return BY_KIND[kind]
    except KeyError:
        raise KeyError(f"no Nimbus kind is named {kind!r}: {sorted(BY_KIND)}") from None
