"""What the simulated controllers share: the API versions they address, the pace of their
simulated progress, and the timestamps they write."""

from __future__ import annotations

import datetime

KUBEVIRT = "kubevirt.io/v1"
SNAPSHOT = "snapshot.storage.k8s.io/v1"
STEP = 0.2  # seconds between simulated progress steps


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
