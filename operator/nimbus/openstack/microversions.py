"""OpenStack's microversions, as every service negotiates them: the `OpenStack-API-Version:
<service> X.Y` header (or a service's own older header), `latest`, the minimum when none is
asked, and a 406 in the service's words outside what it serves. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable

from nimbus.openstack.faults import Fault

_VERSION = re.compile(r"^(\d+)\.(\d+)$")


def negotiate(
    headers: Iterable[str],
    service: str,
    minimum: tuple[int, int],
    maximum: tuple[int, int],
    *,
    legacy: str | None = None,
) -> tuple[int, int]:
    """The version asked for by `headers` (the values of every OpenStack-API-Version header),
    else by `legacy` (a service's own header's value)."""
    asked = None
    for part in headers:
        name, _, value = part.strip().partition(" ")
        if name.lower() == service:
            asked = value.strip()
    asked = asked or legacy
    if not asked:
        return minimum
    if asked == "latest":
        return maximum
    match = _VERSION.match(asked)
    version = (int(match[1]), int(match[2])) if match else None
    if version is None or not minimum <= version <= maximum:
        low, high = f"{minimum[0]}.{minimum[1]}", f"{maximum[0]}.{maximum[1]}"
        raise Fault(406, f"Version {asked} is not supported by the API. Minimum is {low} and "
                    f"maximum is {high}.")  # fmt: skip
    return version
